package config

import (
	"strings"
	"testing"
	"time"
)

// TestRotationConfig: every inbound secret takes a _PREVIOUS value beside
// its current one (the seed names too), and the Okdesk and Bitrix previous
// values pair with whichever name holds the current one.
func TestRotationConfig(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"SIMPLYPRINT_WEBHOOK_SECRET": "sp-new", "SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS": "sp-old",
		"WEBHOOK_SECRET": "okd-new", "OKDESK_WEBHOOK_SECRET_PREVIOUS": "okd-old",
		"TELEGRAM_WEBHOOK_SECRET": "tg_new", "TELEGRAM_WEBHOOK_SECRET_PREVIOUS": "tg_old",
		"BITRIX_WEBHOOK_TOKEN": "bx-new", "WEBHOOK_TOKEN_PREVIOUS": "bx-old",
		"BITRIX_APP_TOKEN": "app-new", "BITRIX_APP_TOKEN_PREVIOUS": "app-old",
		"JOBS_CLIENTS": "acme:acme-new", "JOBS_CLIENTS_PREVIOUS": "acme:acme-old@2027-06-30T00:00:00Z",
	})
	if cfg.SimplyPrint.WebhookSecretPrevious != "sp-old" || cfg.Ratings.Secret() != "okd-new" || cfg.Ratings.PreviousSecret() != "okd-old" ||
		cfg.Ratings.TelegramWebhookSecretPrevious != "tg_old" || cfg.Orders.Token() != "bx-new" || cfg.Orders.PreviousToken() != "bx-old" ||
		cfg.Orders.AppTokenPrevious != "app-old" {
		t.Fatalf("previous values not read: %+v %+v %+v", cfg.SimplyPrint, cfg.Ratings, cfg.Orders)
	}
	cs, err := cfg.Jobs.ClientSet()
	if err != nil || cs[0].Previous != "acme-old" || !cs[0].PreviousUntil.Equal(time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("JOBS_CLIENTS_PREVIOUS: %v", err)
	}
	// OKDESK_WEBHOOK_SECRET_PREVIOUS wins over the seed-style name, as the
	// current names do.
	cfg, err = LoadFrom(map[string]string{"OKDESK_WEBHOOK_SECRET": "okd-new",
		"OKDESK_WEBHOOK_SECRET_PREVIOUS": "okd-old", "WEBHOOK_SECRET_PREVIOUS": "okd-older"})
	if err != nil || cfg.Ratings.PreviousSecret() != "okd-old" {
		t.Fatalf("%q %v", cfg.Ratings.PreviousSecret(), err)
	}
}

// TestRotationConfigInvalid: a previous value without a current one, or
// equal to it, stops the start with the variable's name and never the value.
func TestRotationConfigInvalid(t *testing.T) {
	cases := []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS": "topsecret"}, "SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS: set without SIMPLYPRINT_WEBHOOK_SECRET"},
		{map[string]string{"SIMPLYPRINT_WEBHOOK_SECRET": "topsecret", "SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS": "topsecret"}, "SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS: equals SIMPLYPRINT_WEBHOOK_SECRET"},
		{map[string]string{"OKDESK_WEBHOOK_SECRET_PREVIOUS": "topsecret"}, "OKDESK_WEBHOOK_SECRET_PREVIOUS: set without OKDESK_WEBHOOK_SECRET (or WEBHOOK_SECRET)"},
		{map[string]string{"WEBHOOK_SECRET_PREVIOUS": "topsecret"}, "WEBHOOK_SECRET_PREVIOUS: set without OKDESK_WEBHOOK_SECRET (or WEBHOOK_SECRET)"},
		{map[string]string{"WEBHOOK_SECRET": "topsecret", "OKDESK_WEBHOOK_SECRET_PREVIOUS": "topsecret"}, "OKDESK_WEBHOOK_SECRET_PREVIOUS: equals WEBHOOK_SECRET"},
		{map[string]string{"OKDESK_WEBHOOK_SECRET": "topsecret", "WEBHOOK_SECRET_PREVIOUS": "topsecret"}, "WEBHOOK_SECRET_PREVIOUS: equals OKDESK_WEBHOOK_SECRET"},
		{map[string]string{"TELEGRAM_WEBHOOK_SECRET_PREVIOUS": "topsecret"}, "TELEGRAM_WEBHOOK_SECRET_PREVIOUS: set without TELEGRAM_WEBHOOK_SECRET"},
		{map[string]string{"TELEGRAM_WEBHOOK_SECRET": "topsecret", "TELEGRAM_WEBHOOK_SECRET_PREVIOUS": "topsecret"}, "TELEGRAM_WEBHOOK_SECRET_PREVIOUS: equals TELEGRAM_WEBHOOK_SECRET"},
		{map[string]string{"TELEGRAM_WEBHOOK_SECRET": "tg_new", "TELEGRAM_WEBHOOK_SECRET_PREVIOUS": "top secret!"}, "TELEGRAM_WEBHOOK_SECRET_PREVIOUS: Telegram accepts 1-256 characters"},
		{map[string]string{"BITRIX_WEBHOOK_TOKEN_PREVIOUS": "topsecret"}, "BITRIX_WEBHOOK_TOKEN_PREVIOUS: set without BITRIX_WEBHOOK_TOKEN (or WEBHOOK_TOKEN)"},
		{map[string]string{"WEBHOOK_TOKEN": "topsecret", "WEBHOOK_TOKEN_PREVIOUS": "topsecret"}, "WEBHOOK_TOKEN_PREVIOUS: equals WEBHOOK_TOKEN"},
		{map[string]string{"BITRIX_APP_TOKEN_PREVIOUS": "topsecret"}, "BITRIX_APP_TOKEN_PREVIOUS: set without BITRIX_APP_TOKEN"},
		{map[string]string{"BITRIX_APP_TOKEN": "topsecret", "BITRIX_APP_TOKEN_PREVIOUS": "topsecret"}, "BITRIX_APP_TOKEN_PREVIOUS: equals BITRIX_APP_TOKEN"},
		{map[string]string{"JOBS_CLIENTS": "acme:topsecret", "JOBS_CLIENTS_PREVIOUS": "acme:topsecret@2027-06-30T00:00:00Z"}, `JOBS_CLIENTS_PREVIOUS entry 1 ("acme"): the previous secret equals the current one`},
		{map[string]string{"JOBS_CLIENTS_PREVIOUS": "acme:topsecret@2027-06-30T00:00:00Z"}, `JOBS_CLIENTS_PREVIOUS entry 1 names client "acme"`},
		{map[string]string{"JOBS_CLIENTS": "acme:new", "JOBS_CLIENTS_PREVIOUS": "acme:topsecret"}, "JOBS_CLIENTS_PREVIOUS entry 1 is not id:previous-secret@"},
		{map[string]string{"JOBS_CLIENTS": "acme:new", "JOBS_CLIENTS_PREVIOUS": "acme:top@secret"}, `JOBS_CLIENTS_PREVIOUS entry 1 ("acme"): what follows the last @ is not an RFC 3339 time`},
	}
	for _, c := range cases {
		if err := loadFails(t, c.vars, c.want); err != nil && (strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "top secret") || strings.Contains(err.Error(), "top@")) {
			t.Errorf("%v: error shows a secret: %v", c.vars, err)
		}
	}
}
