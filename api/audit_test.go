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

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

const aliceToken = "alice-admin-token-0123456789"

// failedCallback submits job car_<i>, waits until its callback's first
// attempt failed (the receiver refuses it) and returns the delivery's id.
func failedCallback(t *testing.T, e *jobsEnv, i int) string {
	t.Helper()
	acc := submit(t, e.api, jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, lot(fmt.Sprintf("car_%d", i), 1)), nil)
	waitStatus(t, e.api, acc.JobID, callbackIs("failed", 1))
	var id string
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT id::text FROM callback_deliveries WHERE job_id = $1`, acc.JobID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// getList GETs a list endpoint with a bearer token (none: "") and decodes
// its body into out; returns the status and X-Next-Cursor.
func getList(t *testing.T, target, token string, out any) (int, string) {
	t.Helper()
	req := testenv.Request(t, "GET", target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, raw := testenv.Send(t, req)
	checkExchange(t, req, nil, resp, raw)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("GET %s: %v: %s", target, err, raw)
		}
	}
	return resp.StatusCode, resp.Header.Get("X-Next-Cursor")
}

type auditPage struct {
	Entries    []store.AuditEntry `json:"entries"`
	NextCursor string             `json:"next_cursor"`
}

type deadPage struct {
	DeadLetters []struct {
		store.DeadLetter
		TemporalURL string `json:"temporal_url"`
		ActionURL   string `json:"action_url"`
	} `json:"dead_letters"`
}

// TestAuditOfRetriesOverHTTP: retries over HTTP by the admin token named
// ops-alice (one that starts, one refused as pending, one of an unknown
// delivery), a read token's attempt, and the console's retry button each
// write one audit entry naming the token, never carrying it; GET
// /api/v1/audit lists them newest first, filtered and paged, to a read
// token and not without one; /ops/audit shows them.
func TestAuditOfRetriesOverHTTP(t *testing.T) {
	checkContract(t) // every call() and list is validated against api/openapi.yaml
	e := startJobs(t, app.Roles{API: true, Worker: true}, map[string]string{"ADMIN_TOKENS": "ops-alice:" + aliceToken})
	ctx := context.Background()
	e.rcv.FailNext(2, 400)
	var ids []string
	for i := range 2 {
		ids = append(ids, failedCallback(t, e, i))
	}
	retry := func(id, token string) int {
		return call(t, "POST", e.api.URL()+"/api/v1/webhook-deliveries/"+id+"/retry", nil, map[string]string{"Authorization": "Bearer " + token}, nil)
	}
	// The new series' first attempt gets a 500 (retryable, next in 3 s):
	// the delivery stays pending long enough for the refused retry.
	e.rcv.FailNext(1, 500)
	if code := retry(ids[0], aliceToken); code != http.StatusAccepted {
		t.Fatalf("retry: %d", code)
	}
	if code := retry(ids[0], aliceToken); code != http.StatusConflict {
		t.Fatalf("retry of a pending delivery: %d", code)
	}
	unknown := "3f1c2d4e-0000-4000-8000-0000000000aa"
	if code := retry(unknown, aliceToken); code != http.StatusNotFound {
		t.Fatalf("retry of an unknown delivery: %d", code)
	}
	if code := retry(ids[1], testenv.ReadToken); code != http.StatusForbidden {
		t.Fatalf("retry with a read token: %d", code)
	}
	// The console's button, as ops-alice's session, back to the dead letters.
	session := opsLogin(t, e.api.URL(), aliceToken)
	resp, _ := opsRequest(t, "POST", e.api.URL()+"/ops/jobs/deliveries/"+ids[1]+"/retry", session, url.Values{"back": {"/ops/dead-letters"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/ops/dead-letters?retried="+ids[1] {
		t.Fatalf("console retry: %d to %q", resp.StatusCode, loc)
	}

	want := []string{
		"ops-alice delivery.retry " + ids[1] + " ok 1",
		"tests delivery.retry " + ids[1] + " forbidden 0",
		"ops-alice delivery.retry " + unknown + " not_found 0",
		"ops-alice delivery.retry " + ids[0] + " conflict 0",
		"ops-alice delivery.retry " + ids[0] + " ok 1",
	}
	line := func(en store.AuditEntry) string {
		return fmt.Sprintf("%s %s %s %s %d", en.Actor, en.Action, en.Target, en.Result, en.Count)
	}
	var page auditPage
	if code, _ := getList(t, e.api.URL()+"/api/v1/audit", testenv.ReadToken, &page); code != 200 {
		t.Fatalf("GET /api/v1/audit with a read token: %d", code)
	}
	var got []string
	for _, en := range page.Entries {
		got = append(got, line(en))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The retries that started were recorded by their own transaction,
	// which knows the new series.
	for _, i := range []int{0, 4} {
		if d := string(page.Entries[i].Detail); !strings.Contains(d, `"series":2`) || !strings.Contains(d, `"was":"failed"`) {
			t.Errorf("entry %s: detail %s, want the new series and the status it left", got[i], d)
		}
	}
	if code, _ := getList(t, e.api.URL()+"/api/v1/audit", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("GET /api/v1/audit without a token: %d", code)
	}
	// ops-alice's entries, two a page, through X-Next-Cursor.
	got = nil
	target := e.api.URL() + "/api/v1/audit?actor=ops-alice&action=delivery.retry&limit=2"
	for pages := 0; pages < 5; pages++ {
		var p auditPage
		code, next := getList(t, target, testenv.ReadToken, &p)
		if code != 200 || len(p.Entries) > 2 || next != p.NextCursor {
			t.Fatalf("page %d: %d, %d entries, cursor %q / %q", pages, code, len(p.Entries), next, p.NextCursor)
		}
		for _, en := range p.Entries {
			got = append(got, line(en))
		}
		if next == "" {
			break
		}
		target = e.api.URL() + "/api/v1/audit?actor=ops-alice&action=delivery.retry&limit=2&cursor=" + url.QueryEscape(next)
	}
	if strings.Join(got, "\n") != strings.Join([]string{want[0], want[2], want[3], want[4]}, "\n") {
		t.Fatalf("ops-alice's retries, paged:\n%s", strings.Join(got, "\n"))
	}
	if code, _ := getList(t, e.api.URL()+"/api/v1/audit?cursor=bm9wZQ", testenv.ReadToken, nil); code != http.StatusBadRequest {
		t.Fatalf("a bad cursor: %d", code)
	}
	// The table holds names, never a token.
	var all string
	if err := e.st.Pool.QueryRow(ctx, `SELECT string_agg(a::text, ' ') FROM audit_log a`).Scan(&all); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{aliceToken, testenv.ReadToken, adminToken} {
		if strings.Contains(all, tok) {
			t.Fatalf("audit_log holds the token %q: %s", tok, all)
		}
	}
	// The console's page, for a read token.
	if page := getPage(t, e.api.URL()+"/ops/audit?actor=ops-alice", testenv.ReadToken); !strings.Contains(page, `id="audit"`) ||
		strings.Count(page, `<td class="actor">ops-alice</td>`) != 4 || strings.Contains(page, `<td class="actor">tests</td>`) ||
		!strings.Contains(page, `href="/ops/audit"`) {
		t.Fatalf("/ops/audit?actor=ops-alice:\n%s", page)
	}
	// Both retried series deliver.
	testenv.Eventually(t, 30*time.Second, func() error {
		var n int
		if err := e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM callback_deliveries WHERE status = 'delivered'`).Scan(&n); err != nil || n != 2 {
			return fmt.Errorf("%d delivered (%v)", n, err)
		}
		return nil
	})
}

