package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/internal/callback"
	"github.com/hookflow/hookflow/internal/jobs"
)

// JobsSource is the inbound_events.source of job submissions.
const JobsSource = "jobs"

// Job statuses beyond the final ones of package callback.
const (
	JobQueued     = "queued"
	JobProcessing = "processing"
)

// Lot statuses.
const (
	LotPending   = "pending"
	LotCompleted = "completed"
	LotFailed    = "failed"
)

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	DeliveryGone      = "gone" // the receiver answered 410
)

// ErrJobIdempotencyConflict: the Idempotency-Key was used before with another body.
var ErrJobIdempotencyConflict = errors.New("idempotency key reused with a different request body")

// ErrJobNotFound: no job with that id.
var ErrJobNotFound = errors.New("job not found")

// ErrDeliveryPending: a delivery's attempt series is still running.
var ErrDeliveryPending = errors.New("delivery is still pending")

// Job is one description job.
type Job struct {
	ID            string     `json:"job_id"`
	ClientID      string     `json:"client_id"`
	Status        string     `json:"status"`
	Version       string     `json:"version"`
	Languages     []string   `json:"languages"`
	WebhookURL    string     `json:"-"`
	TotalLots     int        `json:"total_lots"`
	CompletedLots int        `json:"completed_lots"`
	FailedLots    int        `json:"failed_lots"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	StartedAt     *time.Time `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at"`
	Delivery      *Delivery  `json:"-"` // the job's callback, if it has one yet
}

// Finished reports whether the job reached a final status.
func (j Job) Finished() bool {
	return j.Status != JobQueued && j.Status != JobProcessing
}

// NewJob is an accepted submission.
type NewJob struct {
	ID             string // uuid
	ClientID       string
	Version        string
	Languages      []string
	WebhookURL     string
	IdempotencyKey string // "" when the client sent none
	RequestHash    string
	Lots           []jobs.Lot
}

// JobWorkflowID is the workflow that processes a job.
func JobWorkflowID(jobID string) string { return "job-" + jobID }

// CreateJob stores a job, its lots and its inbound event in one transaction,
// so a job is either accepted whole (and handed to Temporal by the relay,
// whenever Temporal answers) or not at all. With an idempotency key already
// used by the same client, it returns that job (replay=true) when the body
// hash matches and ErrJobIdempotencyConflict otherwise.
func (s *Store) CreateJob(ctx context.Context, j NewJob, ev *InboundEvent) (jobID string, replay bool, err error) {
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var key *string
		if j.IdempotencyKey != "" {
			key = &j.IdempotencyKey
		}
		err := tx.QueryRow(ctx, `
			INSERT INTO jobs (id, client_id, version, languages, webhook_url, total_lots, idempotency_key, request_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (client_id, idempotency_key) DO NOTHING
			RETURNING id::text`,
			j.ID, j.ClientID, j.Version, j.Languages, j.WebhookURL, len(j.Lots), key, j.RequestHash).Scan(&jobID)
		if errors.Is(err, pgx.ErrNoRows) {
			var hash string
			if err := tx.QueryRow(ctx, `SELECT id::text, request_hash FROM jobs WHERE client_id = $1 AND idempotency_key = $2`,
				j.ClientID, j.IdempotencyKey).Scan(&jobID, &hash); err != nil {
				return err
			}
			if hash != j.RequestHash {
				return ErrJobIdempotencyConflict
			}
			replay = true
			return nil
		}
		if err != nil {
			return err
		}
		rows := make([][]any, len(j.Lots))
		for i, l := range j.Lots {
			rows[i] = []any{j.ID, i, l.LotID, l.Images}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"job_lots"}, []string{"job_id", "position", "lot_id", "images"},
			pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("store lots: %w", err)
		}
		_, err = recordJobEventTx(ctx, tx, ev)
		return err
	})
	if err != nil {
		return "", false, err
	}
	return jobID, replay, nil
}

// recordJobEventTx is RecordEvent inside the caller's transaction (the job and
// its event commit together).
func recordJobEventTx(ctx context.Context, tx pgx.Tx, ev *InboundEvent) (id int64, err error) {
	attrs := ev.Attrs
	if attrs == nil {
		attrs = map[string]any{}
	}
	err = tx.QueryRow(ctx, `
		INSERT INTO inbound_events (source, dedup_key, workflow_id, event, event_type, entity_id, attrs, payload, traceparent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, nullif($9, ''))
		RETURNING id`,
		ev.Source, ev.DedupKey, ev.WorkflowID, ev.Event, ev.EventType, ev.EntityID, attrs, string(ev.Payload), ev.TraceParent,
	).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record inbound event: %w", err)
	}
	ev.ID = id
	return id, nil
}

