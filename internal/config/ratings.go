package config

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/telegram"
)

// TelegramWebhookPath is where Telegram delivers the bot's updates.
const TelegramWebhookPath = "/telegram-webhook"

// RatingsConfig configures the issue ratings flow: Okdesk status changes,
// the Telegram bot that asks for 1-5 stars, the Okdesk comment
// (docs/ratings.md).
type RatingsConfig struct {
	WebhookPath               string   `env:"WEBHOOK_PATH" envDefault:"/okdesk-webhook" desc:"path of the Okdesk webhook (POST; GET answers a readiness JSON)"`
	WebhookSecret             string   `env:"OKDESK_WEBHOOK_SECRET" desc:"when set, Okdesk webhooks must carry it as ?token= or header X-Webhook-Secret (401 otherwise); unset accepts every webhook (a warning is logged)"`
	WebhookSecretPrevious     string   `env:"OKDESK_WEBHOOK_SECRET_PREVIOUS" desc:"during a rotation, the Okdesk secret being replaced: accepted beside the current one (OKDESK_WEBHOOK_SECRET or WEBHOOK_SECRET) until removed"`
	SeedWebhookSecret         string   `env:"WEBHOOK_SECRET" desc:"the seed's name for OKDESK_WEBHOOK_SECRET, used when OKDESK_WEBHOOK_SECRET is unset"`
	SeedWebhookSecretPrevious string   `env:"WEBHOOK_SECRET_PREVIOUS" desc:"the seed-style name for OKDESK_WEBHOOK_SECRET_PREVIOUS, used when that is unset"`
	Statuses                  []string `env:"RATING_STATUSES" envDefault:"resolved,closed,completed,done,finished,solved" envSeparator:"," desc:"Okdesk status codes that ask the customer for a rating (comma-separated, case-insensitive); leaving them for another status cancels the request"`

	OkdeskAPIURL    string `env:"OKDESK_API_URL" desc:"Okdesk REST API base, e.g. https://acme.okdesk.ru/api/v1/ (comments, contacts, new issues)"`
	OkdeskAPIToken  string `env:"OKDESK_API_TOKEN" desc:"Okdesk api_token (sent as a query parameter, never logged)"`
	CommentAuthorID int64  `env:"OKDESK_COMMENT_AUTHOR_ID" desc:"Okdesk employee id the rating comments are written as; required with OKDESK_API_URL"`
	PortalURL       string `env:"OKDESK_PORTAL_URL" desc:"Okdesk portal URL (https://acme.okdesk.ru), for links to issues in the bot's messages"`

	TelegramBotToken      string `env:"TELEGRAM_BOT_TOKEN" desc:"Telegram bot token from @BotFather; unset: rating requests end with outcome failed"`
	TelegramAPIURL        string `env:"TELEGRAM_API_URL" envDefault:"https://api.telegram.org" desc:"Telegram Bot API server (tests point it at a fake)"`
	TelegramWebhookSecret string `env:"TELEGRAM_WEBHOOK_SECRET" desc:"secret_token registered with setWebhook and required in X-Telegram-Bot-Api-Secret-Token; unset refuses updates with 403"`
	// TelegramWebhookSecretPrevious is accepted, never registered.
	TelegramWebhookSecretPrevious string `env:"TELEGRAM_WEBHOOK_SECRET_PREVIOUS" desc:"during a rotation, the secret_token registered before: accepted beside TELEGRAM_WEBHOOK_SECRET until removed; 'hookflow telegram set-webhook' registers the current one"`
	TelegramBotUsername           string `env:"TELEGRAM_BOT_USERNAME" desc:"the bot's username (without @), for deep links https://t.me/<bot>?start=<token>"`

	ReminderAfter time.Duration `env:"RATING_REMINDER_AFTER" envDefault:"24h" desc:"when an unanswered rating request is reminded once (0 disables the reminder)"`
	TTL           time.Duration `env:"RATING_TTL" envDefault:"72h" desc:"when an unanswered rating request expires"`
	Language      string        `env:"RATING_LANGUAGE" envDefault:"ru" desc:"language of the bot's messages: ru or en"`
	LinkTokenTTL  time.Duration `env:"OKDESK_LINK_TOKEN_TTL" envDefault:"168h" desc:"how long a deep link made by 'hookflow okdesk link-contact' (or the admin API) stays usable; each is single use"`
}

// Secret is the Okdesk webhook secret: OKDESK_WEBHOOK_SECRET, else
// WEBHOOK_SECRET.
func (c RatingsConfig) Secret() string {
	return cmp.Or(c.WebhookSecret, c.SeedWebhookSecret)
}

// PreviousSecret is the Okdesk secret being replaced during a rotation:
// OKDESK_WEBHOOK_SECRET_PREVIOUS, else WEBHOOK_SECRET_PREVIOUS.
func (c RatingsConfig) PreviousSecret() string {
	return cmp.Or(c.WebhookSecretPrevious, c.SeedWebhookSecretPrevious)
}

