package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint"
)

// simplyPrintCommand: `hookflow simplyprint register-webhooks [--list]`.
func simplyPrintCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "register-webhooks" {
		return usageError{"usage: hookflow simplyprint register-webhooks [--list] [--name NAME]"}
	}
	fs := flag.NewFlagSet("register-webhooks", flag.ContinueOnError)
	list := fs.Bool("list", false, "only list the webhooks registered at SimplyPrint")
	name := fs.String("name", "hookflow", "name of the webhook at SimplyPrint")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	sp := cfg.SimplyPrint
	var missing []string
	if sp.CompanyID == "" && strings.Contains(sp.APIURL, simplyprint.CompanyIDPlaceholder) {
		missing = append(missing, "SIMPLYPRINT_COMPANY_ID")
	}
	if sp.APIKey == "" {
		missing = append(missing, "SIMPLYPRINT_API_KEY")
	}
	if len(missing) > 0 {
		return fmt.Errorf("set %s to talk to SimplyPrint's API", strings.Join(missing, " and "))
	}
	client := simplyprint.New(sp.APIURL, sp.CompanyID, sp.APIKey, &http.Client{Timeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if *list {
		hooks, err := client.ListWebhooks(ctx)
		if err != nil {
			return err
		}
		if len(hooks) == 0 {
			fmt.Fprintln(stdout, "no webhooks are registered")
		}
		for _, h := range hooks {
			fmt.Fprintf(stdout, "#%d %s %s enabled=%t events=%d\n", h.ID, h.Name, h.URL, h.Enabled, len(h.Events))
		}
		return nil
	}
	target, err := url.JoinPath(cfg.PublicBaseURL, "/api/v1/simpleprint/webhook/")
	if err != nil {
		return fmt.Errorf("PUBLIC_BASE_URL: %w", err)
	}
	if strings.Contains(cfg.PublicBaseURL, "localhost") || strings.Contains(cfg.PublicBaseURL, "127.0.0.1") {
		return errors.New("PUBLIC_BASE_URL points at this machine (" + cfg.PublicBaseURL + "): SimplyPrint could not reach it; set it to the public address")
	}
	hook, created, err := client.EnsureWebhook(ctx, simplyprint.WebhookSpec{
		Name: *name, Description: "hookflow: print farm events", URL: target,
		Secret: sp.WebhookSecret, Enabled: true, Events: simplyprint.AllEvents,
	})
	if err != nil {
		return err
	}
	verb := "updated"
	if created {
		verb = "created"
	}
	fmt.Fprintf(stdout, "%s webhook #%d %s for %d events (secret: %s)\n", verb, hook.ID, hook.URL, len(hook.Events),
		map[bool]string{true: "set", false: "none — set SIMPLYPRINT_WEBHOOK_SECRET"}[sp.WebhookSecret != ""])
	return nil
}
