package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/callback/callbacktest"
	"github.com/hookflow/hookflow/internal/integrations/generator/generatortest"
	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// Each kind of `hookflow trigger` against a running hookflow (API and
// worker on a test database and dev server, the fakes of Okdesk, Telegram,
// the generator and a callback receiver wired in by configuration): the
// event is acked, recorded under the workflow the command prints, and its
// flow processes it.
func TestTriggerEveryKind(t *testing.T) {
	const (
		botToken  = "42:trigger-test"
		okToken   = "okdesk-api-token"
		genKey    = "gen-key"
		genModel  = "gen-model"
		jobSecret = "acme-secret-0123456789"
		uiURL     = "http://temporal-ui.test:8233"
	)
	tg := telegramtest.New(botToken)
	t.Cleanup(tg.Close)
	ok := okdesktest.New(okToken)
	t.Cleanup(ok.Close)
	ok.AddContact(okdesktest.Contact{ID: 21, FirstName: "Иван", LastName: "Петров", Phone: "+77015550021"})
	ok.AddIssue(okdesktest.Issue{ID: 153, Title: "Принтер не печатает", ContactID: 21, CompanyID: 15})
	gen := generatortest.New(genKey, genModel)
	t.Cleanup(gen.Close)
	rcv := callbacktest.New(jobSecret)
	t.Cleanup(rcv.Close)

	secrets := map[string]string{
		"SIMPLYPRINT_WEBHOOK_SECRET": "sp-secret-0123456789",
		"OKDESK_WEBHOOK_SECRET":      "okdesk-secret-0123456789",
		"TELEGRAM_WEBHOOK_SECRET":    "tg_secret-0123456789",
		"BITRIX_WEBHOOK_TOKEN":       "bitrix-token-0123456789",
		"JOBS_CLIENTS":               "acme:" + jobSecret,
	}
	vars := map[string]string{
		"TELEGRAM_API_URL": tg.URL(), "TELEGRAM_BOT_TOKEN": botToken, "TELEGRAM_BOT_USERNAME": "hookflow_test_bot",
		"OKDESK_API_URL": ok.APIURL(), "OKDESK_API_TOKEN": okToken, "OKDESK_COMMENT_AUTHOR_ID": "5",
		"GENERATOR_URL": gen.URL(), "GENERATOR_API_KEY": genKey, "GENERATOR_MODEL": genModel,
		"CALLBACK_ALLOW_PRIVATE_NETWORKS": "true", "TEMPORAL_UI_URL": uiURL,
	}
	for k, v := range secrets {
		vars[k] = v
	}
	dbURL, st := testenv.Database(t)
	cfg := testenv.Config(t, dbURL, testenv.Temporal(t), vars)
	a := testenv.StartApp(t, cfg, app.Roles{API: true, Worker: true})

	// The CLI has the same secrets, and the URL of the running API.
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	t.Setenv("HOOKFLOW_URL", a.URL())
	t.Setenv("TEMPORAL_UI_URL", uiURL)
	t.Setenv("TEMPORAL_NAMESPACE", cfg.Temporal.Namespace)
	ctx := context.Background()

	trigger := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, "trigger", args, &out); err != nil {
			t.Fatalf("trigger %v: %v\n%s", args, err, out.String())
		}
		for _, s := range secrets {
			if strings.Contains(out.String(), s) {
				t.Fatalf("trigger %v printed a secret:\n%s", args, out.String())
			}
		}
		return out.String()
	}
	// processed waits until source's newest event, recorded under
	// workflowID, was processed by its flow, and returns it.
	processed := func(source, workflowID string) store.InboundEvent {
		t.Helper()
		var ev store.InboundEvent
		testenv.Eventually(t, 60*time.Second, func() error {
			evs, err := st.ListEvents(ctx, store.EventFilter{Source: source, Limit: 1})
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				return errors.New("no " + source + " event recorded")
			}
			ev = evs[0]
			if ev.WorkflowID != workflowID {
				return fmt.Errorf("event %d went to workflow %q, want %q", ev.ID, ev.WorkflowID, workflowID)
			}
			if !ev.Processed {
				return fmt.Errorf("event %d is not processed yet", ev.ID)
			}
			return nil
		})
		return ev
	}
	answered := func(out, status, workflowID string) {
		t.Helper()
		link := uiURL + "/namespaces/" + cfg.Temporal.Namespace + "/workflows/" + workflowID
		if !strings.Contains(out, "→ "+status) || !strings.Contains(out, "workflow     "+workflowID) || !strings.Contains(out, link) {
			t.Fatalf("want %s and the link %s; printed:\n%s", status, link, out)
		}
	}

	// SimplyPrint: the job's end lands in the printer's workflow.
	out := trigger("simplyprint", "job.done", "--printer", "3")
	answered(out, "200 OK", "simplyprint-printer-3")
	if ev := processed(store.SimplyPrintSource, "simplyprint-printer-3"); ev.Event != "job.done" || ev.Outcome == nil || *ev.Outcome != "applied" {
		t.Fatalf("simplyprint event %+v outcome %v", ev, ev.Outcome)
	}

	// Okdesk: the issue is resolved; its workflow handles the change.
	out = trigger("okdesk", "status-change", "--issue", "153")
	answered(out, "200 OK", "okdesk-issue-153")
	if ev := processed(store.OkdeskSource, "okdesk-issue-153"); ev.Attrs["new_status"] != "completed" {
		t.Fatalf("okdesk event %+v", ev)
	}
	// Sent again, the same transition is a duplicate, and says so.
	if out := trigger("okdesk", "status-change", "--issue", "153"); !strings.Contains(out, "duplicate") {
		t.Fatalf("a repeated transition:\n%s", out)
	}

	// Telegram: a rating press reaches the chat's workflow, which answers
	// the button through the (fake) Bot API.
	out = trigger("telegram", "rating", "--chat", "42", "--stars", "5")
	answered(out, "200 OK", "telegram-chat-42")
	processed(store.TelegramSource, "telegram-chat-42")
	testenv.Eventually(t, 30*time.Second, func() error {
		for _, c := range tg.CallsTo("answerCallbackQuery") {
			if c.String("callback_query_id") != "" {
				return nil
			}
		}
		return errors.New("the button press was not answered")
	})

	// Bitrix: the saved order is synced into hookflow's orders.
	out = trigger("bitrix", "order-saved", "--order", "236", "--status", "P")
	answered(out, "200 OK", "bitrix-order-236")
	processed(store.BitrixSource, "bitrix-order-236")
	var status string
	if err := st.Pool.QueryRow(ctx, `SELECT bitrix_status FROM orders WHERE bitrix_id = 236`).Scan(&status); err != nil || status != "P" {
		t.Fatalf("Bitrix order 236 in hookflow's orders: status %q, %v", status, err)
	}

	// A job: accepted, described by the generator, the callback delivered.
	out = trigger("job", "--lots", "3", "--images", "1", "--image-base", "http://127.0.0.1:9/img", "--callback", rcv.URL())
	m := regexp.MustCompile(`workflow     (job-[0-9a-f-]{36})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no job workflow printed:\n%s", out)
	}
	answered(out, "202 Accepted", m[1])
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	ds, err := rcv.Wait(wctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p := ds[0].Payload; !ds[0].SignatureOK || "job-"+p.JobID != m[1] || p.Status != "completed" || p.TotalLots != 3 || p.CompletedLots != 3 {
		t.Fatalf("callback %+v signature ok %v", p, ds[0].SignatureOK)
	}

	// What the command refuses: an unknown kind, a bad flag, a wrong secret.
	var ue usageError
	if err := run(ctx, "trigger", []string{"okdesk", "reopened"}, &bytes.Buffer{}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "status-change") {
		t.Fatalf("an unknown event: %v", err)
	}
	if err := run(ctx, "trigger", []string{"telegram", "rating", "--stars", "9"}, &bytes.Buffer{}); !errors.As(err, &ue) {
		t.Fatalf("--stars 9: %v", err)
	}
	t.Setenv("BITRIX_WEBHOOK_TOKEN", "not-the-token-0123456789")
	var bad bytes.Buffer
	if err := run(ctx, "trigger", []string{"bitrix", "order-saved"}, &bad); err == nil || !strings.Contains(bad.String(), "401") {
		t.Fatalf("a wrong token: %v\n%s", err, bad.String())
	}
	var list bytes.Buffer
	if err := run(ctx, "trigger", []string{"--list"}, &list); err != nil {
		t.Fatal(err)
	}
	for _, k := range triggerKinds() {
		if !strings.Contains(list.String(), k.name()) {
			t.Fatalf("--list lacks %q:\n%s", k.name(), list.String())
		}
	}
}
