package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// Postgres' json keeps the escape \u0000 that jsonb and text refuse, and
// refuses invalid UTF-8 outright: both are data errors (class 22), which
// a retry cannot cure.
func TestIsDataError(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	for _, c := range []struct {
		sql  string
		arg  any
		data bool
	}{
		{`SELECT $1::text::json`, `{"a":"\u0000"}`, false},
		{`SELECT $1::text::jsonb`, `{"a":"\u0000"}`, true},
		{`SELECT $1::text`, "a\x00b", true},
		{`SELECT $1::text`, "a\xffb", true},
		{`SELECT $1::text::int`, "99999999999", true},
		{`SELECT * FROM no_such_table`, nil, false},
	} {
		var args []any
		if c.arg != nil {
			args = append(args, c.arg)
		}
		_, err := st.Pool.Exec(ctx, c.sql, args...)
		if got := store.IsDataError(err); got != c.data {
			t.Errorf("%s %q: IsDataError(%v) = %v", c.sql, c.arg, err, got)
		}
	}
}

// An event whose data Postgres refuses while it is applied fails its batch:
// the batch is then applied one event at a time, the others are applied,
// and that one is recorded as failed with the reason, never retried.
func TestProcessEventsDeadLettersWhatCannotBeStored(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	var evs []*store.InboundEvent
	for i, p := range []string{`{"n":1}`, `{"n":"\u0000"}`, `{"n":3}`} {
		evs = append(evs, &store.InboundEvent{Source: "test", DedupKey: string(rune('a' + i)), WorkflowID: "test-entity-1",
			EntityID: "1", Event: "e", EventType: "e", Payload: []byte(p)})
	}
	res, err := st.RecordEvents(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int64{res[0].ID, res[1].ID, res[2].ID}
	var applied []int64
	apply := store.PerEvent(func(ctx context.Context, tx pgx.Tx, ev store.InboundEvent) (store.EventOutcome, error) {
		if _, err := tx.Exec(ctx, `SELECT $1::text::jsonb`, string(ev.Payload)); err != nil { // as an applier storing it would
			return store.EventOutcome{}, err
		}
		applied = append(applied, ev.ID)
		return store.EventOutcome{Outcome: "applied"}, nil
	})
	n, err := st.ProcessEvents(ctx, ids, "", apply)
	if err != nil || n != 3 {
		t.Fatalf("processed %d, %v", n, err)
	}
	rows, err := st.EventsByID(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range rows {
		want := "applied"
		if i == 1 {
			want = "failed"
		}
		if !e.Processed || e.Outcome == nil || *e.Outcome != want {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	if e := rows[1].Error; e == nil || !strings.Contains(*e, "SQLSTATE 22P05") || !strings.HasPrefix(*e, "cannot be applied: ") {
		t.Fatalf("dead letter's reason %v", rows[1].Error)
	}
	// Applied once each: the batch (rolled back), then one by one.
	if len(applied) != 1+2 || applied[1] != ids[0] || applied[2] != ids[2] {
		t.Fatalf("applied %v", applied)
	}
	// A redelivered batch changes nothing.
	if n, err := st.ProcessEvents(ctx, ids, "", apply); n != 0 || err != nil {
		t.Fatalf("again: %d %v", n, err)
	}
}

// Events recorded with an outcome (ignored at the edge) are processed at
// once and never queued for the relay.
func TestIgnoredEventsAreNotQueued(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	ev := (&store.InboundEvent{Source: "bitrix", DedupKey: "x", Event: "ONCRMCONTACTADD", EventType: "b24_other",
		Payload: []byte(`{}`)}).Ignored("not synced")
	res, err := st.RecordEvents(ctx, []*store.InboundEvent{ev, {Source: "bitrix", DedupKey: "y", WorkflowID: "bitrix-order-1",
		EntityID: "1", Event: "ONSALEORDERSAVED", EventType: "b24_order_saved", Payload: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if q := pending(t, st, []int64{res[0].ID, res[1].ID}); q[res[0].ID] || !q[res[1].ID] {
		t.Fatalf("queued: %v", q)
	}
	rows, err := st.EventsByID(ctx, []int64{res[0].ID})
	if err != nil || !rows[0].Processed || *rows[0].Outcome != "ignored" || *rows[0].Error != "not synced" || rows[0].ProcessedAt == nil {
		t.Fatalf("%+v %v", rows, err)
	}
	st2, err := st.Stats(ctx, "bitrix")
	if err != nil || st2.ByOutcome["ignored"] != 1 || st2.Pending != 1 {
		t.Fatalf("stats %+v %v", st2, err)
	}
}
