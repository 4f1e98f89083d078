package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/store"
)

// telegramAllowedUpdates are the update kinds the bot handles.
var telegramAllowedUpdates = []string{"message", "callback_query"}

// telegramCommand: `hookflow telegram set-webhook [--url URL]`.
func telegramCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "set-webhook" {
		return usageError{"usage: hookflow telegram set-webhook [--url URL]"}
	}
	fs := flag.NewFlagSet("set-webhook", flag.ContinueOnError)
	target := fs.String("url", "", "webhook URL (default: PUBLIC_BASE_URL + "+config.TelegramWebhookPath+")")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	rc := cfg.Ratings
	if rc.TelegramBotToken == "" || rc.TelegramWebhookSecret == "" {
		return errors.New("set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET to register the bot's webhook")
	}
	if *target == "" {
		u, err := url.JoinPath(cfg.PublicBaseURL, config.TelegramWebhookPath)
		if err != nil {
			return fmt.Errorf("PUBLIC_BASE_URL: %w", err)
		}
		*target = u
	}
	tg, err := telegram.New(rc.TelegramAPIURL, rc.TelegramBotToken, &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := tg.SetWebhook(ctx, *target, rc.TelegramWebhookSecret, telegramAllowedUpdates); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Telegram webhook set to %s (secret token: set; updates: message, callback_query)\n", *target)
	if rc.TelegramWebhookSecretPrevious != "" {
		// setWebhook registered the current secret; the previous one stays
		// accepted by the API until the variable is removed.
		fmt.Fprintln(stdout, "Registered TELEGRAM_WEBHOOK_SECRET; the API accepts TELEGRAM_WEBHOOK_SECRET_PREVIOUS too until you remove it (once no update is logged as authenticated with it)")
	}
	return nil
}

// okdeskCommand: `hookflow okdesk link-contact <contact_id>`.
func okdeskCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "link-contact" {
		return usageError{"usage: hookflow okdesk link-contact <contact_id>"}
	}
	contactID, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil || contactID <= 0 {
		return usageError{fmt.Sprintf("contact id must be a positive integer, got %q", args[1])}
	}
	if err := requireDatabase(cfg); err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	link, err := activities.CreateContactLink(ctx, cfg.Ratings, st, &http.Client{Timeout: 30 * time.Second}, contactID)
	if err != nil {
		return err
	}
	who := ""
	if link.ContactName != "" {
		who = " (" + link.ContactName + ")"
	}
	fmt.Fprintf(stdout, "%s\n\nOpen this link in Telegram to tie the chat to Okdesk contact %d%s.\nIt works once, until %s.\n",
		link.DeepLink, contactID, who, link.ExpiresAt.Local().Format(time.RFC3339))
	return nil
}
