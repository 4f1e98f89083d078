package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// InboundEvent is one accepted webhook (or submission) as the inbound
// pipeline records it, whatever its source.
type InboundEvent struct {
	ID          int64           `json:"id"`
	Source      string          `json:"source"`
	DedupKey    string          `json:"-"`
	WorkflowID  string          `json:"workflow_id"`
	Event       string          `json:"event"`
	EventType   string          `json:"event_type"`
	EntityID    string          `json:"entity_id"`
	Attrs       map[string]any  `json:"attrs,omitempty"`
	Payload     json.RawMessage `json:"payload"`
	ReceivedAt  time.Time       `json:"received_at"`
	Processed   bool            `json:"processed"`
	ProcessedAt *time.Time      `json:"processed_at"`
	Outcome     *string         `json:"outcome"`
	Error       *string         `json:"error"`
	TraceParent string          `json:"-"` // W3C traceparent of the recording request
}

// RecordEvent stores an event unless one with the same (source, dedup key)
// exists. It returns the new id, or duplicate=true with the existing id.
func (s *Store) RecordEvent(ctx context.Context, ev *InboundEvent) (id int64, duplicate bool, err error) {
	res, err := s.RecordEvents(ctx, []*InboundEvent{ev})
	if err != nil {
		return 0, false, err
	}
	return res[0].ID, res[0].Duplicate, nil
}

// Recorded is the result of recording one event.
type Recorded struct {
	ID        int64
	Duplicate bool
}

type eventKey struct{ source, dedupKey string }

