package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/generator/generatortest"
	"github.com/hookflow/hookflow/internal/jobs"
	"github.com/hookflow/hookflow/internal/testenv"
)

// maxInWindow is the most requests the fake received in any window of d
// (sliding: one starts at every request).
func maxInWindow(reqs []generatortest.Request, d time.Duration) int {
	peak, _ := densestWindow(reqs, d)
	return peak
}

// densestWindow is maxInWindow and the offsets of that window's requests
// from its first.
func densestWindow(reqs []generatortest.Request, d time.Duration) (int, []time.Duration) {
	times := make([]time.Time, len(reqs))
	for i, r := range reqs {
		times[i] = r.At
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	peak, at, j := 0, 0, 0
	for i := range times {
		for j < len(times) && times[j].Sub(times[i]) < d {
			j++
		}
		if j-i > peak {
			peak, at = j-i, i
		}
	}
	var offsets []time.Duration
	for k := at; k < at+peak; k++ {
		offsets = append(offsets, times[k].Sub(times[at]).Round(time.Millisecond))
	}
	return peak, offsets
}

// generatorPollers are the pollers of the generator task queue.
func generatorPollers(t *testing.T, e *jobsEnv) []*taskqueuepb.PollerInfo {
	t.Helper()
	resp, err := e.api.Temporal.DescribeTaskQueue(context.Background(), config.GeneratorQueue(e.cfg.Temporal.TaskQueue),
		enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetPollers()
}

// submitRPSJobs submits n jobs of lots lots each (lot ids j<job>_l<lot>)
// and returns their ids.
func submitRPSJobs(t *testing.T, e *jobsEnv, n, lots int) []string {
	t.Helper()
	var ids []string
	for j := range n {
		var ls []jobs.Lot
		for l := range lots {
			ls = append(ls, lot(fmt.Sprintf("j%02d_l%d", j, l), 1))
		}
		ids = append(ids, submit(t, e.api, jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, ls...), nil).JobID)
	}
	return ids
}

// waitAllCalledBack waits until every job has completed all its lots and
// its callback was delivered once.
func waitAllCalledBack(t *testing.T, e *jobsEnv, ids []string, lots int) {
	t.Helper()
	for _, id := range ids {
		st := waitStatus(t, e.api, id, callbackIs("delivered", 1))
		if st.Status != "completed" || st.CompletedLots != lots || st.FailedLots != 0 {
			t.Errorf("job %s: %+v", id, st)
		}
	}
	got := map[string]int{}
	for _, d := range e.rcv.Deliveries() {
		got[d.Payload.JobID]++
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("job %s called back %d times, want once", id, got[id])
		}
	}
}

// TestJobsGeneratorMaxRPSAcrossWorkers: with GENERATOR_MAX_RPS=5, 50 jobs
// of 4 lots run by two worker processes (two apps with the worker role on
// one Temporal server, task queue and database; the API process polls no
// generator queue) never send the generator more than 5 requests, +1 for
// timing slack, in any one-second window, and every lot completes and every
// job calls back. The 50 jobs: 200 requests, 40 s at 5/s.
func TestJobsGeneratorMaxRPSAcrossWorkers(t *testing.T) {
	const nJobs, nLots, rps = 50, 4, 5
	e := startJobs(t, app.Roles{API: true}, map[string]string{"GENERATOR_MAX_RPS": fmt.Sprint(rps), "GENERATOR_CONCURRENCY": "4"})
	if p := generatorPollers(t, e); len(p) != 0 {
		t.Fatalf("the API-only process polls the generator queue: %v", p)
	}
	testenv.StartApp(t, e.cfg, app.Roles{Worker: true})
	testenv.StartApp(t, e.cfg, app.Roles{Worker: true})
	testenv.Eventually(t, 10*time.Second, func() error {
		if len(generatorPollers(t, e)) == 0 {
			return fmt.Errorf("no poller on %s", config.GeneratorQueue(e.cfg.Temporal.TaskQueue))
		}
		return nil
	})

	start := time.Now()
	ids := submitRPSJobs(t, e, nJobs, nLots)
	waitAllCalledBack(t, e, ids, nLots)

	reqs := e.gen.Requests()
	if len(reqs) != nJobs*nLots {
		t.Errorf("%d generator requests, want one per lot (%d)", len(reqs), nJobs*nLots)
	}
	peak, offsets := densestWindow(reqs, time.Second)
	first, last := reqs[0].At, reqs[0].At
	for _, r := range reqs {
		first, last = minTime(first, r.At), maxTime(last, r.At)
	}
	t.Logf("%d requests, the first %s after the first submission, the last %s after the first; at most %d in one second",
		len(reqs), first.Sub(start).Round(time.Millisecond), last.Sub(first).Round(time.Millisecond), peak)
	t.Logf("the densest second: requests at %v", offsets)
	if peak > rps+1 {
		t.Errorf("%d generator requests in one second, want at most %d (+1)", peak, rps)
	}
}

