package api_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
	"github.com/hookflow/hookflow/pkg/hookflowsdk"
)

// seenEvent is what the test's user workflow noted of an event it received.
type seenEvent struct {
	ID      int64
	Seq     int
	Type    string
	Ref     string
	Headers map[string]string
}

// hookIssueWorkflow is a user's per-key workflow: it receives batches in
// the signal "events", notes each event (query "seen") and marks the batch
// processed through hookflow's API with the SDK's activity.
func hookIssueWorkflow(ctx workflow.Context, start hookflowsdk.Start) error {
	var seen []seenEvent
	if err := workflow.SetQueryHandler(ctx, "seen", func() ([]seenEvent, error) { return seen, nil }); err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(ctx, "events")
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for {
		var b hookflowsdk.Batch
		ch.Receive(ctx, &b)
		var outcomes []hookflowsdk.Outcome
		for _, ev := range b.Events {
			s := seenEvent{ID: ev.ID, Seq: -1, Type: ev.EventType, Ref: ev.BodyRef, Headers: ev.Headers}
			if len(ev.Body) > 0 {
				var body struct {
					Seq int `json:"seq"`
				}
				_ = json.Unmarshal(ev.Body, &body)
				s.Seq = body.Seq
			}
			if ev.Key != start.Key || ev.Source != start.Source {
				s.Seq = -100 // another key's event: the order check fails
			}
			seen = append(seen, s)
			outcomes = append(outcomes, hookflowsdk.Outcome{ID: ev.ID, Outcome: "applied"})
		}
		if err := workflow.ExecuteActivity(actx, hookflowsdk.ActivityMarkProcessed, hookflowsdk.Processed{Events: outcomes}).Get(ctx, nil); err != nil {
			return err
		}
	}
}

// hookEachWorkflow is a run per event (target mode start).
func hookEachWorkflow(ctx workflow.Context, ev hookflowsdk.Event) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	return workflow.ExecuteActivity(actx, hookflowsdk.ActivityMarkProcessed,
		hookflowsdk.Processed{Events: []hookflowsdk.Outcome{{ID: ev.ID, Outcome: "done-" + ev.EventType}}}).Get(ctx, nil)
}

func rnd() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

const hookAdminToken = "hooks-admin-token-0123456789"