// LotRef names one lot of a job.
type LotRef struct {
	Position int    `json:"position"`
	LotID    string `json:"lot_id"`
}

// StartJob marks the job's inbound events processed (exactly once), moves a
// queued job to processing and returns its status and the lots still
// pending (all of them on a first start; the rest after a resumed run), the
// first limit of them when limit > 0.
func (s *Store) StartJob(ctx context.Context, jobID string, eventIDs []int64, limit int) (status string, pending []LotRef, err error) {
	if len(eventIDs) > 0 {
		if _, err := s.ProcessEvents(ctx, eventIDs, "", PerEvent(func(context.Context, pgx.Tx, InboundEvent) (EventOutcome, error) {
			return EventOutcome{Outcome: "started"}, nil
		})); err != nil {
			return "", nil, err
		}
	}
	var st *string
	err = s.Pool.QueryRow(ctx, `
		WITH upd AS (
			UPDATE jobs SET status = 'processing', started_at = coalesce(started_at, now()), updated_at = now()
			WHERE id = $1 AND status = 'queued' RETURNING status)
		SELECT coalesce((SELECT status FROM upd), (SELECT status FROM jobs WHERE id = $1))`, jobID).Scan(&st)
	if err != nil {
		return "", nil, err
	}
	if st == nil {
		return "", nil, fmt.Errorf("%w: %s", ErrJobNotFound, jobID)
	}
	status = *st
	pending, err = s.PendingLots(ctx, jobID, -1, limit)
	return status, pending, err
}

// PendingLots returns the job's pending lots after position after, in
// position order, at most limit of them (all when limit <= 0): the page a
// large job's run works through.
func (s *Store) PendingLots(ctx context.Context, jobID string, after, limit int) ([]LotRef, error) {
	q := `SELECT position, lot_id FROM job_lots WHERE job_id = $1 AND status = 'pending' AND position > $2 ORDER BY position`
	args := []any{jobID, after}
	if limit > 0 {
		q += ` LIMIT $3`
		args = append(args, limit)
	}
	rows, err := s.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LotRef, error) {
		var l LotRef
		return l, r.Scan(&l.Position, &l.LotID)
	})
}

// LotWork is what generating one lot needs.
type LotWork struct {
	LotID     string
	Images    []string
	Languages []string
	Status    string
}

// BeginLotAttempt loads a lot and, when it is still pending, counts one more
// generator attempt.
func (s *Store) BeginLotAttempt(ctx context.Context, jobID string, position int) (LotWork, error) {
	var w LotWork
	err := s.Pool.QueryRow(ctx, `
		UPDATE job_lots l SET attempts = l.attempts + CASE WHEN l.status = 'pending' THEN 1 ELSE 0 END
		FROM jobs j WHERE j.id = l.job_id AND l.job_id = $1 AND l.position = $2
		RETURNING l.lot_id, l.images, j.languages, l.status`, jobID, position).Scan(&w.LotID, &w.Images, &w.Languages, &w.Status)
	return w, err
}

// CompleteLot stores a lot's descriptions and counts it, once.
func (s *Store) CompleteLot(ctx context.Context, jobID string, position int, descriptions map[string]string) error {
	return s.finishLot(ctx, jobID, position, LotCompleted, descriptions, "")
}

// FailLot records why a lot failed and counts it, once.
func (s *Store) FailLot(ctx context.Context, jobID string, position int, reason string) error {
	return s.finishLot(ctx, jobID, position, LotFailed, nil, Text(reason)) // a generator's message may hold anything
}

func (s *Store) finishLot(ctx context.Context, jobID string, position int, status string, descriptions map[string]string, reason string) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var descs any // SQL NULL, not JSON null, for a failed lot
		if descriptions != nil {
			descs = descriptions
		}
		tag, err := tx.Exec(ctx, `UPDATE job_lots SET status = $3, descriptions = $4, error = $5, finished_at = now()
			WHERE job_id = $1 AND position = $2 AND status = 'pending'`, jobID, position, status, descs, jobsNullString(reason))
		if err != nil || tag.RowsAffected() == 0 {
			return err // already finished: a retried activity, nothing to count
		}
		column := "completed_lots"
		if status == LotFailed {
			column = "failed_lots"
		}
		_, err = tx.Exec(ctx, `UPDATE jobs SET `+column+` = `+column+` + 1, updated_at = now() WHERE id = $1`, jobID)
		return err
	})
}

