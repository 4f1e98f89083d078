package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// countsMismatch compares event_counts with a full count of inbound_events
// and describes the difference ("" when equal).
func countsMismatch(t *testing.T, st *store.Store) string {
	t.Helper()
	var diff string
	err := st.Pool.QueryRow(context.Background(), `
		WITH counted AS (
			SELECT source, event_type, processed, outcome, errored, sum(n)::bigint AS n FROM event_counts
			GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0),
		full_count AS (
			SELECT source, event_type, processed, coalesce(outcome, '') AS outcome, error IS NOT NULL AS errored, count(*) AS n
			FROM inbound_events GROUP BY 1, 2, 3, 4, 5)
		SELECT coalesce(string_agg(format('%s/%s/%s/%s/%s: counters %s, full count %s',
			source, event_type, processed, outcome, errored, c.n, f.n), '; '), '')
		FROM counted c FULL JOIN full_count f USING (source, event_type, processed, outcome, errored)
		WHERE c.n IS DISTINCT FROM f.n`).Scan(&diff)
	if err != nil {
		t.Fatal(err)
	}
	return diff
}

func sourceEvents(source string, from, to int, typ func(i int) string) []*store.InboundEvent {
	var evs []*store.InboundEvent
	for i := from; i < to; i++ {
		evs = append(evs, &store.InboundEvent{Source: source, DedupKey: fmt.Sprint("k", i), WorkflowID: "w-" + fmt.Sprint(i%5),
			EntityID: fmt.Sprint(i % 5), Event: "e", EventType: typ(i), Payload: []byte(`{}`)})
	}
	return evs
}

