package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
)

// SimplyPrintPrinter applies one printer's events in the order they were
// received (workflow ID simplyprint-printer-<id>; events without a printer go
// to simplyprint-company).
func SimplyPrintPrinter(ctx workflow.Context, in EntityInput) error {
	var a *activities.SimplyPrint
	actx := entityActivityOptions(ctx)
	return RunEntityLoop(ctx, in, func(ctx workflow.Context, ids []int64) error {
		return workflow.ExecuteActivity(actx, a.ApplyEvents, ids).Get(ctx, nil)
	})
}