// FinishJob gives the job its final status from its lots' outcomes and, when
// it has a webhook_url, creates its callback delivery with the exact body to
// send (built once by payload; every attempt sends these bytes). Calling it
// again returns what the first call stored.
func (s *Store) FinishJob(ctx context.Context, jobID string, webhookID func(deliveryID string) string) (Job, error) {
	var job Job
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		j, err := scanJob(tx.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1 FOR UPDATE`, jobID))
		if err != nil {
			return err
		}
		if !j.Finished() {
			var completed, failed, pending int
			if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'),
				count(*) FILTER (WHERE status = 'pending') FROM job_lots WHERE job_id = $1`, jobID).Scan(&completed, &failed, &pending); err != nil {
				return err
			}
			if pending > 0 {
				return fmt.Errorf("job %s: %d lots are still pending", jobID, pending)
			}
			j.Status = callback.StatusFor(j.TotalLots, completed)
			if err := tx.QueryRow(ctx, `UPDATE jobs SET status = $2, completed_lots = $3, failed_lots = $4, finished_at = now(), updated_at = now()
				WHERE id = $1 RETURNING finished_at, updated_at`, jobID, j.Status, completed, failed).Scan(&j.FinishedAt, &j.UpdatedAt); err != nil {
				return err
			}
			j.CompletedLots, j.FailedLots = completed, failed
		}
		if j.WebhookURL != "" {
			body, err := callback.NewPayload(j.ID, *j.FinishedAt, j.TotalLots, j.CompletedLots, j.FailedLots, j.WebhookURL).Marshal()
			if err != nil {
				return err
			}
			id := uuid.NewString()
			if _, err := tx.Exec(ctx, `INSERT INTO callback_deliveries (id, job_id, client_id, url, webhook_id, body, next_attempt_at)
				VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT (job_id) DO NOTHING`,
				id, j.ID, j.ClientID, j.WebhookURL, webhookID(id), string(body)); err != nil {
				return err
			}
			d, err := scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM callback_deliveries WHERE job_id = $1`, j.ID))
			if err != nil {
				return err
			}
			j.Delivery = &d
		}
		job = j
		return nil
	})
	return job, err
}

const jobColumns = `id::text, client_id, status, version, languages, webhook_url, total_lots, completed_lots, failed_lots,
	created_at, updated_at, started_at, finished_at`

func scanJob(r pgx.Row) (Job, error) {
	var j Job
	err := r.Scan(&j.ID, &j.ClientID, &j.Status, &j.Version, &j.Languages, &j.WebhookURL, &j.TotalLots, &j.CompletedLots,
		&j.FailedLots, &j.CreatedAt, &j.UpdatedAt, &j.StartedAt, &j.FinishedAt)
	return j, err
}

// GetJob loads a job with its delivery (nil, nil when unknown).
//
// The job and its delivery are read from one snapshot (a repeatable-read
// transaction): read one after the other, a job finishing in between
// showed as processing with its callback already delivered.
func (s *Store) GetJob(ctx context.Context, jobID string) (*Job, error) {
	var job *Job
	err := pgx.BeginTxFunc(ctx, s.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		j, err := scanJob(tx.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, jobID))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		d, err := scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM callback_deliveries WHERE job_id = $1`, jobID))
		switch {
		case err == nil:
			j.Delivery = &d
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		job = &j
		return nil
	})
	return job, err
}

// LotResult is one lot's outcome.
type LotResult struct {
	LotID        string            `json:"lot_id"`
	Status       string            `json:"status"`
	Descriptions map[string]string `json:"descriptions,omitempty"`
	Error        *string           `json:"error,omitempty"`
	Attempts     int               `json:"attempts"`
}

// JobResults lists a job's lots in submission order.
func (s *Store) JobResults(ctx context.Context, jobID string) ([]LotResult, error) {
	rows, err := s.Pool.Query(ctx, `SELECT lot_id, status, descriptions, error, attempts FROM job_lots WHERE job_id = $1 ORDER BY position`, jobID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LotResult, error) {
		var l LotResult
		return l, r.Scan(&l.LotID, &l.Status, &l.Descriptions, &l.Error, &l.Attempts)
	})
}

