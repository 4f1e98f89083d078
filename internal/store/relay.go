package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/jackc/pgx/v5"
)

// PendingEvent is what the relay needs to hand an event to Temporal.
type PendingEvent struct {
	ID          int64
	Source      string
	WorkflowID  string
	EntityID    string
	TraceParent string
}

// The relay's advisory locks, in the two-key form (pg_locks shows the first
// key as classid and the second as objid). Every relay holds the member lock
// in shared mode, with the shard count as second key, for as long as its
// connection lives: counting the holders tells how many relays share the
// work and whether they agree on the count. A shard lock (second key: the
// shard number) is held exclusively by the relay that hands that shard over.
const (
	relayMemberKey int32 = 0x686b6d62 // "hkmb"
	relayShardKey  int32 = 0x686b7368 // "hksh"
)

// shardOf is the SQL expression for an outbox row's shard: a hash of the
// workflow ID, so each entity's events stay in one shard and so with one
// relay at a time, in order. hashtext is Postgres' own, the same for every
// relay that asks the same server.
const shardOf = `(hashtext(workflow_id) & 2147483647) %% %d`

// RelayLease is one relay's dedicated connection to Postgres. It holds the
// relay's shard leases (session advisory locks) and runs its rounds, so the
// leases and the round in flight end together: if the process dies or the
// connection breaks, Postgres releases the shards as it rolls the round
// back, and another relay takes them over with nothing handed over twice in
// the wrong order.
type RelayLease struct {
	conn   *pgx.Conn
	shards int
	held   []int
	start  int // where this relay starts looking for free shards, so newcomers spread out
}

