package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/demo"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const adminToken = "demo-test-admin-token-0123"

// startDemo runs what hookflow dev --demo runs in-process: the fakes, the
// API and worker configured by the fakes' Env (as dev's demoConfig does)
// on a test database and the shared dev server, the console showing the
// fakes, and Connect.
func startDemo(t *testing.T) (*demo.Fakes, *app.App) {
	t.Helper()
	fakes := demo.Start()
	t.Cleanup(fakes.Close)
	dbURL, _ := testenv.Database(t)
	cfg := testenv.Config(t, dbURL, testenv.Temporal(t), fakes.Apply(map[string]string{"ADMIN_TOKEN": adminToken, "CALLBACK_RETRY_BASE": "2s"}))
	a := testenv.StartAppPrepared(t, cfg, app.Roles{API: true, Worker: true}, testenv.Logger(), func(a *app.App) { a.Server.Demo = fakes })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fakes.Connect(ctx, a.URL(), cfg.Ratings.Path()); err != nil {
		t.Fatal(err)
	}
	// The customer's chat is linked by phone: the bot says so.
	waitMessage(t, fakes, func(m telegramtest.Message) bool { return strings.Contains(m.Text, "Чат привязан") })
	return fakes, a
}

// waitMessage waits until the demo chat holds a message matching ok.
func waitMessage(t *testing.T, fakes *demo.Fakes, ok func(telegramtest.Message) bool) telegramtest.Message {
	t.Helper()
	var found telegramtest.Message
	testenv.Eventually(t, 30*time.Second, func() error {
		msgs := fakes.Telegram.Messages(demo.ChatID)
		for _, m := range msgs {
			if ok(m) {
				found = m
				return nil
			}
		}
		return fmt.Errorf("no such message among %d in the demo chat: %+v", len(msgs), msgs)
	})
	return found
}

// ratingRequest waits for the rating request of issue and returns it.
func ratingRequest(t *testing.T, fakes *demo.Fakes, issue int64) telegramtest.Message {
	t.Helper()
	return waitMessage(t, fakes, func(m telegramtest.Message) bool {
		for _, b := range m.InlineButtons() {
			if b.CallbackData == fmt.Sprintf("rate:%d:5", issue) {
				return true
			}
		}
		return false
	})
}

func do(t *testing.T, method, target, bearer string, form url.Values, body string, out any) (int, http.Header, string) {
	t.Helper()
	h := map[string]string{}
	var b []byte
	if form != nil {
		b, h["Content-Type"] = []byte(form.Encode()), "application/x-www-form-urlencoded"
	} else if body != "" {
		b, h["Content-Type"] = []byte(body), "application/json"
	}
	if bearer != "" {
		h["Authorization"] = "Bearer " + bearer
	}
	resp, raw := testenv.SendBy(t, testenv.NoRedirect, testenv.Request(t, method, target, b, h))
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, target, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, resp.Header, string(raw)
}