// Delivery is one job's callback.
type Delivery struct {
	ID             string     `json:"delivery_id"`
	JobID          string     `json:"job_id"`
	ClientID       string     `json:"client_id"`
	URL            string     `json:"-"` // may carry the receiver's token: shown redacted
	WebhookID      string     `json:"webhook_id"`
	Body           []byte     `json:"-"`
	Status         string     `json:"status"`
	Series         int        `json:"series"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	FinishedAt     *time.Time `json:"finished_at"`
}

const deliveryColumns = `id::text, job_id::text, client_id, url, webhook_id, body, status, series, attempts, last_status_code,
	last_error, next_attempt_at, created_at, updated_at, finished_at`

func scanDelivery(r pgx.Row) (Delivery, error) {
	var d Delivery
	var body string
	err := r.Scan(&d.ID, &d.JobID, &d.ClientID, &d.URL, &d.WebhookID, &body, &d.Status, &d.Series, &d.Attempts,
		&d.LastStatusCode, &d.LastError, &d.NextAttemptAt, &d.CreatedAt, &d.UpdatedAt, &d.FinishedAt)
	d.Body = []byte(body)
	return d, err
}

// GetDelivery loads a delivery (nil, nil when unknown).
func (s *Store) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	return s.getDelivery(ctx, `SELECT `+deliveryColumns+` FROM callback_deliveries WHERE id = $1`, id)
}

// DeliveryForAttempt loads a delivery for an attempt: it waits for a manual
// retry that is still committing (RetryDelivery holds the row while it starts
// the new series' workflow, whose first attempt can run before the commit)
// and then reads what it committed, so a new series never mistakes itself
// for a superseded one.
func (s *Store) DeliveryForAttempt(ctx context.Context, id string) (*Delivery, error) {
	return s.getDelivery(ctx, `SELECT `+deliveryColumns+` FROM callback_deliveries WHERE id = $1 FOR SHARE`, id)
}

func (s *Store) getDelivery(ctx context.Context, query, id string) (*Delivery, error) {
	d, err := scanDelivery(s.Pool.QueryRow(ctx, query, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// AttemptRecord is one callback attempt and what it means for the delivery.
type AttemptRecord struct {
	DeliveryID      string
	Series          int
	Attempt         int // over all series
	AttemptedAt     time.Time
	StatusCode      int // 0: no answer
	Latency         time.Duration
	Outcome         string
	Error           string
	ResponseSnippet string
	DeliveryStatus  string     // the delivery's status after this attempt
	NextAttemptAt   *time.Time // when the next attempt is due; nil when none follows
}

// RecordAttempt stores an attempt (once: a repeat of the same attempt number
// changes nothing) and updates its delivery unless a newer series or attempt
// was recorded already.
func (s *Store) RecordAttempt(ctx context.Context, a AttemptRecord) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		code := jobsNullInt(a.StatusCode)
		errText, snippet := jobsNullString(a.Error), jobsNullString(a.ResponseSnippet)
		tag, err := tx.Exec(ctx, `INSERT INTO callback_attempts (delivery_id, attempt, series, attempted_at, status_code, latency_ms, outcome, error, response_snippet)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (delivery_id, attempt) DO NOTHING`,
			a.DeliveryID, a.Attempt, a.Series, a.AttemptedAt, code, float64(a.Latency)/float64(time.Millisecond), a.Outcome, errText, snippet)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE callback_deliveries SET attempts = $3, status = $4, last_status_code = $5, last_error = $6,
			next_attempt_at = $7, updated_at = now(),
			finished_at = CASE WHEN $4 = 'pending' THEN NULL ELSE now() END
			WHERE id = $1 AND series = $2 AND attempts < $3`,
			a.DeliveryID, a.Series, a.Attempt, a.DeliveryStatus, code, errText, a.NextAttemptAt)
		return err
	})
}

// DeliveryAttempt is a recorded attempt.
type DeliveryAttempt struct {
	Attempt         int       `json:"attempt"`
	Series          int       `json:"series"`
	AttemptedAt     time.Time `json:"attempted_at"`
	StatusCode      *int      `json:"status_code"`
	LatencyMS       float64   `json:"latency_ms"`
	Outcome         string    `json:"outcome"`
	Error           *string   `json:"error"`
	ResponseSnippet *string   `json:"response_snippet"`
}

// DeliveryAttempts lists a delivery's attempts in order.
func (s *Store) DeliveryAttempts(ctx context.Context, deliveryID string) ([]DeliveryAttempt, error) {
	rows, err := s.Pool.Query(ctx, `SELECT attempt, series, attempted_at, status_code, latency_ms, outcome, error, response_snippet
		FROM callback_attempts WHERE delivery_id = $1 ORDER BY attempt`, deliveryID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeliveryAttempt, error) {
		var a DeliveryAttempt
		return a, r.Scan(&a.Attempt, &a.Series, &a.AttemptedAt, &a.StatusCode, &a.LatencyMS, &a.Outcome, &a.Error, &a.ResponseSnippet)
	})
}

