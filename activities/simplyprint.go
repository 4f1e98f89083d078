// Package activities holds hookflow's side effects: thin wrappers that call
// an integration client or the store. One file per flow.
package activities

import (
	"context"
	"sort"
	"strconv"
	"time"

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
	n, err := a.Store.ProcessEvents(ctx, ids, store.SimplyPrintChannel, applySimplyPrintBatch)
	return ApplyResult{Processed: n}, nonRetryableData(err)
}

// applySimplyPrintBatch folds a batch of events into the final change per
// printer and per job (as if applied one by one, in order) and writes them
// in one round trip.
func applySimplyPrintBatch(ctx context.Context, tx pgx.Tx, events []store.InboundEvent) ([]store.EventOutcome, error) {
	out := make([]store.EventOutcome, len(events))
	parsed := make([]simplyprint.Event, len(events))
	var printerIDs []int64
	for i, rec := range events {
		ev, err := simplyprint.ParseEvent(rec.Payload)
		if err != nil { // accepted once, so only if the parser changed since
			out[i] = store.EventOutcome{Outcome: "failed", Error: err.Error()}
			continue
		}
		parsed[i] = ev
		if ev.PrinterID != 0 {
			printerIDs = append(printerIDs, ev.PrinterID)
		}
	}
	last, err := store.PrintersLastEventAt(ctx, tx, printerIDs)
	if err != nil {
		return nil, err
	}
	printers := map[int64]*store.PrinterChange{}
	jobs := map[string]*store.PrintJob{}
	jobAt := map[string]time.Time{}
	for i, ev := range parsed {
		if out[i].Outcome != "" {
			continue
		}
		if ev.PrinterID == 0 {
			out[i] = store.EventOutcome{Outcome: "recorded"}
			continue
		}
		at := ev.Time()
		if prev := last[ev.PrinterID]; !at.IsZero() && at.Before(prev) {
			out[i] = store.EventOutcome{Outcome: "stale", Error: "older than the last applied event of printer " +
				strconv.FormatInt(ev.PrinterID, 10) + " (" + prev.UTC().Format(time.RFC3339) + ")"}
			continue
		}
		if at.After(last[ev.PrinterID]) {
			last[ev.PrinterID] = at
		}
		foldPrinter(printers, ev, events[i].ID)
		if ev.Job != nil && ev.Job.ID != "" {
			foldJob(jobs, jobAt, ev)
		}
		out[i] = store.EventOutcome{Outcome: "applied"}
	}
	batch := &pgx.Batch{}
	for _, id := range sortedKeys(printers) {
		store.QueuePrinterChange(batch, *printers[id])
	}
	for _, id := range sortedKeys(jobs) {
		store.QueuePrintJob(batch, *jobs[id], jobAt[id])
	}
	if batch.Len() > 0 {
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// foldPrinter merges one event's effect into the printer's pending change.
func foldPrinter(printers map[int64]*store.PrinterChange, ev simplyprint.Event, eventID int64) {
	c := printers[ev.PrinterID]
	if c == nil {
		c = &store.PrinterChange{ID: ev.PrinterID}
		printers[ev.PrinterID] = c
	}
	eff := ev.Effect()
	if ev.PrinterName != "" {
		c.Name = ev.PrinterName
	}
	if eff.PrinterState != "" {
		c.State = eff.PrinterState
	}
	if eff.ClearJob {
		c.ClearJob, c.SetJob, c.Progress = true, nil, nil
	}
	if eff.SetJob && ev.Job != nil && ev.Job.ID != "" {
		id := ev.Job.ID
		if c.ClearJob && ev.Job.Percentage == nil { // a new job after one ended in this batch
			zero := 0
			c.Progress = &zero
		}
		c.ClearJob, c.SetJob = false, &id
		if ev.Job.Percentage != nil {
			c.Progress = ev.Job.Percentage
		}
	}
	if at := ev.Time(); at.After(c.EventAt) {
		c.EventAt = at
	}
	c.EventID = eventID
}

// foldJob merges one event's job fields (set fields win, as the upsert does).
func foldJob(jobs map[string]*store.PrintJob, jobAt map[string]time.Time, ev simplyprint.Event) {
	j := jobs[ev.Job.ID]
	if j == nil {
		j = &store.PrintJob{ID: ev.Job.ID}
		jobs[ev.Job.ID] = j
	}
	pid := ev.PrinterID
	j.PrinterID = &pid
	eff := ev.Effect()
	state := eff.JobState
	if state == "" {
		state = ev.Job.State
	}
	if state != "" {
		j.State = state
	}
	if ev.Job.File != "" {
		j.File = ev.Job.File
	}
	if ev.Job.Percentage != nil {
		j.Percentage = ev.Job.Percentage
	} else if eff.JobState == "completed" {
		full := 100
		j.Percentage = &full
	}
	if ev.Job.Started != nil {
		j.Started = ev.Job.Started
	}
	if ev.Job.Ended != nil {
		j.Ended = ev.Job.Ended
	}
	if ev.Job.Duration != nil {
		j.DurationSeconds = ev.Job.Duration
	}
	if at := ev.Time(); at.After(jobAt[ev.Job.ID]) {
		jobAt[ev.Job.ID] = at
	}
}

func sortedKeys[K int64 | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}
