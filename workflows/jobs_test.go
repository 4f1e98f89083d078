package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/callback"
	"github.com/hookflow/hookflow/internal/callback/callbacktest"
	"github.com/hookflow/hookflow/workflows"
)

// jobActs names the job activities in mocks.
var jobActs *activities.Jobs

const cbSecret = "your-shared-secret-key"

func newJobsEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	return newTestEnv(&activities.Jobs{}, jobWorkflows...)
}

// callbackRun is what one CallbackDelivery run did: the workflow-clock
// offset of every attempt from the start, and every recorded attempt.
type callbackRun struct {
	offsets []time.Duration
	records []activities.AttemptRecord
	result  workflows.CallbackResult
	err     error
}

// runCallback runs CallbackDelivery against a real callbacktest receiver
// answering script: the mocked activity only skips loading the delivery row;
// the HTTP attempt, its signatures and the classification of the answer
// (status codes, Retry-After) are the real callback.Deliver's. The schedule
// runs on the test environment's skipped clock.
func runCallback(t *testing.T, in workflows.CallbackInput, script []callbacktest.Response, deliverErrs ...error) callbackRun {
	t.Helper()
	rcv := callbacktest.New(cbSecret)
	t.Cleanup(rcv.Close)
	rcv.Script(script...)
	body, err := callback.NewPayload("365a09ce-5416-49b5-8471-d6aad042761c", time.Now(), 3, 3, 0, rcv.URL()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, e := range deliverErrs {
		if e != nil {
			lost++
		}
	}
	env := newJobsEnv(t)
	start := env.Now()
	var run callbackRun
	env.OnActivity(jobActs.CallbackDeliver, mockAny, mockAny).Return(
		func(ctx context.Context, di activities.DeliverInput) (activities.DeliverResult, error) {
			run.offsets = append(run.offsets, env.Now().Sub(start))
			if len(deliverErrs) > 0 {
				err := deliverErrs[0]
				deliverErrs = deliverErrs[1:]
				if err != nil {
					return activities.DeliverResult{}, err
				}
			}
			a := callback.Deliver(ctx, rcv.Client(), callback.Request{URL: rcv.URL(), Body: body, Secret: cbSecret,
				WebhookID: "msg_test", UserAgent: callback.UserAgent("test"), Timeout: di.Timeout})
			return activities.DeliverResult{Attempt: a, AttemptedAt: env.Now()}, nil
		})
	env.OnActivity(jobActs.CallbackRecordAttempt, mockAny, mockAny).Return(
		func(_ context.Context, r activities.AttemptRecord) error {
			run.records = append(run.records, r)
			return nil
		})
	env.ExecuteWorkflow("CallbackDelivery", in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	run.err = env.GetWorkflowError()
	if run.err == nil {
		if err := env.GetWorkflowResult(&run.result); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range rcv.Deliveries() {
		if !d.Stalled && !d.Verified() {
			t.Errorf("receiver could not verify an attempt: X-Signature %v, standard %v (%s)", d.SignatureOK, d.StandardOK, d.StandardErr)
		}
	}
	if n := len(rcv.Deliveries()); n != len(run.offsets)-lost {
		t.Errorf("receiver saw %d requests for %d attempts (%d lost before sending)", n, len(run.offsets), lost)
	}
	return run
}

func seedInput() workflows.CallbackInput {
	return workflows.CallbackInput{DeliveryID: "d42", JobID: "365a09ce-5416-49b5-8471-d6aad042761c", Series: 1, FirstAttempt: 1,
		Schedule: callback.DefaultSchedule(), Timeout: 2 * time.Second}
}

func status(code int) callbacktest.Response { return callbacktest.Response{Status: code} }

func minutes(ms ...float64) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m * float64(time.Minute))
	}
	return out
}

