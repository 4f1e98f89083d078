package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
)

// SimplyPrintPrinter applies one printer's events in the order they were
// received (workflow ID simplyprint-printer-<id>; events without a printer go
// to simplyprint-company).
//
// A batch is applied in a local activity: it is one short Postgres
// transaction, and as a local activity it needs no activity task round
// trips through the server, and signals that arrive meanwhile are taken in
// one workflow task instead of one each. Print farms are the high-volume
// source, and on a busy server each history update costs about a
// millisecond of CPU (make bench). Runs that started before this change keep
// their (regular) activities.
func SimplyPrintPrinter(ctx workflow.Context, in EntityInput) error {
	var a *activities.SimplyPrint
	actx := entityActivityOptions(ctx)
	lctx := entityLocalActivityOptions(ctx)
	return RunEntityLoop(ctx, in, func(ctx workflow.Context, ids []int64) error {
		if workflow.GetVersion(ctx, "simplyprint-local-apply", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			return workflow.ExecuteActivity(actx, a.ApplyEvents, ids).Get(ctx, nil)
		}
		return workflow.ExecuteLocalActivity(lctx, a.ApplyEvents, ids).Get(ctx, nil)
	})
}