// TestDeadLettersOverHTTP: a failed event, a back sync given up and two
// failed callbacks come back as one list newest first, each with its
// error, workflow, Temporal link and action; paged one by one through
// X-Next-Cursor in the same order; not without a token; and on
// /ops/dead-letters, with a retry button for callbacks to an admin only.
func TestDeadLettersOverHTTP(t *testing.T) {
	checkContract(t) // every call() and list is validated against api/openapi.yaml
	e := startJobs(t, app.Roles{API: true, Worker: true}, map[string]string{"TEMPORAL_UI_URL": "http://temporal-ui.example:8233"})
	ctx := context.Background()
	e.rcv.FailNext(2, 400)
	failedEvent := func(source, key, workflow, reason string) string {
		outcome := "failed"
		res, err := e.st.RecordEvents(ctx, []*store.InboundEvent{{Source: source, DedupKey: key, WorkflowID: workflow, EntityID: key,
			Event: "e", EventType: "t", Payload: []byte(`{}`), Outcome: &outcome, Error: &reason}})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res[0].ID)
	}
	// In time order: callback 1, the event, callback 2, the back sync.
	var callbacks []string
	failCallback := func(i int) {
		callbacks = append(callbacks, failedCallback(t, e, i))
	}
	failCallback(1)
	ev := failedEvent(store.OkdeskSource, "poison-1", "okdesk-issue-1", "SQLSTATE 22021: invalid byte sequence")
	failCallback(2)
	bs := failedEvent(store.BitrixBackSyncSource, "7:1", store.BackSyncWorkflowID(7), "Bitrix refused the status")
	// Not dead letters: an event ignored at the edge.
	failedEvent(store.OkdeskSource, "fine", "okdesk-issue-2", "")
	if _, err := e.st.Pool.Exec(ctx, `UPDATE inbound_events SET outcome = 'ignored' WHERE dedup_key = 'fine'`); err != nil {
		t.Fatal(err)
	}

	want := []string{"backsync:" + bs, "callback:" + callbacks[1], "event:" + ev, "callback:" + callbacks[0]}
	var page deadPage
	if code, next := getList(t, e.api.URL()+"/api/v1/dead-letters", testenv.ReadToken, &page); code != 200 || next != "" {
		t.Fatalf("GET /api/v1/dead-letters: %d, next %q", code, next)
	}
	var got []string
	for _, d := range page.DeadLetters {
		got = append(got, d.Kind+":"+d.ID)
		link := "http://temporal-ui.example:8233/namespaces/default/workflows/" + d.WorkflowID
		switch d.Kind {
		case store.DeadCallback:
			if d.WorkflowID != activities.CallbackWorkflowID(d.ID, 1) || d.Action != "retry" || d.ActionURL != "/api/v1/webhook-deliveries/"+d.ID+"/retry" ||
				d.Source != "acme" || d.Type != "failed" || d.Error == "" || d.TemporalURL != link {
				t.Errorf("callback %+v", d)
			}
		case store.DeadEvent:
			if d.WorkflowID != "okdesk-issue-1" || d.Action != "replay" || d.ActionURL != "/api/v1/events/"+d.ID+"/replay" || d.Source != store.OkdeskSource ||
				d.Entity != "poison-1" || !strings.Contains(d.Error, "SQLSTATE 22021") || d.TemporalURL != link {
				t.Errorf("event %+v", d)
			}
		case store.DeadBackSync:
			if d.WorkflowID != "bitrix-backsync-7" || d.Action != "replay" || d.Error != "Bitrix refused the status" || d.TemporalURL != link {
				t.Errorf("back sync %+v", d)
			}
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("dead letters:\n got %s\nwant %s", strings.Join(got, " "), strings.Join(want, " "))
	}
	got = nil
	target := e.api.URL() + "/api/v1/dead-letters?limit=1"
	for pages := 0; pages < 6; pages++ {
		var p deadPage
		code, next := getList(t, target, testenv.ReadToken, &p)
		if code != 200 || len(p.DeadLetters) != 1 {
			t.Fatalf("page %d: %d, %d items", pages, code, len(p.DeadLetters))
		}
		got = append(got, p.DeadLetters[0].Kind+":"+p.DeadLetters[0].ID)
		if next == "" {
			break
		}
		target = e.api.URL() + "/api/v1/dead-letters?limit=1&cursor=" + url.QueryEscape(next)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("dead letters one a page:\n got %s\nwant %s", strings.Join(got, " "), strings.Join(want, " "))
	}
	if code, _ := getList(t, e.api.URL()+"/api/v1/dead-letters", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", code)
	}
	if code, _ := getList(t, e.api.URL()+"/api/v1/dead-letters?cursor=MTIzLG5vcGU", testenv.ReadToken, nil); code != http.StatusBadRequest {
		t.Fatalf("a bad cursor: %d", code)
	}

	// The console: rows for all four, a retry button per callback for an
	// admin, none for a read token.
	read := getPage(t, e.api.URL()+"/ops/dead-letters", testenv.ReadToken)
	for _, w := range append(want, "SQLSTATE 22021", "Bitrix refused the status", `href="http://temporal-ui.example:8233/namespaces/default/workflows/bitrix-backsync-7"`,
		`href="/ops/dead-letters"`) {
		id := w
		if k, v, ok := strings.Cut(w, ":"); ok && (k == "event" || k == "callback" || k == "backsync") {
			id = `data-kind="` + k + `" data-id="` + v + `"`
		}
		if !strings.Contains(read, id) {
			t.Fatalf("/ops/dead-letters lacks %s:\n%s", id, read)
		}
	}
	if strings.Contains(read, `class="retry"`) {
		t.Fatalf("a read token sees retry buttons:\n%s", read)
	}
	admin := getPage(t, e.api.URL()+"/ops/dead-letters", adminToken)
	if n := strings.Count(admin, `class="retry"`); n != 2 || !strings.Contains(admin, `action="/ops/jobs/deliveries/`+callbacks[0]+`/retry"`) {
		t.Fatalf("the admin's page has %d retry buttons:\n%s", n, admin)
	}
	// Once retried and delivered, a callback leaves the list.
	session := opsLogin(t, e.api.URL(), adminToken)
	opsRequest(t, "POST", e.api.URL()+"/ops/jobs/deliveries/"+callbacks[0]+"/retry", session, url.Values{"back": {"/ops/dead-letters"}})
	testenv.Eventually(t, 30*time.Second, func() error {
		var p deadPage
		getList(t, e.api.URL()+"/api/v1/dead-letters", testenv.ReadToken, &p)
		if len(p.DeadLetters) != 3 {
			return fmt.Errorf("%d dead letters", len(p.DeadLetters))
		}
		return nil
	})
}

