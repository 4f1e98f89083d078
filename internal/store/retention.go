package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// What retention purges. Read models (printers, print jobs, orders,
// ratings, jobs, callback deliveries) are never purged.
const (
	PurgeEvents           = "events"            // inbound_events, per source
	PurgeCallbackAttempts = "callback_attempts" // attempts of deliveries that have finished
	PurgeSyncLog          = "sync_log"
	PurgeRatingActions    = "rating_actions" // actions carried out
)

// PurgedRow is one purged row as the archive keeps it.
type PurgedRow struct {
	Group string // the event's source, or the table name for the other kinds
	Day   string // YYYY-MM-DD (UTC) of the row's time
	JSON  []byte // the whole row (an event's payload embedded as received)
}

// purgeQueries: $1 cutoff, $2 limit, and for events $3 source. Each picks the
// oldest rows past the cutoff (by an index on that time), skips rows another
// transaction holds, and deletes them in the same statement. The archive
// variant returns the rows, the other only counts them.
var purgeQueries = map[string]struct{ pick, archived, counted string }{
	PurgeEvents: {
		// Only events whose processing has ended and that the relay no longer
		// holds: nothing accepted is purged before it has been handled.
		pick: `WITH doomed AS (SELECT id FROM inbound_events e WHERE source = $3 AND received_at < $1 AND processed
				AND NOT EXISTS (SELECT 1 FROM relay_outbox o WHERE o.event_id = e.id)
				ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)
			DELETE FROM inbound_events t USING doomed WHERE t.id = doomed.id`,
		archived: ` RETURNING t.source, to_char(t.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), row_to_json(t)::text`,
	},
	PurgeCallbackAttempts: {
		pick: `WITH doomed AS (SELECT a.delivery_id, a.attempt FROM callback_attempts a JOIN callback_deliveries d ON d.id = a.delivery_id
				WHERE a.attempted_at < $1 AND d.status <> 'pending'
				ORDER BY a.attempted_at LIMIT $2 FOR UPDATE OF a SKIP LOCKED)
			DELETE FROM callback_attempts t USING doomed WHERE t.delivery_id = doomed.delivery_id AND t.attempt = doomed.attempt`,
		archived: ` RETURNING 'callback_attempts', to_char(t.attempted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), row_to_json(t)::text`,
	},
	PurgeSyncLog: {
		pick: `WITH doomed AS (SELECT id FROM sync_log WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)
			DELETE FROM sync_log t USING doomed WHERE t.id = doomed.id`,
		archived: ` RETURNING 'sync_log', to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), row_to_json(t)::text`,
	},
	PurgeRatingActions: {
		// Pending actions are work still to do: only done ones go.
		pick: `WITH doomed AS (SELECT id FROM rating_actions WHERE done_at IS NOT NULL AND done_at < $1 ORDER BY done_at LIMIT $2 FOR UPDATE SKIP LOCKED)
			DELETE FROM rating_actions t USING doomed WHERE t.id = doomed.id`,
		archived: ` RETURNING 'rating_actions', to_char(t.done_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), row_to_json(t)::text`,
	},
}

// PurgeBatch deletes up to limit rows of kind older than cutoff (for events,
// of one source) in one short transaction and returns how many went. With
// keep, the deleted rows are handed to it before the commit, and an error
// from keep rolls the purge back: the archive always has what was purged
// (and, when a commit fails after keep, a row the next batch archives
// again).
func (s *Store) PurgeBatch(ctx context.Context, kind, source string, cutoff time.Time, limit int, keep func([]PurgedRow) error) (int, error) {
	q, ok := purgeQueries[kind]
	if !ok {
		return 0, fmt.Errorf("purge: unknown kind %q", kind)
	}
	args := []any{cutoff, limit}
	if kind == PurgeEvents {
		args = append(args, source)
	}
	n := 0
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if keep == nil {
			tag, err := tx.Exec(ctx, q.pick, args...)
			n = int(tag.RowsAffected())
			return err
		}
		rows, err := tx.Query(ctx, q.pick+q.archived, args...)
		if err != nil {
			return err
		}
		purged, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PurgedRow, error) {
			var p PurgedRow
			var js string
			err := r.Scan(&p.Group, &p.Day, &js)
			p.JSON = []byte(js)
			return p, err
		})
		if err != nil {
			return err
		}
		n = len(purged)
		if n == 0 {
			return nil
		}
		return keep(purged)
	})
	if err != nil {
		return 0, fmt.Errorf("purge %s %s: %w", kind, source, err)
	}
	return n, nil
}

// EventSources lists the sources that have events, from the counters (a
// few hundred rows however many events there are).
func (s *Store) EventSources(ctx context.Context) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT source FROM event_counts GROUP BY source HAVING sum(n) > 0 ORDER BY source`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
