package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// SimplyPrintSource is the inbound_events.source of SimplyPrint webhooks.
const SimplyPrintSource = "simplyprint"

// SimplyPrintChannel is the NOTIFY channel of processed SimplyPrint events.
const SimplyPrintChannel = "hookflow_simplyprint"

// Printer is the read model of one printer.
type Printer struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	State        string     `json:"state"`
	CurrentJobID *string    `json:"current_job_id"`
	Progress     *int       `json:"progress"`
	LastEventAt  *time.Time `json:"last_event_at"`
	LastEventID  *int64     `json:"last_event_id"`
	UpdatedAt    time.Time  `json:"updated_at"`
	CurrentJob   *PrintJob  `json:"current_job,omitempty"`
}

// PrintJob is the read model of one print job.
type PrintJob struct {
	ID              string     `json:"id"`
	PrinterID       *int64     `json:"printer_id"`
	File            string     `json:"file"`
	State           string     `json:"state"`
	Percentage      *int       `json:"percentage"`
	Started         *time.Time `json:"started"`
	Ended           *time.Time `json:"ended"`
	DurationSeconds *int       `json:"duration_seconds"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

// PrintersLastEventAt returns the provider time of the newest event applied
// to each printer (absent when none), locking the printers' rows.
func PrintersLastEventAt(ctx context.Context, tx pgx.Tx, printerIDs []int64) (map[int64]time.Time, error) {
	out := map[int64]time.Time{}
	if len(printerIDs) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT id, last_event_at FROM printers WHERE id = ANY($1) AND last_event_at IS NOT NULL
		ORDER BY id FOR UPDATE`, printerIDs)
	if err != nil {
		return nil, err
	}
	var id int64
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
		out[id] = at
		return nil
	})
	return out, err
}

// PrinterChange is one applied event's change to a printer row.
type PrinterChange struct {
	ID       int64
	Name     string // "" keeps the stored one
	State    string // "" keeps the stored one
	SetJob   *string
	ClearJob bool
	Progress *int
	EventAt  time.Time // zero keeps the stored one
	EventID  int64
}

// QueuePrinterChange queues the upsert of a printer row.
func QueuePrinterChange(b *pgx.Batch, c PrinterChange) {
	var eventAt *time.Time
	if !c.EventAt.IsZero() {
		eventAt = &c.EventAt
	}
	b.Queue(`
		INSERT INTO printers (id, name, state, current_job_id, progress, last_event_at, last_event_id, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now())
		ON CONFLICT (id) DO UPDATE SET
			name = CASE WHEN $2 = '' THEN printers.name ELSE $2 END,
			state = CASE WHEN $3 = '' THEN printers.state ELSE $3 END,
			current_job_id = CASE WHEN $8 THEN NULL WHEN $4::text IS NOT NULL THEN $4 ELSE printers.current_job_id END,
			progress = CASE WHEN $8 THEN NULL WHEN $5::int IS NOT NULL THEN $5 ELSE printers.progress END,
			last_event_at = coalesce($6, printers.last_event_at),
			last_event_id = $7,
			updated_at = now()`,
		c.ID, c.Name, c.State, c.SetJob, c.Progress, eventAt, c.EventID, c.ClearJob)
}

// QueuePrintJob queues the upsert of a job row; nil/empty fields keep what
// is stored.
func QueuePrintJob(b *pgx.Batch, j PrintJob, eventAt time.Time) {
	var at *time.Time
	if !eventAt.IsZero() {
		at = &eventAt
	}
	b.Queue(`
		INSERT INTO print_jobs (id, printer_id, file, state, percentage, started, ended, duration_seconds, last_event_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
		ON CONFLICT (id) DO UPDATE SET
			printer_id = coalesce($2, print_jobs.printer_id),
			file = CASE WHEN $3 = '' THEN print_jobs.file ELSE $3 END,
			state = CASE WHEN $4 = '' THEN print_jobs.state ELSE $4 END,
			percentage = coalesce($5, print_jobs.percentage),
			started = coalesce($6, print_jobs.started),
			ended = coalesce($7, print_jobs.ended),
			duration_seconds = coalesce($8, print_jobs.duration_seconds),
			last_event_at = coalesce($9, print_jobs.last_event_at),
			updated_at = now()`,
		j.ID, j.PrinterID, j.File, j.State, j.Percentage, j.Started, j.Ended, j.DurationSeconds, at)
}

// ListPrinters returns every printer with its current job.
func (s *Store) ListPrinters(ctx context.Context) ([]Printer, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT p.id, p.name, p.state, p.current_job_id, p.progress, p.last_event_at, p.last_event_id, p.updated_at,
		       j.id, j.printer_id, j.file, j.state, j.percentage, j.started, j.ended, j.duration_seconds, j.updated_at
		FROM printers p LEFT JOIN print_jobs j ON j.id = p.current_job_id
		ORDER BY p.id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Printer, error) {
		var p Printer
		var j struct {
			ID             *string
			PrinterID      *int64
			File, State    *string
			Percentage     *int
			Started, Ended *time.Time
			Duration       *int
			UpdatedAt      *time.Time
		}
		err := r.Scan(&p.ID, &p.Name, &p.State, &p.CurrentJobID, &p.Progress, &p.LastEventAt, &p.LastEventID, &p.UpdatedAt,
			&j.ID, &j.PrinterID, &j.File, &j.State, &j.Percentage, &j.Started, &j.Ended, &j.Duration, &j.UpdatedAt)
		if j.ID != nil {
			p.CurrentJob = &PrintJob{ID: *j.ID, PrinterID: j.PrinterID, File: deref(j.File), State: deref(j.State),
				Percentage: j.Percentage, Started: j.Started, Ended: j.Ended, DurationSeconds: j.Duration, UpdatedAt: *j.UpdatedAt}
		}
		return p, err
	})
}

// GetPrintJob loads one job (nil when unknown).
func (s *Store) GetPrintJob(ctx context.Context, id string) (*PrintJob, error) {
	var j PrintJob
	err := s.Pool.QueryRow(ctx, `SELECT id, printer_id, file, state, percentage, started, ended, duration_seconds, updated_at
		FROM print_jobs WHERE id = $1`, id).Scan(&j.ID, &j.PrinterID, &j.File, &j.State, &j.Percentage, &j.Started, &j.Ended, &j.DurationSeconds, &j.UpdatedAt)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	return &j, err
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
