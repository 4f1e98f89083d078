package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/callback"
	"github.com/hookflow/hookflow/internal/callback/callbacktest"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/bitrix/bitrixtest"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
)

// Secret rotation (README: Rotating a secret). Each test runs hookflow
// during a rotation (the new value current, the old one _PREVIOUS: both
// accepted, anything else refused) and after it (the _PREVIOUS variable
// removed: the old value refused).

// expectSecrets sends one authenticated request per secret with send and
// checks the status: ok for every accepted secret, 401 for every refused one.
func expectSecrets(t *testing.T, what string, send func(secret string) int, ok int, accepted, refused []string) {
	t.Helper()
	for _, s := range accepted {
		if code := send(s); code != ok {
			t.Errorf("%s with %q: %d, want %d (accepted)", what, s, code, ok)
		}
	}
	for _, s := range refused {
		if code := send(s); code != 401 {
			t.Errorf("%s with %q: %d, want 401 (refused)", what, s, code)
		}
	}
}

func TestRotationSimplyPrint(t *testing.T) {
	const oldSecret, newSecret = "sp-old-secret", "sp-new-secret"
	n := int64(0)
	send := func(base, header string) func(string) int {
		return func(secret string) int {
			n++
			body := simplyprinttest.Payload("job.started", 900+n, 1705320000+n,
				simplyprinttest.JobData(simplyprinttest.Job{ID: 900 + n, Printer: simplyprinttest.Printer{ID: 901}}))
			return call(t, "POST", base+spPath, body, map[string]string{header: secret}, nil)
		}
	}
	during, _, _ := startSimplyPrint(t, map[string]string{
		"SIMPLYPRINT_WEBHOOK_SECRET": newSecret, "SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS": oldSecret})
	for _, h := range []string{"X-SP-Token", "X-SP-Secret"} {
		expectSecrets(t, "during, "+h, send(during.URL(), h), 200, []string{newSecret, oldSecret}, []string{"", "wrong", oldSecret + newSecret})
	}
	after, _, _ := startSimplyPrint(t, map[string]string{"SIMPLYPRINT_WEBHOOK_SECRET": newSecret})
	expectSecrets(t, "after", send(after.URL(), "X-SP-Token"), 200, []string{newSecret}, []string{oldSecret})
}