// TestDeclaredSourceEndToEnd: a source declared in SOURCES_FILE, real
// HTTP, Postgres and Temporal, and a user worker on its own task queue:
// signed events reach the per-key workflow in order, a redelivery is a
// duplicate, forged and unsigned requests get 401 saying why, an event
// type outside accept is stored as ignored, a large body is handed over
// as a reference, and the workflows' MarkProcessed calls record outcomes.
func TestDeclaredSourceEndToEnd(t *testing.T) {
	dbURL, st := testenv.Database(t)
	tmp := testenv.Temporal(t)
	run, queue := rnd(), "user-hooks-"+rnd()
	file := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`sources:
  - name: gh
    path: github
    verify: {mode: hmac, header: X-Hub-Signature-256, prefix: "sha256=", secrets: [HOOK_GH_SECRET, HOOK_GH_SECRET_OLD]}
    event_type: {header: X-GitHub-Event}
    accept: [issues, issue_comment]
    dedup: {header: X-GitHub-Delivery}
    key: {pointer: /issue/number}
    headers: [X-GitHub-Event, X-Not-Sent]
    max_inline_body: 300
    target: {workflow: HookIssue, task_queue: %[1]s, workflow_id: "gh-%[2]s-{key}", signal: events}
  - name: each
    path: in/each
    verify: {mode: token, query: token, secrets: [HOOK_EACH_TOKEN]}
    event_type: {pointer: /type}
    target: {workflow: HookEach, task_queue: %[1]s, mode: start, workflow_id: "each-%[2]s-{dedup}"}
`, queue, run)), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret, oldSecret, eachToken = "gh-secret-new", "gh-secret-old", "each-token-123"
	cfg := testenv.Config(t, dbURL, tmp, map[string]string{
		"SOURCES_FILE": file, "HOOK_GH_SECRET": secret, "HOOK_GH_SECRET_OLD": oldSecret, "HOOK_EACH_TOKEN": eachToken,
		"ADMIN_TOKEN": hookAdminToken,
	})
	a := testenv.StartApp(t, cfg, app.Roles{API: true})

	tc := tmp.Client()
	testenv.UserWorker(t, tc, queue, a.URL(), hookAdminToken, map[string]any{"HookIssue": hookIssueWorkflow, "HookEach": hookEachWorkflow})

	type answer struct {
		status int
		body   map[string]any
	}
	post := func(path string, body []byte, h map[string]string) answer {
		t.Helper()
		resp, raw := testenv.Send(t, testenv.Request(t, http.MethodPost, a.URL()+path, body, jsonType, h))
		ans := answer{status: resp.StatusCode}
		if err := json.Unmarshal(raw, &ans.body); err != nil {
			t.Fatalf("%s: not JSON: %s", path, raw)
		}
		return ans
	}
	sign := func(key string, body []byte) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write(body)
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	github := func(event, delivery, key string, body []byte) answer {
		return post("/hooks/github", body, map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
			"X-Hub-Signature-256": sign(key, body)})
	}
	issueBody := func(issue, seq int) []byte {
		return []byte(fmt.Sprintf(`{"action":"edited","issue":{"number":%d},"seq":%d}`, issue, seq))
	}

	// 4 keys, 15 events each, sent concurrently across keys and in order
	// within each; one of them signed with the previous secret.
	const keys, perKey = 4, 15
	var wg sync.WaitGroup
	errs := make(chan string, keys*perKey)
	for k := 1; k <= keys; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			for seq := 0; seq < perKey; seq++ {
				key := secret
				if k == 2 && seq == 7 {
					key = oldSecret
				}
				typ := "issues"
				if seq%3 == 1 {
					typ = "issue_comment"
				}
				ans := github(typ, fmt.Sprintf("%s-%d-%d", run, k, seq), key, issueBody(k, seq))
				if ans.status != 200 || ans.body["status"] != "received" || ans.body["duplicate"] != false {
					errs <- fmt.Sprintf("key %d seq %d: %d %v", k, seq, ans.status, ans.body)
				}
			}
		}(k)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	// A redelivery (same X-GitHub-Delivery) is a duplicate.
	dup := github("issues", run+"-1-3", secret, issueBody(1, 3))
	if dup.status != 200 || dup.body["duplicate"] != true {
		t.Errorf("redelivery: %d %v", dup.status, dup.body)
	}
	// Forged, unsigned, wrong prefix: 401 with why.
	forged := github("issues", run+"-forged", "not-the-secret", issueBody(1, 99))
	unsigned := post("/hooks/github", issueBody(1, 99), map[string]string{"X-GitHub-Event": "issues", "X-GitHub-Delivery": run + "-u"})
	for name, c := range map[string]struct {
		ans    answer
		reason string
	}{"forged": {forged, "forged"}, "unsigned": {unsigned, "unsigned"}} {
		details, _ := c.ans.body["details"].(map[string]any)
		if c.ans.status != 401 || details["reason"] != c.reason || c.ans.body["field"] != "X-Hub-Signature-256" ||
			!strings.Contains(c.ans.body["error"].(string), c.reason) {
			t.Errorf("%s: %d %v", name, c.ans.status, c.ans.body)
		}
	}
	// A type outside accept: acked, stored as ignored, never handed over.
	ping := github("ping", run+"-ping", secret, []byte(`{"zen":"Keep it logically awesome."}`))
	if ping.status != 200 || ping.body["status"] != "ignored" {
		t.Errorf("ping: %d %v", ping.status, ping.body)
	}
	// A declared field missing: 400 naming it.
	if nokey := github("issues", run+"-nokey", secret, []byte(`{"action":"x"}`)); nokey.status != 400 || nokey.body["field"] != "key" {
		t.Errorf("no key: %d %v", nokey.status, nokey.body)
	}
	// A body over max_inline_body goes as a reference.
	big := []byte(fmt.Sprintf(`{"issue":{"number":99},"seq":0,"text":%q}`, strings.Repeat("x", 400)))
	if ans := github("issues", run+"-big", secret, big); ans.status != 200 {
		t.Errorf("big: %d %v", ans.status, ans.body)
	}
	// Declared sources are listed and paused like the built-in ones: the
	// mode start source is paused while its events arrive.
	admin := map[string]string{"Authorization": "Bearer " + hookAdminToken}
	if ans := post("/api/v1/sources/each/pause", []byte(`{"reason":"test"}`), admin); ans.status != 200 {
		t.Fatalf("pause each: %d %v", ans.status, ans.body)
	}
	// Mode start: each event its own run; the token in the query.
	for i := 0; i < 3; i++ {
		if ans := post("/hooks/in/each?token="+eachToken, []byte(fmt.Sprintf(`{"type":"t%d"}`, i)), nil); ans.status != 200 {
			t.Errorf("each %d: %d %v", i, ans.status, ans.body)
		}
	}
	if ans := post("/hooks/in/each?token=nope", []byte(`{"type":"x"}`), nil); ans.status != 401 || ans.body["field"] != "token" {
		t.Errorf("each with a wrong token: %d %v", ans.status, ans.body)
	}

	// Every key's workflow gets its events once, in order.
	query := func(key int) ([]seenEvent, error) {
		v, err := tc.QueryWorkflow(t.Context(), fmt.Sprintf("gh-%s-%d", run, key), "", "seen")
		if err != nil {
			return nil, err
		}
		var seen []seenEvent
		return seen, v.Get(&seen)
	}
	for k := 1; k <= keys; k++ {
		var seen []seenEvent
		testenv.Eventually(t, time.Minute, func() error {
			var err error
			if seen, err = query(k); err != nil {
				return err
			}
			if len(seen) < perKey {
				return fmt.Errorf("key %d: %d of %d events", k, len(seen), perKey)
			}
			return nil
		})
		if len(seen) != perKey {
			t.Errorf("key %d: %d events, want %d", k, len(seen), perKey)
		}
		for i, s := range seen {
			if s.Seq != i {
				t.Errorf("key %d: event %d has seq %d: out of order or another key's", k, i, s.Seq)
			}
			if want := map[bool]string{true: "issue_comment", false: "issues"}[i%3 == 1]; s.Type != want || s.Headers["X-Github-Event"] != want || len(s.Headers) != 1 {
				t.Errorf("key %d event %d: type %q headers %v", k, i, s.Type, s.Headers)
			}
		}
	}
	var bigSeen []seenEvent
	testenv.Eventually(t, time.Minute, func() error {
		var err error
		if bigSeen, err = query(99); err == nil && len(bigSeen) == 0 {
			err = fmt.Errorf("no event yet")
		}
		return err
	})
	if bigSeen[0].Ref != fmt.Sprintf("/api/v1/events/%d", bigSeen[0].ID) || bigSeen[0].Seq != -1 {
		t.Fatalf("large body: %+v", bigSeen[0])
	}
	resp, raw := testenv.Send(t, testenv.Request(t, http.MethodGet, a.URL()+bigSeen[0].Ref, nil, bearer(testenv.ReadToken)))
	var got store.InboundEvent
	_ = json.Unmarshal(raw, &got)
	if resp.StatusCode != 200 || !bytes.Equal(got.Payload, big) {
		t.Fatalf("GET %s: %d, payload %d bytes (want the %d sent)", bigSeen[0].Ref, resp.StatusCode, len(got.Payload), len(big))
	}

	// While gh's events went through, each's stayed in the outbox.
	var held int
	if err := st.Pool.QueryRow(t.Context(), `SELECT count(*) FROM relay_outbox WHERE source = 'each'`).Scan(&held); err != nil || held != 3 {
		t.Errorf("paused source: %d events held (%v), want 3", held, err)
	}
	listReq, _ := http.NewRequest(http.MethodGet, a.URL()+"/api/v1/sources", nil)
	listReq.Header.Set("Authorization", "Bearer "+testenv.ReadToken)
	if resp, err := http.DefaultClient.Do(listReq); err != nil {
		t.Fatal(err)
	} else {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(raw), `"source":"gh"`) || !strings.Contains(string(raw), `"source":"each","paused":true`) {
			t.Errorf("GET /api/v1/sources: %s", raw)
		}
	}
	if ans := post("/api/v1/sources/each/resume", nil, admin); ans.status != 200 {
		t.Fatalf("resume each: %d %v", ans.status, ans.body)
	}

	// The workflows' reports are recorded: every handed-over event
	// applied, mode start's done-<type>, ping ignored, nothing pending.
	testenv.Eventually(t, time.Minute, func() error {
		rows, err := st.Pool.Query(t.Context(), `SELECT source, coalesce(outcome, 'pending'), count(*) FROM inbound_events GROUP BY 1, 2 ORDER BY 1, 2`)
		if err != nil {
			return err
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var src, outcome string
			var n int
			if err := rows.Scan(&src, &outcome, &n); err != nil {
				return err
			}
			got = append(got, fmt.Sprintf("%s/%s=%d", src, outcome, n))
		}
		want := fmt.Sprintf("each/done-t0=1 each/done-t1=1 each/done-t2=1 gh/applied=%d gh/ignored=1", keys*perKey+1)
		if strings.Join(got, " ") != want {
			return fmt.Errorf("outcomes %v, want %s", got, want)
		}
		return nil
	})

	// The user workflows run on the user's task queue: end them.
	for _, k := range []int{1, 2, 3, 4, 99} {
		_ = tc.TerminateWorkflow(t.Context(), fmt.Sprintf("gh-%s-%d", run, k), "", "test over")
	}
}

