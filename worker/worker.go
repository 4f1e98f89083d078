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
	r.RegisterWorkflowWithOptions(workflows.SimplyPrintPrinter, workflow.RegisterOptions{Name: WorkflowSimplyPrintPrinter})
	r.RegisterActivity(&activities.SimplyPrint{Store: d.Store})
	r.RegisterWorkflowWithOptions(workflows.DescriptionJob, workflow.RegisterOptions{Name: WorkflowDescriptionJob})
	r.RegisterWorkflowWithOptions(workflows.CallbackDelivery, workflow.RegisterOptions{Name: WorkflowCallbackDelivery})
	r.RegisterActivity(activities.NewJobs(d.Config.Jobs, d.Store, d.Version, d.Log))
}

// Workflow type names: the relay starts workflows by these.
const (
	WorkflowSimplyPrintPrinter = "SimplyPrintPrinter"
	WorkflowDescriptionJob     = "DescriptionJob"
	WorkflowCallbackDelivery   = "CallbackDelivery"
)

// New creates a worker on the configured task queue.
func New(c client.Client, d Deps) sdkworker.Worker {
	w := sdkworker.New(c, d.Config.Temporal.TaskQueue, sdkworker.Options{})
	Register(w, d)
	return w
}

// Routes maps each inbound source to the workflow type the relay starts or
// signals for it.
func Routes() map[string]string {
	return map[string]string{
		store.SimplyPrintSource: WorkflowSimplyPrintPrinter,
		store.JobsSource:        WorkflowDescriptionJob,
	}
}
