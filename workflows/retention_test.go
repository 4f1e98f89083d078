package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/retention"
	"github.com/hookflow/hookflow/workflows"
)

// TestRetentionCallsUntilNothingIsLeft: the run calls the purge activity
// while it reports more, with the same cutoff moment every time, and sums
// what each call purged.
func TestRetentionCallsUntilNothingIsLeft(t *testing.T) {
	var acts *activities.Retention
	env := newTestEnv(acts, named{"Retention", workflows.Retention})
	var nows []time.Time
	calls := []activities.RetentionResult{
		{Purged: retention.Counts{"events/simplyprint": 2000}, More: true},
		{Purged: retention.Counts{"events/simplyprint": 1500, "sync_log": 10}, More: true},
		{Purged: retention.Counts{"callback_attempts": 3}, Policy: "events 30d"},
	}
	env.OnActivity(acts.RetentionPurge, mockAny, mockAny).Return(func(_ context.Context, in activities.RetentionInput) (activities.RetentionResult, error) {
		nows = append(nows, in.Now)
		r := calls[0]
		calls = calls[1:]
		return r, nil
	}).Times(3)
	env.ExecuteWorkflow("Retention", workflows.RetentionInput{})
	var sum workflows.RetentionSummary
	if err := env.GetWorkflowResult(&sum); err != nil {
		t.Fatal(err)
	}
	if sum.Calls != 3 || sum.Total != 3513 || sum.Purged["events/simplyprint"] != 3500 || sum.Purged["sync_log"] != 10 || sum.Policy != "events 30d" {
		t.Fatalf("summary %+v", sum)
	}
	if len(nows) != 3 || nows[0].IsZero() || !nows[0].Equal(nows[1]) || !nows[1].Equal(nows[2]) {
		t.Fatalf("cutoff moments %v: want one, the same for every call", nows)
	}
	env.AssertExpectations(t)
}
