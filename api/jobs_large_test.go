package api_test

import (
	"context"
	"strings"
	"testing"

	"go.temporal.io/api/enums/v1"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/workflows"
)

// TestJobsInPages: with runs of two lots (workflows.JobLotsPerRun made
// small; the worker runs in this process), a job of five lots, one refused
// by the generator, goes through three runs of its workflow, each
// continuing as new after its page; every lot is finished once, the job is
// partially_completed and the callback arrives once. The last run's
// history is the replay fixture of a continued run (UPDATE_HISTORY=1).
func TestJobsInPages(t *testing.T) {
	defer func(n int) { workflows.JobLotsPerRun = n }(workflows.JobLotsPerRun)
	workflows.JobLotsPerRun = 2
	e := startJobs(t, app.Roles{API: true, Worker: true}, nil)
	e.gen.FailLot("bad", 400, 0)
	body := jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, lot("car_001", 1), lot("car_002", 1), lot("bad", 1), lot("car_004", 1), lot("car_005", 2))
	acc := submit(t, e.api, body, nil)

	st := waitStatus(t, e.api, acc.JobID, callbackIs("delivered", 1))
	if st.Status != "partially_completed" || st.TotalLots != 5 || st.CompletedLots != 4 || st.FailedLots != 1 || st.Progress != 100 {
		t.Fatalf("status %+v", st)
	}
	for _, id := range []string{"car_001", "car_002", "bad", "car_004", "car_005"} {
		if n := len(e.gen.RequestsFor(id)); n != 1 {
			t.Errorf("lot %s: %d generator requests, want 1", id, n)
		}
	}
	if n := len(e.rcv.Deliveries()); n != 1 {
		t.Errorf("%d callbacks, want 1", n)
	}

	// Three runs, chained by continue-as-new; the callback series is started
	// by the last one only (the local activity JobStartCallback).
	ctx := context.Background()
	runID, runs, starts := "", 0, 0
	for {
		runs++
		it := e.api.Temporal.GetWorkflowHistory(ctx, "job-"+acc.JobID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		prev := ""
		first := true
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if first {
				prev = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
				first = false
			}
			if ev.GetEventType() == enums.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED ||
				ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" && strings.Contains(ev.String(), "JobStartCallback") {
				starts++
			}
		}
		if prev == "" || runs > 10 {
			break
		}
		runID = prev
	}
	if runs != 3 || starts != 1 {
		t.Errorf("%d runs starting %d callback series, want 3 runs and 1", runs, starts)
	}
	var processed int
	if err := e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM inbound_events WHERE source = 'jobs' AND processed AND entity_id = $1`,
		acc.JobID).Scan(&processed); err != nil || processed != 1 {
		t.Errorf("%d inbound events processed (%v), want 1", processed, err)
	}
	writeHistoryAs(t, e.api, "job-"+acc.JobID, "job-continued.json")
}
