package signertest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/examples/github-issues/issues"
	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
	"github.com/hookflow/hookflow/pkg/hookflowsdk"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// signReq is one request for sign.mjs.
type signReq struct {
	Kind      string `json:"kind"`
	Secret    string `json:"secret"`
	Payload   string `json:"payload"`
	ID        string `json:"id,omitempty"`
	Timestamp int64  `json:"timestamp,omitempty"`
}

// signAll has the vendors' libraries sign every request (one node run).
func signAll(t *testing.T, node string, reqs []signReq) []map[string]string {
	t.Helper()
	in, _ := json.Marshal(reqs)
	cmd := exec.Command(node, "sign.mjs")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node sign.mjs: %v\n%s", err, stderr.String())
	}
	var headers []map[string]string
	if err := json.Unmarshal(out, &headers); err != nil || len(headers) != len(reqs) {
		t.Fatalf("sign.mjs answered %s (%v)", out, err)
	}
	return headers
}

// recordEvents is the test's user workflow: it keeps every event it
// receives (query "events") and marks each batch applied.
func recordEvents(ctx workflow.Context, start hookflowsdk.Start) error {
	var got []hookflowsdk.Event
	if err := workflow.SetQueryHandler(ctx, "events", func() ([]hookflowsdk.Event, error) { return got, nil }); err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(ctx, "events")
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for {
		var b hookflowsdk.Batch
		ch.Receive(ctx, &b)
		var done []hookflowsdk.Outcome
		for _, ev := range b.Events {
			got = append(got, ev)
			done = append(done, hookflowsdk.Outcome{ID: ev.ID, Outcome: "applied"})
		}
		if err := workflow.ExecuteActivity(actx, hookflowsdk.ActivityMarkProcessed, hookflowsdk.Processed{Events: done}).Get(ctx, nil); err != nil {
			return err
		}
	}
}

const (
	ghSecret       = "github-secret-from-octokit"
	stripeSecret   = "whsec_stripe_signertest_secret"
	standardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	adminToken     = "signertest-admin-token-0123"
)

type env struct {
	t     *testing.T
	st    *store.Store
	node  string
	url   string
	tc    client.Client
	run   string
	mu    sync.Mutex
	runs  []string
	queue string
}

// start runs hookflow (API and relay) with three declared sources and a
// user worker on its own task queue.
func start(t *testing.T) *env {
	node := testenv.RequireNode(t, "the npm signer tests", "--ignore-scripts")
	e := startWith(t, func(queue, run string) string {
		return fmt.Sprintf(`sources:
  - name: github
    path: github
    verify: {mode: hmac, header: X-Hub-Signature-256, prefix: "sha256=", secrets: [SIGNERTEST_GH]}
    event_type: {header: X-GitHub-Event}
    accept: [issues, issue_comment]
    dedup: {header: X-GitHub-Delivery}
    key: {pointer: /issue/number}
    target: {workflow: RecordEvents, task_queue: %[1]s, workflow_id: "github-%[2]s-{key}"}
  - name: github-example
    path: github-example
    verify: {mode: hmac, header: X-Hub-Signature-256, prefix: "sha256=", secrets: [SIGNERTEST_GH]}
    event_type: {header: X-GitHub-Event}
    accept: [issues, issue_comment]
    dedup: {header: X-GitHub-Delivery}
    key: {pointer: /issue/number}
    target: {workflow: GitHubIssue, task_queue: %[1]s, workflow_id: "example-%[2]s-{key}"}
  - name: stripe
    path: stripe
    verify: {mode: stripe, secrets: [SIGNERTEST_STRIPE], tolerance: 5m}
    event_type: {pointer: /type}
    dedup: {pointer: /id}
    key: {pointer: /data/object/customer}
    target: {workflow: RecordEvents, task_queue: %[1]s, workflow_id: "stripe-%[2]s-{key}"}
  - name: standard
    path: standard
    verify: {mode: standard-webhooks, secrets: [SIGNERTEST_STANDARD]}
    event_type: {pointer: /type}
    dedup: {header: webhook-id}
    key: {pointer: /data/account}
    target: {workflow: RecordEvents, task_queue: %[1]s, workflow_id: "standard-%[2]s-{key}"}
`, queue, run)
	}, map[string]string{"SIGNERTEST_GH": ghSecret, "SIGNERTEST_STRIPE": stripeSecret, "SIGNERTEST_STANDARD": standardSecret})
	e.node = node
	return e
}