// RecordEvents stores several events with one statement (in slice order, so
// ids follow arrival order) and one commit. Events whose (source, dedup key)
// exists already, or repeats within the slice, are reported as duplicates
// with the id of the stored one. An event given an Outcome (and Error) is
// stored processed with it and never handed to a workflow: what a flow does
// not handle is ignored at the edge (see Ignored).
func (s *Store) RecordEvents(ctx context.Context, evs []*InboundEvent) ([]Recorded, error) {
	n := len(evs)
	sources, keys, workflowIDs, names, types, entities, traces := make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	// attrs and payloads go as bytes, not copied into strings first: pgx
	// writes []byte text as it is.
	attrCol, payloadCol := make([][]byte, n), make([][]byte, n)
	// Events ignored at the edge come with their outcome: recorded as
	// processed, and the relay leaves them out (no workflow).
	outcomes, reasons := make([]*string, n), make([]*string, n)
	for i, ev := range evs {
		outcomes[i], reasons[i] = ev.Outcome, ev.Error
		attrs := []byte("{}")
		if len(ev.Attrs) > 0 {
			var err error
			if attrs, err = json.Marshal(ev.Attrs); err != nil {
				return nil, fmt.Errorf("event attrs: %w", err)
			}
		}
		sources[i], keys[i], workflowIDs[i], names[i], types[i] = ev.Source, ev.DedupKey, ev.WorkflowID, ev.Event, ev.EventType
		entities[i], attrCol[i], payloadCol[i], traces[i] = ev.EntityID, attrs, ev.Payload, ev.TraceParent
	}
	rows, err := s.Pool.Query(ctx, `
		INSERT INTO inbound_events (source, dedup_key, workflow_id, event, event_type, entity_id, attrs, payload, traceparent,
			processed, processed_at, outcome, error)
		SELECT s, k, w, e, t, en, a::jsonb, p::json, nullif(tp, ''), o IS NOT NULL, CASE WHEN o IS NOT NULL THEN now() END, o, er
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
			$10::text[], $11::text[])
			AS u(s, k, w, e, t, en, a, p, tp, o, er)
		ON CONFLICT (source, dedup_key) DO NOTHING
		RETURNING id, source, dedup_key`,
		sources, keys, workflowIDs, names, types, entities, attrCol, payloadCol, traces, outcomes, reasons)
	if err != nil {
		return nil, err
	}
	ids := make(map[eventKey]int64, n)
	var id int64
	var k eventKey
	if _, err := pgx.ForEachRow(rows, []any{&id, &k.source, &k.dedupKey}, func() error {
		ids[k] = id
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]Recorded, n)
	seen := make(map[eventKey]bool, n)
	var missing []int
	for i, ev := range evs {
		key := eventKey{ev.Source, ev.DedupKey}
		id, inserted := ids[key]
		switch {
		case inserted && !seen[key]:
			out[i] = Recorded{ID: id}
		case inserted:
			out[i] = Recorded{ID: id, Duplicate: true}
		default:
			missing = append(missing, i)
		}
		seen[key] = true
	}
	if len(missing) > 0 {
		src, keys := make([]string, len(missing)), make([]string, len(missing))
		for j, i := range missing {
			src[j], keys[j] = evs[i].Source, evs[i].DedupKey
		}
		rows, err := s.Pool.Query(ctx, `SELECT id, source, dedup_key FROM inbound_events
			WHERE (source, dedup_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, src, keys)
		if err != nil {
			return nil, err
		}
		if _, err := pgx.ForEachRow(rows, []any{&id, &k.source, &k.dedupKey}, func() error {
			ids[k] = id
			return nil
		}); err != nil {
			return nil, err
		}
		for _, i := range missing {
			out[i] = Recorded{ID: ids[eventKey{evs[i].Source, evs[i].DedupKey}], Duplicate: true}
		}
	}
	return out, nil
}

// OutcomeIgnored is the outcome of events no flow handles.
const OutcomeIgnored = "ignored"

// Ignored marks ev to be recorded as processed, with outcome ignored and
// why, without a workflow (RecordEvents).
func (ev *InboundEvent) Ignored(reason string) *InboundEvent {
	outcome := OutcomeIgnored
	ev.Outcome, ev.Error = &outcome, &reason
	return ev
}

// Backlog counts recorded events not yet handed to Temporal and the age of
// the oldest one.
func (s *Store) Backlog(ctx context.Context) (count int64, oldest time.Duration, err error) {
	var oldestAt *time.Time
	err = s.Pool.QueryRow(ctx, `SELECT count(*), min(received_at) FROM relay_outbox`).Scan(&count, &oldestAt)
	if oldestAt != nil {
		oldest = time.Since(*oldestAt)
	}
	return count, oldest, err
}

// EventFilter narrows ListEvents. Each filter is served by an index of
// migrations/00004_event_counts.sql; combinations use one and filter.
type EventFilter struct {
	Source    string
	EventType string
	EntityID  string
	Outcome   string    // an outcome, or OutcomePending for events not processed yet
	Since     time.Time // received at or after (zero: no bound)
	Until     time.Time // received before (zero: no bound)
	Limit     int
	BeforeID  int64 // only ids below this (the next page of a list in id order)
	// After is the next page of a list in time order: events after it in
	// (received_at DESC, id DESC). Setting it, Since or Until orders the
	// list by time instead of by id.
	After *EventCursor
}

// EventCursor is an event's position in a list in time order.
type EventCursor struct {
	ReceivedAt time.Time
	ID         int64
}

// ByTime tells whether ListEvents orders this list by (received_at, id)
// rather than by id: when it is narrowed in time, so that the walk starts
// at the range's end in inbound_events_by_received and stops at the limit
// (in id order the planner walks the primary key from the newest event
// down to the range, a cost that grows with everything received since).
func (f EventFilter) ByTime() bool {
	return !f.Since.IsZero() || !f.Until.IsZero() || f.After != nil
}

// OutcomePending filters events not processed yet (their outcome is NULL).
const OutcomePending = "pending"

const eventColumns = `id, source, workflow_id, event, event_type, entity_id, attrs, payload, received_at,
	processed, processed_at, outcome, error, coalesce(traceparent, '')`

func scanEvent(r pgx.CollectableRow) (InboundEvent, error) {
	var e InboundEvent
	var payload string
	err := r.Scan(&e.ID, &e.Source, &e.WorkflowID, &e.Event, &e.EventType, &e.EntityID, &e.Attrs, &payload,
		&e.ReceivedAt, &e.Processed, &e.ProcessedAt, &e.Outcome, &e.Error, &e.TraceParent)
	e.Payload = json.RawMessage(payload)
	return e, err
}

// ListEvents returns the newest events first.
func (s *Store) ListEvents(ctx context.Context, f EventFilter) ([]InboundEvent, error) {
	q, args := listEventsQuery(f)
	rows, err := s.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanEvent)
}

// listEventsQuery builds ListEvents' statement. Only the filters that are
// set go into it: a prepared statement with "($2 IS NULL OR event_type = $2)"
// may get a generic plan that cannot use the filter's index.
func listEventsQuery(f EventFilter) (string, []any) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	where, args := []string{"source = $1"}, []any{f.Source}
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.EventType != "" {
		add("event_type = $%d", f.EventType)
	}
	if f.EntityID != "" {
		add("entity_id = $%d", f.EntityID)
	}
	switch f.Outcome {
	case "":
	case OutcomePending:
		where = append(where, "outcome IS NULL AND NOT processed")
	default:
		add("outcome = $%d", f.Outcome)
	}
	if !f.Since.IsZero() {
		add("received_at >= $%d", f.Since)
	}
	if !f.Until.IsZero() {
		add("received_at < $%d", f.Until)
	}
	if f.BeforeID > 0 {
		add("id < $%d", f.BeforeID)
	}
	order := "id DESC"
	if f.ByTime() {
		order = "received_at DESC, id DESC"
		if f.After != nil {
			args = append(args, f.After.ReceivedAt, f.After.ID)
			// The first bound alone is what the index (source, received_at)
			// can seek to; the row comparison then skips the cursor's own
			// instant up to its id.
			where = append(where, fmt.Sprintf("received_at <= $%d AND (received_at, id) < ($%d, $%d)", len(args)-1, len(args)-1, len(args)))
		}
	}
	args = append(args, f.Limit)
	if f.EntityID != "" && f.EventType != "" && f.Outcome == "" && !f.ByTime() {
		// Entity and type: the ids come from an index-only walk of
		// inbound_events_by_entity_type (it carries the type), and only the
		// rows of the page are fetched, however few of the entity's events
		// are of that type.
		return `SELECT ` + eventColumns + ` FROM inbound_events WHERE id IN (SELECT id FROM inbound_events WHERE ` +
			strings.Join(where, " AND ") + fmt.Sprintf(` ORDER BY id DESC LIMIT $%d) ORDER BY id DESC`, len(args)), args
	}
	return `SELECT ` + eventColumns + ` FROM inbound_events WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY %s LIMIT $%d`, order, len(args)), args
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

// Stats counts a source's events per type and outcome. The counts come from
// event_counts, which triggers keep in step with inbound_events, so the cost
// does not grow with the events (a GROUP BY over them took over a second at
// five million).
func (s *Store) Stats(ctx context.Context, source string) (EventStats, error) {
	st := EventStats{ByType: map[string]int64{}, ByOutcome: map[string]int64{}}
	rows, err := s.Pool.Query(ctx, `
		SELECT event_type, outcome, processed, errored, sum(n)::bigint
		FROM event_counts WHERE source = $1
		GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0`, source)
	if err != nil {
		return st, err
	}
	var typ, outcome string
	var processed, failed bool
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&typ, &outcome, &processed, &failed, &n}, func() error {
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
		return nil
	}); err != nil {
		return st, err
	}
	if st.Total > 0 {
		st.ProcessedShare = float64(st.Processed) / float64(st.Total)
	}
	// The newest received_at is the last entry of inbound_events_by_received.
	err = s.Pool.QueryRow(ctx, `SELECT max(received_at) FROM inbound_events WHERE source = $1`, source).Scan(&st.LastReceivedAt)
	return st, err
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

// EventOutcome is what a flow did with one event.
type EventOutcome struct {
	Outcome string // applied, stale, ignored, failed ...
	Error   string // why it failed or was skipped, for people
}

// BatchApplier applies claimed events (in id order) inside tx and returns
// one outcome per event, in the same order. An error rolls the whole batch
// back (the activity is retried); a bad event is reported as an outcome.
type BatchApplier func(ctx context.Context, tx pgx.Tx, events []InboundEvent) ([]EventOutcome, error)

// EventApplier applies one event; PerEvent turns it into a BatchApplier.
type EventApplier func(ctx context.Context, tx pgx.Tx, ev InboundEvent) (EventOutcome, error)

// PerEvent adapts a one-event applier for flows whose events are few.
func PerEvent(apply EventApplier) BatchApplier {
	return func(ctx context.Context, tx pgx.Tx, events []InboundEvent) ([]EventOutcome, error) {
		out := make([]EventOutcome, len(events))
		for i, ev := range events {
			o, err := apply(ctx, tx, ev)
			if err != nil {
				return nil, fmt.Errorf("event %d: %w", ev.ID, err)
			}
			out[i] = o
		}
		return out, nil
	}
}

// ProcessEvents applies events exactly once: it locks the unprocessed ones
// among ids (in id order), hands them to apply inside one transaction,
// records every outcome with one statement, and notifies channel (if not
// empty) with the processed ids when the transaction commits. Events that
// were processed already (a batch signalled twice) are skipped.
//
// An event whose data Postgres refuses (IsDataError: a NUL, a value out of
// range, ...) would fail its batch on every retry. When a batch fails so,
// its events are applied one per transaction instead, and each event that
// fails alone with a data error is recorded as failed with the reason (a
// dead letter): the others are applied, and the workflow goes on.
func (s *Store) ProcessEvents(ctx context.Context, ids []int64, channel string, apply BatchApplier) (processed int, err error) {
	processed, err = s.processBatch(ctx, ids, channel, apply)
	if err == nil || !IsDataError(err) {
		return processed, err
	}
	if len(ids) == 1 {
		return s.deadLetter(ctx, ids[0], channel, err)
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	processed = 0
	for _, id := range slices.Compact(sorted) {
		n, err := s.processBatch(ctx, []int64{id}, channel, apply)
		if err != nil && IsDataError(err) {
			n, err = s.deadLetter(ctx, id, channel, err)
		}
		if err != nil {
			return processed, err
		}
		processed += n
	}
	return processed, nil
}

// deadLetter records an event that cannot be applied as failed, with why.
func (s *Store) deadLetter(ctx context.Context, id int64, channel string, cause error) (int, error) {
	n, err := s.FailEvents(ctx, []int64{id}, channel, "cannot be applied: "+DataErrorText(cause))
	return int(n), err
}

// FailEvents records the unprocessed events among ids as processed with
// outcome failed and reason as their error (a dead letter: visible in the
// API and the ops console, never retried), and notifies channel (if not
// empty).
func (s *Store) FailEvents(ctx context.Context, ids []int64, channel, reason string) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE inbound_events SET processed = true, processed_at = now(), outcome = 'failed', error = $2
			WHERE id = ANY($1) AND NOT processed`, ids, Text(reason))
		if err != nil {
			return err
		}
		if n = tag.RowsAffected(); n > 0 && channel != "" {
			idText := make([]string, len(ids))
			for i, id := range ids {
				idText[i] = fmt.Sprint(id)
			}
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, joinIDs(idText))
		}
		return err
	})
	return n, err
}