// RetryDelivery opens a new attempt series for a finished delivery: inside
// one transaction it bumps the series and sets the delivery pending, then
// calls start (which starts the series' workflow); an error from start rolls
// the change back. ErrDeliveryPending when the delivery is pending, unless
// stalled says its series' workflow is no longer running (terminated by
// hand); nil delivery when unknown.
func (s *Store) RetryDelivery(ctx context.Context, id string, stalled func(d Delivery) bool, start func(d Delivery) error) (*Delivery, error) {
	return s.RetryDeliveryAs(ctx, "", id, stalled, start)
}

// RetryDeliveryAs is RetryDelivery audited under actor (a token's name; ""
// records nothing): a retry that starts writes its delivery.retry entry in
// its own transaction, so the entry exists exactly when the retry does; a
// refused one (unknown, pending) or one that could not start is recorded
// after the rollback with its result (AuditNotFound, AuditConflict,
// AuditError).
func (s *Store) RetryDeliveryAs(ctx context.Context, actor, id string, stalled func(d Delivery) bool, start func(d Delivery) error) (*Delivery, error) {
	var out *Delivery
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		d, err := scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM callback_deliveries WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.Status == DeliveryPending && !stalled(d) {
			out = &d
			return ErrDeliveryPending
		}
		from := d.Status
		if err := tx.QueryRow(ctx, `UPDATE callback_deliveries SET series = series + 1, status = 'pending', next_attempt_at = now(),
			finished_at = NULL, updated_at = now() WHERE id = $1 RETURNING series, status, next_attempt_at, updated_at`, id).Scan(
			&d.Series, &d.Status, &d.NextAttemptAt, &d.UpdatedAt); err != nil {
			return err
		}
		d.FinishedAt = nil
		if actor != "" {
			if err := RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: AuditDeliveryRetry, Target: id, Count: 1, Result: AuditOK,
				Detail: AuditDetail(map[string]any{"client_id": d.ClientID, "job_id": d.JobID, "series": d.Series, "was": from})}); err != nil {
				return err
			}
		}
		if err := start(d); err != nil {
			return err
		}
		out = &d
		return nil
	})
	if actor == "" || (err == nil && out != nil) || ctx.Err() != nil {
		return out, err
	}
	e := AuditEntry{Actor: actor, Action: AuditDeliveryRetry, Target: id}
	switch {
	case err == nil:
		e.Result = AuditNotFound
	case errors.Is(err, ErrDeliveryPending):
		e.Result = AuditConflict
		e.Detail = AuditDetail(map[string]any{"status": out.Status, "series": out.Series, "reason": "still pending"})
	default:
		e.Result = AuditError
		e.Detail = AuditDetail(map[string]any{"error": err.Error()})
	}
	if auditErr := s.RecordAudit(ctx, e); auditErr != nil && err == nil {
		err = fmt.Errorf("audit the refused retry: %w", auditErr)
	}
	return out, err
}

// DeliveryMetrics summarises callbacks created since a time.
type DeliveryMetrics struct {
	Total            int64            `json:"total"`
	Delivered        int64            `json:"delivered"`
	Failed           int64            `json:"failed"` // failed and gone
	Gone             int64            `json:"gone"`
	Pending          int64            `json:"pending"`
	SuccessRate      *float64         `json:"success_rate"` // delivered / finished; null when none finished
	AttemptsHisto    map[string]int64 `json:"attempts_histogram"`
	Attempts         int64            `json:"attempts"`
	LatencyP50MS     *float64         `json:"latency_p50_ms"`
	LatencyP95MS     *float64         `json:"latency_p95_ms"`
	StatusCodeCounts map[string]int64 `json:"status_codes"` // per attempt; "none" when no answer arrived
}

