package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

func TestTelegramSetWebhook(t *testing.T) {
	tg := telegramtest.New("42:cmd-test")
	defer tg.Close()
	t.Setenv("TELEGRAM_API_URL", tg.URL())
	t.Setenv("TELEGRAM_BOT_TOKEN", "42:cmd-test")
	t.Setenv("TELEGRAM_WEBHOOK_SECRET", "")
	t.Setenv("PUBLIC_BASE_URL", "https://hooks.example.com")
	var out bytes.Buffer
	err := run(context.Background(), "telegram", []string{"set-webhook"}, &out)
	if err == nil || !strings.Contains(err.Error(), "TELEGRAM_WEBHOOK_SECRET") {
		t.Fatalf("without a secret: %v", err)
	}
	t.Setenv("TELEGRAM_WEBHOOK_SECRET", "cmd_secret-1")
	if err := run(context.Background(), "telegram", []string{"set-webhook"}, &out); err != nil {
		t.Fatal(err)
	}
	w := tg.Webhook()
	if w.URL != "https://hooks.example.com/telegram-webhook" || w.SecretToken != "cmd_secret-1" ||
		strings.Join(w.AllowedUpdates, ",") != "message,callback_query" {
		t.Fatalf("registered %+v", w)
	}
	if strings.Contains(out.String(), "cmd_secret-1") || strings.Contains(out.String(), "42:cmd-test") {
		t.Fatalf("output shows a secret: %q", out.String())
	}
	if err := run(context.Background(), "telegram", []string{"set-webhook", "--url", "http://127.0.0.1:9/tg"}, &out); err != nil ||
		tg.Webhook().URL != "http://127.0.0.1:9/tg" {
		t.Fatalf("--url: %v %+v", err, tg.Webhook())
	}
	var ue usageError
	if err := run(context.Background(), "telegram", nil, &out); !errors.As(err, &ue) {
		t.Fatalf("no subcommand: %v", err)
	}

	// A rotation: the new secret is current, the old one previous;
	// re-registering sends the current one (the API accepts both meanwhile).
	t.Setenv("TELEGRAM_WEBHOOK_SECRET", "cmd_secret-2")
	t.Setenv("TELEGRAM_WEBHOOK_SECRET_PREVIOUS", "cmd_secret-1")
	out.Reset()
	if err := run(context.Background(), "telegram", []string{"set-webhook"}, &out); err != nil {
		t.Fatal(err)
	}
	if w := tg.Webhook(); w.SecretToken != "cmd_secret-2" {
		t.Fatalf("re-registered with %q, want the current secret", w.SecretToken)
	}
	if !strings.Contains(out.String(), "TELEGRAM_WEBHOOK_SECRET_PREVIOUS") || strings.Contains(out.String(), "cmd_secret") {
		t.Fatalf("output %q", out.String())
	}
}

func TestOkdeskLinkContact(t *testing.T) {
	dbURL, st := testenv.Database(t)
	okd := okdesktest.New("cmd-okd")
	defer okd.Close()
	okd.AddContact(okdesktest.Contact{ID: 21, FirstName: "Иван", LastName: "Петров"})
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("TELEGRAM_BOT_USERNAME", "")
	t.Setenv("OKDESK_API_URL", okd.APIURL())
	t.Setenv("OKDESK_API_TOKEN", "cmd-okd")
	t.Setenv("OKDESK_COMMENT_AUTHOR_ID", "5")
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, "okdesk", []string{"link-contact", "21"}, &out); err == nil || !strings.Contains(err.Error(), "TELEGRAM_BOT_USERNAME") {
		t.Fatalf("without the bot's username: %v", err)
	}
	t.Setenv("TELEGRAM_BOT_USERNAME", "@acme_support_bot")
	if err := run(ctx, "okdesk", []string{"link-contact", "21"}, &out); err != nil {
		t.Fatal(err)
	}
	link, _, _ := strings.Cut(out.String(), "\n")
	token, ok := strings.CutPrefix(link, "https://t.me/acme_support_bot?start=")
	if !ok || len(token) != 32 || !strings.Contains(out.String(), "Иван Петров") {
		t.Fatalf("printed %q", out.String())
	}
	// The token works once, from one chat.
	consume := func(chatID int64) (int64, bool) {
		tx, err := st.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		id, ok, err := store.ConsumeLinkToken(ctx, tx, token, chatID)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
			t.Fatal(err)
		}
		return id, ok
	}
	if id, ok := consume(77); !ok || id != 21 {
		t.Fatalf("first use: %d %v", id, ok)
	}
	if _, ok := consume(78); ok {
		t.Fatal("a used token linked a second chat")
	}
	if err := run(ctx, "okdesk", []string{"link-contact", "404"}, &out); err == nil || !strings.Contains(err.Error(), "no such contact") {
		t.Fatalf("unknown contact: %v", err)
	}
	var ue usageError
	if err := run(ctx, "okdesk", []string{"link-contact", "abc"}, &out); !errors.As(err, &ue) {
		t.Fatalf("bad id: %v", err)
	}
}
