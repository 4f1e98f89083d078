package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/callback"
	"github.com/hookflow/hookflow/internal/callback/callbacktest"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/generator/generatortest"
	"github.com/hookflow/hookflow/internal/jobs"
	"github.com/hookflow/hookflow/internal/samples"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

const (
	jobsPath     = "/api/v1/generate-descriptions"
	acmeSecret   = "acme-secret"
	seedSecret   = "your-shared-secret" // the seed Python client's, client "default"
	genKey       = "sk-test"
	genModel     = "gpt-4o-mini"
	adminToken   = "admin-token"
	publicIP     = "93.184.216.34"
	jobsClients  = "acme:" + acmeSecret + ",globex:globex-secret"
	testMaxLots  = "6"
	testMaxImage = "3"
)

// fakeResolver answers the submission-time SSRF check from a table; names
// it does not know fail (tests never reach out to real DNS).
type fakeResolver map[string][]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

var testHosts = fakeResolver{
	"example.com":     {publicIP},
	"img.example":     {publicIP},
	"your-domain.com": {publicIP},
	"loopback.test":   {"127.0.0.1"},
	"intranet.test":   {publicIP, "10.1.2.3"},
	"metadata.test":   {"169.254.169.254"},
	// At submission "localhost" is made to look public; at connect time the
	// system resolver says 127.0.0.1: a DNS-rebinding stand-in.
	"localhost": {publicIP},
}

type jobsEnv struct {
	cfg config.Config
	st  *store.Store
	tmp *testenv.DevServer
	api *app.App
	gen *generatortest.Server
	rcv *callbacktest.Receiver
}

// startJobs runs hookflow (the given roles) with a generator fake and a
// callback receiver verifying with the client acme's secret.
func startJobs(t *testing.T, roles app.Roles, vars map[string]string) *jobsEnv {
	t.Helper()
	t.Cleanup(api.SetJobsResolver(testHosts))
	e := &jobsEnv{gen: generatortest.New(genKey, genModel), rcv: callbacktest.New(acmeSecret)}
	t.Cleanup(e.gen.Close)
	t.Cleanup(e.rcv.Close)
	base := map[string]string{
		"JOBS_CLIENTS":                    jobsClients,
		"JOBS_SHARED_SECRET":              seedSecret,
		"JOBS_MAX_LOTS":                   testMaxLots,
		"JOBS_MAX_IMAGES_PER_LOT":         testMaxImage,
		"GENERATOR_URL":                   e.gen.URL(),
		"GENERATOR_API_KEY":               genKey,
		"GENERATOR_MODEL":                 genModel,
		"GENERATOR_CONCURRENCY":           "2",
		"GENERATOR_RETRY_BASE":            "50ms",
		"CALLBACK_RETRY_BASE":             "3s",
		"CALLBACK_TIMEOUT":                "5s",
		"CALLBACK_ALLOW_PRIVATE_NETWORKS": "true",
		"ADMIN_TOKEN":                     adminToken,
	}
	for k, v := range vars {
		base[k] = v
	}
	var dbURL string
	dbURL, e.st = testenv.Database(t)
	e.tmp = testenv.Temporal(t)
	e.cfg = testenv.Config(t, dbURL, e.tmp, base)
	e.api = testenv.StartApp(t, e.cfg, roles)
	return e
}

func hmacHex(secret string, data []byte) string { return samples.HMACHex(secret, data) }

// jobBody builds a submission the seed's way (samples.JobSubmission, which
// hookflow trigger job sends too): "signature" is the HMAC of the lots
// value exactly as it appears in the body.
func jobBody(secret, webhookURL string, languages []string, lots ...jobs.Lot) []byte {
	return samples.JobSubmission(secret, webhookURL, languages, lots...)
}

func lot(id string, n int) jobs.Lot { return samples.JobLot("https://img.example", id, n) }

func submit(t *testing.T, a *app.App, body []byte, headers map[string]string) api.JobAccepted {
	t.Helper()
	var acc api.JobAccepted
	var raw map[string]any
	if code := call(t, "POST", a.URL()+jobsPath, body, headers, &raw); code != 202 {
		t.Fatalf("submission answered %d %v", code, raw)
	}
	b, _ := json.Marshal(raw)
	_ = json.Unmarshal(b, &acc)
	if acc.Status != "queued" || acc.JobID == "" || !strings.HasSuffix(acc.StatusURL, "/api/v1/jobs/"+acc.JobID+"/status") ||
		!strings.HasSuffix(acc.ResultsURL, "/api/v1/jobs/"+acc.JobID+"/results") {
		t.Fatalf("202 body %v", raw)
	}
	return acc
}