// The reads of DeliveryMetrics and DeliveryHealth: $1 since, $2 the first
// hour boundary at or after it (hourAfter). The counters of migration 00051
// cover [$2, ...), the raw rows [$1, $2) through the time indexes.
const (
	deliveryCountsQuery = `SELECT status, attempts, sum(n)::bigint FROM (
		SELECT status, attempts, n FROM delivery_counts WHERE hour >= $2
		UNION ALL
		SELECT status, attempts, 1 FROM callback_deliveries WHERE created_at >= $1 AND created_at < $2) AS c
	GROUP BY 1, 2 HAVING sum(n) <> 0`
	attemptCodesQuery = `SELECT status_code, sum(n)::bigint FROM (
		SELECT status_code, n FROM attempt_counts WHERE hour >= $2
		UNION ALL
		SELECT coalesce(status_code::text, 'none'), 1 FROM callback_attempts WHERE attempted_at >= $1 AND attempted_at < $2) AS c
	GROUP BY 1 HAVING sum(n) <> 0`
	attemptLatencyQuery = `SELECT bucket, sum(n)::bigint FROM (
		SELECT bucket, n FROM attempt_latency_counts WHERE hour >= $2
		UNION ALL
		SELECT callback_latency_bucket(latency_ms), 1 FROM callback_attempts WHERE attempted_at >= $1 AND attempted_at < $2) AS c
	GROUP BY 1 HAVING sum(n) <> 0 ORDER BY 1`
	finishedCountsQuery = `SELECT coalesce(sum(n) FILTER (WHERE status = 'delivered'), 0)::bigint,
		coalesce(sum(n) FILTER (WHERE status IN ('failed', 'gone')), 0)::bigint FROM (
		SELECT status, n FROM delivery_finished_counts WHERE hour >= $2
		UNION ALL
		SELECT status, 1 FROM callback_deliveries WHERE finished_at >= $1 AND finished_at < $2) AS c`
)

// DeliveryMetrics counts deliveries created since since, and the attempts
// made since then. Counts are exact. They come from the hourly counters of
// migration 00051 for the window's whole hours and from the raw rows of the
// part-hour at its start (through the time indexes), so the cost does not
// grow with the number of deliveries. Latency percentiles are computed as
// percentile_cont would over latencies bucketed 5% wide: within 2.5% of the
// exact value (LatencyBucketValue).
func (s *Store) DeliveryMetrics(ctx context.Context, since time.Time) (DeliveryMetrics, error) {
	m := DeliveryMetrics{AttemptsHisto: map[string]int64{}, StatusCodeCounts: map[string]int64{}}
	edge := hourAfter(since)
	b := &pgx.Batch{}
	b.Queue(deliveryCountsQuery, since, edge)
	b.Queue(attemptCodesQuery, since, edge)
	b.Queue(attemptLatencyQuery, since, edge)
	br := s.Pool.SendBatch(ctx, b)
	defer br.Close()

	rows, err := br.Query()
	if err != nil {
		return m, err
	}
	for rows.Next() {
		var status string
		var attempts int
		var n int64
		if err := rows.Scan(&status, &attempts, &n); err != nil {
			rows.Close()
			return m, err
		}
		m.Total += n
		switch status {
		case DeliveryDelivered:
			m.Delivered += n
		case DeliveryFailed:
			m.Failed += n
		case DeliveryGone:
			m.Failed += n
			m.Gone += n
		default:
			m.Pending += n
		}
		if attempts > 0 {
			m.AttemptsHisto[fmt.Sprint(attempts)] += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return m, err
	}
	if done := m.Delivered + m.Failed; done > 0 {
		r := float64(m.Delivered) / float64(done)
		m.SuccessRate = &r
	}

	rows, err = br.Query()
	if err != nil {
		return m, err
	}
	for rows.Next() {
		var code string
		var n int64
		if err := rows.Scan(&code, &n); err != nil {
			rows.Close()
			return m, err
		}
		m.StatusCodeCounts[code] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return m, err
	}

	rows, err = br.Query()
	if err != nil {
		return m, err
	}
	histo, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (latencyBucket, error) {
		var lb latencyBucket
		return lb, r.Scan(&lb.bucket, &lb.n)
	})
	if err != nil {
		return m, err
	}
	for _, lb := range histo {
		m.Attempts += lb.n
	}
	m.LatencyP50MS = histoPercentile(histo, m.Attempts, 0.5)
	m.LatencyP95MS = histoPercentile(histo, m.Attempts, 0.95)
	return m, br.Close()
}

// hourAfter is the first UTC hour boundary at or after t: what lies before
// it is counted from raw rows, what lies after from the hourly counters.
func hourAfter(t time.Time) time.Time {
	h := t.Truncate(time.Hour) // whole hours since the zero time: UTC hours
	if h.Before(t) {
		h = h.Add(time.Hour)
	}
	return h
}

type latencyBucket struct {
	bucket int
	n      int64
}