// TestOrderPatchIsAudited: a PATCH that changes an order writes its
// order.update entry in the change's transaction (with the back sync's
// event); one of an unknown order, and one refused as invalid, are
// audited with their status; ADMIN_TOKEN's name is admin.
func TestOrderPatchIsAudited(t *testing.T) {
	checkContract(t) // every call() and list is validated against api/openapi.yaml
	a, st := startOrders(t, map[string]string{"SYNC_ENABLED": "false"})
	crmID := seedOrder(t, st, siteOrder(42, "N", 1))
	res := patch(t, a, crmID, `{"status":"paid","comment":"called the customer"}`)
	if res.BackSync == nil {
		t.Fatalf("patch %+v", res)
	}
	if code := call(t, "PATCH", a.URL()+"/api/orders/999", []byte(`{"status":"paid"}`), admin, nil); code != 404 {
		t.Fatalf("patch of an unknown order: %d", code)
	}
	if code := call(t, "PATCH", fmt.Sprintf("%s/api/orders/%d", a.URL(), crmID), []byte(`{"status":"lost"}`), admin, nil); code != 422 {
		t.Fatalf("patch to an unknown status: %d", code)
	}
	var page auditPage
	if code, _ := getList(t, a.URL()+"/api/v1/audit?action=order.update", testenv.ReadToken, &page); code != 200 || len(page.Entries) != 3 {
		t.Fatalf("audit: %d, %+v", code, page.Entries)
	}
	got := []string{}
	for _, e := range page.Entries {
		got = append(got, fmt.Sprintf("%s %s %s %d", e.Actor, e.Target, e.Result, e.Count))
	}
	want := []string{fmt.Sprintf("admin %d http_422 0", crmID), "admin 999 not_found 0", fmt.Sprintf("admin %d ok 1", crmID)}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := string(page.Entries[2].Detail); !strings.Contains(d, fmt.Sprintf(`"back_sync_event":%d`, res.BackSync.EventID)) || strings.Contains(d, "called the customer") {
		t.Fatalf("the change's entry %s: want its back-sync event, not the comment's text", d)
	}
}

