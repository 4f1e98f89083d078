package config

import (
	"testing"
	"time"
)

func TestRatingsDefaultsAndSeedNames(t *testing.T) {
	cfg := mustLoad(t, map[string]string{})
	r := cfg.Ratings
	if r.Path() != "/okdesk-webhook" || r.Secret() != "" || r.TelegramAPIURL != "https://api.telegram.org" ||
		r.ReminderAfter != 24*time.Hour || r.TTL != 72*time.Hour || r.English() {
		t.Fatalf("defaults %+v", r)
	}
	for _, code := range []string{"resolved", "closed", "completed", "done", "finished", "solved", " Resolved "} {
		if !r.AsksForRating(code) {
			t.Errorf("%q should ask for a rating", code)
		}
	}
	for _, code := range []string{"opened", "in_progress", "delayed", ""} {
		if r.AsksForRating(code) {
			t.Errorf("%q should not ask for a rating", code)
		}
	}

	cfg = mustLoad(t, map[string]string{"WEBHOOK_SECRET": "seed", "WEBHOOK_PATH": "/hooks/okdesk",
		"RATING_STATUSES": "closed, Resolved", "RATING_LANGUAGE": "en", "TELEGRAM_BOT_USERNAME": "@acme_bot"})
	r = cfg.Ratings
	if r.Secret() != "seed" || r.Path() != "/hooks/okdesk" || !r.AsksForRating("resolved") || r.AsksForRating("completed") ||
		!r.English() || r.DeepLink("tok") != "https://t.me/acme_bot?start=tok" {
		t.Fatalf("seed names %+v", r)
	}
	cfg, _ = LoadFrom(map[string]string{"WEBHOOK_SECRET": "seed", "OKDESK_WEBHOOK_SECRET": "own"})
	if cfg.Ratings.Secret() != "own" {
		t.Fatalf("OKDESK_WEBHOOK_SECRET must win, got %q", cfg.Ratings.Secret())
	}
}

func TestRatingsInvalidConfigNamesTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"RATING_LANGUAGE":          {"RATING_LANGUAGE": "de"},
		"RATING_TTL":               {"RATING_TTL": "0s"},
		"WEBHOOK_PATH":             {"WEBHOOK_PATH": "okdesk"},
		"OKDESK_API_TOKEN":         {"OKDESK_API_URL": "https://acme.okdesk.ru/api/v1/", "OKDESK_COMMENT_AUTHOR_ID": "5"},
		"OKDESK_COMMENT_AUTHOR_ID": {"OKDESK_API_URL": "https://acme.okdesk.ru/api/v1/", "OKDESK_API_TOKEN": "t"},
		"OKDESK_API_URL":           {"OKDESK_API_URL": "acme.okdesk.ru", "OKDESK_API_TOKEN": "t", "OKDESK_COMMENT_AUTHOR_ID": "5"},
		"TELEGRAM_WEBHOOK_SECRET":  {"TELEGRAM_WEBHOOK_SECRET": "has spaces"},
		"TELEGRAM_API_URL":         {"TELEGRAM_API_URL": "ftp://x"},
	}
	for name, vars := range cases {
		loadFails(t, vars, name)
	}
}
