package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/testenv"
)

// A paused client's deliveries wait instead of failing: while acme is
// paused its callbacks are not sent and no attempt is spent (the receiver
// would refuse the first with 500); after the resume the first attempt goes
// out, gets its 500, and the second follows on the schedule's first wait,
// delivered: the schedule is intact. Pause and resume are audited.
func TestClientPauseHoldsCallbacks(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	e := startJobs(t, app.Roles{API: true, Worker: true}, map[string]string{"CALLBACK_PAUSE_POLL": "300ms", "CALLBACK_RETRY_BASE": "1s"})
	admin := map[string]string{"Authorization": "Bearer " + adminToken}
	base := e.api.URL() + "/api/v1/clients/"

	var ans map[string]any
	if code := call(t, "POST", base+"acme/pause", []byte(`{"reason": "receiver migration"}`), admin, &ans); code != 200 || ans["changed"] != true {
		t.Fatalf("pause: %d %v", code, ans)
	}
	if code := call(t, "POST", base+"initech/pause", nil, admin, &ans); code != 404 || ans["field"] != "client" {
		t.Fatalf("pause of an unknown client: %d %v", code, ans)
	}
	if code := call(t, "POST", base+"acme/pause", nil, reader, &ans); code != 403 {
		t.Fatalf("pause with a read token: %d %v", code, ans)
	}
	e.rcv.FailNext(1, 500)
	acc := submit(t, e.api, jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, lot("car_001", 1)), nil)
	waitStatus(t, e.api, acc.JobID, callbackIs("pending", 0))
	time.Sleep(3 * time.Second) // several looks at the pause
	if n := len(e.rcv.Deliveries()); n != 0 {
		t.Fatalf("%d callbacks sent while the client was paused", n)
	}
	st := waitStatus(t, e.api, acc.JobID, callbackIs("pending", 0))
	if st.Status != "completed" {
		t.Fatalf("job %+v", st)
	}
	var list struct {
		Clients []struct {
			ClientID string `json:"client_id"`
			Paused   bool   `json:"paused"`
			PausedBy string `json:"paused_by"`
			Reason   string `json:"reason"`
			Pending  int    `json:"pending"`
		} `json:"clients"`
	}
	if code := call(t, "GET", e.api.URL()+"/api/v1/clients", nil, reader, &list); code != 200 || len(list.Clients) < 2 {
		t.Fatalf("clients: %d %+v", code, list)
	}
	for _, c := range list.Clients {
		if c.ClientID == "acme" && (!c.Paused || c.PausedBy != "admin" || c.Reason != "receiver migration" || c.Pending != 1) ||
			c.ClientID == "globex" && c.Paused {
			t.Fatalf("clients %+v", list.Clients)
		}
	}

	var ready struct {
		Checks struct {
			PausedClients []string `json:"paused_clients"`
		} `json:"checks"`
	}
	if code := call(t, "GET", e.api.URL()+"/readyz", nil, nil, &ready); code != 200 || len(ready.Checks.PausedClients) != 1 || ready.Checks.PausedClients[0] != "acme" {
		t.Fatalf("/readyz while acme is paused: %d %+v", code, ready)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		text := testenv.Metrics(t, e.api.URL())
		for _, w := range []string{`hookflow_client_paused{client="acme"} 1`, `hookflow_client_pending{client="acme"} 1`,
			`hookflow_client_paused{client="globex"} 0`} {
			if !strings.Contains(text, w) {
				return fmt.Errorf("/metrics lacks %s:\n%s", w, grepLines(text, "hookflow_client"))
			}
		}
		return nil
	})

	if code := call(t, "POST", base+"acme/resume", nil, admin, &ans); code != 200 || ans["changed"] != true {
		t.Fatalf("resume: %d %v", code, ans)
	}
	waitStatus(t, e.api, acc.JobID, callbackIs("delivered", 2))
	ds := e.rcv.Deliveries()
	if len(ds) != 2 || ds[0].Status != 500 || ds[1].Status != 200 || !ds[1].Verified() {
		t.Fatalf("deliveries after the resume: %+v", ds)
	}
	if wait := ds[1].ReceivedAt.Sub(ds[0].ReceivedAt); wait < time.Second {
		t.Fatalf("second attempt %s after the first, before CALLBACK_RETRY_BASE=1s", wait)
	}

	var audit string
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT string_agg(action || ':' || target || ':' || result || ':' || count, ',' ORDER BY id)
		FROM audit_log WHERE action LIKE 'client.%'`).Scan(&audit); err != nil {
		t.Fatal(err)
	}
	if want := "client.pause:acme:ok:1,client.pause:initech:not_found:0,client.pause:acme:forbidden:0,client.resume:acme:ok:1"; audit != want {
		t.Fatalf("audit %s, want %s", audit, want)
	}
}

// The console's pause toggles, clicked in a browser: Pause on client
// acme's row, then Resume, then a source's; the API's state follows and
// each is audited under the session's token.
func TestOpsConsoleClientToggle(t *testing.T) {
	e := startJobs(t, app.Roles{API: true}, nil)
	b := testenv.NewBrowser(t)
	b.Open(e.api.URL() + "/ops/sources")
	b.Do("log in", chromedp.SendKeys(`input[name=token]`, adminToken), chromedp.Submit(`#login`))
	b.WaitVisible(`#clients tr[data-client="acme"] button.pause`)
	b.Do("give a reason", chromedp.SendKeys(`#clients tr[data-client="acme"] input[name=reason]`, "receiver migration"))
	b.Click(`#clients tr[data-client="acme"] button.pause`)
	b.WaitVisible("#source-done")
	if msg := b.Text("#source-done"); msg != "paused acme." {
		t.Fatalf("after Pause: %q", msg)
	}
	if row := b.Text(`#clients tr[data-client="acme"]`); !strings.Contains(row, "paused") || !strings.Contains(row, "receiver migration") {
		t.Fatalf("acme's row after Pause: %q", row)
	}
	b.Screenshot("ops-clients-paused")
	var paused bool
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM client_pauses WHERE client_id = 'acme' AND paused_by = 'admin')`).Scan(&paused); err != nil || !paused {
		t.Fatalf("acme is not paused by admin: %v", err)
	}
	b.Click(`#clients tr[data-client="acme"] button.resume`)
	b.WaitVisible(`#clients tr[data-client="acme"] button.pause`)
	// A source's toggle on the same page.
	b.Click(`#sources tr[data-source="okdesk"] button.pause`)
	b.WaitVisible(`#sources tr[data-source="okdesk"] button.resume`)
	if msg := b.Text("#source-done"); msg != "paused okdesk." {
		t.Fatalf("after a source's Pause: %q", msg)
	}
	b.Click(`#sources tr[data-source="okdesk"] button.resume`)
	b.WaitVisible(`#sources tr[data-source="okdesk"] button.pause`)
	var audit string
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT string_agg(action || ':' || actor || ':' || result, ',' ORDER BY id) FROM audit_log
		WHERE action LIKE 'client.%' OR action LIKE 'source.%'`).Scan(&audit); err != nil ||
		audit != "client.pause:admin:ok,client.resume:admin:ok,source.pause:admin:ok,source.resume:admin:ok" {
		t.Fatalf("audit %q (%v)", audit, err)
	}
}
