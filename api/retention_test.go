package api_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
	"github.com/hookflow/hookflow/worker"
	"github.com/hookflow/hookflow/workflows"
)

// TestRetentionEndToEnd: with a retention of a few seconds, the worker's
// retention schedule (the one Temporal UI lists) purges the processed events
// past it, archiving them first; the API stops listing them, the printer
// read model stays, the counters equal a full count, and a repeat of a
// purged event is accepted and processed as a new one.
func TestRetentionEndToEnd(t *testing.T) {
	archive := t.TempDir()
	a, st, _ := startSimplyPrint(t, map[string]string{"EVENT_RETENTION": "3s", "RETENTION_EVERY": "1h",
		"RETENTION_ARCHIVE_DIR": archive, "RETENTION_BATCH_SIZE": "2"})
	ctx := context.Background()
	body := func(job int64) []byte {
		return simplyprinttest.Payload("job.started", 100+job, 1705320000+job,
			simplyprinttest.JobData(simplyprinttest.Job{ID: job, File: "a.gcode", Printer: simplyprinttest.Printer{ID: 5}}))
	}
	for job := range int64(5) {
		if code := call(t, "POST", a.URL()+spPath, body(job), nil, nil); code != 200 {
			t.Fatalf("webhook %d: %d", job, code)
		}
	}
	waitProcessed(t, a, 5)

	// The schedule is there, on this task queue, every RETENTION_EVERY.
	schedule := a.Temporal.ScheduleClient().GetHandle(ctx, worker.RetentionScheduleID(a.Config.Temporal.TaskQueue))
	var desc *client.ScheduleDescription
	testenv.Eventually(t, 20*time.Second, func() error {
		var err error
		desc, err = schedule.Describe(ctx)
		return err
	})
	t.Cleanup(func() { _ = schedule.Delete(context.Background()) })
	if iv := desc.Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != time.Hour {
		t.Fatalf("schedule intervals %+v, want every 1h", iv)
	}
	if act, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction); !ok || act.TaskQueue != a.Config.Temporal.TaskQueue ||
		fmt.Sprint(act.Workflow) != worker.WorkflowRetention {
		t.Fatalf("schedule action %+v", desc.Schedule.Action)
	}

	time.Sleep(3500 * time.Millisecond) // the five are past their retention now
	if code := call(t, "POST", a.URL()+spPath, body(5), nil, nil); code != 200 {
		t.Fatal("webhook 5")
	}
	waitProcessed(t, a, 6)

	// Run it now, as Temporal UI's "Trigger" does, and wait for its result.
	if err := schedule.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	var run client.ScheduleActionResult
	testenv.Eventually(t, 20*time.Second, func() error {
		d, err := schedule.Describe(ctx)
		if err != nil {
			return err
		}
		if len(d.Info.RecentActions) == 0 {
			return fmt.Errorf("the schedule has not started a run yet")
		}
		run = d.Info.RecentActions[len(d.Info.RecentActions)-1]
		return nil
	})
	var sum workflows.RetentionSummary
	if err := a.Temporal.GetWorkflow(ctx, run.StartWorkflowResult.WorkflowID, "").Get(ctx, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Purged["events/simplyprint"] != 5 || sum.Total != 5 || sum.Policy == "" {
		t.Fatalf("retention run %+v: want the 5 old events purged", sum)
	}

	var events []api.SimplyPrintEvent
	call(t, "GET", a.URL()+"/api/v1/simpleprint/events?limit=100", nil, reader, &events)
	if len(events) != 1 || events[0].Event != "job.started" {
		t.Fatalf("events after the purge: %+v, want only the newest", events)
	}
	var printers []map[string]any
	if call(t, "GET", a.URL()+"/api/v1/simpleprint/printers", nil, reader, &printers); len(printers) != 1 {
		t.Fatalf("printers after the purge: %v, want the printer kept", printers)
	}
	var stats store.EventStats
	if call(t, "GET", a.URL()+"/api/v1/simpleprint/stats", nil, reader, &stats); stats.Total != 1 || stats.Processed != 1 {
		t.Fatalf("stats after the purge: %+v, want 1 event", stats)
	}

	// The archive has the five, in today's file of the source.
	f, err := os.Open(filepath.Join(archive, "simplyprint", time.Now().UTC().Format("2006-01-02")+".jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for sc := bufio.NewScanner(zr); sc.Scan(); {
		lines++
	}
	if lines != 5 {
		t.Fatalf("archive holds %d events, want 5", lines)
	}

	// A repeat of a purged event is new again (the dedup window is the
	// retention) and is processed.
	var ack map[string]any
	if call(t, "POST", a.URL()+spPath, body(0), nil, &ack); ack["duplicate"] != false {
		t.Fatalf("a repeat of a purged event: %v, want it accepted as new", ack)
	}
	waitProcessed(t, a, 2)
	var diff int
	if err := st.Pool.QueryRow(ctx, `SELECT (SELECT sum(n) FROM event_counts WHERE source = 'simplyprint') - (SELECT count(*) FROM inbound_events WHERE source = 'simplyprint')`).Scan(&diff); err != nil || diff != 0 {
		t.Fatalf("event counters off by %d (%v)", diff, err)
	}
}