func jobStatus(t *testing.T, a *app.App, id string) api.JobStatus {
	t.Helper()
	var st api.JobStatus
	if code := call(t, "GET", a.URL()+"/api/v1/jobs/"+id+"/status", nil, nil, &st); code != 200 {
		t.Fatalf("status answered %d", code)
	}
	return st
}

func waitStatus(t *testing.T, a *app.App, id string, cond func(api.JobStatus) error) api.JobStatus {
	t.Helper()
	var st api.JobStatus
	testenv.Eventually(t, 60*time.Second, func() error {
		st = jobStatus(t, a, id)
		return cond(st)
	})
	return st
}

func callbackIs(status string, attempts int) func(api.JobStatus) error {
	return func(st api.JobStatus) error {
		if st.Callback == nil || st.Callback.Status != status || st.Callback.Attempts != attempts {
			return fmt.Errorf("callback %+v, want %s after %d attempts", st.Callback, status, attempts)
		}
		return nil
	}
}

// TestJobsPartialFailure runs a job end to end: five lots, of which the
// generator answers two, refuses one permanently (400), fails one on every
// attempt (500, retried 3 times) and leaves a language out of one. The job
// is partially_completed with the right counts, the results hold exactly the
// generator's descriptions, and the callback arrives once with the seed's
// payload and headers, signed with the submitting client's secret.
func TestJobsPartialFailure(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	e := startJobs(t, app.Roles{API: true, Worker: true}, nil)
	e.gen.FailLot("bad", 400, 0)
	e.gen.FailLot("flaky", 500, 0)
	e.gen.OmitLanguage("mute", "ru")
	body := jobBody(acmeSecret, e.rcv.URL(), []string{"en", "ru"}, lot("car_001", 2), lot("bad", 1), lot("flaky", 1), lot("mute", 1), lot("car_005", 3))
	acc := submit(t, e.api, body, nil)
	if acc.TotalLots != 5 {
		t.Fatalf("total_lots %d", acc.TotalLots)
	}

	st := waitStatus(t, e.api, acc.JobID, callbackIs("delivered", 1))
	if st.Status != "partially_completed" || st.TotalLots != 5 || st.CompletedLots != 2 || st.FailedLots != 3 || st.Progress != 100 ||
		st.FinishedAt == nil || st.StartedAt == nil {
		t.Fatalf("status %+v", st)
	}
	if cb := st.Callback; cb.LastStatus == nil || *cb.LastStatus != 200 || cb.LastError != nil || cb.NextAttemptAt != nil || cb.WebhookID != "msg_"+cb.DeliveryID {
		t.Fatalf("callback %+v", cb)
	}

	// Generator calls: one per lot, three for the retried one.
	for lotID, want := range map[string]int{"car_001": 1, "bad": 1, "flaky": 3, "mute": 1, "car_005": 1} {
		reqs := e.gen.RequestsFor(lotID)
		if len(reqs) != want {
			t.Errorf("lot %s: %d generator requests, want %d", lotID, len(reqs), want)
		}
		for _, r := range reqs {
			if r.ShapeErr != "" || strings.Join(r.Languages, ",") != "en,ru" {
				t.Errorf("lot %s: request %+v", lotID, r)
			}
		}
	}

	var res api.JobResults
	if code := call(t, "GET", e.api.URL()+"/api/v1/jobs/"+acc.JobID+"/results", nil, nil, &res); code != 200 {
		t.Fatalf("results answered %d", code)
	}
	if res.Status != "partially_completed" || len(res.Results) != 5 || strings.Join(res.Languages, ",") != "en,ru" {
		t.Fatalf("results %+v", res)
	}
	images := map[string]int{"car_001": 2, "car_005": 3}
	for _, r := range res.Results {
		switch r.LotID {
		case "car_001", "car_005":
			if r.Status != "completed" || r.Error != nil || len(r.Descriptions) != 2 ||
				r.Descriptions["en"] != generatortest.Description("en", r.LotID, images[r.LotID]) ||
				r.Descriptions["ru"] != generatortest.Description("ru", r.LotID, images[r.LotID]) {
				t.Errorf("lot %s: %+v", r.LotID, r)
			}
		default:
			want := map[string]string{"bad": "HTTP 400", "flaky": "HTTP 500", "mute": "missing or empty languages ru"}[r.LotID]
			if r.Status != "failed" || r.Descriptions != nil || r.Error == nil || !strings.Contains(*r.Error, want) {
				t.Errorf("lot %s: %+v (want failed with %q)", r.LotID, r, want)
			}
		}
	}

	ds := e.rcv.Deliveries()
	if len(ds) != 1 {
		t.Fatalf("receiver got %d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if !d.Verified() || d.PayloadErr != "" {
		t.Fatalf("delivery not verified with the client's secret: %+v", d)
	}
	want := callback.Payload{JobID: acc.JobID, Status: "partially_completed", Timestamp: callback.FormatTimestamp(*st.FinishedAt),
		TotalLots: 5, CompletedLots: 2, FailedLots: 3, WebhookURL: e.rcv.URL(), ResultsAvailable: true}
	if d.Payload != want {
		t.Errorf("payload %+v, want %+v", d.Payload, want)
	}
	for h, v := range map[string]string{"Content-Type": "application/json", "User-Agent": "hookflow/" + app.Version, "webhook-id": "msg_" + st.Callback.DeliveryID} {
		if got := d.Header.Get(h); got != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}

	// The delivery with its recorded attempt; metrics count it.
	var view api.DeliveryView
	if code := call(t, "GET", e.api.URL()+"/api/v1/webhook-deliveries/"+st.Callback.DeliveryID, nil, reader, &view); code != 200 {
		t.Fatalf("delivery answered %d", code)
	}
	if len(view.History) != 1 || view.History[0].StatusCode == nil || *view.History[0].StatusCode != 200 ||
		view.History[0].ResponseSnippet == nil || *view.History[0].ResponseSnippet != `{"success":true}` || view.History[0].LatencyMS <= 0 {
		t.Fatalf("delivery %+v", view)
	}
	var m api.WebhookMetrics
	call(t, "GET", e.api.URL()+"/api/v1/webhook-metrics?hours=24", nil, reader, &m)
	if m.Total != 1 || m.Delivered != 1 || m.Pending != 0 || m.SuccessRate == nil || *m.SuccessRate != 1 ||
		m.AttemptsHisto["1"] != 1 || m.StatusCodeCounts["200"] != 1 || m.LatencyP50MS == nil {
		t.Fatalf("metrics %+v", m)
	}

	// Processed exactly once through the inbound pipeline; outcomes on the runs.
	var outcome string
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT outcome FROM inbound_events WHERE source = 'jobs' AND processed AND entity_id = $1`,
		acc.JobID).Scan(&outcome); err != nil || outcome != "started" {
		t.Fatalf("inbound event outcome %q (%v)", outcome, err)
	}
	for id, want := range map[string]string{"job-" + acc.JobID: "partially_completed", "callback-" + st.Callback.DeliveryID: "delivered"} {
		testenv.Eventually(t, 30*time.Second, func() error {
			desc, err := e.tmp.Client().DescribeWorkflowExecution(context.Background(), id, "")
			if err != nil {
				return err
			}
			sa := desc.WorkflowExecutionInfo.SearchAttributes.GetIndexedFields()["HookflowOutcome"]
			if sa == nil || !strings.Contains(string(sa.GetData()), want) {
				return fmt.Errorf("%s: HookflowOutcome %v, want %s", id, sa, want)
			}
			return nil
		})
	}
	desc, err := e.tmp.Client().DescribeWorkflowExecution(context.Background(), "callback-"+st.Callback.DeliveryID, "")
	if err != nil {
		t.Fatal(err)
	}
	if sa := desc.WorkflowExecutionInfo.SearchAttributes.GetIndexedFields(); !strings.Contains(string(sa["HookflowSource"].GetData()), "callbacks") ||
		!strings.Contains(string(sa["HookflowEntity"].GetData()), "acme") {
		t.Fatalf("callback search attributes %v: want source callbacks, entity the client", sa)
	}
	writeHistoryAs(t, e.api, "job-"+acc.JobID, "job.json")
}

// TestJobsSmallJobRunsWithoutActivityTasks: a job whose lots fit in one
// round (one lot here) makes its first attempts as local activities and
// starts its callback series through the client, and the series makes its
// first attempt as a local activity: neither run schedules an activity task
// or a child workflow (each would cost a round trip through the server),
// and every step still shows in the histories as a marker. The job's
// and callback's histories are recorded as job-small.json and
// callback-small.json (UPDATE_HISTORY=1) for the replay test.
func TestJobsSmallJobRunsWithoutActivityTasks(t *testing.T) {
	e := startJobs(t, app.Roles{API: true, Worker: true}, nil)
	acc := submit(t, e.api, jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, lot("car_001", 2)), nil)
	st := waitStatus(t, e.api, acc.JobID, callbackIs("delivered", 1))
	if st.Status != "completed" || len(e.rcv.Deliveries()) != 1 || !e.rcv.Deliveries()[0].Verified() {
		t.Fatalf("status %+v, %d callbacks", st, len(e.rcv.Deliveries()))
	}
	const localActivity = enums.EventType(-1) // markers of local activities (the others are versions)
	shape := func(workflowID string) map[enums.EventType]int {
		n := map[enums.EventType]int{}
		testenv.Eventually(t, 30*time.Second, func() error {
			n = map[enums.EventType]int{}
			iter := e.tmp.Client().GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for iter.HasNext() {
				ev, err := iter.Next()
				if err != nil {
					return err
				}
				n[ev.GetEventType()]++
				if ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
					n[localActivity]++
				}
			}
			if n[enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED] != 1 {
				return fmt.Errorf("%s has not completed: %v", workflowID, n)
			}
			return nil
		})
		return n
	}
	job, cb := shape("job-"+acc.JobID), shape("callback-"+st.Callback.DeliveryID)
	// JobStart, JobGenerateLots, JobFinish, JobStartCallback; CallbackDeliver.
	if job[enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED] != 0 || job[enums.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED] != 0 ||
		job[localActivity] != 4 {
		t.Errorf("job history %v: want 4 local activities, no activity task, no child", job)
	}
	if cb[enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED] != 0 || cb[localActivity] != 1 {
		t.Errorf("callback history %v: want the attempt as one marker, no activity task", cb)
	}
	writeHistoryAs(t, e.api, "job-"+acc.JobID, "job-small.json")
	writeHistoryAs(t, e.api, "callback-"+st.Callback.DeliveryID, "callback-small.json")
}

// TestJobsCallbackSurvivesWorkerRestart: API and worker run in separate
// processes (Apps). The receiver fails the first attempt; the worker is
// stopped while the retry waits on its timer, a retry request meanwhile is
// refused (the series is pending), a new worker takes over, and the callback
// arrives exactly once, on the second attempt, with the same webhook-id and
// bytes. An admin retry then starts a new series with the same webhook-id.
func TestJobsCallbackSurvivesWorkerRestart(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	// The wait between the attempts is what the worker restart must fit in.
	e := startJobs(t, app.Roles{API: true}, map[string]string{"CALLBACK_RETRY_BASE": "5s"})
	ctx := context.Background()
	w1 := testenv.StartStoppable(t, e.cfg, app.Roles{Worker: true})
	e.rcv.FailNext(1, 500)
	acc := submit(t, e.api, jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, lot("car_001", 1)), nil)
	st := waitStatus(t, e.api, acc.JobID, callbackIs("pending", 1))
	if st.Status != "completed" || st.Callback.LastStatus == nil || *st.Callback.LastStatus != 500 || st.Callback.NextAttemptAt == nil ||
		st.Callback.LastError == nil || !strings.Contains(*st.Callback.LastError, "500") {
		t.Fatalf("after the first attempt: %+v %+v", st, st.Callback)
	}

	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	w1.Stop(stopCtx)
	cancel()
	if n := len(e.rcv.Deliveries()); n != 1 {
		t.Fatalf("%d deliveries before the new worker started, want the first attempt only", n)
	}
	deliveryURL := e.api.URL() + "/api/v1/webhook-deliveries/" + st.Callback.DeliveryID
	var refused map[string]any
	if code := call(t, "POST", deliveryURL+"/retry", nil, map[string]string{"Authorization": "Bearer " + adminToken}, &refused); code != 409 {
		t.Fatalf("retry of a pending delivery: %d %v", code, refused)
	}
	var health api.WebhookHealth
	call(t, "GET", e.api.URL()+"/api/v1/webhook-health", nil, reader, &health)
	if health.Pending != 1 || health.Status != "healthy" {
		t.Fatalf("health with one delivery waiting: %+v", health)
	}

	testenv.StartApp(t, e.cfg, app.Roles{Worker: true})
	st = waitStatus(t, e.api, acc.JobID, callbackIs("delivered", 2))
	ds := e.rcv.Deliveries()
	if len(ds) != 2 || ds[0].Status != 500 || ds[1].Status != 200 {
		t.Fatalf("deliveries %d: %+v", len(ds), ds)
	}
	if !bytes.Equal(ds[0].Body, ds[1].Body) || ds[0].Header.Get("webhook-id") != ds[1].Header.Get("webhook-id") || !ds[1].Verified() {
		t.Fatal("the retry changed the body or the webhook-id, or did not verify")
	}
	wait := ds[1].ReceivedAt.Sub(ds[0].ReceivedAt)
	if wait < 5*time.Second {
		t.Fatalf("second attempt %s after the first, before CALLBACK_RETRY_BASE=5s", wait)
	}
	// The series is over: its workflow completed, so no further attempt comes.
	testenv.Eventually(t, 30*time.Second, func() error {
		desc, err := e.tmp.Client().DescribeWorkflowExecution(ctx, "callback-"+st.Callback.DeliveryID, "")
		if err != nil || desc.WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			return fmt.Errorf("callback workflow: %v %v", desc.GetWorkflowExecutionInfo().GetStatus(), err)
		}
		return nil
	})
	writeHistoryAs(t, e.api, "callback-"+st.Callback.DeliveryID, "callback.json")
	var view api.DeliveryView
	call(t, "GET", deliveryURL, nil, reader, &view)
	if len(view.History) != 2 || *view.History[0].StatusCode != 500 || *view.History[1].StatusCode != 200 ||
		view.History[0].Attempt != 1 || view.History[1].Attempt != 2 {
		t.Fatalf("attempts %+v", view.History)
	}

	// Manual retry: admin only, a new series, the same webhook-id.
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}} {
		if code := call(t, "POST", deliveryURL+"/retry", nil, h, nil); code != 401 {
			t.Fatalf("retry without the admin token: %d", code)
		}
	}
	if code := call(t, "POST", e.api.URL()+"/api/v1/webhook-deliveries/3f1c2d4e-0000-4000-8000-000000000000/retry", nil, map[string]string{"Authorization": "Bearer " + adminToken}, nil); code != 404 {
		t.Fatalf("retry of an unknown delivery: %d", code)
	}
	var retried map[string]any
	if code := call(t, "POST", deliveryURL+"/retry", nil, map[string]string{"Authorization": "Bearer " + adminToken}, &retried); code != 202 {
		t.Fatalf("retry: %d %v", code, retried)
	}
	if retried["workflow_id"] != "callback-"+st.Callback.DeliveryID+"-retry-1" || retried["series"] != float64(2) || retried["first_attempt"] != float64(3) {
		t.Fatalf("retry answer %v", retried)
	}
	waitStatus(t, e.api, acc.JobID, callbackIs("delivered", 3))
	ds = e.rcv.Deliveries()
	if len(ds) != 3 || ds[2].Header.Get("webhook-id") != "msg_"+st.Callback.DeliveryID || !bytes.Equal(ds[2].Body, ds[0].Body) || !ds[2].Verified() {
		t.Fatalf("retry series delivery: %d deliveries, last %+v", len(ds), ds[len(ds)-1])
	}
}

// TestJobsSubmission: the seed's Python client is accepted (body signature
// and X-Signature), every client error gets its status and field, and
// Idempotency-Key replays or conflicts. No worker runs: accepted jobs stay
// queued.
func TestJobsSubmission(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	e := startJobs(t, app.Roles{API: true}, map[string]string{"BODY_LIMIT_BYTES": "8192"})
	url := e.api.URL() + jobsPath

	py, err := os.ReadFile(filepath.Join("..", "internal", "jobs", "testdata", "python_submission.json"))
	if err != nil {
		t.Fatal(err)
	}
	pyXSig, err := os.ReadFile(filepath.Join("..", "internal", "jobs", "testdata", "python_submission.x-signature"))
	if err != nil {
		t.Fatal(err)
	}
	pyJob := submit(t, e.api, py, nil)
	if pyJob.TotalLots != 2 {
		t.Fatalf("python job %+v", pyJob)
	}
	submit(t, e.api, py, map[string]string{"X-Signature": strings.TrimSpace(string(pyXSig))})
	// X-Signature alone (over the whole raw body) authenticates too.
	var pySub struct{ Signature string }
	_ = json.Unmarshal(py, &pySub)
	noBodySig := bytes.Replace(py, []byte(`, "signature": "`+pySub.Signature+`"`), nil, 1)
	if bytes.Equal(noBodySig, py) {
		t.Fatal("the fixture's signature field was not where Python puts it")
	}
	submit(t, e.api, noBodySig, map[string]string{"X-Signature": hmacHex(seedSecret, noBodySig)})
	var unsigned api.ErrorBody
	if code := call(t, "POST", url, noBodySig, nil, &unsigned); code != 401 {
		t.Fatalf("python body without any signature: %d %+v", code, unsigned)
	}

	good := func() []jobs.Lot { return []jobs.Lot{lot("a", 1), lot("b", 2)} }
	signedOver := func(rawLots string) []byte {
		return []byte(fmt.Sprintf(`{"signature": %q, "languages": ["en"], "lots": %s}`, hmacHex(acmeSecret, []byte(rawLots)), rawLots))
	}
	tests := []struct {
		name    string
		body    []byte
		headers map[string]string
		code    int
		field   string
		errHas  string
	}{
		{"malformed JSON", []byte(`{"lots": [`), nil, 400, "body", "invalid JSON"},
		{"lots not an array", signedOver(`{"lot_id": "a"}`), nil, 400, "lots", "array"},
		{"languages not strings", []byte(`{"languages": "en", "lots": []}`), nil, 400, "languages", ""},
		{"no signature", []byte(`{"languages": ["en"], "lots": [{"lot_id": "a", "images": ["https://img.example/1.jpg"]}]}`), nil, 401, "signature", "no signature"},
		{"wrong secret", jobBody("not-the-secret", "", []string{"en"}, good()...), nil, 401, "signature", "does not match"},
		{"signature over re-encoded lots", func() []byte {
			b := jobBody(acmeSecret, "", []string{"en"}, good()...)
			return bytes.Replace(b, []byte(`"lot_id":"a"`), []byte(`"lot_id": "a"`), 1)
		}(), nil, 401, "signature", "does not match"},
		{"wrong X-Signature", []byte(`{"languages": ["en"], "lots": []}`), map[string]string{"X-Signature": hmacHex(acmeSecret, []byte("other"))}, 401, "X-Signature", ""},
		{"empty lots", signedOver(`[]`), nil, 422, "lots", "at least one lot"},
		{"duplicate lot_id", jobBody(acmeSecret, "", []string{"en"}, lot("a", 1), lot("a", 1)), nil, 422, "lots[1].lot_id", "duplicate"},
		{"non-http image", jobBody(acmeSecret, "", []string{"en"}, jobs.Lot{LotID: "a", Images: []string{"ftp://img.example/1.jpg"}}), nil, 422, "lots[0].images[0]", "http(s)"},
		{"no images", jobBody(acmeSecret, "", []string{"en"}, jobs.Lot{LotID: "a"}), nil, 422, "lots[0].images", "at least one image"},
		{"unknown language", jobBody(acmeSecret, "", []string{"xx"}, good()...), nil, 422, "languages[0]", "unknown language"},
		{"upper-case language", jobBody(acmeSecret, "", []string{"EN"}, good()...), nil, 422, "languages[0]", `must be written "en"`},
		{"no languages", jobBody(acmeSecret, "", nil, good()...), nil, 422, "languages", "at least one language"},
		{"too many lots", jobBody(acmeSecret, "", []string{"en"}, lot("1", 1), lot("2", 1), lot("3", 1), lot("4", 1), lot("5", 1), lot("6", 1), lot("7", 1)), nil, 422, "lots", "7 lots, at most 6"},
		{"too many images", jobBody(acmeSecret, "", []string{"en"}, lot("a", 4)), nil, 422, "lots[0].images", "4 images, at most 3"},
		{"non-http webhook_url", jobBody(acmeSecret, "ftp://your-domain.com/hook", []string{"en"}, good()...), nil, 422, "webhook_url", "http(s)"},
		{"metadata webhook even with private networks allowed", jobBody(acmeSecret, "http://169.254.169.254/latest/meta-data/", []string{"en"}, good()...), nil, 422, "webhook_url", "cloud metadata"},
		{"unresolvable image host", jobBody(acmeSecret, "", []string{"en"}, jobs.Lot{LotID: "a", Images: []string{"https://nowhere.invalid/1.jpg"}}), nil, 422, "lots[0].images[0]", "resolve host"},
		{"oversize body", jobBody(acmeSecret, "", []string{"en"}, jobs.Lot{LotID: strings.Repeat("x", 9000), Images: []string{"https://img.example/1.jpg"}}), nil, 413, "", "larger than"},
		{"Idempotency-Key too long", jobBody(acmeSecret, "", []string{"en"}, good()...), map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}, 400, "Idempotency-Key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body api.ErrorBody
			code := call(t, "POST", url, tt.body, tt.headers, &body)
			if code != tt.code || body.Field != tt.field || !strings.Contains(body.Error, tt.errHas) || body.Error == "" {
				t.Fatalf("answered %d %+v, want %d field %q containing %q", code, body, tt.code, tt.field, tt.errHas)
			}
			if strings.Contains(body.Error, acmeSecret) || strings.Contains(body.Error, seedSecret) {
				t.Fatal("an error message shows a secret")
			}
		})
	}
	// Every problem is listed, not only the first.
	var multi api.ErrorBody
	if code := call(t, "POST", url, jobBody(acmeSecret, "", []string{"xx"}, lot("a", 1), lot("a", 0)), nil, &multi); code != 422 {
		t.Fatalf("multi-error submission: %d", code)
	}
	if details, _ := json.Marshal(multi.Details); !strings.Contains(string(details), "languages[0]") || !strings.Contains(string(details), "lots[1].lot_id") ||
		!strings.Contains(string(details), "lots[1].images") {
		t.Fatalf("details %s", details)
	}

	// Idempotency-Key: same key and body, same job; other body, 409; keys are per client.
	key := map[string]string{"Idempotency-Key": "order-42"}
	first := submit(t, e.api, jobBody(acmeSecret, "", []string{"en"}, good()...), key)
	again := submit(t, e.api, jobBody(acmeSecret, "", []string{"en"}, good()...), key)
	if again != first {
		t.Fatalf("replay answered %+v, first %+v", again, first)
	}
	var conflict api.ErrorBody
	if code := call(t, "POST", url, jobBody(acmeSecret, "", []string{"ru"}, good()...), key, &conflict); code != 409 || conflict.Field != "Idempotency-Key" {
		t.Fatalf("same key, other body: %d %+v", code, conflict)
	}
	other := submit(t, e.api, jobBody("globex-secret", "", []string{"en"}, good()...), key)
	if other.JobID == first.JobID {
		t.Fatal("another client's key matched acme's job")
	}
	var nJobs, nEvents int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM inbound_events WHERE source = 'jobs')`).Scan(&nJobs, &nEvents); err != nil {
		t.Fatal(err)
	}
	if nJobs != 5 || nEvents != 5 {
		t.Fatalf("%d jobs and %d events stored, want 5 each (python thrice, acme once, globex once)", nJobs, nEvents)
	}

	// A queued job: live status, results not yet, unknown ids.
	st := jobStatus(t, e.api, pyJob.JobID)
	if st.Status != "queued" || st.Progress != 0 || st.TotalLots != 2 || st.Callback == nil || st.Callback.Status != "waiting_for_job" {
		t.Fatalf("queued status %+v", st)
	}
	if st := jobStatus(t, e.api, first.JobID); st.Callback != nil {
		t.Fatalf("a job without webhook_url shows a callback: %+v", st.Callback)
	}
	var notYet api.ErrorBody
	if code := call(t, "GET", e.api.URL()+"/api/v1/jobs/"+pyJob.JobID+"/results", nil, nil, &notYet); code != 409 || !strings.Contains(notYet.Error, "queued") {
		t.Fatalf("results of a queued job: %d %+v", code, notYet)
	}
	for _, p := range []string{"/api/v1/jobs/3f1c2d4e-0000-4000-8000-000000000000/status", "/api/v1/jobs/3f1c2d4e-0000-4000-8000-000000000000/results", "/api/v1/jobs/nope/status"} {
		if code := call(t, "GET", e.api.URL()+p, nil, nil, nil); code != 404 {
			t.Fatalf("GET %s: %d", p, code)
		}
	}
}

// TestJobsSSRF: with private networks not allowed, webhook_url and image
// URLs on loopback, RFC 1918 and the metadata address, literal or behind a
// host name, are refused at submission and nothing is stored. A host that
// looked public at submission but connects to 127.0.0.1 (rebinding) is
// refused again by the dialer: the attempt fails permanently and the
// receiver never sees a request.
func TestJobsSSRF(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	e := startJobs(t, app.Roles{API: true, Worker: true}, map[string]string{"CALLBACK_ALLOW_PRIVATE_NETWORKS": "false"})
	refused := map[string]string{
		"http://127.0.0.1:9/hook":                  "loopback",
		"http://10.0.0.1/hook":                     "private (RFC 1918)",
		"http://10.255.1.2:8080/hook":              "private (RFC 1918)",
		"http://169.254.169.254/latest/meta-data/": "cloud metadata service",
		"http://loopback.test/hook":                `"loopback.test" resolves to 127.0.0.1, a loopback address`,
		"http://intranet.test/hook":                `"intranet.test" resolves to 10.1.2.3, a private (RFC 1918) address`,
		"http://metadata.test/hook":                `"metadata.test" resolves to 169.254.169.254, a cloud metadata service address`,
		"http://[::1]:9/hook":                      "loopback",
	}
	for u, want := range refused {
		var hook, img api.ErrorBody
		if code := call(t, "POST", e.api.URL()+jobsPath, jobBody(acmeSecret, u, []string{"en"}, lot("a", 1)), nil, &hook); code != 422 ||
			hook.Field != "webhook_url" || !strings.Contains(hook.Error, want) {
			t.Errorf("webhook_url %s: %d %+v, want 422 naming %q", u, code, hook, want)
		}
		if code := call(t, "POST", e.api.URL()+jobsPath, jobBody(acmeSecret, "", []string{"en"}, jobs.Lot{LotID: "a", Images: []string{"https://img.example/1.jpg", u}}), nil, &img); code != 422 ||
			img.Field != "lots[0].images[1]" || !strings.Contains(img.Error, want) {
			t.Errorf("image %s: %d %+v", u, code, img)
		}
	}
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM jobs`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d jobs stored after refusals (%v)", n, err)
	}

	_, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimSuffix(e.rcv.URL(), callbacktest.Path), "http://"))
	rebinding := "http://localhost:" + port + callbacktest.Path
	acc := submit(t, e.api, jobBody(acmeSecret, rebinding, []string{"en"}, lot("a", 1)), nil)
	st := waitStatus(t, e.api, acc.JobID, callbackIs("failed", 1))
	if st.Callback.LastError == nil || !strings.Contains(*st.Callback.LastError, "is a loopback address") || st.Callback.LastStatus != nil {
		t.Fatalf("callback %+v", st.Callback)
	}
	if n := len(e.rcv.Deliveries()); n != 0 {
		t.Fatalf("the receiver on 127.0.0.1 got %d requests", n)
	}
	var failures struct {
		Failures []api.DeliveryView `json:"failures"`
		Count    int                `json:"count"`
	}
	call(t, "GET", e.api.URL()+"/api/v1/webhook-failures?limit=10", nil, reader, &failures)
	if failures.Count != 1 || failures.Failures[0].JobID != acc.JobID || failures.Failures[0].LastError == nil || failures.Failures[0].URL != rebinding {
		t.Fatalf("failures %+v", failures)
	}
	var health api.WebhookHealth
	call(t, "GET", e.api.URL()+"/api/v1/webhook-health", nil, reader, &health)
	if health.Status != "degraded" || health.RecentFailed != 1 || len(health.Reasons) != 1 || !strings.Contains(health.Reasons[0], "failure rate") {
		t.Fatalf("health %+v", health)
	}
	var bad api.ErrorBody
	if code := call(t, "GET", e.api.URL()+"/api/v1/webhook-failures?limit=0", nil, reader, &bad); code != 400 || bad.Field != "limit" {
		t.Fatalf("limit=0: %d %+v", code, bad)
	}
	call(t, "GET", e.api.URL()+"/api/v1/webhook-failures?until=2000-01-01T00:00:00Z", nil, reader, &failures)
	if failures.Count != 0 {
		t.Fatalf("failures before 2000: %+v", failures)
	}
	for q, field := range map[string]string{"since=today": "since", "cursor=%21": "cursor"} {
		if code := call(t, "GET", e.api.URL()+"/api/v1/webhook-failures?"+q, nil, reader, &bad); code != 400 || bad.Field != field {
			t.Fatalf("%s: %d %+v", q, code, bad)
		}
	}
}

// TestJobsWithoutGenerator: with no GENERATOR_URL every lot fails at once
// with an error saying so, the job is failed, and nothing is made up.
func TestJobsWithoutGenerator(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	e := startJobs(t, app.Roles{API: true, Worker: true}, map[string]string{"GENERATOR_URL": ""})
	acc := submit(t, e.api, jobBody(acmeSecret, "", []string{"en"}, lot("a", 1), lot("b", 2)), nil)
	st := waitStatus(t, e.api, acc.JobID, func(st api.JobStatus) error {
		if st.Status != "failed" {
			return fmt.Errorf("status %s", st.Status)
		}
		return nil
	})
	if st.FailedLots != 2 || st.CompletedLots != 0 || st.Callback != nil {
		t.Fatalf("status %+v", st)
	}
	var res api.JobResults
	call(t, "GET", e.api.URL()+"/api/v1/jobs/"+acc.JobID+"/results", nil, nil, &res)
	for _, r := range res.Results {
		if r.Status != "failed" || r.Descriptions != nil || r.Error == nil || !strings.Contains(*r.Error, "no generator configured: set GENERATOR_URL") || r.Attempts != 1 {
			t.Errorf("lot %+v", r)
		}
	}
	if n := len(e.gen.Requests()); n != 0 {
		t.Fatalf("%d generator requests", n)
	}
}