// startWith runs hookflow (API and relay) with the sources file yaml
// writes for the test's task queue and run id, the variables vars, and a
// user worker on that queue with the test's workflows.
func startWith(t *testing.T, yaml func(queue, run string) string, vars map[string]string) *env {
	dbURL, st := testenv.Database(t)
	tmp := testenv.Temporal(t)
	e := &env{t: t, st: st, run: fmt.Sprint(time.Now().UnixNano()), queue: fmt.Sprintf("signers-%d", time.Now().UnixNano())}
	file := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(file, []byte(yaml(e.queue, e.run)), 0o600); err != nil {
		t.Fatal(err)
	}
	vars["SOURCES_FILE"], vars["ADMIN_TOKEN"] = file, adminToken
	cfg := testenv.Config(t, dbURL, tmp, vars)
	a := testenv.StartApp(t, cfg, app.Roles{API: true})
	e.url = a.URL()
	e.tc = tmp.Client()
	testenv.UserWorker(t, e.tc, e.queue, a.URL(), adminToken, map[string]any{
		"RecordEvents": recordEvents, "StartEvent": startEvent, issues.WorkflowType: issues.Workflow})
	t.Cleanup(func() {
		e.mu.Lock()
		for _, id := range e.runs {
			_ = e.tc.TerminateWorkflow(t.Context(), id, "", "test over")
		}
		e.mu.Unlock()
	})
	return e
}

type answer struct {
	Status int
	Body   struct {
		Status    string         `json:"status"`
		Duplicate bool           `json:"duplicate"`
		Error     string         `json:"error"`
		Field     string         `json:"field"`
		Details   map[string]any `json:"details"`
	}
}

func (e *env) post(path, body string, headers map[string]string) answer {
	e.t.Helper()
	code, raw := e.send(http.MethodPost, path, "application/json", body, headers)
	a := answer{Status: code}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		e.t.Fatalf("POST %s: not JSON: %s", path, raw)
	}
	return a
}

// events waits until the workflow has want events and returns them.
func (e *env) events(workflowID string, want int) []hookflowsdk.Event {
	e.t.Helper()
	e.mu.Lock()
	e.runs = append(e.runs, workflowID)
	e.mu.Unlock()
	var got []hookflowsdk.Event
	testenv.Eventually(e.t, 2*time.Minute, func() error {
		v, err := e.tc.QueryWorkflow(e.t.Context(), workflowID, "", "events")
		if err != nil {
			return err
		}
		if err := v.Get(&got); err != nil {
			return err
		}
		if len(got) < want {
			return fmt.Errorf("%s: %d of %d events", workflowID, len(got), want)
		}
		return nil
	})
	if len(got) != want {
		e.t.Errorf("%s: %d events, want %d", workflowID, len(got), want)
	}
	return got
}

// refused checks a 401 and its reason.
func refused(t *testing.T, name string, a answer, reason string) {
	t.Helper()
	if a.Status != http.StatusUnauthorized || a.Body.Details["reason"] != reason || !strings.HasPrefix(a.Body.Error, reason+": ") {
		t.Errorf("%s: %d %+v, want 401 %s", name, a.Status, a.Body, reason)
	}
}

// postTimestamped signs reqs and posts them to path: all but the last two
// are received, reqs[again] once more is a duplicate, the last two (a
// stale timestamp, then a wrong secret) are refused, and so is reqs[0]
// without its signature.
func (e *env) postTimestamped(path string, reqs []signReq, again int) {
	t := e.t
	t.Helper()
	sigs := signAll(t, e.node, reqs)
	n := len(reqs) - 2
	for i := range n {
		if a := e.post(path, reqs[i].Payload, sigs[i]); a.Status != 200 || a.Body.Status != "received" {
			t.Errorf("%s request %d: %d %+v", path, i+1, a.Status, a.Body)
		}
	}
	if a := e.post(path, reqs[again].Payload, sigs[again]); a.Status != 200 || !a.Body.Duplicate {
		t.Errorf("%s redelivery of request %d: %d %+v", path, again+1, a.Status, a.Body)
	}
	refused(t, "stale", e.post(path, reqs[n].Payload, sigs[n]), "stale")
	refused(t, "forged", e.post(path, reqs[n+1].Payload, sigs[n+1]), "forged")
	refused(t, "unsigned", e.post(path, reqs[0].Payload, nil), "unsigned")
}