// TestCallbackScheduleExact: a receiver that always answers 500 gets the
// first attempt at once and retries after 1, 2, 4, 8 and 16 minutes: six
// attempts, then the delivery is failed. Each recorded attempt names when
// the next one is due.
func TestCallbackScheduleExact(t *testing.T) {
	var script []callbacktest.Response
	for range 10 {
		script = append(script, status(500))
	}
	run := runCallback(t, seedInput(), script)
	if run.err != nil {
		t.Fatal(run.err)
	}
	want := minutes(0, 1, 3, 7, 15, 31)
	if !slices.Equal(run.offsets, want) {
		t.Fatalf("attempts at %v, want %v", run.offsets, want)
	}
	if run.result != (workflows.CallbackResult{Status: "failed", Attempts: 6}) {
		t.Fatalf("result %+v", run.result)
	}
	if len(run.records) != 6 {
		t.Fatalf("%d attempts recorded, want 6", len(run.records))
	}
	for i, r := range run.records {
		if r.Attempt != i+1 || r.Series != 1 || r.DeliveryID != "d42" || r.Result.StatusCode != 500 || r.Result.Outcome != callback.OutcomeRetryable {
			t.Errorf("record %d: %+v", i, r)
		}
		if !strings.Contains(r.Result.ResponseSnippet, "Internal Server Error") {
			t.Errorf("record %d: response snippet %q", i, r.Result.ResponseSnippet)
		}
		if i < 5 {
			if r.DeliveryStatus != "pending" || r.NextAttemptAt == nil || r.NextAttemptAt.Sub(r.Result.AttemptedAt) != want[i+1]-want[i] {
				t.Errorf("record %d: status %s next %v after %v, want pending and %v later", i, r.DeliveryStatus, r.NextAttemptAt, r.Result.AttemptedAt, want[i+1]-want[i])
			}
		} else if r.DeliveryStatus != "failed" || r.NextAttemptAt != nil {
			t.Errorf("last record: status %s next %v, want failed and none", r.DeliveryStatus, r.NextAttemptAt)
		}
	}
}

// TestCallbackRules: the answer decides what happens next.
func TestCallbackRules(t *testing.T) {
	tests := []struct {
		name    string
		script  []callbacktest.Response
		offsets []time.Duration
		status  string
	}{
		{"2xx on the first attempt", []callbacktest.Response{status(204)}, minutes(0), "delivered"},
		{"400 is permanent", []callbacktest.Response{status(400)}, minutes(0), "failed"},
		{"401 is permanent", []callbacktest.Response{status(401)}, minutes(0), "failed"},
		{"404 is permanent", []callbacktest.Response{status(404)}, minutes(0), "failed"},
		{"422 is permanent", []callbacktest.Response{status(422)}, minutes(0), "failed"},
		{"302 is permanent (redirects are not followed)", []callbacktest.Response{status(302)}, minutes(0), "failed"},
		{"410 is permanent and recorded as gone", []callbacktest.Response{status(410)}, minutes(0), "gone"},
		{"408 is retried", []callbacktest.Response{status(408), status(200)}, minutes(0, 1), "delivered"},
		{"429 without Retry-After follows the schedule", []callbacktest.Response{status(429), status(429), status(200)}, minutes(0, 1, 3), "delivered"},
		{"429 Retry-After longer than the schedule wins", []callbacktest.Response{{Status: 429, RetryAfter: "300"}, status(200)}, minutes(0, 5), "delivered"},
		{"503 Retry-After, then the schedule resumes", []callbacktest.Response{{Status: 503, RetryAfter: "600"}, status(500), status(200)}, minutes(0, 10, 12), "delivered"},
		{"Retry-After never shortens the schedule", []callbacktest.Response{status(500), {Status: 503, RetryAfter: "5"}, status(200)}, minutes(0, 1, 3), "delivered"},
		{"Retry-After is capped at an hour", []callbacktest.Response{{Status: 429, RetryAfter: "86400"}, status(200)}, minutes(0, 60), "delivered"},
		{"5xx are retried", []callbacktest.Response{status(500), status(502), status(504), status(200)}, minutes(0, 1, 3, 7), "delivered"},
		{"a timeout is retried", []callbacktest.Response{{Stall: true}, status(200)}, minutes(0, 1), "delivered"},
		{"a 4xx after retries ends it", []callbacktest.Response{status(500), status(403)}, minutes(0, 1), "failed"},
		{"410 after retries ends it as gone", []callbacktest.Response{status(503), status(410)}, minutes(0, 1), "gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := runCallback(t, seedInput(), tt.script)
			if run.err != nil {
				t.Fatal(run.err)
			}
			if !slices.Equal(run.offsets, tt.offsets) {
				t.Errorf("attempts at %v, want %v", run.offsets, tt.offsets)
			}
			if run.result.Status != tt.status || run.result.Attempts != len(tt.offsets) {
				t.Errorf("result %+v, want %s after %d attempts", run.result, tt.status, len(tt.offsets))
			}
			last := run.records[len(run.records)-1]
			if last.DeliveryStatus != tt.status || last.NextAttemptAt != nil {
				t.Errorf("last record %+v", last)
			}
			if tt.status == "gone" && last.Result.StatusCode != 410 {
				t.Errorf("gone recorded with status %d", last.Result.StatusCode)
			}
		})
	}
}