// TestRotationOkdeskAndTelegram: the Okdesk secret (its previous value
// pairing with the seed's WEBHOOK_SECRET as well) and the Telegram secret
// token. Telegram keeps sending the secret registered before until hookflow
// registers the current one (what `hookflow telegram set-webhook` does).
func TestRotationOkdeskAndTelegram(t *testing.T) {
	const okdOld, okdNew, tgNew = "okdesk-old-secret", "okdesk-new-secret", "tg_new-secret"
	roles := app.Roles{API: true, Worker: true}
	e := startRatings(t, roles, map[string]string{
		"OKDESK_WEBHOOK_SECRET": "", "WEBHOOK_SECRET": okdNew, "OKDESK_WEBHOOK_SECRET_PREVIOUS": okdOld,
		"TELEGRAM_WEBHOOK_SECRET": tgNew, "TELEGRAM_WEBHOOK_SECRET_PREVIOUS": rtBotSecret})
	okdesk := func(env *ratingsEnv, byHeader bool) func(string) int {
		return func(secret string) int {
			env.next++
			body := []byte(fmt.Sprintf(`{"event":{"event_type":"new_comment","author":{"id":"3","type":"employee"}},"issue":{"id":"%d","title":"Rotation","status":{"code":"in_progress"}},"comment":{"id":"%d","content":"hi"}}`,
				env.id(190), env.next))
			url, headers := env.app.URL()+env.cfg.Ratings.Path()+"?token="+secret, map[string]string(nil)
			if byHeader {
				url, headers = env.app.URL()+env.cfg.Ratings.Path(), map[string]string{"X-Webhook-Secret": secret}
			}
			return call(t, "POST", url, body, headers, nil)
		}
	}
	tg := func(env *ratingsEnv) func(string) int {
		return func(secret string) int {
			env.next++
			return call(t, "POST", env.app.URL()+config.TelegramWebhookPath, telegramtest.MessageUpdate(env.next, env.id(2), "hello"),
				map[string]string{telegram.SecretTokenHeader: secret}, nil)
		}
	}
	expectSecrets(t, "okdesk ?token= during", okdesk(e, false), 200, []string{okdNew, okdOld}, []string{"", "wrong"})
	expectSecrets(t, "okdesk header during", okdesk(e, true), 200, []string{okdNew, okdOld}, []string{"", "wrong"})
	expectSecrets(t, "telegram during", tg(e), 200, []string{tgNew, rtBotSecret}, []string{"", "tg_wrong"})

	// The fake Telegram still holds the old secret token (startRatings
	// registered it): its deliveries are accepted; after re-registration it
	// sends the new one, accepted as well.
	if code, err := e.tg.Deliver(context.Background(), telegramtest.MessageUpdate(e.next+1, e.id(3), "before set-webhook")); err != nil || code != 200 {
		t.Fatalf("update with the registered (old) secret: %d %v", code, err)
	}
	bot, err := telegram.New(e.tg.URL(), rtBotToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bot.SetWebhook(context.Background(), e.app.URL()+config.TelegramWebhookPath, e.cfg.Ratings.TelegramWebhookSecret, nil); err != nil {
		t.Fatal(err)
	}
	if w := e.tg.Webhook(); w.SecretToken != tgNew {
		t.Fatalf("registered %q", w.SecretToken)
	}
	if code, err := e.tg.Deliver(context.Background(), telegramtest.MessageUpdate(e.next+2, e.id(3), "after set-webhook")); err != nil || code != 200 {
		t.Fatalf("update with the new secret: %d %v", code, err)
	}

	after := startRatings(t, roles, map[string]string{"OKDESK_WEBHOOK_SECRET": okdNew, "TELEGRAM_WEBHOOK_SECRET": tgNew})
	expectSecrets(t, "okdesk after", okdesk(after, false), 200, []string{okdNew}, []string{okdOld})
	expectSecrets(t, "okdesk header after", okdesk(after, true), 200, []string{okdNew}, []string{okdOld})
	expectSecrets(t, "telegram after", tg(after), 200, []string{tgNew}, []string{rtBotSecret})
}

// TestRotationBitrix: the PHP handler's token (on both webhook paths and
// GET /api/sync/status) and the Bitrix24 application token.
func TestRotationBitrix(t *testing.T) {
	const bxNew, appNew = "bitrix-new-token", "bitrix24-new-app-token"
	n := int64(0)
	site := func(base string) func(string) int {
		return func(secret string) int {
			n++
			body := bitrixtest.SiteEvent{Event: "order.saved", IsNew: true, Order: siteOrder(950+n, "N", 1)}.JSON()
			return call(t, "POST", base+bxOrderURL, body, map[string]string{"X-Webhook-Token": secret}, nil)
		}
	}
	status := func(base string) func(string) int {
		return func(secret string) int {
			return call(t, "GET", base+"/api/sync/status", nil, map[string]string{"X-Webhook-Token": secret}, nil)
		}
	}
	b24 := func(base string) func(string) int {
		return func(secret string) int {
			n++
			code, err := bitrixtest.SendEvent(context.Background(), nil, base+"/api/webhooks/bitrix24",
				bitrixtest.Event{Name: "ONSALEORDERSAVED", HandlerID: 201, OrderID: 950 + n, Action: "save", ApplicationToken: secret})
			if err != nil {
				t.Fatal(err)
			}
			return code
		}
	}
	during, _ := startOrders(t, map[string]string{
		"BITRIX_WEBHOOK_TOKEN": bxNew, "BITRIX_WEBHOOK_TOKEN_PREVIOUS": bxToken,
		"BITRIX_APP_TOKEN": appNew, "BITRIX_APP_TOKEN_PREVIOUS": bxApp})
	expectSecrets(t, "site webhook during", site(during.URL()), 200, []string{bxNew, bxToken}, []string{"", "wrong"})
	expectSecrets(t, "sync status during", status(during.URL()), 200, []string{bxNew, bxToken}, []string{"wrong"})
	expectSecrets(t, "bitrix24 during", b24(during.URL()), 200, []string{appNew, bxApp}, []string{"", "wrong"})

	// After, with the seed's name for the current token.
	after, _ := startOrders(t, map[string]string{"BITRIX_WEBHOOK_TOKEN": "", "WEBHOOK_TOKEN": bxNew, "BITRIX_APP_TOKEN": appNew})
	expectSecrets(t, "site webhook after", site(after.URL()), 200, []string{bxNew}, []string{bxToken})
	expectSecrets(t, "sync status after", status(after.URL()), 200, []string{bxNew}, []string{bxToken})
	expectSecrets(t, "bitrix24 after", b24(after.URL()), 200, []string{appNew}, []string{bxApp})
}

// TestRotationJobClients: acme is inside its overlap (until tomorrow),
// globex past it (until an hour ago). Submissions signed with acme's old
// secret are accepted, with globex's old one refused; acme's callback
// carries two webhook-signatures (new first) that a receiver on either
// secret verifies, and X-Signature with the new secret; globex's only one.
func TestRotationJobClients(t *testing.T) {
	const acmeNew, globexOld, globexNew = "acme-new-secret", "globex-secret", "globex-new-secret"
	now := time.Now()
	e := startJobs(t, app.Roles{API: true, Worker: true}, map[string]string{
		"JOBS_CLIENTS": "acme:" + acmeNew + ",globex:" + globexNew,
		"JOBS_CLIENTS_PREVIOUS": "acme:" + acmeSecret + "@" + now.Add(24*time.Hour).Format(time.RFC3339) +
			",globex:" + globexOld + "@" + now.Add(-time.Hour).Format(time.RFC3339),
	})
	// Receivers verifying X-Signature with the new secret and
	// webhook-signature with the old one (onOld) or the new one.
	onOld := callbacktest.New(acmeNew, callbacktest.WithStandardSecret(acmeSecret))
	t.Cleanup(onOld.Close)
	onNew := callbacktest.New(acmeNew)
	t.Cleanup(onNew.Close)
	globexRcv := callbacktest.New(globexNew, callbacktest.AcceptInvalid())
	t.Cleanup(globexRcv.Close)

	ok := func(secret string, rcv *callbacktest.Receiver) string {
		return submit(t, e.api, jobBody(secret, rcv.URL(), []string{"en"}, lot("car_001", 1)), nil).JobID
	}
	refused := func(secret string) {
		var body map[string]any
		if code := call(t, "POST", e.api.URL()+jobsPath, jobBody(secret, globexRcv.URL(), []string{"en"}, lot("car_001", 1)), nil, &body); code != 401 {
			t.Errorf("submission signed with %q: %d %v, want 401", secret, code, body)
		}
	}
	ids := []string{ok(acmeNew, onOld), ok(acmeSecret, onNew), ok(globexNew, globexRcv)}
	refused(globexOld)
	refused("nobody's secret")
	for _, id := range ids {
		waitStatus(t, e.api, id, callbackIs("delivered", 1))
	}

	// check: the receiver got one delivery whose webhook-signature is one
	// signature per secret, in this order, and both schemes verified.
	check := func(rcv *callbacktest.Receiver, secrets ...string) {
		t.Helper()
		ds := rcv.Deliveries()
		if len(ds) != 1 {
			t.Fatalf("%d deliveries", len(ds))
		}
		d := ds[0]
		var unix int64
		if _, err := fmt.Sscan(d.Header.Get(callback.HeaderWebhookTimestamp), &unix); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, s := range secrets {
			want = append(want, callback.SignStandard(s, d.Header.Get(callback.HeaderWebhookID), time.Unix(unix, 0), d.Body))
		}
		if got := d.Header.Get(callback.HeaderWebhookSignature); got != strings.Join(want, " ") || !d.Verified() {
			t.Errorf("webhook-signature %q, want %q; X-Signature verified %v, webhook-signature %v %s",
				got, want, d.SignatureOK, d.StandardOK, d.StandardErr)
		}
	}
	check(onOld, acmeNew, acmeSecret)
	check(onNew, acmeNew, acmeSecret)
	check(globexRcv, globexNew) // past the overlap: the old secret signs nothing
}