// OpenRelayLease connects for a relay that splits the outbox into the given
// number of shards, and joins the relays' membership. It holds no shard yet:
// call Rebalance.
func (s *Store) OpenRelayLease(ctx context.Context, shards int) (*RelayLease, error) {
	if shards <= 0 {
		return nil, fmt.Errorf("relay shards must be positive, got %d", shards)
	}
	cfg := s.Pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "hookflow-relay"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock_shared($1, $2)`, relayMemberKey, int32(shards)); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return &RelayLease{conn: conn, shards: shards, start: rand.IntN(shards)}, nil
}

// Close ends the connection, which releases every lease.
func (l *RelayLease) Close(ctx context.Context) { _ = l.conn.Close(ctx) }

// Held lists the shards this relay hands over, in order.
func (l *RelayLease) Held() []int { return slices.Clone(l.held) }

// BackendPID is the Postgres process serving the lease's connection (in
// pg_stat_activity as application hookflow-relay).
func (l *RelayLease) BackendPID() uint32 { return l.conn.PgConn().PID() }

// Shards is the number of shards the outbox is split into.
func (l *RelayLease) Shards() int { return l.shards }

// ErrShardCountMismatch says that relays with another RELAY_SHARDS are
// connected: the two numberings would put one entity in two shards, held by
// two relays, and its events could be handed over out of order.
var ErrShardCountMismatch = errors.New("relays with a different RELAY_SHARDS are running against this database")

// Rebalance takes or gives back shards so that the live relays share them
// evenly: each holds at most ceil(shards / relays). A relay that died has
// lost its connection and so its locks; the survivors take its shards at
// their next call. Call it between rounds, never during one.
func (l *RelayLease) Rebalance(ctx context.Context) (took, gave []int, err error) {
	rows, err := l.conn.Query(ctx, `
		SELECT objid::bigint, count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = $1::bigint::oid
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		GROUP BY objid`, relayMemberKey)
	if err != nil {
		return nil, nil, err
	}
	var count, members int64
	var shards int64
	others := false
	if _, err := pgx.ForEachRow(rows, []any{&shards, &count}, func() error {
		if shards == int64(l.shards) {
			members = count
		} else {
			others = true
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	if others {
		// Hold nothing until every relay agrees: events wait, recorded, in
		// the outbox, and none is handed over out of order.
		gave = slices.Clone(l.held)
		if err := l.release(ctx, gave); err != nil {
			return nil, nil, err
		}
		return nil, gave, ErrShardCountMismatch
	}
	target := l.shards
	if members > 1 {
		target = (l.shards + int(members) - 1) / int(members)
	}
	if len(l.held) > target {
		gave = slices.Clone(l.held[target:])
		return nil, gave, l.release(ctx, gave)
	}
	for i := 0; i < l.shards && len(l.held) < target; i++ {
		shard := (l.start + i) % l.shards
		if slices.Contains(l.held, shard) {
			continue
		}
		var ok bool
		if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, relayShardKey, int32(shard)).Scan(&ok); err != nil {
			return took, nil, err
		}
		if ok {
			l.held = append(l.held, shard)
			took = append(took, shard)
		}
	}
	slices.Sort(l.held)
	return took, nil, nil
}

func (l *RelayLease) release(ctx context.Context, shards []int) error {
	for _, shard := range shards {
		if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, relayShardKey, int32(shard)); err != nil {
			return err
		}
		l.held = slices.DeleteFunc(l.held, func(h int) bool { return h == shard })
	}
	return nil
}

// DispatchRound takes up to limit events of this relay's shards of the
// outbox in id order, lets hand deliver them, and removes those hand reports
// delivered from the outbox, all in one transaction on the lease's
// connection.
//
// The round touches only the outbox, never inbound_events rows: a workflow
// may already be processing (and locking) an event it was just signalled
// before this transaction commits, and the two must not wait on each other.
func (l *RelayLease) DispatchRound(ctx context.Context, limit int, hand func([]PendingEvent) (delivered, failed []int64)) (claimed int, delivered int, err error) {
	if len(l.held) == 0 {
		return 0, 0, nil
	}
	tx, err := l.conn.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	query, args := dispatchQuery(l.shards, l.held, limit)
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return 0, 0, err
	}
	pending, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PendingEvent, error) {
		var p PendingEvent
		return p, r.Scan(&p.ID, &p.Source, &p.WorkflowID, &p.EntityID, &p.TraceParent)
	})
	if err != nil || len(pending) == 0 {
		return 0, 0, err
	}
	done, failed := hand(pending)
	if len(done) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM relay_outbox WHERE event_id = ANY($1)`, done); err != nil {
			return len(pending), 0, err
		}
	}
	if len(failed) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE relay_outbox SET attempts = attempts + 1 WHERE event_id = ANY($1)`, failed); err != nil {
			return len(pending), 0, err
		}
	}
	return len(pending), len(done), tx.Commit(ctx)
}

// dispatchQuery picks a round's outbox rows: the lease's shards, in id
// order (so each entity's events in the order they were acked), leaving
// out those of paused sources (source_pauses), which stay until a resume.
func dispatchQuery(shards int, held []int, limit int) (string, []any) {
	query := `SELECT event_id, source, workflow_id, entity_id, coalesce(traceparent, '') FROM relay_outbox
		WHERE source NOT IN (SELECT source FROM source_pauses) `
	args := []any{limit}
	if len(held) < shards {
		query += fmt.Sprintf(`AND `+shardOf+` = ANY($2) `, shards)
		args = append(args, held)
	}
	return query + `ORDER BY event_id LIMIT $1`, args
}

// DispatchQuery is the statement of a round over the given shards (for the
// plan tests).
func DispatchQuery(shards int, held []int, limit int) (string, []any) {
	return dispatchQuery(shards, held, limit)
}

// HoldRelayShards takes every shard of a relay split into the given number
// of shards, on a connection of its own, so that no relay hands anything
// over until release is called (or the connection ends). It waits for
// shards that relays hold: relays give shards back only to each other, so
// take them while no relay runs. The benchmark of the hand-over fills the
// outbox through the real API this way before it lets the relays go.
func (s *Store) HoldRelayShards(ctx context.Context, shards int) (release func(), err error) {
	conn, err := pgx.ConnectConfig(ctx, s.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	for shard := range shards {
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, relayShardKey, int32(shard)); err != nil {
			conn.Close(ctx)
			return nil, err
		}
	}
	return func() { _ = conn.Close(context.Background()) }, nil
}
