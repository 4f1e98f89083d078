package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/integrations/simplyprint"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestRegisterWebhooksIsIdempotent(t *testing.T) {
	sp := simplyprinttest.NewServer(t)
	t.Setenv("SIMPLYPRINT_API_URL", sp.BaseURLTemplate())
	t.Setenv("SIMPLYPRINT_COMPANY_ID", sp.CompanyID())
	t.Setenv("SIMPLYPRINT_API_KEY", sp.APIKey())
	t.Setenv("SIMPLYPRINT_WEBHOOK_SECRET", "sp-secret")
	t.Setenv("PUBLIC_BASE_URL", "https://hooks.example.com")
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, "simplyprint", []string{"register-webhooks"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "created webhook") {
		t.Fatalf("first run: %s", out.String())
	}
	out.Reset()
	if err := run(ctx, "simplyprint", []string{"register-webhooks"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "updated webhook") {
		t.Fatalf("second run: %s", out.String())
	}
	hooks := sp.Webhooks()
	if len(hooks) != 1 {
		t.Fatalf("%d webhooks registered, want 1", len(hooks))
	}
	h := hooks[0]
	if h.URL != "https://hooks.example.com/api/v1/simpleprint/webhook/" || !h.Enabled || h.Secret != "sp-secret" ||
		len(h.Events) != len(simplyprint.AllEvents) {
		t.Fatalf("registered %+v", h)
	}
	out.Reset()
	if err := run(ctx, "simplyprint", []string{"register-webhooks", "--list"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "https://hooks.example.com/api/v1/simpleprint/webhook/") || strings.Contains(out.String(), "sp-secret") {
		t.Fatalf("--list printed %q", out.String())
	}
}

func TestRegisterWebhooksExplainsWhatIsMissing(t *testing.T) {
	t.Setenv("SIMPLYPRINT_API_KEY", "")
	t.Setenv("SIMPLYPRINT_COMPANY_ID", "")
	err := run(context.Background(), "simplyprint", []string{"register-webhooks"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "SIMPLYPRINT_COMPANY_ID") || !strings.Contains(err.Error(), "SIMPLYPRINT_API_KEY") {
		t.Fatalf("error %v", err)
	}
	t.Setenv("SIMPLYPRINT_API_KEY", "k")
	t.Setenv("SIMPLYPRINT_COMPANY_ID", "1")
	t.Setenv("PUBLIC_BASE_URL", "http://localhost:8080")
	err = run(context.Background(), "simplyprint", []string{"register-webhooks"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "PUBLIC_BASE_URL") {
		t.Fatalf("a loopback PUBLIC_BASE_URL must be refused: %v", err)
	}
}

func TestCommandLine(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), "config", nil, &out); err != nil || !strings.Contains(out.String(), "HTTP_ADDR=:8080") {
		t.Fatalf("config: %v %q", err, out.String())
	}
	var ue usageError
	if err := run(context.Background(), "frobnicate", nil, &out); !errors.As(err, &ue) {
		t.Fatalf("unknown command: %v", err)
	}
	t.Setenv("LOG_LEVEL", "chatty")
	if err := run(context.Background(), "serve", nil, &out); err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Fatalf("bad config must stop the start naming the variable: %v", err)
	}
	t.Setenv("LOG_LEVEL", "info")
	t.Setenv("DATABASE_URL", "")
	if err := run(context.Background(), "migrate", nil, &out); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("migrate without a database: %v", err)
	}
}
