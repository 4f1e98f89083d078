package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// TestOpsConsoleSimplyPrint drives the console in headless Chromium: the
// login form, the print-farm page, and the "send test event" button, which
// must go through the real webhook endpoint (with the configured secret) and
// show up processed.
func TestOpsConsoleSimplyPrint(t *testing.T) {
	a, _, _ := startSimplyPrint(t, map[string]string{
		"ADMIN_TOKEN": "ops-token", "SIMPLYPRINT_WEBHOOK_SECRET": "sp-secret",
		"TEMPORAL_UI_URL": "http://temporal-ui.example:8233",
	})
	// A wrong bearer token lands on the login form; the right one gets the page.
	for token, want := range map[string]string{"wrong": `id="login"`, "ops-token": `id="send-test-event"`} {
		if page := getPage(t, a.URL()+"/ops/simplyprint", token); !strings.Contains(page, want) {
			t.Fatalf("bearer %q: page lacks %s", token, want)
		}
	}

	b := testenv.NewBrowser(t)
	b.Open(a.URL() + "/ops/simplyprint")
	if loc := b.Location(); !strings.Contains(loc, "/ops/login") {
		t.Fatalf("not sent to the login form: %s", loc)
	}
	b.Do("log in with a wrong token", chromedp.SendKeys(`input[name=token]`, "nope"), chromedp.Submit(`#login`))
	b.WaitVisible("#login-error")
	b.Do("log in", chromedp.SendKeys(`input[name=token]`, "ops-token"), chromedp.Submit(`#login`))
	b.WaitVisible("#send-test-event")
	b.Click("#send-test-event")
	b.WaitVisible("#sent")
	testenv.Eventually(t, 20*time.Second, func() error {
		b.Do("reload", chromedp.Navigate(a.URL()+"/ops/simplyprint"))
		row := b.Text("#events")
		if !strings.Contains(row, "test") || !strings.Contains(row, "yes") || !strings.Contains(row, "recorded") {
			return fmt.Errorf("the test event is not shown processed yet: %q", row)
		}
		return nil
	})
	link := testenv.Get(b, "read the Temporal link", chromedp.AttributeValue(chromedp.CSS(`#events a`), "href"))
	if link.Value != "http://temporal-ui.example:8233/namespaces/default/workflows/simplyprint-company" {
		t.Fatalf("Temporal UI link %q", link.Value)
	}
	b.Screenshot("ops-simplyprint")
}

func getPage(t *testing.T, url, token string) string {
	t.Helper()
	_, raw := testenv.Send(t, testenv.Request(t, "GET", url, nil, bearer(token)))
	return string(raw)
}

// TestOpsConsoleJobsRetry: a callback the receiver refused (400, permanent)
// is listed as failed; the Retry button goes through the admin retry API and
// the callback then arrives.
func TestOpsConsoleJobsRetry(t *testing.T) {
	e := startJobs(t, app.Roles{API: true, Worker: true}, map[string]string{"TEMPORAL_UI_URL": "http://temporal-ui.example:8233"})
	e.rcv.FailNext(1, 400)
	acc := submit(t, e.api, jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, lot("car_001", 1)), nil)
	waitStatus(t, e.api, acc.JobID, callbackIs("failed", 1))

	b := testenv.NewBrowser(t)
	b.Open(e.api.URL() + "/ops/jobs")
	b.Do("log in", chromedp.SendKeys(`input[name=token]`, adminToken), chromedp.Submit(`#login`))
	b.WaitVisible("#failed button.retry")
	if row := b.Text("#failed"); !strings.Contains(row, acc.JobID) || !strings.Contains(row, "400") {
		t.Fatalf("failed callbacks table: %q", row)
	}
	if jobsRow := b.Text("#jobs"); !strings.Contains(jobsRow, acc.JobID) || !strings.Contains(jobsRow, "completed") {
		t.Fatalf("jobs table: %q", jobsRow)
	}
	b.Screenshot("ops-jobs-failed")
	b.Click("#failed button.retry")
	b.WaitVisible("#retried")
	waitStatus(t, e.api, acc.JobID, callbackIs("delivered", 2))
	b.Do("reload", chromedp.Navigate(e.api.URL()+"/ops/jobs"))
	if row := b.Text("#failed"); !strings.Contains(row, "No failed callbacks") {
		t.Fatalf("after the retry the failure is still listed: %q", row)
	}
	b.Screenshot("ops-jobs-retried")
}