// TestDeclaredSourcesReload: a reload serves the new file from the next
// request on (a new source, a rotated secret); a bad file changes nothing.
func TestDeclaredSourcesReload(t *testing.T) {
	dbURL, _ := testenv.Database(t)
	file := filepath.Join(t.TempDir(), "sources.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const one = `sources:
  - name: one
    path: one
    verify: {mode: token, header: X-Token, secrets: [RELOAD_ONE]}
    target: {workflow: W, task_queue: reload-%[1]s}
`
	queue := rnd()
	write(fmt.Sprintf(one, queue))
	env := map[string]string{"RELOAD_ONE": "first-token", "RELOAD_TWO": "two-token"}
	vars := map[string]string{"SOURCES_FILE": file, "ADMIN_TOKEN": hookAdminToken}
	for k, v := range env {
		vars[k] = v
	}
	a := testenv.StartApp(t, testenv.Config(t, dbURL, testenv.Temporal(t), vars), app.Roles{API: true})
	n := 0
	status := func(path, token string) int {
		n++
		resp, _ := testenv.Send(t, testenv.Request(t, http.MethodPost, a.URL()+path, fmt.Appendf(nil, `{"n":%d}`, n), map[string]string{"X-Token": token}))
		return resp.StatusCode
	}
	if got := [3]int{status("/hooks/one", "first-token"), status("/hooks/two", "two-token"), status("/hooks/one", "rotated")}; got != [3]int{200, 404, 401} {
		t.Fatalf("before the reload: %v", got)
	}
	env["RELOAD_ONE_NEXT"] = "rotated"
	write(fmt.Sprintf(strings.Replace(one, "[RELOAD_ONE]", "[RELOAD_ONE, RELOAD_ONE_NEXT]", 1)+`  - name: two
    path: two
    verify: {mode: token, header: X-Token, secrets: [RELOAD_TWO]}
    target: {workflow: W, task_queue: reload-%[1]s}
`, queue))
	getenv := func(k string) string { return env[k] }
	if srcs, err := a.ReloadSources(getenv); err != nil || len(srcs) != 2 {
		t.Fatalf("reload: %v", err)
	}
	if got := [3]int{status("/hooks/one", "first-token"), status("/hooks/two", "two-token"), status("/hooks/one", "rotated")}; got != [3]int{200, 200, 200} {
		t.Fatalf("after the reload: %v", got)
	}
	write("sources:\n  - name: one\n    pth: one\n")
	if _, err := a.ReloadSources(getenv); err == nil || !strings.Contains(err.Error(), "field pth not found") {
		t.Fatalf("a bad file: %v", err)
	}
	if got := status("/hooks/two", "two-token"); got != 200 {
		t.Fatalf("after a bad file, the sources in use stay: %d", got)
	}

	// The admin API reloads as SIGHUP does (secrets from the process's
	// environment): a bad file is refused with every problem, a good one
	// served; a read token cannot.
	reload := func(token string) (int, ErrorOrSources) {
		resp, raw := testenv.Send(t, testenv.Request(t, http.MethodPost, a.URL()+"/api/v1/sources/reload", nil, bearer(token)))
		var body ErrorOrSources
		_ = json.Unmarshal(raw, &body)
		return resp.StatusCode, body
	}
	if code, body := reload(hookAdminToken); code != 422 || body.Field != "SOURCES_FILE" || len(body.Details) == 0 ||
		!strings.Contains(body.Details[0].Message, "field pth not found") {
		t.Fatalf("reload of a bad file: %d %+v", code, body)
	}
	t.Setenv("RELOAD_THREE", "three-token")
	write(fmt.Sprintf(strings.Replace(strings.Replace(one, "RELOAD_ONE", "RELOAD_THREE", 1), "one", "three", 2), queue))
	if code, body := reload("wrong"); code != 401 && code != 403 {
		t.Fatalf("reload with a wrong token: %d %+v", code, body)
	}
	if code, body := reload(hookAdminToken); code != 200 || strings.Join(body.Sources, ",") != "three" {
		t.Fatalf("reload: %d %+v", code, body)
	}
	if got := [2]int{status("/hooks/three", "three-token"), status("/hooks/two", "two-token")}; got != [2]int{200, 404} {
		t.Fatalf("after the admin reload: %v", got)
	}
}

// ErrorOrSources reads both answers of POST /api/v1/sources/reload.
type ErrorOrSources struct {
	Sources []string                   `json:"sources"`
	Field   string                     `json:"field"`
	Details []struct{ Message string } `json:"details"`
}

// TestDeclaredSourcesBesideABuiltInHookPath: the seed's WEBHOOK_PATH may put
// the Okdesk webhook under /hooks/ (Gin's catch-all cannot share that
// prefix): the built-in route keeps its path and the declared sources are
// still served under /hooks/, an unknown one answering the JSON 404.
func TestDeclaredSourcesBesideABuiltInHookPath(t *testing.T) {
	dbURL, _ := testenv.Database(t)
	file := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`sources:
  - name: mine
    path: mine
    verify: {mode: token, header: X-Token, secrets: [BESIDE_TOKEN]}
    target: {workflow: W, task_queue: beside-%s}
`, rnd())), 0o600); err != nil {
		t.Fatal(err)
	}
	a := testenv.StartApp(t, testenv.Config(t, dbURL, testenv.Temporal(t), map[string]string{
		"SOURCES_FILE": file, "BESIDE_TOKEN": "t0ken",
		"OKDESK_WEBHOOK_SECRET": "", "WEBHOOK_SECRET": "seed-secret", "WEBHOOK_PATH": "/hooks/okdesk"}), app.Roles{API: true})
	post := func(path string, header map[string]string) (int, string) {
		resp, raw := testenv.Send(t, testenv.Request(t, http.MethodPost, a.URL()+path, []byte(`{"n":1}`), header))
		return resp.StatusCode, string(raw)
	}
	if code, body := post("/hooks/mine", map[string]string{"X-Token": "t0ken"}); code != 200 {
		t.Fatalf("declared source: %d %s", code, body)
	}
	if code, body := post("/hooks/okdesk", nil); code != 401 || !strings.Contains(body, "error") {
		t.Fatalf("the built-in Okdesk route without its secret: %d %s, want its own 401", code, body)
	}
	if code, body := post("/hooks/nobody", nil); code != 404 || !strings.Contains(body, "SOURCES_FILE") {
		t.Fatalf("an undeclared path: %d %s", code, body)
	}
}
