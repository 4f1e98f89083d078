package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// InboundEvent is one accepted webhook (or submission) as the inbound
// pipeline records it, whatever its source.
type InboundEvent struct {
	ID           int64           `json:"id"`
	Source       string          `json:"source"`
	DedupKey     string          `json:"-"`
	WorkflowID   string          `json:"workflow_id"`
	Event        string          `json:"event"`
	EventType    string          `json:"event_type"`
	EntityID     string          `json:"entity_id"`
	Attrs        map[string]any  `json:"attrs,omitempty"`
	Payload      json.RawMessage `json:"payload"`
	ReceivedAt   time.Time       `json:"received_at"`
	DispatchedAt *time.Time      `json:"dispatched_at"`
	Processed    bool            `json:"processed"`
	ProcessedAt  *time.Time      `json:"processed_at"`
	Outcome      *string         `json:"outcome"`
	Error        *string         `json:"error"`
	TraceParent  string          `json:"-"` // W3C traceparent of the recording request
}

// RecordEvent stores an event unless one with the same (source, dedup key)
// exists. It returns the new id, or duplicate=true with the existing id.
func (s *Store) RecordEvent(ctx context.Context, ev *InboundEvent) (id int64, duplicate bool, err error) {
	attrs := ev.Attrs
	if attrs == nil {
		attrs = map[string]any{}
	}
	err = s.Pool.QueryRow(ctx, `
		INSERT INTO inbound_events (source, dedup_key, workflow_id, event, event_type, entity_id, attrs, payload, traceparent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, nullif($9, ''))
		ON CONFLICT (source, dedup_key) DO NOTHING
		RETURNING id`,
		ev.Source, ev.DedupKey, ev.WorkflowID, ev.Event, ev.EventType, ev.EntityID, attrs, string(ev.Payload), ev.TraceParent,
	).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.Pool.QueryRow(ctx, `SELECT id FROM inbound_events WHERE source = $1 AND dedup_key = $2`,
			ev.Source, ev.DedupKey).Scan(&id)
		return id, true, err
	}
	return id, false, err
}

// PendingEvent is what the relay needs to hand an event to Temporal.
type PendingEvent struct {
	ID         int64
	Source     string
	WorkflowID string
	EntityID   string
}

// relayLockKey is the advisory lock that makes one relay at a time hand
// events over, so that per-entity order survives several API instances.
const relayLockKey = 0x686f6f6b666c6f77 // "hookflow"

// DispatchRound claims up to limit undispatched events in id order (only when
// this process holds the relay lock), lets hand deliver them, and marks those
// hand reports delivered as dispatched, all in one transaction. ok=false means
// another relay holds the lock.
func (s *Store) DispatchRound(ctx context.Context, limit int, hand func([]PendingEvent) (delivered, failed []int64)) (claimed int, delivered int, ok bool, err error) {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(relayLockKey)).Scan(&ok); err != nil || !ok {
		return 0, 0, false, err
	}
	rows, err := tx.Query(ctx, `
		SELECT id, source, workflow_id, entity_id FROM inbound_events
		WHERE dispatched_at IS NULL ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return 0, 0, true, err
	}
	pending, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PendingEvent, error) {
		var p PendingEvent
		return p, r.Scan(&p.ID, &p.Source, &p.WorkflowID, &p.EntityID)
	})
	if err != nil || len(pending) == 0 {
		return 0, 0, true, err
	}
	done, failed := hand(pending)
	if len(done) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE inbound_events SET dispatched_at = now(), dispatch_attempts = dispatch_attempts + 1 WHERE id = ANY($1)`, done); err != nil {
			return len(pending), 0, true, err
		}
	}
	if len(failed) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE inbound_events SET dispatch_attempts = dispatch_attempts + 1 WHERE id = ANY($1)`, failed); err != nil {
			return len(pending), 0, true, err
		}
	}
	return len(pending), len(done), true, tx.Commit(ctx)
}

// Backlog counts recorded events not yet handed to Temporal and the age of
// the oldest one.
func (s *Store) Backlog(ctx context.Context) (count int64, oldest time.Duration, err error) {
	var oldestAt *time.Time
	err = s.Pool.QueryRow(ctx, `SELECT count(*), min(received_at) FROM inbound_events WHERE dispatched_at IS NULL`).Scan(&count, &oldestAt)
	if oldestAt != nil {
		oldest = time.Since(*oldestAt)
	}
	return count, oldest, err
}

// EventFilter narrows ListEvents.
type EventFilter struct {
	Source    string
	EventType string
	EntityID  string
	Limit     int
	BeforeID  int64 // keyset pagination: only ids below this
}

const eventColumns = `id, source, workflow_id, event, event_type, entity_id, attrs, payload, received_at,
	dispatched_at, processed, processed_at, outcome, error`

func scanEvent(r pgx.CollectableRow) (InboundEvent, error) {
	var e InboundEvent
	var payload string
	err := r.Scan(&e.ID, &e.Source, &e.WorkflowID, &e.Event, &e.EventType, &e.EntityID, &e.Attrs, &payload,
		&e.ReceivedAt, &e.DispatchedAt, &e.Processed, &e.ProcessedAt, &e.Outcome, &e.Error)
	e.Payload = json.RawMessage(payload)
	return e, err
}

// ListEvents returns the newest events first.
func (s *Store) ListEvents(ctx context.Context, f EventFilter) ([]InboundEvent, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := `SELECT ` + eventColumns + ` FROM inbound_events WHERE source = $1
		AND ($2 = '' OR event_type = $2) AND ($3 = '' OR entity_id = $3) AND ($4 = 0 OR id < $4)
		ORDER BY id DESC LIMIT $5`
	rows, err := s.Pool.Query(ctx, q, f.Source, f.EventType, f.EntityID, f.BeforeID, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanEvent)
}

// EventsByID loads events by id, in id order.
func (s *Store) EventsByID(ctx context.Context, ids []int64) ([]InboundEvent, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+eventColumns+` FROM inbound_events WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanEvent)
}