func (s *Store) processBatch(ctx context.Context, ids []int64, channel string, apply BatchApplier) (processed int, err error) {
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		events, err := ClaimForProcessing(ctx, tx, ids)
		if err != nil || len(events) == 0 {
			return err
		}
		outcomes, err := apply(ctx, tx, events)
		if err != nil {
			return err
		}
		if len(outcomes) != len(events) {
			return fmt.Errorf("applier returned %d outcomes for %d events", len(outcomes), len(events))
		}
		traceProcessing(ctx, events, outcomes)
		doneIDs := make([]int64, len(events))
		kinds := make([]string, len(events))
		errs := make([]*string, len(events))
		idText := make([]string, len(events))
		for i, ev := range events {
			doneIDs[i], kinds[i], idText[i] = ev.ID, outcomes[i].Outcome, fmt.Sprint(ev.ID)
			if outcomes[i].Error != "" {
				e := outcomes[i].Error
				errs[i] = &e
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE inbound_events e SET processed = true, processed_at = now(), outcome = u.outcome, error = u.error
			FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, outcome, error)
			WHERE e.id = u.id AND NOT e.processed`, doneIDs, kinds, errs); err != nil {
			return err
		}
		processed = len(events)
		if channel != "" {
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, joinIDs(idText))
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

// ProcessedAfter returns a source's processed events with ids above afterID,
// oldest first (a live stream resuming after a reconnect).
func (s *Store) ProcessedAfter(ctx context.Context, source string, afterID int64, limit int) ([]InboundEvent, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+eventColumns+` FROM inbound_events
		WHERE source = $1 AND id > $2 AND processed ORDER BY id LIMIT $3`, source, afterID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanEvent)
}

// ReportedOutcome is the outcome a workflow reports for one event.
type ReportedOutcome struct {
	ID int64
	EventOutcome
}

// MarkProcessed records outcomes reported by the workflows of the given
// sources (events of other sources are left alone, so the built-in flows'
// own bookkeeping cannot be overwritten): each event once, the first
// report wins. It returns the ids it marked.
func (s *Store) MarkProcessed(ctx context.Context, sources []string, outcomes []ReportedOutcome) ([]int64, error) {
	ids, kinds, errs := make([]int64, len(outcomes)), make([]string, len(outcomes)), make([]*string, len(outcomes))
	for i, o := range outcomes {
		ids[i], kinds[i] = o.ID, o.Outcome
		if o.Error != "" {
			e := Text(o.Error)
			errs[i] = &e
		}
	}
	rows, err := s.Pool.Query(ctx, `UPDATE inbound_events e SET processed = true, processed_at = now(), outcome = u.outcome, error = u.error
		FROM (SELECT DISTINCT ON (id) * FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, outcome, error) ORDER BY id) u
		WHERE e.id = u.id AND NOT e.processed AND e.source = ANY($4)
		RETURNING e.id`, ids, kinds, errs, sources)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