// LatencyBucketValue is the latency (ms) a read takes for every latency in
// bucket b of callback_latency_bucket (migration 00051): 0 for bucket 0,
// else the geometric middle of [0.001*1.05^(b-1), 0.001*1.05^b) ms. It is
// within 2.5% of each latency in the bucket (1.05^0.5 - 1 = 2.47%), or
// within 1.03 µs for the latencies under 1 µs that bucket 1 also holds.
func LatencyBucketValue(b int) float64 {
	if b <= 0 {
		return 0
	}
	return 0.001 * math.Pow(1.05, float64(b)-0.5)
}

// LatencyBound is the relative error bound of the latency percentiles.
const LatencyBound = 0.025

// histoPercentile is percentile_cont(p) over total latencies given as a
// histogram sorted by bucket, each latency taken as its bucket's value:
// the values of ranks floor and ceil of p*(total-1), interpolated. As each
// value is within LatencyBound of the latency it stands for, so is the
// result of percentile_cont's. nil when there are none.
func histoPercentile(histo []latencyBucket, total int64, p float64) *float64 {
	if total == 0 {
		return nil
	}
	pos := p * float64(total-1)
	lo := int64(math.Floor(pos))
	hi := int64(math.Ceil(pos))
	at := func(rank int64) float64 {
		var seen int64
		for _, lb := range histo {
			seen += lb.n
			if rank < seen {
				return LatencyBucketValue(lb.bucket)
			}
		}
		return LatencyBucketValue(histo[len(histo)-1].bucket)
	}
	v := at(lo)
	if hi != lo {
		v += (pos - float64(lo)) * (at(hi) - v)
	}
	return &v
}

// DeliveryHealth is the raw material of the health verdict.
type DeliveryHealth struct {
	Pending         int64
	OldestPending   time.Duration // age of the oldest pending delivery
	RecentDelivered int64         // finished within the window
	RecentFailed    int64
}

// DeliveryHealth counts pending deliveries and those finished since since.
func (s *Store) DeliveryHealth(ctx context.Context, since time.Time) (DeliveryHealth, error) {
	var h DeliveryHealth
	var age *float64
	err := s.Pool.QueryRow(ctx, `SELECT count(*), extract(epoch FROM now() - min(created_at))::float8 FROM callback_deliveries WHERE status = 'pending'`).Scan(&h.Pending, &age)
	if err != nil {
		return h, err
	}
	if age != nil {
		h.OldestPending = time.Duration(*age * float64(time.Second))
	}
	// Finished ones: the hourly counters of 00051 for whole hours, the raw
	// rows of the part-hour at the start of the window (as DeliveryMetrics).
	err = s.Pool.QueryRow(ctx, finishedCountsQuery,
		since, hourAfter(since)).Scan(&h.RecentDelivered, &h.RecentFailed)
	return h, err
}

// DeliveryFilter narrows FailedDeliveries.
type DeliveryFilter struct {
	Since time.Time // finished at or after (zero: no bound)
	Until time.Time // finished before (zero: no bound)
	After *DeliveryCursor
	Limit int
	// Narrower filters of a bulk retry (checked on the rows the index
	// finds: failures are the few deliveries).
	ClientID   string // one client's deliveries
	StatusCode int    // the last answer's HTTP status (0: any)
	FailedOnly bool   // status failed, not gone (410)
}

// DeliveryCursor is the position of a delivery in FailedDeliveries' order
// (finished_at DESC, id DESC): the next page starts after it.
type DeliveryCursor struct {
	FinishedAt time.Time
	ID         string
}