// TestOpsAuditAndDeadLetterPagesPage: the console's audit log (100 a page)
// and dead letters (50 a page) link to the next page, which continues
// where the first ended, filters kept.
func TestOpsAuditAndDeadLetterPagesPage(t *testing.T) {
	dbURL, st := testenv.Database(t)
	a := testenv.StartApp(t, testenv.Config(t, dbURL, testenv.Temporal(t), nil), app.Roles{API: true})
	ctx := context.Background()
	for i := range 130 {
		actor := "bulk"
		if i%10 == 0 {
			actor = "other"
		}
		if err := st.RecordAudit(ctx, store.AuditEntry{Actor: actor, Action: store.AuditDeliveryRetry, Target: fmt.Sprintf("t-%03d", i), Result: store.AuditOK}); err != nil {
			t.Fatal(err)
		}
	}
	outcome, reason := "failed", "boom"
	for i := range 60 {
		if _, err := st.RecordEvents(ctx, []*store.InboundEvent{{Source: store.OkdeskSource, DedupKey: fmt.Sprint("k", i), WorkflowID: "w",
			EntityID: fmt.Sprintf("e-%02d", i), Event: "e", EventType: "t", Payload: []byte(`{}`), Outcome: &outcome, Error: &reason}}); err != nil {
			t.Fatal(err)
		}
	}
	next := regexp.MustCompile(`<a id="next" href="([^"]+)">`)
	walk := func(path, cell string) (pages []int, cells []string) {
		re := regexp.MustCompile(cell)
		for range 5 {
			page := getPage(t, a.URL()+path, testenv.ReadToken)
			found := re.FindAllStringSubmatch(page, -1)
			pages = append(pages, len(found))
			for _, f := range found {
				cells = append(cells, f[1])
			}
			m := next.FindStringSubmatch(page)
			if m == nil {
				return pages, cells
			}
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		t.Fatalf("%s: no end", path)
		return nil, nil
	}
	pages, targets := walk("/ops/audit?actor=bulk", `<td class="target">(t-\d+)</td>`)
	if fmt.Sprint(pages) != "[100 17]" || targets[0] != "t-129" || targets[116] != "t-001" {
		t.Fatalf("audit pages %v: %v", pages, targets)
	}
	for i := 1; i < len(targets); i++ {
		if targets[i] >= targets[i-1] {
			t.Fatalf("audit pages not newest first: %v", targets)
		}
	}
	pages, entities := walk("/ops/dead-letters", `<td>(e-\d+)</td>`)
	if fmt.Sprint(pages) != "[50 10]" || entities[0] != "e-59" || entities[59] != "e-00" {
		t.Fatalf("dead-letter pages %v: %v", pages, entities)
	}
}
