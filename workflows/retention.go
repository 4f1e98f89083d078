package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/retention"
)

// RetentionInput is what a Retention run carries over a continue-as-new;
// the schedule starts it empty.
type RetentionInput struct {
	Now    time.Time        `json:"now,omitempty"`    // cutoffs are measured from here
	Purged retention.Counts `json:"purged,omitempty"` // by earlier runs of this purge
}

// RetentionSummary is a Retention run's result, as Temporal UI shows it.
type RetentionSummary struct {
	Purged retention.Counts `json:"purged"`
	Total  int64            `json:"total"`
	Calls  int              `json:"calls"`
	Policy string           `json:"policy"`
}

// retentionCallsPerRun bounds a run's history; a purge that needs more
// calls continues as new with its totals.
const retentionCallsPerRun = 500

// Retention purges what is past its retention period: the
// <task queue>-retention schedule (hookflow-retention by default) starts it
// every RETENTION_EVERY. Each activity call purges batch by batch for a
// bounded time and says whether there is more; the run calls again until
// nothing is left.
func Retention(ctx workflow.Context, in RetentionInput) (RetentionSummary, error) {
	if in.Now.IsZero() {
		in.Now = workflow.Now(ctx)
	}
	sum := RetentionSummary{Purged: retention.Counts{}}
	sum.Purged.Add(in.Purged)
	var a *activities.Retention
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	for {
		var r activities.RetentionResult
		if err := workflow.ExecuteActivity(actx, a.RetentionPurge, activities.RetentionInput{Now: in.Now}).Get(ctx, &r); err != nil {
			return sum, err
		}
		sum.Calls++
		sum.Purged.Add(r.Purged)
		sum.Policy = r.Policy
		if !r.More {
			break
		}
		if sum.Calls >= retentionCallsPerRun {
			return sum, workflow.NewContinueAsNewError(ctx, Retention, RetentionInput{Now: in.Now, Purged: sum.Purged})
		}
	}
	sum.Total = sum.Purged.Total()
	workflow.GetLogger(ctx).Info("retention purge done", "rows", sum.Total, "calls", sum.Calls)
	return sum, nil
}