// TestCallbackLostAttemptCounts: an attempt whose activity fails (a worker
// that died mid-request shows as a timeout) is recorded and retried on the
// schedule.
func TestCallbackLostAttemptCounts(t *testing.T) {
	lost := temporal.NewApplicationError("worker went away", "test")
	run := runCallback(t, seedInput(), []callbacktest.Response{status(200)}, lost)
	if run.err != nil {
		t.Fatal(run.err)
	}
	if !slices.Equal(run.offsets, minutes(0, 1)) || run.result.Status != "delivered" {
		t.Fatalf("attempts at %v, result %+v", run.offsets, run.result)
	}
	if r := run.records[0]; r.Result.Outcome != callback.OutcomeRetryable || !strings.Contains(r.Result.Err, "the attempt did not complete: worker went away") {
		t.Fatalf("lost attempt recorded as %+v", r.Result)
	}
}

// TestCallbackRetrySeriesAndCustomSchedule: a manual retry series numbers
// its attempts after the earlier ones and starts its own schedule, here a
// configured one (CALLBACK_RETRY_BASE=2s, FACTOR=3, MAX_ATTEMPTS=3).
func TestCallbackRetrySeriesAndCustomSchedule(t *testing.T) {
	in := seedInput()
	in.Series, in.FirstAttempt = 2, 7
	in.Schedule = callback.Schedule{Base: 2 * time.Second, Factor: 3, MaxAttempts: 3, MaxRetryAfter: time.Minute}
	run := runCallback(t, in, []callbacktest.Response{status(500), status(500), status(500), status(200)})
	if run.err != nil {
		t.Fatal(run.err)
	}
	if want := []time.Duration{0, 2 * time.Second, 8 * time.Second}; !slices.Equal(run.offsets, want) {
		t.Fatalf("attempts at %v, want %v", run.offsets, want)
	}
	var nums []int
	for _, r := range run.records {
		nums = append(nums, r.Attempt)
		if r.Series != 2 {
			t.Errorf("record in series %d", r.Series)
		}
	}
	if !slices.Equal(nums, []int{7, 8, 9}) || run.result.Status != "failed" {
		t.Fatalf("attempt numbers %v, result %+v", nums, run.result)
	}
}

