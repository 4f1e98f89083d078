package workflows_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/workflows"
)

// TestEntityLoopDeadLettersInvalidData: a batch whose apply fails for good
// because Postgres refuses its data is recorded as failed with the reason
// (not retried, not failing the run), and the entity's next events are
// applied. Another permanent error still fails the run.
func TestEntityLoopDeadLettersInvalidData(t *testing.T) {
	env := newOrdersEnv(t, retry24h)
	env.RegisterActivity(&activities.Events{})
	var applied []int64
	calls := 0
	env.OnActivity(ordersActs.OrderApplyEvents, mockAny, mockAny).Return(func(_ context.Context, ids []int64) (activities.ApplyResult, error) {
		calls++
		if slices.Contains(ids, 1) {
			return activities.ApplyResult{}, temporal.NewNonRetryableApplicationError(
				`invalid byte sequence for encoding "UTF8": 0x00 [SQLSTATE 22021]`, activities.ErrTypeInvalidData, nil)
		}
		applied = append(applied, ids...)
		return activities.ApplyResult{Processed: len(ids)}, nil
	})
	var dead []activities.DeadLetterInput
	var evActs *activities.Events
	env.OnActivity(evActs.DeadLetterEvents, mockAny, mockAny).Return(func(_ context.Context, in activities.DeadLetterInput) (int64, error) {
		dead = append(dead, in)
		return int64(len(in.IDs)), nil
	})
	runOrderWithLateEvents(t, env)
	if calls != 2 || !slices.Equal(applied, []int64{2, 3}) {
		t.Fatalf("%d apply calls, applied %v: the failing batch was retried or the next one lost", calls, applied)
	}
	if len(dead) != 1 || !slices.Equal(dead[0].IDs, []int64{1}) || dead[0].Reason != `cannot be applied: invalid byte sequence for encoding "UTF8": 0x00 [SQLSTATE 22021]` {
		t.Fatalf("dead letters %+v", dead)
	}

	env = newOrdersEnv(t, retry24h)
	env.RegisterActivity(&activities.Events{})
	env.OnActivity(ordersActs.OrderApplyEvents, mockAny, mockAny).Return(activities.ApplyResult{},
		temporal.NewNonRetryableApplicationError("something else", "Other", nil))
	env.ExecuteWorkflow("BitrixOrder", workflows.EntityInput{Source: "bitrix", EntityID: "237", Pending: []int64{1}})
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != "Other" {
		t.Fatalf("another permanent error: %v, want the run to fail with it", err)
	}
}
