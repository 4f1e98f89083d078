package store_test

import (
	"context"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
	"github.com/hookflow/hookflow/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func recordN(t *testing.T, st *store.Store, n int) []int64 {
	t.Helper()
	evs := make([]*store.InboundEvent, n)
	for i := range evs {
		evs[i] = &store.InboundEvent{Source: "test", DedupKey: fmt.Sprint("k", i), WorkflowID: "test-entity-1",
			EntityID: "1", Event: "e", EventType: "e", Payload: []byte(`{}`)}
	}
	res, err := st.RecordEvents(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, n)
	for i, r := range res {
		ids[i] = r.ID
	}
	return ids
}

// pending lists which of ids are still in the relay outbox.
func pending(t *testing.T, st *store.Store, ids []int64) map[int64]bool {
	t.Helper()
	rows, err := st.Pool.Query(context.Background(), `SELECT event_id FROM relay_outbox WHERE event_id = ANY($1)`, ids)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]bool{}
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { out[id] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// Every way of recording an event queues it for the relay (a trigger fills
// the outbox), duplicates included only once.
func TestRecordedEventsAreQueuedForTheRelay(t *testing.T) {
	_, st := testenv.Database(t)
	ids := recordN(t, st, 3)
	if again := recordN(t, st, 3); again[0] != ids[0] {
		t.Fatalf("a repeat got id %d, want the duplicate of %d", again[0], ids[0])
	}
	var direct int64
	if err := st.Pool.QueryRow(context.Background(), `INSERT INTO inbound_events (source, dedup_key, workflow_id, event, event_type, payload)
		VALUES ('test', 'direct', 'test-entity-2', 'e', 'e', '{}') RETURNING id`).Scan(&direct); err != nil {
		t.Fatal(err)
	}
	all := append(ids, direct)
	if p := pending(t, st, all); len(p) != 4 {
		t.Fatalf("outbox holds %v of %v", p, all)
	}
	if n, _, err := st.Backlog(context.Background()); err != nil || n != 4 {
		t.Fatalf("backlog %d (%v), want 4", n, err)
	}
}

// A workflow may start processing an event before the relay's round that
// signalled it commits. The round must not wait for that processor's row
// locks (the two once deadlocked over inbound_events rows), and whatever
// Temporal refused stays queued.
func TestDispatchRoundNeverWaitsForProcessors(t *testing.T) {
	_, st := testenv.Database(t)
	ids := recordN(t, st, 3)
	ctx := context.Background()

	// A processor holds every event's row lock.
	proc, err := st.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Rollback(ctx) //nolint:errcheck
	if claimed, err := store.ClaimForProcessing(ctx, proc, ids); err != nil || len(claimed) != 3 {
		t.Fatalf("claim: %v (%d rows)", err, len(claimed))
	}

	// The bound only keeps a regression from hanging the suite: a round
	// that touched event rows waited for as long as the lock was held.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	lease := openLease(t, st, 1)
	claimed, delivered, err := lease.DispatchRound(rctx, 100, func(evs []store.PendingEvent) (done, failed []int64) {
		for _, e := range evs {
			if e.ID == ids[1] {
				failed = append(failed, e.ID) // Temporal refused this one
			} else {
				done = append(done, e.ID)
			}
		}
		return done, failed
	})
	if err != nil || claimed != 3 || delivered != 2 {
		t.Fatalf("round: claimed %d, delivered %d, err %v (it must not wait for the processor)", claimed, delivered, err)
	}
	if p := pending(t, st, ids); len(p) != 1 || !p[ids[1]] {
		t.Fatalf("outbox after the round: %v, want only the refused %d", p, ids[1])
	}
	var attempts int
	if err := st.Pool.QueryRow(ctx, `SELECT attempts FROM relay_outbox WHERE event_id = $1`, ids[1]).Scan(&attempts); err != nil || attempts != 1 {
		t.Fatalf("attempts = %d (%v), want 1", attempts, err)
	}
	if err := proc.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// The next round hands the refused event over again, and only it.
	var again []int64
	if _, _, err := lease.DispatchRound(ctx, 100, func(evs []store.PendingEvent) ([]int64, []int64) {
		for _, e := range evs {
			again = append(again, e.ID)
		}
		return again, nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0] != ids[1] {
		t.Fatalf("second round handed %v, want [%d]", again, ids[1])
	}
	if n, _, err := st.Backlog(ctx); err != nil || n != 0 {
		t.Fatalf("backlog %d (%v) after everything was handed over", n, err)
	}
}

// migrationProvider runs the migrations of this checkout on a test database.
func migrationProvider(t *testing.T, dbURL string) *goose.Provider {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	return provider
}

// migrator moves a test database down and up the migrations of this
// checkout, failing the test on an error.
type migrator struct {
	t        *testing.T
	provider *goose.Provider
}

// databaseAt is a test database migrated down to version: its store (the
// pool works at any version) and the migrator that moves it on.
func databaseAt(t *testing.T, version int64) (*store.Store, migrator) {
	t.Helper()
	dbURL, st := testenv.Database(t)
	m := migrator{t: t, provider: migrationProvider(t, dbURL)}
	m.downTo(version)
	return st, m
}

func (m migrator) downTo(version int64) {
	m.t.Helper()
	if _, err := m.provider.DownTo(context.Background(), version); err != nil {
		m.t.Fatal(err)
	}
}

func (m migrator) upTo(version int64) {
	m.t.Helper()
	if _, err := m.provider.UpTo(context.Background(), version); err != nil {
		m.t.Fatal(err)
	}
}

// up applies every migration.
func (m migrator) up() {
	m.t.Helper()
	if _, err := m.provider.Up(context.Background()); err != nil {
		m.t.Fatal(err)
	}
}

// Upgrading with events waiting for Temporal keeps them waiting (with their
// attempts), and so does going back.
func TestRelayOutboxMigrationKeepsTheBacklog(t *testing.T) {
	st, migrate := databaseAt(t, 2)
	ctx := context.Background()
	exec := execer(t, st)
	exec(`INSERT INTO inbound_events (source, dedup_key, workflow_id, event, event_type, payload, dispatched_at, dispatch_attempts)
		VALUES ('test', 'sent', 'w', 'e', 'e', '{}', now(), 1), ('test', 'waiting', 'w', 'e', 'e', '{}', NULL, 3)`)
	migrate.upTo(3)
	var key string
	var attempts int
	if err := st.Pool.QueryRow(ctx, `SELECT e.dedup_key, o.attempts FROM relay_outbox o JOIN inbound_events e ON e.id = o.event_id`).Scan(&key, &attempts); err != nil || key != "waiting" || attempts != 3 {
		t.Fatalf("outbox after upgrade: %q with %d attempts (%v), want only 'waiting' with 3", key, attempts, err)
	}
	migrate.downTo(2)
	var undispatched string
	if err := st.Pool.QueryRow(ctx, `SELECT string_agg(dedup_key || ':' || dispatch_attempts, ',') FROM inbound_events WHERE dispatched_at IS NULL`).Scan(&undispatched); err != nil || undispatched != "waiting:3" {
		t.Fatalf("undispatched after downgrade: %q (%v), want waiting:3", undispatched, err)
	}
	migrate.up()
}

// A database migrated by the release before 00003 (which had only the
// migrations below) upgrades: migrations are numbered per flow, so a new one
// can sort below what the database already has.
func TestMigrateUpgradesPastLowerNumberedNewMigrations(t *testing.T) {
	dbURL := testenv.EmptyDatabase(t)
	ctx := context.Background()
	previous := fstest.MapFS{}
	for _, name := range []string{"00001_inbound_events.sql", "00002_simplyprint.sql", "00010_ratings.sql",
		"00020_orders.sql", "00030_jobs.sql", "00031_callbacks.sql"} {
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		previous[name] = &fstest.MapFile{Data: b}
	}
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	old, err := goose.NewProvider(goose.DialectPostgres, db, previous)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Migrate(ctx, dbURL, testenv.Logger()); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	var outbox bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('relay_outbox') IS NOT NULL`).Scan(&outbox); err != nil || !outbox {
		t.Fatalf("relay_outbox after the upgrade: %v (%v)", outbox, err)
	}
}
