package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Kinds of dead letters, in the order they take at equal times (DESC: an
// event before a callback before a back sync).
const (
	DeadEvent    = "event"    // an inbound event processed with outcome failed
	DeadCallback = "callback" // a callback delivery failed for good (failed, gone)
	DeadBackSync = "backsync" // a back sync to Bitrix given up (bitrix-backsync event, outcome failed)
)

// Actions that apply to a dead letter.
const (
	DeadActionReplay = "replay" // events and back syncs: run the event through its flow again
	DeadActionRetry  = "retry"  // callbacks: a new attempt series (POST /api/v1/webhook-deliveries/{id}/retry)
)

// DeadLetter is one thing that ended in failure, whatever its flow.
type DeadLetter struct {
	Kind       string    `json:"kind"`
	ID         string    `json:"id"`          // inbound_events.id, or callback_deliveries.id
	Source     string    `json:"source"`      // the event's source, or the callback's client
	Type       string    `json:"type"`        // the event's type, or the delivery's status (failed, gone)
	Entity     string    `json:"entity"`      // the event's entity (a back sync's: the CRM order), or the callback's job
	Error      string    `json:"error"`       // why it failed
	At         time.Time `json:"at"`          // when it failed: processed_at, or finished_at
	WorkflowID string    `json:"workflow_id"` // its Temporal run
	Action     string    `json:"action"`      // DeadActionReplay or DeadActionRetry

	n int64 // an event's id as a number, for the order
}

// DeadLetterCursor is a dead letter's position in the list's order: at
// DESC, kind DESC, id DESC (an event's id as a number, a delivery's UUID as
// Postgres orders it: its lower-case text).
type DeadLetterCursor struct {
	At   time.Time
	Kind string
	ID   string
}

// DeadLetterFilter narrows DeadLetters.
type DeadLetterFilter struct {
	After *DeadLetterCursor
	Limit int
}

// deadKinds are the per-kind lists (their columns named with the table:
// a bare id in ORDER BY would be the output column, id::text, and sort): each walks its own partial index
// (inbound_events_failed and inbound_events_backsync_failed of migration
// 00047, callback_deliveries_failed of 00032) from the cursor down, so a
// page costs the same at 10 million events as at ten.
var deadKinds = []struct {
	kind, timeCol, idCol, idType, query string
}{
	{DeadEvent, "inbound_events.processed_at", "inbound_events.id", "bigint", `SELECT id::text, source, event_type, entity_id, coalesce(error, ''), processed_at, workflow_id
		FROM inbound_events WHERE outcome = 'failed' AND source <> 'bitrix-backsync'`},
	{DeadBackSync, "inbound_events.processed_at", "inbound_events.id", "bigint", `SELECT id::text, source, event_type, entity_id, coalesce(error, ''), processed_at, workflow_id
		FROM inbound_events WHERE outcome = 'failed' AND source = 'bitrix-backsync'`},
	// The workflow id is activities.CallbackWorkflowID's (store cannot
	// import activities; api's TestDeadLettersOverHTTP compares them).
	{DeadCallback, "callback_deliveries.finished_at", "callback_deliveries.id", "uuid", `SELECT id::text, client_id, status, job_id::text,
			coalesce(last_error, 'HTTP ' || last_status_code, status), finished_at,
			CASE WHEN series <= 1 THEN 'callback-' || id ELSE 'callback-' || id || '-retry-' || (series - 1) END
		FROM callback_deliveries WHERE status IN ('failed', 'gone')`},
}

// DeadLettersQuery is the statement of one kind's list after c (nil: from
// the newest), for a page of limit: $1 the limit, then the cursor's values.
func DeadLettersQuery(kind string, c *DeadLetterCursor) (string, []any, error) {
	for _, k := range deadKinds {
		if k.kind != kind {
			continue
		}
		q, args := k.query, []any{}
		switch {
		case c == nil:
		case kind == c.Kind:
			// Same kind: strictly after the cursor's row.
			q += fmt.Sprintf(` AND (%s, %s) < ($2, $3::%s)`, k.timeCol, k.idCol, k.idType)
			args = append(args, c.At, c.ID)
		case kind < c.Kind:
			// Sorts after the cursor's kind at equal times: ties stay in.
			q += fmt.Sprintf(` AND %s <= $2`, k.timeCol)
			args = append(args, c.At)
		default:
			q += fmt.Sprintf(` AND %s < $2`, k.timeCol)
			args = append(args, c.At)
		}
		q += fmt.Sprintf(` ORDER BY %s DESC, %s DESC LIMIT $1`, k.timeCol, k.idCol)
		return q, args, nil
	}
	return "", nil, fmt.Errorf("no dead-letter kind %q", kind)
}

// DeadLetters lists what ended in failure across every flow, newest first:
// the next limit+1 of each kind (each through its index), merged by time in
// Go and cut to limit. more says whether a next page exists (its cursor is
// the last item's).
func (s *Store) DeadLetters(ctx context.Context, f DeadLetterFilter) (items []DeadLetter, more bool, err error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if c := f.After; c != nil && c.Kind != DeadEvent && c.Kind != DeadBackSync && c.Kind != DeadCallback {
		return nil, false, fmt.Errorf("no dead-letter kind %q", c.Kind)
	}
	if c := f.After; c != nil && c.Kind != DeadCallback {
		if _, err := strconv.ParseInt(c.ID, 10, 64); err != nil {
			return nil, false, fmt.Errorf("dead-letter cursor: event id %q", c.ID)
		}
	}
	for _, k := range deadKinds {
		q, args, err := DeadLettersQuery(k.kind, f.After)
		if err != nil {
			return nil, false, err
		}
		rows, err := s.Pool.Query(ctx, q, append([]any{f.Limit + 1}, args...)...)
		if err != nil {
			return nil, false, fmt.Errorf("dead letters (%s): %w", k.kind, err)
		}
		kind := k.kind
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeadLetter, error) {
			d := DeadLetter{Kind: kind, Action: DeadActionReplay}
			err := r.Scan(&d.ID, &d.Source, &d.Type, &d.Entity, &d.Error, &d.At, &d.WorkflowID)
			if kind == DeadCallback {
				d.Action = DeadActionRetry
			} else {
				d.n, _ = strconv.ParseInt(d.ID, 10, 64)
			}
			return d, err
		})
		if err != nil {
			return nil, false, fmt.Errorf("dead letters (%s): %w", k.kind, err)
		}
		items = append(items, got...)
	}
	sort.Slice(items, func(i, j int) bool { return deadBefore(items[i], items[j]) })
	if len(items) > f.Limit {
		return items[:f.Limit], true, nil
	}
	return items, false, nil
}

// deadBefore is the list's order: at DESC, kind DESC, id DESC.
func deadBefore(a, b DeadLetter) bool {
	if !a.At.Equal(b.At) {
		return a.At.After(b.At)
	}
	if a.Kind != b.Kind {
		return a.Kind > b.Kind
	}
	if a.Kind == DeadCallback {
		return a.ID > b.ID
	}
	return a.n > b.n
}

// Cursor is d's position, for the page after it.
func (d DeadLetter) Cursor() DeadLetterCursor {
	return DeadLetterCursor{At: d.At, Kind: d.Kind, ID: d.ID}
}