// TestGitHubOctokit: requests signed by @octokit/webhooks-methods; 500
// events over 20 issues reach their issue's workflow in order; a
// redelivery is a duplicate; forged and unsigned ones get 401 saying why.
func TestGitHubOctokit(t *testing.T) {
	e := start(t)
	const keys, total = 20, 500
	var reqs []signReq
	bodies := make([]string, total)
	for i := range total {
		bodies[i] = fmt.Sprintf(`{"action":"edited","issue":{"number":%d},"seq":%d}`, i%keys+1, i/keys)
		reqs = append(reqs, signReq{Kind: "github", Secret: ghSecret, Payload: bodies[i]})
	}
	forgedBody := `{"action":"edited","issue":{"number":1},"seq":999}`
	reqs = append(reqs, signReq{Kind: "github", Secret: "not-the-secret", Payload: forgedBody})
	sigs := signAll(t, e.node, reqs)

	var wg sync.WaitGroup
	bad := make(chan string, total)
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < total; i += keys { // each issue's events in order
				h := sigs[i]
				h["X-GitHub-Event"], h["X-GitHub-Delivery"] = "issues", fmt.Sprintf("delivery-%d", i)
				if a := e.post("/hooks/github", bodies[i], h); a.Status != 200 || a.Body.Status != "received" || a.Body.Duplicate {
					bad <- fmt.Sprintf("event %d: %d %+v", i, a.Status, a.Body)
				}
			}
		}()
	}
	wg.Wait()
	close(bad)
	for b := range bad {
		t.Error(b)
	}
	redelivery := e.post("/hooks/github", bodies[7], sigs[7])
	if redelivery.Status != 200 || !redelivery.Body.Duplicate {
		t.Errorf("redelivery of delivery-7: %d %+v", redelivery.Status, redelivery.Body)
	}
	forged := sigs[total]
	forged["X-GitHub-Event"], forged["X-GitHub-Delivery"] = "issues", "delivery-forged"
	refused(t, "forged", e.post("/hooks/github", forgedBody, forged), "forged")
	refused(t, "unsigned", e.post("/hooks/github", forgedBody, map[string]string{"X-GitHub-Event": "issues", "X-GitHub-Delivery": "delivery-u"}), "unsigned")
	tampered := sigs[0]
	tampered["X-GitHub-Delivery"] = "delivery-tampered"
	refused(t, "tampered body", e.post("/hooks/github", strings.Replace(bodies[0], "edited", "deleted", 1), tampered), "forged")

	for k := range keys {
		got := e.events(fmt.Sprintf("github-%s-%d", e.run, k+1), total/keys)
		for i, ev := range got {
			var body struct {
				Seq   int `json:"seq"`
				Issue struct {
					Number int `json:"number"`
				} `json:"issue"`
			}
			if err := json.Unmarshal(ev.Body, &body); err != nil || body.Seq != i || body.Issue.Number != k+1 || ev.Key != fmt.Sprint(k+1) {
				t.Errorf("issue %d, event %d: seq %d issue %d key %q (%v): out of order or misrouted", k+1, i, body.Seq, body.Issue.Number, ev.Key, err)
			}
		}
	}
}

