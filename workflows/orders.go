package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
)

// BitrixOrder applies one Bitrix order's events (site webhooks and Bitrix24
// events) in the order they were received (workflow ID
// bitrix-order-<bitrix id>). Stale versions are recorded and skipped.
func BitrixOrder(ctx workflow.Context, in EntityInput) error {
	var a *activities.Orders
	actx := entityActivityOptions(ctx)
	return RunEntityLoop(ctx, in, func(ctx workflow.Context, ids []int64) error {
		return workflow.ExecuteActivity(actx, a.OrderApplyEvents, ids).Get(ctx, nil)
	})
}

// BackSyncRetry is the durable retry schedule of back syncs: the wait
// starts at Base and doubles up to Max; after For without success the
// requests are recorded as failed. AttemptTimeout bounds one call.
type BackSyncRetry struct {
	Base, Max, For, AttemptTimeout time.Duration
	// MaxAttempts caps the attempts; 0 leaves only For as the bound. (The
	// SDK's test environment caps "unlimited" at 10: tests set it.)
	MaxAttempts int32
}

// DefaultBackSyncRetry is the schedule of the issue: 10 s doubling up to 1 h,
// for 24 h.
var DefaultBackSyncRetry = BackSyncRetry{Base: 10 * time.Second, Max: time.Hour, For: 24 * time.Hour, AttemptTimeout: time.Minute}

// OrderBackSync pushes one CRM order's changes to Bitrix (workflow ID
// bitrix-backsync-<crm id>), request after request, so the last PATCH is
// what Bitrix ends with. Requests buffered while a push is retried are
// coalesced into the next call. The schedule comes from configuration; it
// only shapes activity options, so changing it never breaks a replay.
type OrderBackSync struct {
	Retry BackSyncRetry
}

// Run is the workflow function.
func (w OrderBackSync) Run(ctx workflow.Context, in EntityInput) error {
	var a *activities.Orders
	r := w.Retry
	if r.Base <= 0 {
		r = DefaultBackSyncRetry
	}
	pushCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ScheduleToCloseTimeout: r.For,
		StartToCloseTimeout:    r.AttemptTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    r.Base,
			BackoffCoefficient: 2,
			MaximumInterval:    r.Max,
			MaximumAttempts:    r.MaxAttempts,
		},
	})
	failCtx := entityActivityOptions(ctx)
	return RunEntityLoop(ctx, in, func(ctx workflow.Context, ids []int64) error {
		err := workflow.ExecuteActivity(pushCtx, a.OrderPushToBitrix, ids).Get(ctx, nil)
		if err == nil {
			return nil
		}
		return workflow.ExecuteActivity(failCtx, a.OrderFailBackSync, ids, backSyncFailure(err, r.For)).Get(ctx, nil)
	})
}

// backSyncFailure describes why a push ended without success: a permanent
// refusal as Bitrix gave it, anything else as the retry window running out.
func backSyncFailure(err error, retryFor time.Duration) string {
	gaveUp := "no success within " + retryFor.String() + " (BITRIX_BACKSYNC_RETRY_FOR)"
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if app.NonRetryable() {
			return app.Message()
		}
		return gaveUp + "; last error: " + app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return gaveUp + "; the last attempt timed out"
	}
	return err.Error()
}