// TestJobsGenerator429HoldsEveryJob: with GENERATOR_MAX_RPS set, a 429 with
// Retry-After: 2 on one lot holds every job's requests, not only that
// lot's: after it, the fake sees no request for about two seconds, then
// the queue goes on and every job completes.
func TestJobsGenerator429HoldsEveryJob(t *testing.T) {
	const nJobs, nLots = 8, 4
	e := startJobs(t, app.Roles{API: true, Worker: true}, map[string]string{"GENERATOR_MAX_RPS": "5"})
	testenv.StartApp(t, e.cfg, app.Roles{Worker: true})
	e.gen.FailLotWith("j00_l0", generatortest.Failure{Status: 429, RetryAfter: "2"}, 1)
	ids := submitRPSJobs(t, e, nJobs, nLots)
	waitAllCalledBack(t, e, ids, nLots)
	writeHistoryAs(t, e.api, "job-"+ids[0], "job-paced.json") // its first lot got the 429 and a second attempt

	reqs := e.gen.Requests()
	slices.SortFunc(reqs, func(a, b generatortest.Request) int { return a.At.Compare(b.At) })
	var t429 time.Time
	for _, r := range reqs {
		if r.Status == 429 {
			t429 = r.At
		}
	}
	if t429.IsZero() {
		t.Fatal("the fake answered no 429")
	}
	// The hold starts when the worker has read the 429 and recorded it
	// (hold_until = that moment + Retry-After, on Postgres's clock, the
	// fake's too: one machine). A request whose turn was granted before
	// that may still go out, and under load the 429's answer takes a while
	// to be read: so the quiet time is measured from the recorded hold,
	// with 250 ms for a turn granted just before it to reach the fake.
	var holdUntil time.Time
	if err := e.st.Pool.QueryRow(context.Background(),
		`SELECT hold_until FROM generator_pacer WHERE name = 'generator'`).Scan(&holdUntil); err != nil {
		t.Fatal(err)
	}
	held := holdUntil.Add(-2 * time.Second)
	t.Logf("the hold was recorded %s after the 429", held.Sub(t429).Round(time.Millisecond))
	if d := held.Sub(t429); d < 0 || d > time.Second {
		t.Errorf("the hold was recorded %s after the 429, want soon after it", d)
	}
	var next time.Duration
	for _, r := range reqs {
		if d := r.At.Sub(held); d > 250*time.Millisecond {
			next = r.At.Sub(t429)
			if r.At.Before(holdUntil) {
				t.Errorf("%s sent %s after the hold was recorded, %s before it ends", r.LotID,
					d.Round(time.Millisecond), holdUntil.Sub(r.At).Round(time.Millisecond))
			}
			break
		}
		if r.At.After(t429) {
			t.Logf("%s sent %s after the 429 (a turn granted before the hold)", r.LotID, r.At.Sub(t429).Round(time.Millisecond))
		}
	}
	t.Logf("next request %s after the 429; %d requests, at most %d in one second", next.Round(time.Millisecond), len(reqs), maxInWindow(reqs, time.Second))
	if next > holdUntil.Sub(t429)+1500*time.Millisecond {
		t.Errorf("the queue went on only %s after the 429, want soon after the hold ends (%s)", next, holdUntil.Sub(t429).Round(time.Millisecond))
	}
	if len(reqs) != nJobs*nLots+1 {
		t.Errorf("%d generator requests, want one per lot and the 429's retry (%d)", len(reqs), nJobs*nLots+1)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
