package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// openLease opens a relay lease and rebalances it once.
func openLease(t *testing.T, st *store.Store, shards int) *store.RelayLease {
	t.Helper()
	l, err := st.OpenRelayLease(context.Background(), shards)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	rebalance(t, l)
	return l
}

func rebalance(t *testing.T, l *store.RelayLease) {
	t.Helper()
	if _, _, err := l.Rebalance(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// takeAll hands over (and removes) whatever the lease's shards hold.
func takeAll(t *testing.T, l *store.RelayLease) []store.PendingEvent {
	t.Helper()
	var got []store.PendingEvent
	if _, _, err := l.DispatchRound(context.Background(), 10000, func(evs []store.PendingEvent) ([]int64, []int64) {
		ids := make([]int64, len(evs))
		for i, e := range evs {
			ids[i] = e.ID
		}
		got = append(got, evs...)
		return ids, nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func recordAcross(t *testing.T, st *store.Store, entities, perEntity int) {
	t.Helper()
	var evs []*store.InboundEvent
	for i := range perEntity {
		for e := range entities {
			evs = append(evs, &store.InboundEvent{Source: "test", DedupKey: fmt.Sprintf("e%d-%d", e, i),
				WorkflowID: fmt.Sprintf("test-entity-%d", e), EntityID: fmt.Sprint(e), Event: "e", EventType: "e", Payload: []byte(`{}`)})
		}
	}
	if _, err := st.RecordEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

// Two relays split the shards evenly; each entity's events go to one relay
// only, in id order; when one dies the other takes its shards over.
func TestRelayLeasesShareTheShardsAndTakeOver(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	a := openLease(t, st, 8)
	if got := a.Held(); len(got) != 8 {
		t.Fatalf("a lone relay holds %v, want all 8 shards", got)
	}
	b := openLease(t, st, 8)
	if got := b.Held(); len(got) != 0 {
		t.Fatalf("the newcomer took %v while every shard was held", got)
	}
	rebalance(t, a) // a sees two members: gives half back
	rebalance(t, b) // b takes them
	ha, hb := a.Held(), b.Held()
	if len(ha) != 4 || len(hb) != 4 || slices.ContainsFunc(ha, func(s int) bool { return slices.Contains(hb, s) }) {
		t.Fatalf("shards a %v, b %v: want 4 each, disjoint", ha, hb)
	}

	recordAcross(t, st, 40, 5)
	owner := map[string]string{}
	total := 0
	for name, l := range map[string]*store.RelayLease{"a": a, "b": b} {
		evs := takeAll(t, l)
		if len(evs) == 0 {
			t.Fatalf("relay %s got nothing from shards %v", name, l.Held())
		}
		last := map[string]int64{}
		for _, e := range evs {
			if o, ok := owner[e.WorkflowID]; ok && o != name {
				t.Fatalf("%s's events went to relays %s and %s", e.WorkflowID, o, name)
			}
			owner[e.WorkflowID] = name
			if e.ID < last[e.WorkflowID] {
				t.Fatalf("%s: event %d handed over after %d", e.WorkflowID, e.ID, last[e.WorkflowID])
			}
			last[e.WorkflowID] = e.ID
		}
		total += len(evs)
	}
	if total != 200 || len(owner) != 40 {
		t.Fatalf("handed over %d events of %d entities, want 200 of 40", total, len(owner))
	}

	// a dies in the middle of a round: its connection goes, the round rolls
	// back, and b takes every shard and hands the events over.
	recordAcross(t, st, 40, 6) // new dedup keys for i == 5
	_, _, err := a.DispatchRound(ctx, 10000, func(evs []store.PendingEvent) ([]int64, []int64) {
		if _, err := st.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, int64(a.BackendPID())); err != nil {
			t.Error(err)
		}
		ids := make([]int64, len(evs))
		for i, e := range evs {
			ids[i] = e.ID
		}
		return ids, nil
	})
	if err == nil {
		t.Fatal("a's round committed although its connection was terminated")
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(b.Held()) != 8 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		rebalance(t, b)
	}
	if len(b.Held()) != 8 {
		t.Fatalf("the survivor holds %v after the other died, want all 8", b.Held())
	}
	if evs := takeAll(t, b); len(evs) != 40 {
		t.Fatalf("the survivor handed over %d events, want the 40 of the rolled-back round", len(evs))
	}
}

// Relays that disagree on the shard count would split one entity over two
// shards: while one with another count is connected, none holds anything.
func TestRelaysWithAnotherShardCountHoldNothing(t *testing.T) {
	_, st := testenv.Database(t)
	a := openLease(t, st, 8)
	other, err := st.OpenRelayLease(context.Background(), 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Rebalance(context.Background()); !errors.Is(err, store.ErrShardCountMismatch) || len(other.Held()) != 0 {
		t.Fatalf("a relay with 4 shards beside one with 8: err %v, holds %v", err, other.Held())
	}
	if _, gave, err := a.Rebalance(context.Background()); !errors.Is(err, store.ErrShardCountMismatch) || len(gave) != 8 || len(a.Held()) != 0 {
		t.Fatalf("the relay with 8 shards: err %v, gave %v, holds %v", err, gave, a.Held())
	}
	other.Close(context.Background())
	// Its backend exits (and releases its member lock) soon after the close.
	deadline := time.Now().Add(10 * time.Second)
	for len(a.Held()) != 8 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if _, _, err := a.Rebalance(context.Background()); err != nil && !errors.Is(err, store.ErrShardCountMismatch) {
			t.Fatal(err)
		}
	}
	if len(a.Held()) != 8 {
		t.Fatalf("after the other left, a holds %v", a.Held())
	}
}