// EventStats summarises one source's events.
type EventStats struct {
	Total          int64            `json:"total"`
	Processed      int64            `json:"processed"`
	ProcessedShare float64          `json:"processed_share"`
	Errors         int64            `json:"errors"`
	Pending        int64            `json:"pending"`
	ByType         map[string]int64 `json:"by_type"`
	ByOutcome      map[string]int64 `json:"by_outcome"`
	LastReceivedAt *time.Time       `json:"last_received_at"`
}

// Stats counts a source's events per type and outcome.
func (s *Store) Stats(ctx context.Context, source string) (EventStats, error) {
	st := EventStats{ByType: map[string]int64{}, ByOutcome: map[string]int64{}}
	rows, err := s.Pool.Query(ctx, `
		SELECT event_type, coalesce(outcome, ''), processed, error IS NOT NULL, count(*), max(received_at)
		FROM inbound_events WHERE source = $1
		GROUP BY 1, 2, 3, 4`, source)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var typ, outcome string
		var processed, failed bool
		var n int64
		var last time.Time
		if err := rows.Scan(&typ, &outcome, &processed, &failed, &n, &last); err != nil {
			return st, err
		}
		st.Total += n
		st.ByType[typ] += n
		if outcome != "" {
			st.ByOutcome[outcome] += n
		}
		if processed {
			st.Processed += n
		} else {
			st.Pending += n
		}
		if failed {
			st.Errors += n
		}
		if st.LastReceivedAt == nil || last.After(*st.LastReceivedAt) {
			l := last
			st.LastReceivedAt = &l
		}
	}
	if st.Total > 0 {
		st.ProcessedShare = float64(st.Processed) / float64(st.Total)
	}
	return st, rows.Err()
}

// ClaimForProcessing locks the given events that are not processed yet, in
// id order, inside tx: the caller applies them and calls FinishEvent for
// each, so that a redelivered batch is never applied twice.
func ClaimForProcessing(ctx context.Context, tx pgx.Tx, ids []int64) ([]InboundEvent, error) {
	rows, err := tx.Query(ctx, `SELECT `+eventColumns+` FROM inbound_events
		WHERE id = ANY($1) AND NOT processed ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanEvent)
}

// FinishEvent marks one event processed with its outcome (and error, if any).
func FinishEvent(ctx context.Context, tx pgx.Tx, id int64, outcome string, errText string) error {
	var e *string
	if errText != "" {
		e = &errText
	}
	tag, err := tx.Exec(ctx, `UPDATE inbound_events SET processed = true, processed_at = now(), outcome = $2, error = $3
		WHERE id = $1 AND NOT processed`, id, outcome, e)
	if err == nil && tag.RowsAffected() != 1 {
		err = fmt.Errorf("event %d was already processed", id)
	}
	return err
}

// EventOutcome is what a flow did with one event.
type EventOutcome struct {
	Outcome string // applied, stale, ignored, failed ...
	Error   string // why it failed or was skipped, for people
}

// ProcessEvents applies events exactly once: it locks the unprocessed ones of
// ids in id order, calls apply for each inside one transaction, records each
// outcome, and notifies channel (if not empty) with the processed ids on
// commit. A returned error from apply rolls everything back (the activity is
// retried); a bad event is reported as an outcome instead.
func (s *Store) ProcessEvents(ctx context.Context, ids []int64, channel string,
	apply func(ctx context.Context, tx pgx.Tx, ev InboundEvent) (EventOutcome, error)) (processed int, err error) {
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		events, err := ClaimForProcessing(ctx, tx, ids)
		if err != nil {
			return err
		}
		done := make([]string, 0, len(events))
		for _, ev := range events {
			out, err := apply(ctx, tx, ev)
			if err != nil {
				return fmt.Errorf("event %d: %w", ev.ID, err)
			}
			if err := FinishEvent(ctx, tx, ev.ID, out.Outcome, out.Error); err != nil {
				return err
			}
			done = append(done, fmt.Sprint(ev.ID))
		}
		processed = len(events)
		if channel != "" && len(done) > 0 {
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, joinIDs(done))
		}
		return err
	})
	return processed, err
}

// joinIDs keeps a NOTIFY payload under Postgres' 8000-byte limit by cutting
// the list; listeners treat a payload of "*" as "reload recent".
func joinIDs(ids []string) string {
	out := ""
	for i, id := range ids {
		if len(out)+len(id)+1 > 7900 {
			return "*"
		}
		if i > 0 {
			out += ","
		}
		out += id
	}
	return out
}
