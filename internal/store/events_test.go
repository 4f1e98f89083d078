package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
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

func dispatched(t *testing.T, st *store.Store, ids []int64) map[int64]bool {
	t.Helper()
	rows, err := st.Pool.Query(context.Background(), `SELECT id, dispatched_at IS NOT NULL FROM inbound_events WHERE id = ANY($1)`, ids)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]bool{}
	var id int64
	var d bool
	if _, err := pgx.ForEachRow(rows, []any{&id, &d}, func() error { out[id] = d; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func handAll(evs []store.PendingEvent) (done, failed []int64) {
	for _, e := range evs {
		done = append(done, e.ID)
	}
	return done, nil
}

// A workflow may start processing an event before the relay's round that
// signalled it commits. The relay must not wait for that processor's row
// lock (the two used to deadlock, each holding rows the other wanted), and
// the event must end up dispatched either way.
func TestDispatchRoundSkipsEventsBeingProcessed(t *testing.T) {
	_, st := testenv.Database(t)
	ids := recordN(t, st, 3)
	ctx := context.Background()

	// A processor holds the middle event's row lock.
	proc, err := st.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Rollback(ctx) //nolint:errcheck
	if claimed, err := store.ClaimForProcessing(ctx, proc, ids[1:2]); err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v (%d rows)", err, len(claimed))
	}

	// The bound only keeps a regression from hanging the suite: before the
	// fix this call waited on the processor's lock for as long as it was held.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	claimed, delivered, ok, err := st.DispatchRound(rctx, 100, handAll)
	if err != nil || !ok || claimed != 3 || delivered != 3 {
		t.Fatalf("round: claimed %d, delivered %d, ok %v, err %v (it must not wait for the processor)", claimed, delivered, ok, err)
	}
	if d := dispatched(t, st, ids); !d[ids[0]] || d[ids[1]] || !d[ids[2]] {
		t.Fatalf("dispatched = %v; want the locked event skipped and the others marked", d)
	}

	// The processor fails and rolls back: the event was never marked, so
	// the next round hands it over again.
	if err := proc.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var again []int64
	if _, _, _, err := st.DispatchRound(ctx, 100, func(evs []store.PendingEvent) ([]int64, []int64) {
		for _, e := range evs {
			again = append(again, e.ID)
		}
		return nil, again // Temporal refused this time: still pending
	}); err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0] != ids[1] {
		t.Fatalf("second round handed %v, want [%d]", again, ids[1])
	}

	// Processing marks what it processed as dispatched (it was evidently
	// handed over), so the relay does not send it again.
	n, err := st.ProcessEvents(ctx, ids[1:2], "", store.PerEvent(func(context.Context, pgx.Tx, store.InboundEvent) (store.EventOutcome, error) {
		return store.EventOutcome{Outcome: "applied"}, nil
	}))
	if err != nil || n != 1 {
		t.Fatalf("process: %d, %v", n, err)
	}
	if d := dispatched(t, st, ids); !d[ids[1]] {
		t.Fatal("a processed event is not marked dispatched")
	}
	claimed, _, _, err = st.DispatchRound(ctx, 100, handAll)
	if err != nil || claimed != 0 {
		t.Fatalf("third round claimed %d (%v), want nothing left", claimed, err)
	}
	var attempts int
	if err := st.Pool.QueryRow(ctx, `SELECT dispatch_attempts FROM inbound_events WHERE id = $1`, ids[1]).Scan(&attempts); err != nil || attempts != 1 {
		t.Fatalf("dispatch_attempts = %d (%v), want 1 (the refused round)", attempts, err)
	}
}
