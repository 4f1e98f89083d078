package main

import (
	"testing"

	"github.com/hookflow/hookflow/internal/demo"
)

// The demo's variables win over the environment's (the fakes accept only
// their own credentials); every other variable is read as usual.
func TestDemoConfig(t *testing.T) {
	t.Setenv("OKDESK_API_URL", "https://acme.okdesk.ru/api/v1/")
	t.Setenv("CALLBACK_ALLOW_PRIVATE_NETWORKS", "false")
	t.Setenv("LOG_LEVEL", "warn")
	t.Setenv("JOBS_CLIENTS", "")
	fakes := demo.Start()
	defer fakes.Close()
	cfg, err := demoConfig(fakes)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Ratings.OkdeskAPIURL != fakes.Okdesk.APIURL() || cfg.Ratings.TelegramAPIURL != fakes.Telegram.URL() ||
		cfg.Orders.RESTURL != fakes.Bitrix.URL() || cfg.Jobs.GeneratorURL != fakes.Generator.URL() {
		t.Fatalf("not wired to the fakes: okdesk %q telegram %q bitrix %q generator %q",
			cfg.Ratings.OkdeskAPIURL, cfg.Ratings.TelegramAPIURL, cfg.Orders.RESTURL, cfg.Jobs.GeneratorURL)
	}
	if !cfg.Jobs.CallbackAllowPrivate || cfg.LogLevel != "warn" {
		t.Fatalf("allow private %t, log level %q", cfg.Jobs.CallbackAllowPrivate, cfg.LogLevel)
	}
	if ids := cfg.Jobs.ClientIDs(); len(ids) != 1 || ids[0] != demo.JobsClient {
		t.Fatalf("job clients %v", ids)
	}
}

func TestLocalURL(t *testing.T) {
	for addr, want := range map[string]string{
		"[::]:8080":      "http://127.0.0.1:8080",
		"0.0.0.0:8080":   "http://127.0.0.1:8080",
		"127.0.0.1:9000": "http://127.0.0.1:9000",
		"10.0.0.5:8080":  "http://10.0.0.5:8080",
	} {
		if got := localURL(addr); got != want {
			t.Errorf("localURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