// TestDescriptionJob: lots run at most Concurrency at a time; a permanent
// generator error fails its lot at once, a retryable one after the attempts
// run out; the job finishes and starts its callback as a child workflow.
func TestDescriptionJob(t *testing.T) {
	env := newJobsEnv(t)
	const jobID = "0b9a7a1e-2f55-4c2a-9a53-3c2f1f7a1d10"
	var lots []activities.LotRef
	for i, id := range []string{"a", "bad", "c", "flaky", "e", "f"} {
		lots = append(lots, activities.LotRef{Position: i, LotID: id})
	}
	var mu sync.Mutex
	var startCalls []activities.JobStartInput
	type span struct {
		lot        string
		start, end time.Duration
	}
	var spans []span
	calls := map[string]int{}
	var failed []activities.LotFailure
	var child *workflows.CallbackInput
	t0 := env.Now()

	env.OnActivity(jobActs.JobStart, mockAny, mockAny).Return(func(_ context.Context, in activities.JobStartInput) (activities.JobPlan, error) {
		startCalls = append(startCalls, in)
		plan := activities.JobPlan{Status: "processing", Concurrency: 2, LotAttempts: 3, LotRetryBase: time.Second, LotTimeout: 5 * time.Minute}
		if len(startCalls) == 1 {
			plan.Pending = lots
		}
		return plan, nil
	})
	env.OnActivity(jobActs.JobGenerateLot, mockAny, mockAny).Return(func(_ context.Context, in activities.LotInput) error {
		mu.Lock()
		defer mu.Unlock()
		now := env.Now().Sub(t0)
		spans = append(spans, span{in.LotID, now, now + time.Minute})
		calls[in.LotID]++
		switch in.LotID {
		case "bad":
			return temporal.NewNonRetryableApplicationError("generator: HTTP 400 invalid_request_error: image unreadable", activities.ErrTypeGenerator, nil)
		case "flaky":
			return temporal.NewApplicationError("generator: HTTP 500 server_error: overloaded (retryable)", activities.ErrTypeGenerator)
		}
		return nil
	}).After(time.Minute)
	// First attempts go in batches (here two batches of three, one per
	// concurrency slot): bad is refused for good, flaky is handed back.
	var batches [][]string
	env.OnActivity(jobActs.JobGenerateLots, mockAny, mockAny).Return(func(_ context.Context, in activities.LotsInput) (activities.LotsResult, error) {
		mu.Lock()
		defer mu.Unlock()
		now := env.Now().Sub(t0)
		var res activities.LotsResult
		var ids []string
		for _, l := range in.Lots {
			ids = append(ids, l.LotID)
			calls[l.LotID]++
			switch l.LotID {
			case "bad":
				res.Failed = append(res.Failed, activities.LotFailure{JobID: in.JobID, Position: l.Position, Error: "generator: HTTP 400 invalid_request_error: image unreadable"})
			case "flaky":
				res.Retry = append(res.Retry, activities.LotRetry{Position: l.Position, LotID: l.LotID, Error: "generator: HTTP 500 server_error: overloaded (retryable)"})
			default:
				res.Completed++
			}
		}
		batches = append(batches, ids)
		spans = append(spans, span{strings.Join(ids, ","), now, now + time.Minute})
		return res, nil
	}).After(time.Minute)
	env.OnActivity(jobActs.JobFailLot, mockAny, mockAny).Return(func(_ context.Context, f activities.LotFailure) error {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, f)
		return nil
	})
	env.OnActivity(jobActs.JobFinish, mockAny, mockAny).Return(func(_ context.Context, id string) (activities.JobSummary, error) {
		if id != jobID {
			t.Errorf("JobFinish(%q)", id)
		}
		return activities.JobSummary{Status: "partially_completed", TotalLots: 6, CompletedLots: 4, FailedLots: 2,
			Callback: &activities.CallbackInput{DeliveryID: "d9", JobID: jobID, Series: 1, FirstAttempt: 1, Schedule: callback.DefaultSchedule(), Timeout: 30 * time.Second}}, nil
	})
	env.OnActivity(jobActs.JobStartCallback, mockAny, mockAny).Return(func(_ context.Context, in activities.CallbackInput) error {
		child = &in
		return nil
	})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalEvents, workflows.EventBatch{IDs: []int64{11}})
	}, 0)
	env.ExecuteWorkflow("DescriptionJob", workflows.EntityInput{Source: "jobs", EntityID: jobID})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}

	var events []int64
	for _, c := range startCalls {
		events = append(events, c.EventIDs...)
		if c.JobID != jobID {
			t.Errorf("JobStart for %q", c.JobID)
		}
	}
	if !slices.Equal(events, []int64{11}) {
		t.Errorf("JobStart got events %v, want [11] once", events)
	}
	if calls["bad"] != 1 || calls["flaky"] != 3 || calls["a"] != 1 || calls["f"] != 1 {
		t.Errorf("generator calls per lot %v: want bad once (permanent), flaky 3 times", calls)
	}
	if len(batches) != 2 || len(batches[0]) != 3 || len(batches[1]) != 3 {
		t.Errorf("batches %v, want two of three lots", batches)
	}
	// Lots of one batch run one after the other: a batch is one span.
	peak := 0
	for _, s := range spans {
		n := 0
		for _, o := range spans {
			if o.start <= s.start && s.start < o.end {
				n++
			}
		}
		peak = max(peak, n)
	}
	if peak != 2 {
		t.Errorf("%d lots ran at the same time, want GENERATOR_CONCURRENCY=2 (spans %v)", peak, spans)
	}
	slices.SortFunc(failed, func(a, b activities.LotFailure) int { return a.Position - b.Position })
	if len(failed) != 2 || failed[0].Position != 1 || failed[1].Position != 3 ||
		!strings.Contains(failed[0].Error, "image unreadable") || !strings.Contains(failed[1].Error, "overloaded") {
		t.Errorf("failed lots %+v", failed)
	}
	if child == nil || child.DeliveryID != "d9" || child.Series != 1 {
		t.Errorf("callback series started with %+v", child)
	}
}