// TestDemoEveryFlow starts the demo and drives each flow through the fakes,
// end to end: the rating (Okdesk status change, the bot's request, a star
// pressed through the console, the Okdesk comment), Bitrix24 both ways, a
// description job to its signed callback, a SimplyPrint event; the console
// shows the banner and the fakes' state.
func TestDemoEveryFlow(t *testing.T) {
	fakes, a := startDemo(t)
	ctx := context.Background()

	// Ratings: resolve 153, press 4 stars on the console's demo page.
	if err := fakes.ResolveIssue(ctx, 153); err != nil {
		t.Fatal(err)
	}
	ask := ratingRequest(t, fakes, 153)
	if !strings.Contains(ask.Text, "Принтер не печатает") {
		t.Fatalf("rating request %q", ask.Text)
	}
	act := func(form url.Values) string {
		t.Helper()
		code, hdr, body := do(t, "POST", a.URL()+"/ops/demo/act", adminToken, form, "", nil)
		if code != http.StatusSeeOther {
			t.Fatalf("POST /ops/demo/act %v: %d %s", form, code, body)
		}
		return hdr.Get("Location")
	}
	loc := act(url.Values{"action": {"press"}, "chat": {fmt.Sprint(demo.ChatID)}, "message": {fmt.Sprint(ask.ID)}, "data": {"rate:153:4"}})
	if !strings.Contains(loc, "done=") {
		t.Fatalf("press redirected to %s", loc)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		cs := fakes.Okdesk.CommentsFor(153)
		if len(cs) != 1 || cs[0].Content != "Оценка клиента: ⭐⭐⭐⭐ (4/5)" {
			return fmt.Errorf("comments of 153: %+v", cs)
		}
		return nil
	})
	waitMessage(t, fakes, func(m telegramtest.Message) bool {
		return m.ID == ask.ID && m.Edited && strings.Contains(m.Text, "Спасибо за оценку")
	})
	if n := len(fakes.Telegram.CallsTo("answerCallbackQuery")); n != 1 {
		t.Fatalf("%d answerCallbackQuery calls, want the press answered once", n)
	}
	// A button the message does not show cannot be pressed; bad input is
	// named.
	for form, want := range map[string]url.Values{
		"shows no button":        {"action": {"press"}, "chat": {fmt.Sprint(demo.ChatID)}, "message": {fmt.Sprint(ask.ID)}, "data": {"rate:153:9"}},
		"message":                {"action": {"press"}, "chat": {fmt.Sprint(demo.ChatID)}, "message": {"x"}},
		"not one of press":       {"action": {"dance"}},
		"the fake Okdesk has no": {"action": {"resolve"}, "issue": {"999"}},
	} {
		if loc := act(want); !strings.Contains(loc, "error=") || !strings.Contains(mustUnescape(t, loc), form) {
			t.Errorf("%v redirected to %s, want an error naming %q", want, mustUnescape(t, loc), form)
		}
	}

	// Bitrix24 → hookflow: the saved order is fetched over REST.
	if err := fakes.SaveOrder(ctx, 236); err != nil {
		t.Fatal(err)
	}
	var crmID int64
	testenv.Eventually(t, 30*time.Second, func() error {
		var orders []store.Order
		if code, _, body := do(t, "GET", a.URL()+"/api/orders", adminToken, nil, "", &orders); code != 200 {
			return fmt.Errorf("GET /api/orders: %d %s", code, body)
		}
		for _, o := range orders {
			if o.BitrixID == 236 && o.Status == "new" && o.Customer.Name == "Айгерим Сапарова" {
				crmID = o.ID
				return nil
			}
		}
		return fmt.Errorf("order 236 not in the CRM yet: %+v", orders)
	})
	// hookflow → Bitrix24: a status change goes back with sale.order.update.
	if code, _, body := do(t, "PATCH", fmt.Sprintf("%s/api/orders/%d", a.URL(), crmID), adminToken, nil, `{"status":"shipped"}`, nil); code != 200 {
		t.Fatalf("PATCH: %d %s", code, body)
	}
	testenv.Eventually(t, 45*time.Second, func() error {
		if o, _ := fakes.Bitrix.Order(236); o["statusId"] != "S" {
			return fmt.Errorf("the portal's order 236 has statusId %v", o["statusId"])
		}
		return nil
	})

	// A description job: generated by the fake, its callback signed and
	// verified by the receiver with the client's secret.
	job, err := fakes.SubmitJob(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	ds, err := fakes.Receiver.Wait(waitCtx, 1)
	if err != nil {
		t.Fatalf("no callback: %v", err)
	}
	if d := ds[0]; !d.Verified() || d.Payload.JobID != job.JobID || d.Payload.Status != "completed" || d.Payload.CompletedLots != 2 {
		t.Fatalf("callback %+v", d)
	}
	if rs := fakes.Generator.Requests(); len(rs) != 2 || strings.Join(rs[0].Languages, ",") != "ru,en" {
		t.Fatalf("generator requests %+v, want one per lot asking for ru and en", rs)
	}

	// SimplyPrint: job.done reaches the webhook registered by Connect.
	if err := fakes.FireSimplyPrint(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		evs, err := a.Store.ListEvents(ctx, store.EventFilter{Source: store.SimplyPrintSource, Limit: 10})
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Event == "job.done" && e.Processed && e.Error == nil {
				return nil
			}
		}
		return fmt.Errorf("no processed job.done among %d events", len(evs))
	})

	// The console: a banner on every page, the fakes' state on /ops/demo.
	for _, page := range []string{"/ops/simplyprint", "/ops/ratings", "/ops/jobs", "/ops/demo"} {
		code, _, body := do(t, "GET", a.URL()+page, adminToken, nil, "", nil)
		if code != 200 || !strings.Contains(body, `id="demo-banner"`) || !strings.Contains(body, `href="/ops/demo"`) {
			t.Errorf("%s: %d without the demo banner", page, code)
		}
	}
	_, _, body := do(t, "GET", a.URL()+"/ops/demo", adminToken, nil, "", nil)
	for _, want := range []string{"Оценка клиента: ⭐⭐⭐⭐ (4/5)", "Спасибо за оценку", job.JobID, "verified", "job.done",
		`<td class="status">S</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("/ops/demo does not show %q", want)
		}
	}
	if code, _, _ := do(t, "GET", a.URL()+"/ops/demo", testenv.ReadToken, nil, "", nil); code != 200 {
		t.Errorf("a read token gets %d on /ops/demo", code)
	}
	if code, _, body := do(t, "POST", a.URL()+"/ops/demo/act", testenv.ReadToken, url.Values{"action": {"print"}}, "", nil); code != 403 {
		t.Errorf("a read token may act: %d %s", code, body)
	}
}

func mustUnescape(t *testing.T, loc string) string {
	t.Helper()
	s, err := url.QueryUnescape(loc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
