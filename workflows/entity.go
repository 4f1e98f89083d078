// Package workflows holds hookflow's deterministic workflow code: one file
// per flow, plus the per-entity event loop they share. Workflow code never
// does I/O, reads the clock or random directly.
package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
)

// SignalEvents is the signal the relay sends to per-entity workflows.
const SignalEvents = "events"

// EventBatch is the payload of SignalEvents: ids of recorded inbound events,
// in the order they were received. The workflow loads nothing itself; its
// activity reads the rows, so the history stays small.
type EventBatch struct {
	IDs []int64 `json:"ids"`
}

// EntityInput starts (or continues) a per-entity workflow.
type EntityInput struct {
	Source   string  `json:"source"`
	EntityID string  `json:"entity_id"`
	Pending  []int64 `json:"pending,omitempty"` // carried across continue-as-new
	// Job is set on the runs of a description job after the first (the
	// job continues as new after each page of lots, see JobRun).
	Job *JobRun `json:"job,omitempty"`
}

// Search attributes set on every hookflow workflow, so Temporal UI can filter
// by them (e.g. HookflowSource = "simplyprint" AND HookflowEntity = "123").
var (
	SearchSource  = temporal.NewSearchAttributeKeyKeyword("HookflowSource")
	SearchEntity  = temporal.NewSearchAttributeKeyKeyword("HookflowEntity")
	SearchOutcome = temporal.NewSearchAttributeKeyKeyword("HookflowOutcome")
)

// SearchAttributeNames lists the keyword attributes hookflow registers.
func SearchAttributeNames() []string {
	return []string{SearchSource.GetName(), SearchEntity.GetName(), SearchOutcome.GetName()}
}

// Entity loop tuning. Package variables so tests can shorten them.
var (
	// EntityIdleTimeout ends an entity workflow that received nothing for
	// this long; the next event starts a new run (SignalWithStart).
	EntityIdleTimeout = time.Hour
	// EntityMaxBatch caps the events handed to one activity call.
	EntityMaxBatch = 1000
	// EntityBatchesBeforeContinue bounds history growth.
	EntityBatchesBeforeContinue = 500
)

// ApplyFunc applies a batch of event ids (in order) through an activity.
type ApplyFunc func(ctx workflow.Context, ids []int64) error

// RunEntityLoop processes the events of one entity strictly in the order
// they were signalled, draining whatever is buffered into one activity call,
// and continues-as-new before the history grows large. It returns when the
// entity has been idle for EntityIdleTimeout.
//
// Runs started before version 1 ("entity-idle-timer-kept") started a new
// idle timer each time the entity went idle and cancelled it at the next
// signal: two more history events per signal (TimerCanceled, TimerStarted)
// and a timer task for the server to write, under load at every signal.
// From version 1, one timer stays pending across signals; when it fires
// after activity, the next one covers only the rest of the idle time.
func RunEntityLoop(ctx workflow.Context, in EntityInput, apply ApplyFunc) error {
	keepTimer := workflow.GetVersion(ctx, "entity-idle-timer-kept", workflow.DefaultVersion, 1) == 1
	ch := workflow.GetSignalChannel(ctx, SignalEvents)
	pending := in.Pending
	drain := func() {
		for {
			var b EventBatch
			if !ch.ReceiveAsync(&b) {
				return
			}
			pending = append(pending, b.IDs...)
		}
	}
	receive := func(c workflow.ReceiveChannel, _ bool) {
		var b EventBatch
		c.Receive(ctx, &b)
		pending = append(pending, b.IDs...)
	}
	var idleTimer workflow.Future // version 1: pending across signals
	lastBusy := workflow.Now(ctx)
	batches := 0
	for {
		drain()
		if len(pending) == 0 {
			if batches >= EntityBatchesBeforeContinue || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				return workflow.NewContinueAsNewError(ctx, workflow.GetInfo(ctx).WorkflowType.Name, EntityInput{Source: in.Source, EntityID: in.EntityID})
			}
			idle := false
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(ch, receive)
			if keepTimer {
				if idleTimer == nil {
					idleTimer = workflow.NewTimer(ctx, max(EntityIdleTimeout-workflow.Now(ctx).Sub(lastBusy), time.Millisecond))
				}
				sel.AddFuture(idleTimer, func(workflow.Future) { idle = true })
				sel.Select(ctx)
				if idle {
					idleTimer = nil // fired: busy since it was set, the next covers the rest
					idle = workflow.Now(ctx).Sub(lastBusy) >= EntityIdleTimeout
				}
			} else {
				timerCtx, cancelTimer := workflow.WithCancel(ctx)
				sel.AddFuture(workflow.NewTimer(timerCtx, EntityIdleTimeout), func(workflow.Future) { idle = true })
				sel.Select(ctx)
				cancelTimer()
			}
			if idle {
				drain()
				if len(pending) == 0 {
					return RecordOutcome(ctx, "idle")
				}
			}
			continue
		}
		n := min(len(pending), EntityMaxBatch)
		batch := pending[:n]
		if err := apply(ctx, batch); err != nil {
			if err := deadLetter(ctx, batch, err); err != nil {
				return err
			}
		}
		pending = pending[n:]
		batches++
		lastBusy = workflow.Now(ctx)
	}
}

// deadLetter ends a batch whose apply failed for good because Postgres
// refuses its data (activities.ErrTypeInvalidData): its events are recorded
// as failed with the reason, and the loop goes on with the entity's next
// events. Any other error is returned (the run fails, as it always did).
// Store.ProcessEvents isolates such an event by itself; this catches what
// fails outside it.
func deadLetter(ctx workflow.Context, batch []int64, err error) error {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeInvalidData {
		return err
	}
	if workflow.GetVersion(ctx, "dead-letter-invalid-data", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return err // a run recorded before dead letters: it failed there
	}
	var a *activities.Events
	reason := "cannot be applied: " + appErr.Message()
	workflow.GetLogger(ctx).Warn("events recorded as failed: their data cannot be stored", "ids", batch, "reason", reason)
	return workflow.ExecuteActivity(entityActivityOptions(ctx), a.DeadLetterEvents,
		activities.DeadLetterInput{IDs: batch, Reason: reason}).Get(ctx, nil)
}

// entityApplyRetry: applying events touches only Postgres, so retry it
// until it works; a poison event is recorded as failed by the activity
// itself instead of failing the call.
var entityApplyRetry = temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    time.Minute,
}

func entityActivityOptions(ctx workflow.Context) workflow.Context {
	retry := entityApplyRetry
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: &retry})
}

func entityLocalActivityOptions(ctx workflow.Context) workflow.Context {
	retry := entityApplyRetry
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: &retry})
}

// RecordOutcome marks how a run ended: the HookflowOutcome search attribute
// (Temporal UI filters on it) and the hookflow_workflow_outcomes counter.
func RecordOutcome(ctx workflow.Context, outcome string) error {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{
		"workflow_type": workflow.GetInfo(ctx).WorkflowType.Name, "outcome": outcome,
	}).Counter("hookflow_workflow_outcomes").Inc(1)
	return workflow.UpsertTypedSearchAttributes(ctx, SearchOutcome.ValueSet(outcome))
}