// TestDescriptionJobPacedLots: a job planned with a generator queue
// (GENERATOR_MAX_RPS set) sends every lot as one JobGenerateLotPaced
// activity on that queue, never a batch, with the lot's attempts; a lot
// that runs out of them is recorded failed.
func TestDescriptionJobPacedLots(t *testing.T) {
	env := newJobsEnv(t)
	var lots []activities.LotRef
	for i, id := range []string{"a", "b", "flaky", "d", "e"} {
		lots = append(lots, activities.LotRef{Position: i, LotID: id})
	}
	env.OnActivity(jobActs.JobStart, mockAny, mockAny).Return(activities.JobPlan{Status: "processing", Pending: lots, Concurrency: 2,
		LotAttempts: 3, LotRetryBase: time.Second, LotTimeout: time.Minute, GeneratorQueue: "q-generator"}, nil).Once()
	var mu sync.Mutex
	calls := map[string]int{}
	queues := map[string]bool{}
	env.OnActivity(jobActs.JobGenerateLotPaced, mockAny, mockAny).Return(func(ctx context.Context, in activities.LotInput) error {
		mu.Lock()
		defer mu.Unlock()
		calls[in.LotID]++
		queues[activity.GetInfo(ctx).TaskQueue] = true
		if in.LotID == "flaky" {
			return temporal.NewApplicationError("generator: HTTP 429 rate_limit_exceeded (retryable)", activities.ErrTypeGenerator)
		}
		return nil
	})
	var failed []activities.LotFailure
	env.OnActivity(jobActs.JobFailLot, mockAny, mockAny).Return(func(_ context.Context, f activities.LotFailure) error {
		failed = append(failed, f)
		return nil
	})
	env.OnActivity(jobActs.JobFinish, mockAny, mockAny).Return(activities.JobSummary{Status: "partially_completed", TotalLots: 5, CompletedLots: 4, FailedLots: 1}, nil)
	env.ExecuteWorkflow("DescriptionJob", workflows.EntityInput{Source: "jobs", EntityID: "j", Pending: []int64{1}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 5 || calls["a"] != 1 || calls["e"] != 1 || calls["flaky"] != 3 {
		t.Errorf("JobGenerateLotPaced calls per lot %v, want one per lot and 3 for flaky", calls)
	}
	if len(queues) != 1 || !queues["q-generator"] {
		t.Errorf("lots ran on task queues %v, want only q-generator", queues)
	}
	if len(failed) != 1 || failed[0].Position != 2 || !strings.Contains(failed[0].Error, "429") {
		t.Errorf("failed lots %+v", failed)
	}
	env.AssertNotCalled(t, "JobGenerateLots", mockAny, mockAny)
	env.AssertNotCalled(t, "JobGenerateLot", mockAny, mockAny)
}

// TestDescriptionJobWithoutCallback: no webhook_url, no child; a job that
// finished already (a second run after the relay's redelivery) only
// confirms its status.
func TestDescriptionJobWithoutCallback(t *testing.T) {
	env := newJobsEnv(t)
	env.OnActivity(jobActs.JobStart, mockAny, mockAny).Return(activities.JobPlan{Status: "completed", Concurrency: 4, LotAttempts: 3,
		LotRetryBase: time.Second, LotTimeout: time.Minute}, nil)
	env.OnActivity(jobActs.JobFinish, mockAny, mockAny).Return(activities.JobSummary{Status: "completed", TotalLots: 1, CompletedLots: 1}, nil).Once()
	env.ExecuteWorkflow("DescriptionJob", workflows.EntityInput{Source: "jobs", EntityID: "x", Pending: []int64{3}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	env.AssertExpectations(t)
}

// TestJobReplay replays histories recorded from real runs (api tests write
// job.json and callback.json with UPDATE_HISTORY=1): a job with a retried
// and failed lot, and a callback series that waited
// on a timer across a worker restart. The -v0 files were recorded before
// versionJobLocalDBSteps and versionCallbackLocalRecord (every step an
// activity), job-v1.json before versionJobLotBatches (one activity per
// lot); they must keep replaying. job-paced.json is a job run with
// GENERATOR_MAX_RPS (versionJobGeneratorQueue: one JobGenerateLotPaced
// activity per lot on the generator queue), its first lot retried after a
// 429. job-v2.json was recorded before versionJobPagedRuns (the plan held
// every pending lot); job-continued.json the last run of a job in pages of
// two lots (TestJobsInPages: it pages with JobPendingLots, finishes the job
// and starts the callback). job-v3.json and callback-v1.json were recorded
// before versionJobCallbackByActivity and versionCallbackLocalFirstAttempt
// (the callback a child, its first attempt an activity); job.json starts
// its callback with JobStartCallback, and job-small.json and
// callback-small.json are a one-lot job and its callback run with local
// activities only (versionJobLocalFirstRound). A change that breaks
// determinism fails here.
func TestJobReplay(t *testing.T) {
	replay(t, []string{"testdata/job.json", "testdata/callback.json", "testdata/job-v0.json", "testdata/callback-v0.json", "testdata/job-v1.json",
		"testdata/job-paced.json", "testdata/job-v2.json", "testdata/job-continued.json", "testdata/job-v3.json", "testdata/callback-v1.json",
		"testdata/job-small.json", "testdata/callback-small.json"}, jobWorkflows...)
}

// TestCallbackSupersededSeriesStops: a series whose delivery was taken over
// by a newer one (a manual retry) sends and records nothing more.
func TestCallbackSupersededSeriesStops(t *testing.T) {
	env := newJobsEnv(t)
	var got activities.DeliverInput
	env.OnActivity(jobActs.CallbackDeliver, mockAny, mockAny).Return(func(_ context.Context, in activities.DeliverInput) (activities.DeliverResult, error) {
		got = in
		return activities.DeliverResult{Superseded: true}, nil
	}).Once()
	env.OnActivity(jobActs.CallbackRecordAttempt, mockAny, mockAny).Return(nil).Never()
	env.ExecuteWorkflow("CallbackDelivery", seedInput())
	var res workflows.CallbackResult
	if err := env.GetWorkflowResult(&res); err != nil || res.Status != "superseded" || res.Attempts != 0 {
		t.Fatalf("result %+v, %v", res, err)
	}
	if got.Series != 1 || got.DeliveryID != "d42" || got.Attempt != 1 {
		t.Fatalf("deliver input %+v", got)
	}
	env.AssertExpectations(t)
}

// deliverSeed runs the seed's callback series, collecting the attempts it
// records, and gives back its result.
func deliverSeed(env *testsuite.TestWorkflowEnvironment) (workflows.CallbackResult, []activities.AttemptRecord, error) {
	var recorded []activities.AttemptRecord
	env.OnActivity(jobActs.CallbackRecordAttempt, mockAny, mockAny).Return(func(_ context.Context, r activities.AttemptRecord) error {
		recorded = append(recorded, r)
		return nil
	})
	env.ExecuteWorkflow("CallbackDelivery", seedInput())
	var res workflows.CallbackResult
	err := env.GetWorkflowResult(&res)
	return res, recorded, err
}

// TestCallbackDeliveredButResultLost: attempt 1 reached the receiver and
// the activity recorded the 2xx, but its worker died before Temporal heard
// of it (the attempt times out). Attempt 2 finds the delivery delivered,
// sends nothing, and the series ends delivered after one attempt.
func TestCallbackDeliveredButResultLost(t *testing.T) {
	env := newJobsEnv(t)
	env.OnActivity(jobActs.CallbackDeliver, mockAny, mockAny).Return(activities.DeliverResult{},
		temporal.NewApplicationError("worker went away", "test")).Once()
	env.OnActivity(jobActs.CallbackDeliver, mockAny, mockAny).Return(activities.DeliverResult{AlreadyDelivered: true}, nil).Once()
	res, recorded, err := deliverSeed(env)
	if err != nil || res.Status != "delivered" || res.Attempts != 1 {
		t.Fatalf("result %+v, %v", res, err)
	}
	// The lost attempt is recorded as the workflow saw it (the store keeps
	// the activity's own record of the 2xx: the first record of an attempt
	// wins); the one that found it delivered records nothing.
	if len(recorded) != 1 || recorded[0].Attempt != 1 {
		t.Fatalf("recorded %+v", recorded)
	}
	env.AssertExpectations(t)
}

// TestCallbackDeliveredAndRecorded: a 2xx the activity recorded itself is
// not recorded again; a failed attempt is still recorded (by a local
// activity) before the wait.
func TestCallbackDeliveredAndRecorded(t *testing.T) {
	env := newJobsEnv(t)
	env.OnActivity(jobActs.CallbackDeliver, mockAny, mockAny).Return(activities.DeliverResult{
		Attempt: callback.Attempt{Outcome: callback.OutcomeRetryable, StatusCode: 503}}, nil).Once()
	env.OnActivity(jobActs.CallbackDeliver, mockAny, mockAny).Return(activities.DeliverResult{
		Attempt: callback.Attempt{Outcome: callback.OutcomeDelivered, StatusCode: 200}, Recorded: true}, nil).Once()
	res, recorded, err := deliverSeed(env)
	if err != nil || res.Status != "delivered" || res.Attempts != 2 {
		t.Fatalf("result %+v, %v", res, err)
	}
	if len(recorded) != 1 || recorded[0].Attempt != 1 || recorded[0].DeliveryStatus != "pending" {
		t.Fatalf("recorded %+v", recorded)
	}
	env.AssertExpectations(t)
}

// TestLotBatches: batches fill every concurrency slot and never exceed
// MaxLotsPerBatch; every lot is in exactly one batch, in order.
func TestLotBatches(t *testing.T) {
	for _, c := range []struct{ lots, concurrency, batches, first int }{
		{1, 4, 1, 1}, {3, 4, 3, 1}, {6, 2, 2, 3}, {10, 4, 4, 3}, {2000, 4, 80, 25}, {7, 1, 1, 7},
	} {
		var lots []activities.LotRef
		for i := range c.lots {
			lots = append(lots, activities.LotRef{Position: i})
		}
		got := workflows.LotBatches(lots, c.concurrency)
		var flat []activities.LotRef
		for _, b := range got {
			flat = append(flat, b...)
			if len(b) > workflows.MaxLotsPerBatch || len(b) == 0 {
				t.Errorf("%+v: batch of %d", c, len(b))
			}
		}
		if len(got) != c.batches || len(got[0]) != c.first || !slices.Equal(flat, lots) {
			t.Errorf("%+v: %d batches, first of %d", c, len(got), len(got[0]))
		}
	}
}

// TestCallbackWaitsWhileClientPaused: the client is paused for the first
// three looks and at attempt 2's due time. The paused looks spend no
// attempt and come after 1, 2 and 4 minutes (CALLBACK_PAUSE_POLL doubling,
// capped at 10); then attempt 1 (a 500) goes out, and attempt 2, paused
// once more, waits one poll (the doubling starts over) before it is made.
// The series ends delivered after two attempts, numbered 1 and 2.
func TestCallbackWaitsWhileClientPaused(t *testing.T) {
	env := newJobsEnv(t)
	start := env.Now()
	paused := []bool{true, true, true, false, true, false}
	var looks []time.Duration
	var attempts []int
	env.OnActivity(jobActs.CallbackDeliver, mockAny, mockAny).Return(func(_ context.Context, in activities.DeliverInput) (activities.DeliverResult, error) {
		if !in.PauseAware {
			return activities.DeliverResult{}, errors.New("a new run's attempts must be pause-aware")
		}
		looks = append(looks, env.Now().Sub(start))
		p := paused[0]
		paused = paused[1:]
		if p {
			return activities.DeliverResult{Paused: true}, nil
		}
		attempts = append(attempts, in.Attempt)
		code, outcome := 500, callback.OutcomeRetryable
		if len(attempts) == 2 {
			code, outcome = 200, callback.OutcomeDelivered
		}
		return activities.DeliverResult{AttemptedAt: env.Now(), Attempt: callback.Attempt{StatusCode: code, Outcome: outcome}}, nil
	})
	var records []activities.AttemptRecord
	env.OnActivity(jobActs.CallbackRecordAttempt, mockAny, mockAny).Return(func(_ context.Context, r activities.AttemptRecord) error {
		records = append(records, r)
		return nil
	})
	in := seedInput()
	in.PausePoll = time.Minute
	env.ExecuteWorkflow("CallbackDelivery", in)
	var res workflows.CallbackResult
	if err := env.GetWorkflowResult(&res); err != nil || res != (workflows.CallbackResult{Status: "delivered", Attempts: 2}) {
		t.Fatalf("result %+v, %v", res, err)
	}
	// Looks at 0 (paused), 1 (paused), 3 (paused), 7: attempt 1; its retry
	// is due a minute later, 8: paused; 9: attempt 2.
	if want := minutes(0, 1, 3, 7, 8, 9); !slices.Equal(looks, want) {
		t.Fatalf("looks at %v, want %v", looks, want)
	}
	if !slices.Equal(attempts, []int{1, 2}) || len(records) != 2 || records[0].Attempt != 1 || records[1].Attempt != 2 {
		t.Fatalf("attempts %v, records %+v", attempts, records)
	}
}

// TestDescriptionJobLargeContinuesAsNew: a job of 1,200 lots with runs of
// 400 lots (JobLotsPerRun made small) works through its lots in three runs,
// continuing as new twice with the cursor; the plan of the first run holds
// one page, never all lots. Every lot ends completed or failed exactly once
// (a lot handed back for a retry completes on it), an event id signalled
// during the first run is carried to the last one and marked processed
// there, and the callback is started once, by the last run.
func TestDescriptionJobLargeContinuesAsNew(t *testing.T) {
	const total, perRun = 1200, 400
	defer func(n int) { workflows.JobLotsPerRun = n }(workflows.JobLotsPerRun)
	workflows.JobLotsPerRun = perRun

	var mu sync.Mutex
	state := make([]string, total) // "", completed, failed
	finishes := make([]int, total)
	finish := func(pos int, st string) {
		mu.Lock()
		defer mu.Unlock()
		finishes[pos]++
		if state[pos] == "" {
			state[pos] = st
		}
	}
	pending := func(after, limit int) ([]activities.LotRef, bool) {
		mu.Lock()
		defer mu.Unlock()
		var out []activities.LotRef
		for pos := after + 1; pos < total; pos++ {
			if state[pos] != "" {
				continue
			}
			if len(out) == limit {
				return out, true
			}
			out = append(out, activities.LotRef{Position: pos, LotID: fmt.Sprintf("lot-%05d", pos)})
		}
		return out, false
	}
	var startInputs []activities.JobStartInput
	var pageInputs []activities.JobPendingLotsInput
	var planSizes []int
	callbacks := 0
	const jobID = "5d1c2b0e-8c53-4f0e-9d0e-1a2b3c4d5e6f"

	in := workflows.EntityInput{Source: "jobs", EntityID: jobID, Pending: []int64{10}}
	runs := 0
	for {
		runs++
		if runs > 10 {
			t.Fatal("more than 10 runs")
		}
		env := newJobsEnv(t)
		env.OnActivity(jobActs.JobStart, mockAny, mockAny).Return(func(_ context.Context, in activities.JobStartInput) (activities.JobPlan, error) {
			startInputs = append(startInputs, in)
			plan := activities.JobPlan{Status: "processing", Concurrency: 4, LotAttempts: 3, LotRetryBase: time.Second, LotTimeout: time.Minute}
			if in.PageSize > 0 {
				plan.Pending, plan.More = pending(-1, in.PageSize)
				planSizes = append(planSizes, len(plan.Pending))
			}
			return plan, nil
		})
		env.OnActivity(jobActs.JobPendingLots, mockAny, mockAny).Return(func(_ context.Context, in activities.JobPendingLotsInput) (activities.JobLotsPage, error) {
			pageInputs = append(pageInputs, in)
			var p activities.JobLotsPage
			p.Lots, p.More = pending(in.After, in.Limit)
			return p, nil
		})
		env.OnActivity(jobActs.JobGenerateLots, mockAny, mockAny).Return(func(_ context.Context, in activities.LotsInput) (activities.LotsResult, error) {
			var res activities.LotsResult
			for _, l := range in.Lots {
				switch {
				case l.Position%97 == 0: // refused for good
					res.Failed = append(res.Failed, activities.LotFailure{JobID: in.JobID, Position: l.Position, Error: "image unreadable"})
				case l.Position%89 == 0: // handed back, completes on its retry
					res.Retry = append(res.Retry, activities.LotRetry{Position: l.Position, LotID: l.LotID, Error: "overloaded"})
				default:
					finish(l.Position, "completed")
					res.Completed++
				}
			}
			return res, nil
		})
		env.OnActivity(jobActs.JobGenerateLot, mockAny, mockAny).Return(func(_ context.Context, in activities.LotInput) error {
			finish(in.Position, "completed")
			return nil
		})
		env.OnActivity(jobActs.JobFailLot, mockAny, mockAny).Return(func(_ context.Context, f activities.LotFailure) error {
			finish(f.Position, "failed")
			return nil
		})
		env.OnActivity(jobActs.JobFinish, mockAny, mockAny).Return(activities.JobSummary{Status: "partially_completed", TotalLots: total,
			Callback: &activities.CallbackInput{DeliveryID: "d-big", JobID: jobID, Series: 1, FirstAttempt: 1, Schedule: callback.DefaultSchedule(), Timeout: 30 * time.Second}}, nil)
		env.OnActivity(jobActs.JobStartCallback, mockAny, mockAny).Return(func(_ context.Context, in activities.CallbackInput) error {
			callbacks++
			return nil
		})
		if runs == 1 {
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(workflows.SignalEvents, workflows.EventBatch{IDs: []int64{77}})
			}, time.Second)
		}
		env.ExecuteWorkflow("DescriptionJob", in)
		if !env.IsWorkflowCompleted() {
			t.Fatalf("run %d did not complete", runs)
		}
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			var next workflows.EntityInput
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
				t.Fatal(err)
			}
			if next.Job == nil || next.Job.Run != runs+1 || len(next.Job.Plan.Pending) != 0 || next.Job.PageSize != perRun {
				t.Fatalf("run %d continues as new with %+v", runs, next.Job)
			}
			in = next
			continue
		}
		if err != nil {
			t.Fatalf("run %d: %v", runs, err)
		}
		break
	}
	if runs != 3 {
		t.Errorf("%d runs, want 3 (continued as new twice)", runs)
	}
	if len(planSizes) != 1 || planSizes[0] != perRun {
		t.Errorf("plans of %v lots, want one of %d", planSizes, perRun)
	}
	if len(pageInputs) != 2 || pageInputs[0].After != perRun-1 || pageInputs[1].After != 2*perRun-1 {
		t.Errorf("pages asked for %+v, want after %d and %d", pageInputs, perRun-1, 2*perRun-1)
	}
	completed, failed := 0, 0
	for pos, n := range finishes {
		if n != 1 {
			t.Errorf("lot %d finished %d times", pos, n)
		}
		switch state[pos] {
		case "completed":
			completed++
		case "failed":
			failed++
		}
	}
	if wantFailed := (total + 96) / 97; completed+failed != total || failed != wantFailed {
		t.Errorf("%d completed, %d failed, want %d and %d", completed, failed, total-wantFailed, wantFailed)
	}
	if callbacks != 1 {
		t.Errorf("callback started %d times, want once", callbacks)
	}
	// JobStart: the first run's (events 10, a page), then the last run's
	// for the event signalled during the first run.
	if len(startInputs) != 2 || !slices.Equal(startInputs[0].EventIDs, []int64{10}) || startInputs[0].PageSize != perRun ||
		!slices.Equal(startInputs[1].EventIDs, []int64{77}) {
		t.Errorf("JobStart calls %+v", startInputs)
	}
}
