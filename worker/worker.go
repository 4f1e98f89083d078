// Package worker registers hookflow's workflows and activities with a
// Temporal worker.
package worker

import (
	"log/slog"
	"net/http"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/workflows"
)

// Deps are what activities need; each flow takes its clients from here.
type Deps struct {
	Config     config.Config
	Store      *store.Store
	HTTPClient *http.Client // traced transport for third-party calls
	Log        *slog.Logger
	Version    string // app.Version, for User-Agent headers
}

// Register adds every workflow and activity to r (a worker, or a test
// environment).
func Register(r sdkworker.Registry, d Deps) {
	r.RegisterActivity(&activities.Events{Store: d.Store})
	r.RegisterWorkflowWithOptions(workflows.SimplyPrintPrinter, workflow.RegisterOptions{Name: WorkflowSimplyPrintPrinter})
	r.RegisterActivity(&activities.SimplyPrint{Store: d.Store})
	r.RegisterWorkflowWithOptions(workflows.DescriptionJob, workflow.RegisterOptions{Name: WorkflowDescriptionJob})
	r.RegisterWorkflowWithOptions(workflows.CallbackDelivery, workflow.RegisterOptions{Name: WorkflowCallbackDelivery})
	r.RegisterActivity(activities.NewJobs(d.Config.Jobs, d.Store, d.Version, d.Log))
	r.RegisterWorkflowWithOptions(workflows.BitrixOrder, workflow.RegisterOptions{Name: WorkflowBitrixOrder})
	r.RegisterWorkflowWithOptions(workflows.OrderBackSync{Retry: workflows.BackSyncRetry{Base: d.Config.Orders.BackSyncRetryBase,
		Max: d.Config.Orders.BackSyncRetryMax, For: d.Config.Orders.BackSyncRetryFor, AttemptTimeout: 2 * d.Config.Orders.Timeout}}.Run,
		workflow.RegisterOptions{Name: WorkflowBitrixBackSync})
	r.RegisterActivity(activities.NewOrders(d.Config.Orders, d.Store, d.HTTPClient, d.Log))
	r.RegisterWorkflowWithOptions(workflows.OkdeskIssue, workflow.RegisterOptions{Name: WorkflowOkdeskIssue})
	r.RegisterWorkflowWithOptions(workflows.OkdeskRating, workflow.RegisterOptions{Name: WorkflowOkdeskRating})
	r.RegisterWorkflowWithOptions(workflows.TelegramChat, workflow.RegisterOptions{Name: WorkflowTelegramChat})
	r.RegisterActivity(activities.NewRatings(d.Config.Ratings, d.Store, d.HTTPClient, d.Log))
	r.RegisterWorkflowWithOptions(workflows.Retention, workflow.RegisterOptions{Name: WorkflowRetention})
	r.RegisterActivity(&activities.Retention{Store: d.Store, Config: d.Config.Retention, Log: d.Log})
}

// Workflow type names: the relay starts workflows by these.
const (
	WorkflowSimplyPrintPrinter = "SimplyPrintPrinter"
	WorkflowDescriptionJob     = "DescriptionJob"
	WorkflowCallbackDelivery   = "CallbackDelivery"
	WorkflowBitrixOrder        = "BitrixOrder"
	WorkflowBitrixBackSync     = "BitrixBackSync"
	WorkflowOkdeskIssue        = "OkdeskIssue"
	WorkflowOkdeskRating       = "OkdeskRating"
	WorkflowTelegramChat       = "TelegramChat"
)

// New creates a worker on the configured task queue.
func New(c client.Client, d Deps) sdkworker.Worker {
	pollers := sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{
		InitialNumberOfPollers: min(5, d.Config.Temporal.WorkerMaxPollers),
		MinimumNumberOfPollers: 2,
		MaximumNumberOfPollers: d.Config.Temporal.WorkerMaxPollers,
	})
	w := sdkworker.New(c, d.Config.Temporal.TaskQueue, sdkworker.Options{
		WorkflowTaskPollerBehavior: pollers,
		ActivityTaskPollerBehavior: pollers,
	})
	Register(w, d)
	return w
}

// Routes maps each inbound source to the workflow type the relay starts or
// signals for it.
func Routes() map[string]string {
	return map[string]string{
		store.SimplyPrintSource:    WorkflowSimplyPrintPrinter,
		store.JobsSource:           WorkflowDescriptionJob,
		store.BitrixSource:         WorkflowBitrixOrder,
		store.BitrixBackSyncSource: WorkflowBitrixBackSync,
		store.OkdeskSource:         WorkflowOkdeskIssue,
		store.TelegramSource:       WorkflowTelegramChat,
	}
}
