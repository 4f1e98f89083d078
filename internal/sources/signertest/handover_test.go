package signertest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
	"github.com/hookflow/hookflow/pkg/hookflowsdk"
)

// Replays and form bodies of declared sources, end to end: hookflow's API
// and relay, a real Temporal dev server and the test's user worker. The
// form source's signature is an HMAC-SHA256 of the raw body, computed here.

// startEvent is the test's start-mode workflow: its result is the event it
// was started with.
func startEvent(_ workflow.Context, ev hookflowsdk.Event) (hookflowsdk.Event, error) {
	return ev, nil
}

const formSecret = "form-sender-secret"

func startHandover(t *testing.T) *env {
	return startWith(t, func(queue, run string) string {
		return fmt.Sprintf(`sources:
  - name: shop
    path: shop
    verify: {mode: none}
    dedup: {pointer: /id}
    key: {pointer: /customer}
    target: {workflow: StartEvent, task_queue: %[1]s, workflow_id: "shop-%[2]s-{key}-{dedup}", mode: start}
  - name: feed
    path: feed
    verify: {mode: none}
    dedup: {pointer: /id}
    key: {pointer: /account}
    target: {workflow: RecordEvents, task_queue: %[1]s, workflow_id: "feed-%[2]s-{key}"}
  - name: slack
    path: slack/commands
    verify: {mode: hmac, header: X-Signature, prefix: "sha256=", secrets: [HANDOVER_FORM_SECRET]}
    body: form
    event_type: {pointer: /command}
    dedup: {pointer: /trigger_id}
    key: {pointer: /channel_id}
    target: {workflow: RecordEvents, task_queue: %[1]s, workflow_id: "slack-%[2]s-{key}"}
  - name: blob
    path: blob
    verify: {mode: none}
    body: raw
    target: {workflow: RecordEvents, task_queue: %[1]s, workflow_id: "blob-%[2]s-{dedup}"}
`, queue, run)
	}, map[string]string{"HANDOVER_FORM_SECRET": formSecret})
}

// postID posts a declared source's event and returns its id.
func (e *env) postID(path, body string) int64 {
	e.t.Helper()
	code, raw := e.send(http.MethodPost, path, "application/json", body, nil)
	var ack struct {
		Status string `json:"status"`
		ID     int64  `json:"id"`
	}
	if err := json.Unmarshal(raw, &ack); err != nil || code != 200 || ack.Status != "received" || ack.ID == 0 {
		e.t.Fatalf("POST %s: %d %s", path, code, raw)
	}
	return ack.ID
}