// TestGitHubExample: octokit-signed issues and issue_comment events reach
// the example's workflow (examples/github-issues), which keeps the issue's
// state and reports every event applied.
func TestGitHubExample(t *testing.T) {
	e := start(t)
	bodies := []struct{ event, body string }{
		{"issues", `{"action":"opened","issue":{"number":42,"title":"Flaky test","state":"open","labels":[]}}`},
		{"issue_comment", `{"action":"created","issue":{"number":42,"title":"Flaky test","state":"open","labels":[{"name":"ci"}]},"comment":{"body":"seen it"}}`},
		{"issues", `{"action":"closed","issue":{"number":42,"title":"Flaky test","state":"closed","labels":[{"name":"ci"}]}}`},
		{"ping", `{"zen":"Design for failure."}`},
	}
	var reqs []signReq
	for _, b := range bodies {
		reqs = append(reqs, signReq{Kind: "github", Secret: ghSecret, Payload: b.body})
	}
	sigs := signAll(t, e.node, reqs)
	for i, b := range bodies {
		h := sigs[i]
		h["X-GitHub-Event"], h["X-GitHub-Delivery"] = b.event, fmt.Sprintf("example-%d", i)
		want := map[bool]string{true: "ignored", false: "received"}[b.event == "ping"]
		if a := e.post("/hooks/github-example", b.body, h); a.Status != 200 || a.Body.Status != want {
			t.Errorf("%s: %d %+v", b.event, a.Status, a.Body)
		}
	}
	id := "example-" + e.run + "-42"
	e.mu.Lock()
	e.runs = append(e.runs, id)
	e.mu.Unlock()
	var st issues.Issue
	testenv.Eventually(t, time.Minute, func() error {
		v, err := e.tc.QueryWorkflow(t.Context(), id, "", issues.QueryState)
		if err != nil {
			return err
		}
		if err := v.Get(&st); err != nil {
			return err
		}
		if st.Events < 3 {
			return fmt.Errorf("%d of 3 events applied", st.Events)
		}
		return nil
	})
	if st.Number != 42 || st.State != "closed" || st.Comments != 1 || len(st.Labels) != 1 || st.LastAction != "issues.closed" || st.Events != 3 {
		t.Errorf("example state: %+v", st)
	}
}

// TestStripeLibrary: Stripe-Signature from stripe.webhooks.generateTestHeaderString.
func TestStripeLibrary(t *testing.T) {
	e := start(t)
	now := time.Now().Unix()
	body := func(id, customer string) string {
		return fmt.Sprintf(`{"id":%q,"type":"invoice.paid","data":{"object":{"customer":%q}}}`, id, customer)
	}
	reqs := []signReq{
		{Kind: "stripe", Secret: stripeSecret, Payload: body("evt_1", "cus_A"), Timestamp: now},
		{Kind: "stripe", Secret: stripeSecret, Payload: body("evt_2", "cus_A"), Timestamp: now - 30},
		{Kind: "stripe", Secret: stripeSecret, Payload: body("evt_3", "cus_B"), Timestamp: now},
		{Kind: "stripe", Secret: stripeSecret, Payload: body("evt_old", "cus_A"), Timestamp: now - 600},
		{Kind: "stripe", Secret: "whsec_someone_else", Payload: body("evt_forged", "cus_A"), Timestamp: now},
	}
	e.postTimestamped("/hooks/stripe", reqs, 0)
	a := e.events("stripe-"+e.run+"-cus_A", 2)
	b := e.events("stripe-"+e.run+"-cus_B", 1)
	if a[0].Dedup != "evt_1" || a[1].Dedup != "evt_2" || b[0].Dedup != "evt_3" || a[0].EventType != "invoice.paid" {
		t.Errorf("stripe events: %+v %+v", a, b)
	}
}

// TestStandardWebhooksLibrary: webhook-* headers from the standardwebhooks package.
func TestStandardWebhooksLibrary(t *testing.T) {
	e := start(t)
	now := time.Now().Unix()
	body := func(n int) string {
		return fmt.Sprintf(`{"type":"user.created","data":{"account":"acct_1","n":%d}}`, n)
	}
	reqs := []signReq{
		{Kind: "standard", Secret: standardSecret, ID: "msg_1", Payload: body(1), Timestamp: now},
		{Kind: "standard", Secret: standardSecret, ID: "msg_2", Payload: body(2), Timestamp: now},
		{Kind: "standard", Secret: standardSecret, ID: "msg_old", Payload: body(3), Timestamp: now - 3600},
		{Kind: "standard", Secret: "whsec_" + "b3RoZXIgc2VjcmV0IGtleQ==", ID: "msg_forged", Payload: body(4), Timestamp: now},
	}
	e.postTimestamped("/hooks/standard", reqs, 1)
	got := e.events("standard-"+e.run+"-acct_1", 2)
	if got[0].Dedup != "msg_1" || got[1].Dedup != "msg_2" {
		t.Errorf("standard events: %+v", got)
	}
}