// TestOpsConsoleRatings: one issue rated 5 through Telegram and one whose
// contact has no chat; the ratings page shows both with stats and links.
func TestOpsConsoleRatings(t *testing.T) {
	e := startRatings(t, app.Roles{API: true, Worker: true}, map[string]string{"TEMPORAL_UI_URL": "http://temporal-ui.example:8233"})
	chat, rated, unasked := e.id(7001), e.id(301), e.id(302)
	e.okd.AddContact(okdesktest.Contact{ID: 31, FirstName: "Анна", Phone: "+7 900 000-00-01"})
	e.okd.AddContact(okdesktest.Contact{ID: 32, FirstName: "Олег", Phone: "+7 900 000-00-02"})
	e.okd.AddIssue(okdesktest.Issue{ID: rated, Title: "Сломался сканер", ContactID: 31, AssigneeID: 7})
	e.okd.AddIssue(okdesktest.Issue{ID: unasked, Title: "Нет бумаги", ContactID: 32})
	e.linkByDeepLink(t, 31, chat)
	e.statusChange(t, okdesktest.FormatVendor, rated, resolved)
	e.statusChange(t, okdesktest.FormatSeed, unasked, resolved)
	ask := e.messages(t, chat, 2, nil)[1]
	e.deliver(t, func(id int64) json.RawMessage {
		return telegramtest.CallbackUpdate(id, chat, ask.ID, fmt.Sprintf("rate:%d:5", rated))
	})
	e.waitComments(t, rated, 1)
	e.waitOutcome(t, fmt.Sprintf("okdesk-rating-%d-1", unasked), "no_chat")

	b := testenv.NewBrowser(t)
	b.Open(e.app.URL() + "/ops/ratings")
	b.Do("log in", chromedp.SendKeys(`input[name=token]`, rtAdmin), chromedp.Submit(`#login`))
	b.WaitVisible("#requests")
	testenv.Eventually(t, 20*time.Second, func() error {
		b.Do("reload", chromedp.Navigate(e.app.URL()+"/ops/ratings"))
		rows := b.Text("#requests")
		for _, want := range []string{"Сломался сканер", "⭐⭐⭐⭐⭐ (5/5)", "posted", "Нет бумаги", "no_chat"} {
			if !strings.Contains(rows, want) {
				return fmt.Errorf("requests table lacks %q: %q", want, rows)
			}
		}
		return nil
	})
	if stats := b.Text("#rating-stats"); !strings.Contains(stats, "5.00") {
		t.Fatalf("stats %q: the average of one 5 is 5.00", stats)
	}
	link := testenv.Get(b, "read a Temporal link", chromedp.AttributeValue(chromedp.CSS(`#requests a`), "href"))
	if !strings.HasPrefix(link.Value, "http://temporal-ui.example:8233/namespaces/default/workflows/okdesk-rating-") {
		t.Fatalf("Temporal link %q", link.Value)
	}
	b.Screenshot("ops-ratings")
}