// After recording (concurrently, in batches, with duplicates within and
// across batches, and by a direct INSERT), processing with several outcomes
// (a batch delivered twice included), leaving some unprocessed, and deleting
// some, the counters equal a full count, and Stats reports them.
func TestEventCountsStayEqualToAFullCount(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	typ := func(i int) string { return []string{"job_started", "job_progress", "job_completed"}[i%3] }

	// Four writers record overlapping ranges of keys, so each key is
	// offered several times, in batches that also repeat keys within.
	if err := inParallel(4, func(w int) error {
		for b := range 10 {
			from := (w*7 + b*13) % 300
			batch := append(sourceEvents("sp", from, from+40, typ), sourceEvents("sp", from, from+5, typ)...)
			if _, err := st.RecordEvents(ctx, batch); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordEvents(ctx, sourceEvents("other", 0, 30, func(int) string { return "e" })); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO inbound_events (source, dedup_key, workflow_id, event, event_type, payload)
		VALUES ('sp', 'direct', 'w', 'e', 'job_started', '{}')`)
	if d := countsMismatch(t, st); d != "" {
		t.Fatalf("after recording: %s", d)
	}

	// Process two thirds of the events with different outcomes; the first
	// batch is delivered twice (the second time nothing is left to apply).
	var ids []int64
	rows, err := st.Pool.Query(ctx, `SELECT id FROM inbound_events WHERE id % 3 <> 0 ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	if ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		t.Fatal(err)
	}
	apply := store.PerEvent(func(_ context.Context, _ pgx.Tx, ev store.InboundEvent) (store.EventOutcome, error) {
		switch ev.ID % 4 {
		case 0:
			return store.EventOutcome{Outcome: "stale", Error: "older than what was applied"}, nil
		case 1:
			return store.EventOutcome{Outcome: "failed", Error: "bad payload"}, nil
		default:
			return store.EventOutcome{Outcome: "applied"}, nil
		}
	})
	for len(ids) > 0 {
		batch := ids[:min(50, len(ids))]
		ids = ids[len(batch):]
		if _, err := st.ProcessEvents(ctx, batch, "", apply); err != nil {
			t.Fatal(err)
		}
		if n, err := st.ProcessEvents(ctx, batch, "", apply); err != nil || n != 0 {
			t.Fatalf("a redelivered batch processed %d events (%v)", n, err)
		}
	}
	if d := countsMismatch(t, st); d != "" {
		t.Fatalf("after processing: %s", d)
	}

	// Retention deletes rows; an update that changes no counted column
	// changes no counter.
	exec(`DELETE FROM inbound_events WHERE id % 5 = 0`)
	exec(`UPDATE inbound_events SET attrs = '{"touched": true}' WHERE id % 7 = 0`)
	if d := countsMismatch(t, st); d != "" {
		t.Fatalf("after deleting: %s", d)
	}

	// Stats answers what the GROUP BY it replaced did.
	got, err := st.Stats(ctx, "sp")
	if err != nil {
		t.Fatal(err)
	}
	var total, processed, pending, errored, applied, progress int64
	var last time.Time
	if err := st.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE processed), count(*) FILTER (WHERE NOT processed),
		count(*) FILTER (WHERE error IS NOT NULL), count(*) FILTER (WHERE outcome = 'applied'), count(*) FILTER (WHERE event_type = 'job_progress'),
		max(received_at) FROM inbound_events WHERE source = 'sp'`).Scan(&total, &processed, &pending, &errored, &applied, &progress, &last); err != nil {
		t.Fatal(err)
	}
	if got.Total != total || got.Processed != processed || got.Pending != pending || got.Errors != errored ||
		got.ByOutcome["applied"] != applied || got.ByType["job_progress"] != progress || got.LastReceivedAt == nil || !got.LastReceivedAt.Equal(last) {
		t.Fatalf("stats %+v; full count: total %d processed %d pending %d errors %d applied %d job_progress %d last %v",
			got, total, processed, pending, errored, applied, progress, last)
	}
	if pending == 0 || processed == 0 || errored == 0 {
		t.Fatalf("the workload left processed %d, pending %d, errors %d: every kind should be there", processed, pending, errored)
	}
}

// An installation upgraded with events already recorded starts with exact
// counters (the migration backfills them), and keeps them exact after.
func TestEventCountsMigrationBackfills(t *testing.T) {
	st, migrate := databaseAt(t, 3)
	ctx := context.Background()
	exec := execer(t, st)
	exec(`INSERT INTO inbound_events (source, dedup_key, workflow_id, event, event_type, payload, processed, outcome, error)
		VALUES ('sp', 'a', 'w', 'e', 't1', '{}', true, 'applied', NULL), ('sp', 'b', 'w', 'e', 't1', '{}', true, 'stale', 'old'),
		       ('sp', 'c', 'w', 'e', 't2', '{}', false, NULL, NULL), ('sp', 'd', 'w', 'e', 't2', '{}', false, NULL, NULL)`)
	migrate.upTo(4)
	if d := countsMismatch(t, st); d != "" {
		t.Fatalf("after the upgrade: %s", d)
	}
	if _, err := st.RecordEvents(ctx, sourceEvents("sp", 0, 3, func(int) string { return "t2" })); err != nil {
		t.Fatal(err)
	}
	if d := countsMismatch(t, st); d != "" {
		t.Fatalf("recording after the upgrade: %s", d)
	}
	migrate.downTo(3)
	var left bool
	if err := st.Pool.QueryRow(ctx, `SELECT to_regclass('event_counts') IS NOT NULL OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgname LIKE 'inbound_events_count%')`).Scan(&left); err != nil || left {
		t.Fatalf("after going back the counters or their triggers remain: %v (%v)", left, err)
	}
	migrate.up()
	if d := countsMismatch(t, st); d != "" {
		t.Fatalf("after upgrading again: %s", d)
	}
}

// explain returns the plan Postgres makes for sql with args, as text.
func explain(t *testing.T, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args ...any) string {
	t.Helper()
	rows, err := db.Query(context.Background(), "EXPLAIN "+sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// Every list filter finds its events through an index, at a realistic size
// with statistics (the planner prefers a scan on a table of a few rows).
func TestEventListFiltersUseAnIndex(t *testing.T) {
	_, st := testenv.Database(t)
	exec := execer(t, st)
	// 40,000 events of 20 types and 50 entities, most processed, over 40 days.
	exec(`INSERT INTO inbound_events (source, dedup_key, workflow_id, event, event_type, entity_id, payload, received_at, processed, outcome)
		SELECT CASE WHEN i % 10 = 0 THEN 'other' ELSE 'sp' END, 'k' || i, 'w', 'e', 'type_' || (i % 20), (i % 50)::text, '{"data": {}}',
			now() - interval '40 days' + i * interval '86 seconds', i < 39000,
			CASE WHEN i >= 39000 THEN NULL WHEN i % 7 = 0 THEN 'stale' ELSE 'applied' END
		FROM generate_series(1, 40000) i`)
	// VACUUM as autovacuum would: an index-only scan needs the visibility map.
	exec(`VACUUM ANALYZE inbound_events`)
	now := time.Now()
	for name, f := range map[string]store.EventFilter{
		"type":              {EventType: "type_3"},
		"entity":            {EntityID: "7"},
		"outcome":           {Outcome: "stale"},
		"pending":           {Outcome: store.OutcomePending},
		"since":             {Since: now.Add(-time.Hour)},
		"until":             {Until: now.Add(-35 * 24 * time.Hour)},
		"since and until":   {Since: now.Add(-30 * 24 * time.Hour), Until: now.Add(-29 * 24 * time.Hour)},
		"type, before_id":   {EventType: "type_3", BeforeID: 20000},
		"outcome and since": {Outcome: "stale", Since: now.Add(-24 * time.Hour)},
		"cursor":            {After: &store.EventCursor{ReceivedAt: now.Add(-20 * 24 * time.Hour), ID: 20000}},
		"entity and type":   {EntityID: "7", EventType: "type_3"},
	} {
		f.Source, f.Limit = "sp", 100
		q, args := store.ListEventsQuery(f)
		plan := explain(t, st.Pool, q, args...)
		if strings.Contains(plan, "Seq Scan on inbound_events") {
			t.Errorf("%s: the list scans inbound_events:\n%s", name, plan)
		} else if f.EntityID != "" && f.EventType != "" && !strings.Contains(plan, "Index Only Scan Backward using inbound_events_by_entity_type") {
			// Walking the entity's rows to read their type costs the
			// entity's events up to the page's last match.
			t.Errorf("%s: entity and type are not found in inbound_events_by_entity_type alone:\n%s", name, plan)
		} else if f.ByTime() && !strings.Contains(plan, "inbound_events_by_received") {
			// Walking the primary key from the newest event down to the
			// range costs every event received since: 2.5 s at 10 million.
			t.Errorf("%s: a list narrowed in time does not seek inbound_events_by_received:\n%s", name, plan)
		} else {
			t.Logf("%s:\n%s", name, plan)
		}
	}
	if plan := explain(t, st.Pool, `SELECT event_type, outcome, processed, errored, sum(n) FROM event_counts WHERE source = 'sp' GROUP BY 1, 2, 3, 4`); strings.Contains(plan, "inbound_events") {
		t.Errorf("stats read inbound_events:\n%s", plan)
	}
}

// A list narrowed in time pages by (received_at, id): every event of the
// range once, newest first, ties on received_at (a batch acked in one
// transaction) and ids out of time order (concurrent acks) included.
func TestListEventsPagesByTime(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	// Events 1..12: received_at goes up by a minute every third event, and
	// events 5 and 6 swap their minute with 7: ids are not in time order.
	exec(`INSERT INTO inbound_events (id, source, dedup_key, workflow_id, event, event_type, entity_id, payload, received_at)
		SELECT i, 'sp', 'k' || i, 'w', 'e', 't', '1', '{}', timestamptz '2025-01-09 12:00:00+00' +
			(CASE i WHEN 5 THEN 3 WHEN 6 THEN 3 WHEN 7 THEN 1 ELSE i / 3 END) * interval '1 minute'
		FROM generate_series(1, 12) i`)
	base := time.Date(2025, 1, 9, 12, 0, 0, 0, time.UTC)
	f := store.EventFilter{Source: "sp", Since: base.Add(time.Minute), Until: base.Add(4 * time.Minute), Limit: 2}
	seen := pageKeys(t, 10, f.Limit, func() ([]store.InboundEvent, error) { return st.ListEvents(ctx, f) },
		func(last store.InboundEvent) { f.After = &store.EventCursor{ReceivedAt: last.ReceivedAt, ID: last.ID} },
		func(e store.InboundEvent) int64 { return e.ID })
	// Minute 3: 11, 10, 9 (i/3 = 3), 6, 5; minute 2: 8; minute 1: 7, 4, 3.
	if want := "[11 10 9 6 5 8 7 4 3]"; fmt.Sprint(seen) != want {
		t.Fatalf("pages gave %v, want %s", seen, want)
	}
}

// Orders page by cursor: every order once, in (updated_at, id) order, ties
// on updated_at included.
func TestListOrdersPagesByCursor(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	exec(`INSERT INTO orders (bitrix_id, number, status, bitrix_status, updated_at)
		SELECT i, 'N' || i, 'new', 'N', timestamptz '2025-01-09 12:00:00+00' + (i / 3) * interval '1 minute'
		FROM generate_series(1, 11) i`)
	f := store.OrderFilter{Limit: 4}
	seen := pageKeys(t, 5, f.Limit, func() ([]store.Order, error) { return st.ListOrders(ctx, f) },
		func(last store.Order) { f.After = &store.OrderCursor{UpdatedAt: last.UpdatedAt, ID: last.ID} },
		func(o store.Order) int64 { return o.BitrixID })
	if want := "[11 10 9 8 7 6 5 4 3 2 1]"; fmt.Sprint(seen) != want {
		t.Fatalf("pages gave %v, want %s", seen, want)
	}
}

// The sync log's errors and one order's history come from their indexes,
// not from a walk of the whole log (200,000 entries, 0.5% errors).
func TestSyncLogFiltersUseAnIndex(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	exec(`INSERT INTO sync_log (direction, entity, entity_id, action, status)
		SELECT 'inbound', 'order', (i % 5000)::text, 'update', CASE WHEN i % 200 = 0 THEN 'error' ELSE 'success' END
		FROM generate_series(1, 200000) i`)
	exec(`VACUUM ANALYZE sync_log`)
	// The plan a prepared statement settles on after five calls: generic,
	// made without the parameters' values.
	conn, err := st.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		f     store.SyncLogFilter
		index string
	}{
		"errors":           {store.SyncLogFilter{ErrorsOnly: true, Limit: 20}, "sync_log_errors"},
		"order":            {store.SyncLogFilter{EntityID: "200", Limit: 100}, "sync_log_by_entity"},
		"order and errors": {store.SyncLogFilter{EntityID: "200", ErrorsOnly: true, Limit: 100}, "sync_log_by_entity"},
	} {
		q, args := store.ListSyncLogQuery(c.f)
		// EXPLAIN of a statement with parameters plans it with their
		// values; EXPLAIN EXECUTE of a prepared one shows its generic plan.
		name = "sync_log_" + strings.ReplaceAll(name, " ", "_")
		if _, err := conn.Exec(ctx, "PREPARE "+name+" AS "+q); err != nil {
			t.Fatal(err)
		}
		literals := make([]string, len(args))
		for i, a := range args {
			literals[i] = fmt.Sprintf("'%v'", a)
		}
		if plan := explain(t, conn, "EXECUTE "+name+"("+strings.Join(literals, ", ")+")"); !strings.Contains(plan, c.index) {
			t.Errorf("%s: the sync log is not read through %s:\n%s", name, c.index, plan)
		}
		page, err := st.ListSyncLog(ctx, c.f)
		if err != nil || len(page) == 0 {
			t.Fatalf("%s: %d entries, %v", name, len(page), err)
		}
		for _, e := range page {
			if c.f.ErrorsOnly && e.Status != "error" || c.f.EntityID != "" && e.EntityID != c.f.EntityID {
				t.Fatalf("%s: entry %+v does not match the filter", name, e)
			}
		}
	}
}
