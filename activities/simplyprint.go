// Package activities holds hookflow's side effects: thin wrappers that call
// an integration client or the store. One file per flow.
package activities

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/internal/integrations/simplyprint"
	"github.com/hookflow/hookflow/internal/store"
)

// SimplyPrint applies print-farm events to the printer and job read models.
type SimplyPrint struct {
	Store *store.Store
}

// ApplyResult says what one ApplyEvents call did.
type ApplyResult struct {
	Processed int `json:"processed"` // events applied or recorded now (redelivered ones are skipped)
}

// ApplyEvents applies recorded SimplyPrint events in id order, exactly once,
// and notifies the live stream.
func (a *SimplyPrint) ApplyEvents(ctx context.Context, ids []int64) (ApplyResult, error) {
	n, err := a.Store.ProcessEvents(ctx, ids, store.SimplyPrintChannel, applySimplyPrintEvent)
	return ApplyResult{Processed: n}, err
}

func applySimplyPrintEvent(ctx context.Context, tx pgx.Tx, rec store.InboundEvent) (store.EventOutcome, error) {
	ev, err := simplyprint.ParseEvent(rec.Payload)
	if err != nil { // accepted once, so this only happens if the parser changed
		return store.EventOutcome{Outcome: "failed", Error: err.Error()}, nil
	}
	if ev.PrinterID == 0 {
		return store.EventOutcome{Outcome: "recorded"}, nil
	}
	eventAt := ev.Time()
	last, err := store.PrinterLastEventAt(ctx, tx, ev.PrinterID)
	if err != nil {
		return store.EventOutcome{}, err
	}
	if !eventAt.IsZero() && eventAt.Before(last) {
		return store.EventOutcome{Outcome: "stale", Error: "older than the last applied event of printer " +
			strconv.FormatInt(ev.PrinterID, 10) + " (" + last.Format("2006-01-02T15:04:05Z") + ")"}, nil
	}
	eff := ev.Effect()
	change := store.PrinterChange{ID: ev.PrinterID, Name: ev.PrinterName, State: eff.PrinterState,
		ClearJob: eff.ClearJob, EventAt: eventAt, EventID: rec.ID}
	if ev.Job != nil && ev.Job.ID != "" {
		if eff.SetJob {
			change.SetJob = &ev.Job.ID
			change.Progress = ev.Job.Percentage
		}
		state := eff.JobState
		if state == "" {
			state = ev.Job.State
		}
		pid := ev.PrinterID
		job := store.PrintJob{ID: ev.Job.ID, PrinterID: &pid, File: ev.Job.File, State: state,
			Percentage: ev.Job.Percentage, Started: ev.Job.Started, Ended: ev.Job.Ended, DurationSeconds: ev.Job.Duration}
		if eff.JobState == "completed" && job.Percentage == nil {
			full := 100
			job.Percentage = &full
		}
		if err := store.ApplyPrintJob(ctx, tx, job, eventAt); err != nil {
			return store.EventOutcome{}, err
		}
	}
	if err := store.ApplyPrinterChange(ctx, tx, change); err != nil {
		return store.EventOutcome{}, err
	}
	return store.EventOutcome{Outcome: "applied"}, nil
}
