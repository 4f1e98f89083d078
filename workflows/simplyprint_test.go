package workflows_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/workflows"
)

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	return newTestEnv(&activities.SimplyPrint{}, printerWorkflow)
}

func TestPrinterAppliesSignalsInOrderAndBatches(t *testing.T) {
	env := newEnv(t)
	var calls [][]int64
	env.OnActivity(spActs.ApplyEvents, mockAny, mockAny).Return(
		func(_ context.Context, ids []int64) (activities.ApplyResult, error) {
			calls = append(calls, slices.Clone(ids))
			return activities.ApplyResult{Processed: len(ids)}, nil
		})
	// Two signals buffered before the first workflow task: drained into one call.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalEvents, workflows.EventBatch{IDs: []int64{1, 2}})
		env.SignalWorkflow(workflows.SignalEvents, workflows.EventBatch{IDs: []int64{3}})
	}, 0)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalEvents, workflows.EventBatch{IDs: []int64{4, 5}})
	}, time.Minute)
	local := 0
	env.SetOnLocalActivityStartedListener(func(*activity.Info, context.Context, []any) { local++ })
	env.ExecuteWorkflow("SimplyPrintPrinter", workflows.EntityInput{Source: "simplyprint", EntityID: "7", Pending: []int64{0}})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if local != len(calls) {
		t.Fatalf("%d of %d batches ran as local activities, want all", local, len(calls))
	}
	var all []int64
	for _, c := range calls {
		all = append(all, c...)
	}
	if !slices.Equal(all, []int64{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("applied %v, want 0..5 in order", calls)
	}
	if len(calls) > 3 {
		t.Fatalf("%d activity calls for 3 deliveries: buffered signals were not batched (%v)", len(calls), calls)
	}
}

func TestPrinterEndsWhenIdle(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(spActs.ApplyEvents, mockAny, mockAny).Return(activities.ApplyResult{}, nil)
	start := env.Now()
	env.ExecuteWorkflow("SimplyPrintPrinter", workflows.EntityInput{Source: "simplyprint", EntityID: "7", Pending: []int64{1}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if idle := env.Now().Sub(start); idle != workflows.EntityIdleTimeout {
		t.Fatalf("ended after %s, want the idle timeout %s", idle, workflows.EntityIdleTimeout)
	}
}

// TestPrinterKeepsOneIdleTimer: signals a minute apart do not each cancel
// and start an idle timer (two history events and a server timer task per
// signal); one timer stays pending, and when it fires after activity the
// next covers the rest, so the run still ends exactly the idle timeout
// after its last batch.
func TestPrinterKeepsOneIdleTimer(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(spActs.ApplyEvents, mockAny, mockAny).Return(activities.ApplyResult{}, nil)
	const signals = 5
	for i := 1; i <= signals; i++ {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(workflows.SignalEvents, workflows.EventBatch{IDs: []int64{int64(i)}})
		}, time.Duration(i)*time.Minute)
	}
	var timers []time.Duration
	env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { timers = append(timers, d) })
	start := env.Now()
	env.ExecuteWorkflow("SimplyPrintPrinter", workflows.EntityInput{Source: "simplyprint", EntityID: "7", Pending: []int64{0}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{workflows.EntityIdleTimeout, signals * time.Minute}
	if !slices.Equal(timers, want) {
		t.Fatalf("idle timers %v for %d signals, want %v (one, then the rest of the idle time)", timers, signals, want)
	}
	if ended := env.Now().Sub(start); ended != signals*time.Minute+workflows.EntityIdleTimeout {
		t.Fatalf("ended %s after the start, want the idle timeout after the last signal (%s)", ended, signals*time.Minute+workflows.EntityIdleTimeout)
	}
}

func TestPrinterContinuesAsNewAndCarriesNothingLost(t *testing.T) {
	old := workflows.EntityBatchesBeforeContinue
	workflows.EntityBatchesBeforeContinue = 2
	t.Cleanup(func() { workflows.EntityBatchesBeforeContinue = old })
	env := newEnv(t)
	env.OnActivity(spActs.ApplyEvents, mockAny, mockAny).Return(activities.ApplyResult{}, nil)
	for i := 1; i <= 3; i++ {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(workflows.SignalEvents, workflows.EventBatch{IDs: []int64{int64(i)}})
		}, time.Duration(i)*time.Minute)
	}
	env.ExecuteWorkflow("SimplyPrintPrinter", workflows.EntityInput{Source: "simplyprint", EntityID: "7"})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new after 2 batches, got %v", err)
	}
	if can.WorkflowType.Name != "SimplyPrintPrinter" {
		t.Fatalf("continued as %s", can.WorkflowType.Name)
	}
}

func TestPrinterActivityFailureIsRetried(t *testing.T) {
	env := newEnv(t)
	tries := 0
	env.OnActivity(spActs.ApplyEvents, mockAny, mockAny).Return(
		func(context.Context, []int64) (activities.ApplyResult, error) {
			tries++
			if tries < 3 {
				return activities.ApplyResult{}, errors.New("postgres is restarting")
			}
			return activities.ApplyResult{Processed: 1}, nil
		})
	env.ExecuteWorkflow("SimplyPrintPrinter", workflows.EntityInput{Source: "simplyprint", EntityID: "7", Pending: []int64{1}})
	if err := env.GetWorkflowError(); err != nil || tries != 3 {
		t.Fatalf("err=%v tries=%d", err, tries)
	}
}

// TestPrinterReplay replays histories recorded from real runs (api tests
// write the current one with UPDATE_HISTORY=1): a change that breaks
// determinism fails. The -v0 history was recorded before batches moved to
// local activities, -v1 before the idle timer was kept across signals (a
// TimerCanceled and a TimerStarted at each one); runs like them must still
// replay.
func TestPrinterReplay(t *testing.T) {
	replay(t, []string{"testdata/simplyprint-printer-101.json", "testdata/simplyprint-printer-101-v1.json",
		"testdata/simplyprint-printer-101-v0.json"}, printerWorkflow)
}
