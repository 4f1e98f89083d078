// Package worker registers hookflow's workflows and activities with a
// Temporal worker.
package worker

import (
	"context"
	"log/slog"
	"net/http"

	"go.temporal.io/sdk/activity"
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
	// Temporal starts the workflows activities start themselves (a job's
	// callback series). New sets it to the worker's client.
	Temporal client.Client
}

// Register adds every workflow and activity to r (a worker, or a test
// environment).
func Register(r sdkworker.Registry, d Deps) {
	r.RegisterActivity(&activities.Events{Store: d.Store})
	r.RegisterWorkflowWithOptions(workflows.SimplyPrintPrinter, workflow.RegisterOptions{Name: WorkflowSimplyPrintPrinter})
	r.RegisterActivity(&activities.SimplyPrint{Store: d.Store})
	r.RegisterWorkflowWithOptions(workflows.DescriptionJob, workflow.RegisterOptions{Name: WorkflowDescriptionJob})
	r.RegisterWorkflowWithOptions(workflows.CallbackDelivery, workflow.RegisterOptions{Name: WorkflowCallbackDelivery})
	jobs := activities.NewJobs(d.Config.Jobs, d.Store, d.Version, d.Log)
	jobs.GeneratorQueue = config.GeneratorQueue(d.Config.Temporal.TaskQueue)
	if d.Temporal != nil {
		jobs.StartCallback = callbackStarter(d.Temporal, d.Config.Temporal.TaskQueue)
	}
	r.RegisterActivity(jobs)
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

// Workers are the Temporal workers of one process: the main one on
// TEMPORAL_TASK_QUEUE and the generator one on <TEMPORAL_TASK_QUEUE>-generator.
type Workers struct {
	Main, Generator sdkworker.Worker
}

// Start starts both; if the second fails the first is stopped.
func (w *Workers) Start() error {
	if err := w.Main.Start(); err != nil {
		return err
	}
	if err := w.Generator.Start(); err != nil {
		w.Main.Stop()
		return err
	}
	return nil
}

// Stop stops both.
func (w *Workers) Stop() {
	w.Generator.Stop()
	w.Main.Stop()
}

// New creates the process's workers: the main one on the configured task
// queue, and the generator one (NewGenerator).
func New(c client.Client, d Deps) *Workers {
	pollers := sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{
		InitialNumberOfPollers: min(5, d.Config.Temporal.WorkerMaxPollers),
		MinimumNumberOfPollers: 2,
		MaximumNumberOfPollers: d.Config.Temporal.WorkerMaxPollers,
	})
	// Process-wide: it sizes the cache the first worker of the process
	// creates (all its workers share it).
	sdkworker.SetStickyWorkflowCacheSize(d.Config.Temporal.WorkflowCacheSize)
	w := sdkworker.New(c, d.Config.Temporal.TaskQueue, sdkworker.Options{
		WorkflowTaskPollerBehavior: pollers,
		ActivityTaskPollerBehavior: pollers,
	})
	d.Temporal = c
	Register(w, d)
	return &Workers{Main: w, Generator: NewGenerator(c, d)}
}

// NewGenerator creates the worker of the generator task queue: jobs started
// with GENERATOR_MAX_RPS set send each generator request there as one
// JobGenerateLotPaced activity. Every worker process polls it (it is always
// started, so lots queued before the setting was removed still run), and
// with GENERATOR_MAX_RPS set it asks the server to dispatch no more of its
// activities per second than the pacer lets through
// (TaskQueueActivitiesPerSecond: the server enforces it across all workers
// of the queue), so the backlog waits in Temporal, not asleep in workers;
// the activity's Postgres pacer keeps the requests themselves under the
// limit in every second, which the server's token bucket, bursting, does
// not.
func NewGenerator(c client.Client, d Deps) sdkworker.Worker {
	opts := sdkworker.Options{DisableWorkflowWorker: true}
	if _, _, rate := d.Config.Jobs.GeneratorPace(); rate > 0 {
		opts.TaskQueueActivitiesPerSecond = rate
	}
	w := sdkworker.New(c, config.GeneratorQueue(d.Config.Temporal.TaskQueue), opts)
	jobs := activities.NewJobs(d.Config.Jobs, d.Store, d.Version, d.Log)
	w.RegisterActivityWithOptions(jobs.JobGenerateLotPaced, activity.RegisterOptions{Name: ActivityJobGenerateLotPaced})
	return w
}

// callbackStarter starts a delivery's attempt series on the task queue, as
// the API's manual retry does, asking for an eager start: when this
// process's worker polls the queue (it does: the job's run calls this from
// a local activity), the server hands the new run's first workflow task
// straight back in the start's answer instead of through matching.
func callbackStarter(c client.Client, taskQueue string) func(context.Context, activities.CallbackInput) error {
	return func(ctx context.Context, in activities.CallbackInput) error {
		opts := workflows.CallbackStartOptions(in, taskQueue)
		opts.EnableEagerStart = true
		_, err := c.ExecuteWorkflow(ctx, opts, WorkflowCallbackDelivery, in)
		return err
	}
}

// ActivityJobGenerateLotPaced is the generator queue's only activity.
const ActivityJobGenerateLotPaced = "JobGenerateLotPaced"

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