// Path is the Okdesk webhook path (the default when never loaded).
func (c RatingsConfig) Path() string {
	if c.WebhookPath == "" {
		return "/okdesk-webhook"
	}
	return c.WebhookPath
}

// AsksForRating reports whether status code is one of RATING_STATUSES.
func (c RatingsConfig) AsksForRating(code string) bool {
	code = strings.ToLower(strings.TrimSpace(code))
	if code == "" {
		return false
	}
	statuses := c.Statuses
	if statuses == nil {
		statuses = []string{"resolved", "closed", "completed", "done", "finished", "solved"}
	}
	for _, s := range statuses {
		if strings.ToLower(strings.TrimSpace(s)) == code {
			return true
		}
	}
	return false
}

// BotUsername is TELEGRAM_BOT_USERNAME without a leading @.
func (c RatingsConfig) BotUsername() string {
	return strings.TrimPrefix(strings.TrimSpace(c.TelegramBotUsername), "@")
}

// DeepLink is the t.me link whose /start ties a chat to a contact.
func (c RatingsConfig) DeepLink(token string) string {
	return "https://t.me/" + c.BotUsername() + "?start=" + token
}

// English reports whether the bot speaks English (RATING_LANGUAGE=en).
func (c RatingsConfig) English() bool { return strings.EqualFold(c.Language, "en") }

// OkdeskConfigured reports whether the Okdesk API can be called.
func (c RatingsConfig) OkdeskConfigured() bool { return c.OkdeskAPIURL != "" && c.OkdeskAPIToken != "" }

func (c RatingsConfig) validate() error {
	var errs []error
	if p := c.WebhookPath; !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#: ") || p == TelegramWebhookPath {
		errs = append(errs, fmt.Errorf("WEBHOOK_PATH: %q must be a path starting with / (and not %s)", p, TelegramWebhookPath))
	}
	switch strings.ToLower(c.Language) {
	case "ru", "en":
	default:
		errs = append(errs, fmt.Errorf("RATING_LANGUAGE: %q is not one of ru, en", c.Language))
	}
	if c.TTL <= 0 || c.ReminderAfter < 0 || c.LinkTokenTTL <= 0 {
		errs = append(errs, errors.New("RATING_TTL and OKDESK_LINK_TOKEN_TTL: must be positive; RATING_REMINDER_AFTER: must not be negative"))
	}
	// URLs are checked without repeating them: nothing secret in them, but
	// keep the messages short and uniform.
	for _, v := range []struct{ name, value string }{{"OKDESK_API_URL", c.OkdeskAPIURL}, {"TELEGRAM_API_URL", c.TelegramAPIURL}, {"OKDESK_PORTAL_URL", c.PortalURL}} {
		if v.value == "" {
			continue
		}
		if u, ok := httpURL(strings.TrimSpace(v.value)); !ok || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("%s: not an http(s) URL without a query", v.name))
		}
	}
	if c.OkdeskAPIURL != "" {
		if c.OkdeskAPIToken == "" {
			errs = append(errs, errors.New("OKDESK_API_TOKEN: required with OKDESK_API_URL"))
		}
		if c.CommentAuthorID <= 0 {
			errs = append(errs, errors.New("OKDESK_COMMENT_AUTHOR_ID: required with OKDESK_API_URL (Okdesk needs an employee id as the author of a comment)"))
		}
	}
	if s := c.TelegramWebhookSecret; s != "" && !telegram.ValidSecretToken(s) {
		errs = append(errs, errors.New("TELEGRAM_WEBHOOK_SECRET: Telegram accepts 1-256 characters of A-Z a-z 0-9 _ -"))
	}
	if s := c.TelegramWebhookSecretPrevious; s != "" && !telegram.ValidSecretToken(s) {
		errs = append(errs, errors.New("TELEGRAM_WEBHOOK_SECRET_PREVIOUS: Telegram accepts 1-256 characters of A-Z a-z 0-9 _ -"))
	}
	errs = append(errs, checkPrevious("TELEGRAM_WEBHOOK_SECRET_PREVIOUS", c.TelegramWebhookSecretPrevious, "TELEGRAM_WEBHOOK_SECRET", c.TelegramWebhookSecret))
	prevName, prev := firstSet("OKDESK_WEBHOOK_SECRET_PREVIOUS", c.WebhookSecretPrevious, "WEBHOOK_SECRET_PREVIOUS", c.SeedWebhookSecretPrevious)
	curName, cur := firstSet("OKDESK_WEBHOOK_SECRET", c.WebhookSecret, "WEBHOOK_SECRET", c.SeedWebhookSecret)
	errs = append(errs, checkPrevious(prevName, prev, curName, cur))
	if u := c.BotUsername(); u != "" && !telegram.ValidSecretToken(u) {
		errs = append(errs, fmt.Errorf("TELEGRAM_BOT_USERNAME: %q is not a Telegram username", u))
	}
	return errors.Join(errs...)
}