// opsRequest sends a console request (a form when form is not nil) with the
// session cookie, following no redirect.
func opsRequest(t *testing.T, method, target string, cookie *http.Cookie, form url.Values) (*http.Response, string) {
	t.Helper()
	req := testenv.Request(t, method, target, nil)
	if form != nil {
		req = testenv.Request(t, method, target, []byte(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, raw := testenv.SendBy(t, testenv.NoRedirect, req)
	return resp, string(raw)
}

// opsLogin logs in with token and returns the session cookie.
func opsLogin(t *testing.T, base, token string) *http.Cookie {
	t.Helper()
	resp, body := opsRequest(t, "POST", base+"/ops/login", nil, url.Values{"token": {token}, "next": {"/ops/jobs"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ops/jobs" {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "hookflow_ops" {
			if strings.Contains(c.Value, token) || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie %+v carries the token or lacks HttpOnly/SameSite", c)
			}
			return c
		}
	}
	t.Fatal("login set no session cookie")
	return nil
}

// TestOpsConsoleReadSession: a read token logs in and sees every page
// without the buttons, and the console's actions answer it 403. The
// session cookie names its token (and is signed with it, not carrying it):
// it also reads the read API, never acts on the admin API, and dies when the
// token behind its name changes. A named admin token's session acts, and
// the retry button calls the API as that token.
func TestOpsConsoleReadSession(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	dbURL, _ := testenv.Database(t)
	tmp := testenv.Temporal(t)
	a := testenv.StartApp(t, testenv.Config(t, dbURL, tmp, accessVars), app.Roles{API: true})
	base := a.URL()

	// The root leads a browser to the console: its login page without a
	// session, the console with one.
	if resp, _ := opsRequest(t, "GET", base+"/", nil, nil); resp.StatusCode != 303 || resp.Header.Get("Location") != "/ops" {
		t.Fatalf("GET /: %d to %q, want 303 to /ops", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := opsRequest(t, "GET", base+"/ops", nil, nil); resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/ops/login") {
		t.Fatalf("GET /ops without a session: %d to %q, want the login page", resp.StatusCode, resp.Header.Get("Location"))
	}

	if resp, body := opsRequest(t, "POST", base+"/ops/login", nil, url.Values{"token": {unknownToken}}); resp.StatusCode != 401 ||
		!strings.Contains(body, `id="login-error"`) {
		t.Fatalf("login with an unknown token: %d", resp.StatusCode)
	}
	read := opsLogin(t, base, testenv.ReadToken)
	if !strings.HasSuffix(read.Value, ".tests") {
		t.Fatalf("the session does not name its token: %q", read.Value)
	}
	for _, page := range []string{"/ops/simplyprint", "/ops/jobs", "/ops/ratings", "/ops/dead-letters", "/ops/audit", "/crm/sync", "/api/v1/ratings/export.csv", "/api/v1/simpleprint/events"} {
		resp, body := opsRequest(t, "GET", base+page, read, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s with a read session: %d %s", page, resp.StatusCode, body)
		}
		if strings.HasPrefix(page, "/ops/") && (!strings.Contains(body, "tests (read)") || strings.Contains(body, `<button id="send-test-event"`) ||
			strings.Contains(body, `class="retry"`)) {
			t.Fatalf("%s for a read session shows buttons or not who is logged in:\n%s", page, body)
		}
	}
	for _, action := range []string{"/ops/simplyprint/test-event", "/ops/jobs/deliveries/" + routeSampleID + "/retry"} {
		if resp, body := opsRequest(t, "POST", base+action, read, url.Values{}); resp.StatusCode != 403 || !strings.Contains(body, "admin token") {
			t.Fatalf("POST %s with a read session: %d %s", action, resp.StatusCode, body)
		}
	}
	// A console session does not act on the API, not even an admin one.
	admin := opsLogin(t, base, opsAdminToken)
	if resp, body := opsRequest(t, "POST", base+"/api/v1/webhook-deliveries/"+routeSampleID+"/retry", admin, url.Values{}); resp.StatusCode != 401 {
		t.Fatalf("an admin session's cookie on the retry API: %d %s", resp.StatusCode, body)
	}
	// The admin session has the buttons, and the retry goes through the API
	// as the token ops (the delivery does not exist: the API's 404 shows).
	if _, body := opsRequest(t, "GET", base+"/ops/simplyprint", admin, nil); !strings.Contains(body, `id="send-test-event"`) || !strings.Contains(body, "ops (admin)") {
		t.Fatalf("admin session's page:\n%s", body)
	}
	resp, _ := opsRequest(t, "POST", base+"/ops/jobs/deliveries/"+routeSampleID+"/retry", admin, url.Values{})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "no+delivery") {
		t.Fatalf("retry with an admin session: %d to %q", resp.StatusCode, loc)
	}
	if !regexp.MustCompile(`"path":"/api/v1/webhook-deliveries/[^"]+/retry","status":404,"duration":"[^"]+","token":"ops"`).MatchString(logs.String()) {
		t.Fatalf("the console's retry was not logged under the token ops:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"ops console action","path":"/ops/jobs/deliveries/`+routeSampleID+`/retry","token":"ops"`) {
		t.Fatalf("no audit line of the console's retry:\n%s", logs.String())
	}

	// Another API with the name tests now given another token: the session
	// made from the old one is refused (back to the login form).
	vars := map[string]string{"READ_TOKENS": "tests:rotated-read-token-0123456789"}
	for k, v := range accessVars {
		vars[k] = v
	}
	b := testenv.StartApp(t, testenv.Config(t, dbURL, tmp, vars), app.Roles{API: true})
	if resp, _ := opsRequest(t, "GET", b.URL()+"/ops/jobs", read, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a session of a rotated token: %d", resp.StatusCode)
	}
	if resp, _ := opsRequest(t, "GET", b.URL()+"/ops/jobs", admin, nil); resp.StatusCode != 200 {
		t.Fatalf("the admin session (its token unchanged): %d", resp.StatusCode)
	}
	// Logging out clears the cookie.
	resp, _ = opsRequest(t, "POST", base+"/ops/logout", read, url.Values{})
	if cs := resp.Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Fatalf("logout cookies %+v", cs)
	}
}

// TestOpsConsoleDeadLetters: the dead-letters page lists a failed event
// and a failed callback; its Retry button retries the callback through the
// admin API and comes back; the callback leaves the list once delivered;
// the audit page shows the retry under the session's token name.
func TestOpsConsoleDeadLetters(t *testing.T) {
	e := startJobs(t, app.Roles{API: true, Worker: true}, map[string]string{"TEMPORAL_UI_URL": "http://temporal-ui.example:8233"})
	e.rcv.FailNext(1, 400)
	acc := submit(t, e.api, jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, lot("car_001", 1)), nil)
	waitStatus(t, e.api, acc.JobID, callbackIs("failed", 1))
	outcome, reason := "failed", "SQLSTATE 22P05: unsupported Unicode escape sequence"
	if _, err := e.st.RecordEvents(context.Background(), []*store.InboundEvent{{Source: store.OkdeskSource, DedupKey: "poison",
		WorkflowID: "okdesk-issue-9", EntityID: "9", Event: "new_comment", EventType: "other", Payload: []byte(`{}`),
		Outcome: &outcome, Error: &reason}}); err != nil {
		t.Fatal(err)
	}

	b := testenv.NewBrowser(t)
	b.Open(e.api.URL() + "/ops/dead-letters")
	b.Do("log in", chromedp.SendKeys(`input[name=token]`, adminToken), chromedp.Submit(`#login`))
	b.WaitVisible("#dead-letters button.retry")
	rows := b.Text("#dead-letters")
	for _, want := range []string{"callback", "acme", acc.JobID, "event", "okdesk", "SQLSTATE 22P05"} {
		if !strings.Contains(rows, want) {
			t.Fatalf("dead letters lack %q: %q", want, rows)
		}
	}
	link := testenv.Get(b, "read the event's Temporal link", chromedp.AttributeValue(chromedp.CSS(`#dead-letters tr.event a`), "href"))
	if link.Value != "http://temporal-ui.example:8233/namespaces/default/workflows/okdesk-issue-9" {
		t.Fatalf("Temporal link %q", link.Value)
	}
	b.Screenshot("ops-dead-letters")
	b.Click("#dead-letters button.retry")
	b.WaitVisible("#retried")
	if loc := b.Location(); !strings.Contains(loc, "/ops/dead-letters?retried=") {
		t.Fatalf("after the retry: %s", loc)
	}
	waitStatus(t, e.api, acc.JobID, callbackIs("delivered", 2))
	b.Do("reload", chromedp.Navigate(e.api.URL()+"/ops/dead-letters"))
	if rows := b.Text("#dead-letters"); strings.Contains(rows, acc.JobID) || !strings.Contains(rows, "SQLSTATE 22P05") {
		t.Fatalf("after the retry: %q", rows)
	}
	// The event's checkbox, then "Replay selected events": replayed
	// through the API under the session's token.
	b.Click(`#dead-letters tr.event input[type=checkbox]`)
	b.Click("#replay-selected")
	b.WaitVisible("#acted")
	if msg := b.Text("#acted"); msg != "Replayed 1" {
		t.Fatalf("after replay selected: %q", msg)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		var n int
		if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'events.replay' AND actor = 'admin' AND count = 1`).Scan(&n); err != nil || n != 1 {
			return fmt.Errorf("%d replay entries (%v)", n, err)
		}
		return nil
	})
	b.Do("open the audit log", chromedp.Navigate(e.api.URL()+"/ops/audit"))
	if rows := b.Text("#audit"); !strings.Contains(rows, "admin") || !strings.Contains(rows, "delivery.retry") || !strings.Contains(rows, "ok") {
		t.Fatalf("audit log: %q", rows)
	}
	b.Screenshot("ops-audit")
}