// send is one request; it returns the status and the answer's body.
func (e *env) send(method, path, contentType, body string, headers map[string]string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// replay replays (POST path with body, admin token) until the event is
// taken: just after its hand-over the relay may not have deleted its outbox
// row yet, and a replay then is refused (409, or nothing replayed).
func (e *env) replay(path, body string, id int64) {
	e.t.Helper()
	testenv.Eventually(e.t, time.Minute, func() error {
		code, raw := e.send(http.MethodPost, path, "application/json", body, map[string]string{"Authorization": "Bearer " + adminToken})
		var a struct {
			Replayed []int64 `json:"replayed"`
		}
		if err := json.Unmarshal(raw, &a); err != nil || code/100 != 2 || len(a.Replayed) != 1 || a.Replayed[0] != id {
			return fmt.Errorf("replay of %d: %d %s", id, code, raw)
		}
		return nil
	})
}

// result waits for the start-mode run workflowID and returns its event.
func (e *env) result(workflowID string) hookflowsdk.Event {
	e.t.Helper()
	var ev hookflowsdk.Event
	testenv.Eventually(e.t, time.Minute, func() error {
		return e.tc.GetWorkflow(e.t.Context(), workflowID, "").Get(e.t.Context(), &ev)
	})
	return ev
}

// TestReplayStartMode: a start-mode event's replay is a new run,
// <id>-replay-<n>, whose event says replay n; each replay request starts
// exactly one run; both replays are audited.
func TestReplayStartMode(t *testing.T) {
	e := startHandover(t)
	id := e.postID("/hooks/shop", `{"id":"o-1","customer":"c9","total":12}`)
	first := fmt.Sprintf("shop-%s-c9-o-1", e.run)
	if ev := e.result(first); ev.ID != id || ev.Replay != 0 || ev.Dedup != "o-1" || string(ev.Body) != `{"id":"o-1","customer":"c9","total":12}` {
		t.Fatalf("first run: %+v", ev)
	}
	// One event, by id (what hookflow events replay <id> calls).
	e.replay(fmt.Sprintf("/api/v1/events/%d/replay", id), "", id)
	if ev := e.result(first + "-replay-1"); ev.ID != id || ev.Replay != 1 || !ev.IsReplay() || ev.Dedup != "o-1" {
		t.Fatalf("first replay: %+v", ev)
	}
	// By filter (hookflow events replay --source shop).
	e.replay("/api/v1/events/replay", `{"source":"shop"}`, id)
	if ev := e.result(first + "-replay-2"); ev.ID != id || ev.Replay != 2 {
		t.Fatalf("second replay: %+v", ev)
	}
	// One run per replay: the first run's ID was not started again, and
	// nothing started a third.
	resp, err := e.tc.DescribeWorkflowExecution(t.Context(), first, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := resp.WorkflowExecutionInfo.GetHistoryLength(); n == 0 {
		t.Fatalf("first run: %+v", resp.WorkflowExecutionInfo)
	}
	time.Sleep(time.Second) // a stray third hand-over would have started by now
	if _, err := e.tc.DescribeWorkflowExecution(t.Context(), first+"-replay-3", ""); err == nil {
		t.Fatal("a third run started after two replays")
	}
	evs, err := e.st.EventsByID(t.Context(), []int64{id})
	if err != nil || len(evs) != 1 || evs[0].Attrs[store.AttrReplay] != float64(2) {
		t.Fatalf("event after two replays: %+v %v", evs, err)
	}
	entries, err := e.st.ListAudit(t.Context(), store.AuditFilter{Action: store.AuditEventsReplay, Limit: 20})
	var audit []store.AuditEntry
	for _, a := range entries {
		if a.Result == store.AuditOK && a.Count > 0 { // a try refused or empty (the outbox row not yet deleted) is audited too
			audit = append(audit, a)
		}
	}
	if err != nil || len(audit) != 2 {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	// Newest first: the filter's, then the single event's.
	if a := audit[0]; a.Target != "shop" || a.Count != 1 || a.Result != store.AuditOK || a.Actor != "admin" {
		t.Errorf("the filter's replay: %+v", a)
	}
	if a := audit[1]; a.Target != fmt.Sprint(id) || a.Count != 1 || a.Result != store.AuditOK {
		t.Errorf("the event's replay: %+v", a)
	}
}

// TestReplaySignalMode: a signal-mode event's replay comes to the key's
// workflow again, same id, with replay set, after the key's other events.
func TestReplaySignalMode(t *testing.T) {
	e := startHandover(t)
	a := e.postID("/hooks/feed", `{"id":"f-1","account":"a1","n":1}`)
	b := e.postID("/hooks/feed", `{"id":"f-2","account":"a1","n":2}`)
	wf := fmt.Sprintf("feed-%s-a1", e.run)
	got := e.events(wf, 2)
	if got[0].ID != a || got[1].ID != b || got[0].Replay != 0 || got[1].Replay != 0 {
		t.Fatalf("as acked: %+v", got)
	}
	e.replay(fmt.Sprintf("/api/v1/events/%d/replay", a), "", a)
	got = e.events(wf, 3)
	if r := got[2]; r.ID != a || r.Replay != 1 || r.Dedup != "f-1" || string(r.Body) != `{"id":"f-1","account":"a1","n":1}` {
		t.Fatalf("replayed: %+v", r)
	}
	// The workflow reported the replayed event processed again.
	testenv.Eventually(t, time.Minute, func() error {
		evs, err := e.st.EventsByID(t.Context(), []int64{a})
		if err != nil || len(evs) != 1 || !evs[0].Processed || evs[0].Outcome == nil || *evs[0].Outcome != "applied" {
			return fmt.Errorf("event %d: %+v %v", a, evs, err)
		}
		return nil
	})
}

func formSignature(body string) string {
	m := hmac.New(sha256.New, []byte(formSecret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// TestFormBody: a form post signed over its raw body is acked, stored and
// handed over as the documented JSON (fields to strings, a repeated one to
// a list); a form that cannot be decoded, or another Content-Type, is a 4xx
// naming the problem.
func TestFormBody(t *testing.T) {
	e := startHandover(t)
	const form = "application/x-www-form-urlencoded"
	body := "team_id=T1&channel_id=C42&command=%2Fdeploy&text=api+v2+%3Cnow%3E&trigger_id=tr.1&tag=a&tag=b"
	code, raw := e.send(http.MethodPost, "/hooks/slack/commands", form, body, map[string]string{"X-Signature": formSignature(body)})
	var ack struct {
		Status string `json:"status"`
		ID     int64  `json:"id"`
	}
	if err := json.Unmarshal(raw, &ack); err != nil || code != 200 || ack.Status != "received" {
		t.Fatalf("form post: %d %s", code, raw)
	}
	want := `{"team_id":"T1","channel_id":"C42","command":"/deploy","text":"api v2 <now>","trigger_id":"tr.1","tag":["a","b"]}`
	evs, err := e.st.EventsByID(t.Context(), []int64{ack.ID})
	if err != nil || len(evs) != 1 || string(evs[0].Payload) != want {
		t.Fatalf("stored: %+v %v", evs, err)
	}
	got := e.events(fmt.Sprintf("slack-%s-C42", e.run), 1)
	// The same JSON (Go's encoder escapes < and > on the way to Temporal).
	if ev := got[0]; ev.ID != ack.ID || !sameJSON(ev.Body, want) || ev.EventType != "/deploy" || ev.Key != "C42" || ev.Dedup != "tr.1" {
		t.Fatalf("handed over: %+v", ev)
	}
	if code, raw := e.send(http.MethodPost, "/hooks/slack/commands", form, body, map[string]string{"X-Signature": formSignature(body)}); code != 200 || !strings.Contains(string(raw), `"duplicate":true`) {
		t.Errorf("redelivery: %d %s", code, raw)
	}

	for _, c := range []struct {
		name, contentType, body string
		code                    int
		field, msg              string
	}{
		{"bad escape", form, "channel_id=C42&text=%zz&trigger_id=t2&command=x", 400, "body", "the body is not application/x-www-form-urlencoded: invalid URL escape"},
		{"not UTF-8", form, "channel_id=C42&text=%ff&trigger_id=t3&command=x", 400, "body", `form field "text": names and values must be UTF-8`},
		{"JSON to a form source", "application/json", `{"channel_id":"C42"}`, 415, "Content-Type", "Content-Type application/json is not accepted here: send application/x-www-form-urlencoded"},
		{"no key", form, "trigger_id=t4&command=x", 400, "key", "key: the body has nothing at /channel_id"},
	} {
		code, raw := e.send(http.MethodPost, "/hooks/slack/commands", c.contentType, c.body, map[string]string{"X-Signature": formSignature(c.body)})
		var a struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		if err := json.Unmarshal(raw, &a); err != nil || code != c.code || a.Field != c.field || !strings.HasPrefix(a.Error, c.msg) {
			t.Errorf("%s: %d %s, want %d %s %q", c.name, code, raw, c.code, c.field, c.msg)
		}
	}
	// Signed over the raw bytes: the same fields encoded otherwise do not
	// carry the signature.
	other := strings.Replace(body, "api+v2", "api%20v2", 1)
	if code, raw := e.send(http.MethodPost, "/hooks/slack/commands", form, other, map[string]string{"X-Signature": formSignature(body)}); code != 401 || !strings.Contains(string(raw), `"reason":"forged"`) {
		t.Errorf("re-encoded body under the original signature: %d %s", code, raw)
	}
}

func sameJSON(a []byte, b string) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}

// TestRawBody: a raw source takes any bytes and hands them over as text, or
// as base64 when they are not UTF-8 text.
func TestRawBody(t *testing.T) {
	e := startHandover(t)
	for _, c := range []struct{ contentType, body, want string }{
		{"text/plain; charset=utf-8", "deploy <api>\n", `{"content_type":"text/plain; charset=utf-8","text":"deploy <api>\n"}`},
		{"application/octet-stream", "\xff\x00a", `{"content_type":"application/octet-stream","base64":"/wBh"}`},
	} {
		code, raw := e.send(http.MethodPost, "/hooks/blob", c.contentType, c.body, nil)
		if code != 200 || !strings.Contains(string(raw), `"status":"received"`) {
			t.Fatalf("%s: %d %s", c.contentType, code, raw)
		}
		got := e.events(fmt.Sprintf("blob-%s-%x", e.run, sha256.Sum256([]byte(c.body))), 1)
		if !sameJSON(got[0].Body, c.want) {
			t.Errorf("%s: handed over %s, want %s", c.contentType, got[0].Body, c.want)
		}
	}
}