// FailedDeliveries lists failed (and gone) deliveries, newest first, walking
// callback_deliveries_failed (a finished delivery always has finished_at).
func (s *Store) FailedDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	// Only the bounds that are set go into the statement, so that its plan
	// seeks the index to them.
	q, args := `SELECT `+deliveryColumns+` FROM callback_deliveries WHERE status IN ('failed', 'gone')`, []any{f.Limit}
	q, args = f.narrow(q, args)
	if f.After != nil {
		args = append(args, f.After.FinishedAt, f.After.ID)
		q += fmt.Sprintf(` AND (finished_at, id) < ($%d, $%d::uuid)`, len(args)-1, len(args))
	}
	rows, err := s.Pool.Query(ctx, q+` ORDER BY finished_at DESC, id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
}

// narrow adds the filters that are set (not the cursor).
func (f DeliveryFilter) narrow(q string, args []any) (string, []any) {
	if !f.Since.IsZero() {
		args = append(args, f.Since)
		q += fmt.Sprintf(` AND finished_at >= $%d`, len(args))
	}
	if !f.Until.IsZero() {
		args = append(args, f.Until)
		q += fmt.Sprintf(` AND finished_at < $%d`, len(args))
	}
	if f.ClientID != "" {
		args = append(args, f.ClientID)
		q += fmt.Sprintf(` AND client_id = $%d`, len(args))
	}
	if f.StatusCode != 0 {
		args = append(args, f.StatusCode)
		q += fmt.Sprintf(` AND last_status_code = $%d`, len(args))
	}
	if f.FailedOnly {
		q += ` AND status = 'failed'`
	}
	return q, args
}

// CountFailedDeliveries counts what FailedDeliveries would list under f
// (no cursor, no limit): a bulk retry's dry run.
func (s *Store) CountFailedDeliveries(ctx context.Context, f DeliveryFilter) (int64, error) {
	q, args := f.narrow(`SELECT count(*) FROM callback_deliveries WHERE status IN ('failed', 'gone')`, nil)
	var n int64
	err := s.Pool.QueryRow(ctx, q, args...).Scan(&n)
	return n, err
}

func jobsNullInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func jobsNullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// RecentJobs lists the newest jobs with their callback delivery (if any).
func (s *Store) RecentJobs(ctx context.Context, limit int) ([]Job, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+jobColumns+` FROM jobs ORDER BY created_at DESC, id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return scanJob(r) })
	if err != nil || len(jobs) == 0 {
		return jobs, err
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	rows, err = s.Pool.Query(ctx, `SELECT `+deliveryColumns+` FROM callback_deliveries WHERE job_id = ANY($1::uuid[])`, ids) // job_id as is: its unique index finds them
	if err != nil {
		return nil, err
	}
	deliveries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, err
	}
	byJob := map[string]*Delivery{}
	for i := range deliveries {
		byJob[deliveries[i].JobID] = &deliveries[i]
	}
	for i := range jobs {
		jobs[i].Delivery = byJob[jobs[i].ID]
	}
	return jobs, nil
}

// callbackCounters are the counter tables of migration 00051 and the
// columns of their keys besides hour and slot.
var callbackCounters = []struct{ table, keys string }{
	{"delivery_counts", "status, attempts"},
	{"delivery_finished_counts", "status"},
	{"attempt_counts", "status_code"},
	{"attempt_latency_counts", "bucket"},
}

// CompactCallbackCounts folds the slots of each callback counter of the
// hours in [from, before) into one row per key (the one of the lowest slot),
// so that reads of long windows sum fewer rows; no sum changes. It locks
// the rows of the keys that have more than one, in key order as the
// triggers do, and only updates and deletes rows it locked (it never
// inserts), so it cannot deadlock with them; keys with one row are only
// read. Returns how many rows went.
func (s *Store) CompactCallbackCounts(ctx context.Context, from, before time.Time) (int64, error) {
	var total int64
	for _, c := range callbackCounters {
		join := "t.hour = g.hour"
		for _, k := range strings.Split(c.keys, ", ") {
			join += " AND t." + k + " = g." + k
		}
		q := `WITH split AS (
				SELECT hour, ` + c.keys + ` FROM ` + c.table + ` WHERE hour >= $1 AND hour < $2 GROUP BY hour, ` + c.keys + ` HAVING count(*) > 1),
			locked AS (
				SELECT t.hour, ` + prefixed("t.", c.keys) + `, t.slot FROM ` + c.table + ` t JOIN split g ON ` + join + `
				WHERE t.hour >= $1 AND t.hour < $2 ORDER BY t.hour, ` + prefixed("t.", c.keys) + `, t.slot FOR UPDATE OF t),
			grouped AS (SELECT hour, ` + c.keys + `, min(slot) AS keep FROM locked GROUP BY hour, ` + c.keys + ` HAVING count(*) > 1),
			gone AS (DELETE FROM ` + c.table + ` t USING grouped g WHERE ` + join + ` AND t.slot <> g.keep
				RETURNING t.hour, ` + prefixed("t.", c.keys) + `, t.n),
			moved AS (SELECT hour, ` + c.keys + `, sum(n) AS n FROM gone GROUP BY hour, ` + c.keys + `),
			kept AS (UPDATE ` + c.table + ` t SET n = t.n + g.n FROM (SELECT m.*, k.keep FROM moved m JOIN grouped k USING (hour, ` + c.keys + `)) g
				WHERE ` + join + ` AND t.slot = g.keep RETURNING 1)
			SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM kept)`
		var gone, kept int64
		if err := s.Pool.QueryRow(ctx, q, from, before).Scan(&gone, &kept); err != nil {
			return total, fmt.Errorf("compact %s: %w", c.table, err)
		}
		total += gone
	}
	return total, nil
}

// prefixed puts p before each of a comma-separated list of columns.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}
