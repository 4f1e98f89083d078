package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// A round leaves out the outbox rows of a paused source and hands over the
// others; after the resume the held rows go, in id order. Pause and resume
// are idempotent and audited in their transaction.
func TestRelaySkipsPausedSources(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	var evs []*store.InboundEvent
	for i := range 6 {
		source := []string{"held", "free"}[i%2]
		evs = append(evs, &store.InboundEvent{Source: source, DedupKey: fmt.Sprint("k", i), WorkflowID: source + "-entity",
			EntityID: "1", Event: "e", EventType: "e", Payload: []byte(`{}`)})
	}
	if _, err := st.RecordEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []bool{true, false} { // the second pause changes nothing
		changed, err := st.SetSourcePaused(ctx, "ops", "held", true, "maintenance")
		if err != nil || changed != want {
			t.Fatalf("pause: changed %v (%v), want %v", changed, err, want)
		}
	}
	l := openLease(t, st, 4)
	sources := func(evs []store.PendingEvent) (out []string) {
		for _, e := range evs {
			out = append(out, e.Source)
		}
		return out
	}
	if got := takeAll(t, l); !slices.Equal(sources(got), []string{"free", "free", "free"}) {
		t.Fatalf("a round with held paused: %v, want only free's 3 events", sources(got))
	}
	if got := takeAll(t, l); len(got) != 0 {
		t.Fatalf("a second round while paused handed over %d events", len(got))
	}
	states, err := st.SourceStates(ctx, []string{"free", "held"})
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].Paused || states[0].Held != 0 || !states[1].Paused || states[1].Held != 3 ||
		states[1].PausedBy != "ops" || states[1].Reason != "maintenance" || states[1].PausedAt == nil {
		t.Fatalf("states: %+v", states)
	}
	for _, want := range []bool{true, false} {
		changed, err := st.SetSourcePaused(ctx, "ops", "held", false, "")
		if err != nil || changed != want {
			t.Fatalf("resume: changed %v (%v), want %v", changed, err, want)
		}
	}
	got := takeAll(t, l)
	if !slices.Equal(sources(got), []string{"held", "held", "held"}) || !slices.IsSortedFunc(got, func(a, b store.PendingEvent) int { return int(a.ID - b.ID) }) {
		t.Fatalf("after the resume: %+v, want held's 3 events in id order", got)
	}
	entries, err := st.ListAudit(ctx, store.AuditFilter{Actor: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range entries {
		seen = append(seen, fmt.Sprintf("%s %s %d", e.Action, e.Target, e.Count))
	}
	if want := "source.resume held 0,source.resume held 1,source.pause held 0,source.pause held 1"; strings.Join(seen, ",") != want {
		t.Fatalf("audit entries %q, want %q", strings.Join(seen, ","), want)
	}
	// The pause costs the round one look at source_pauses (a hashed
	// subplan), not a join per outbox row: the scan of the outbox is the one
	// it was.
	for _, held := range [][]int{{0, 1, 2, 3}, {1, 3}} {
		q, args := store.DispatchQuery(4, held, 100)
		plan := explain(t, st.Pool, q, args...)
		bare := explain(t, st.Pool, strings.Replace(q, "source NOT IN (SELECT source FROM source_pauses)", "true", 1), args...)
		if !strings.Contains(plan, "hashed SubPlan") || strings.Contains(plan, "Join") || strings.Contains(plan, "Nested Loop") ||
			scanOf(plan) != scanOf(bare) {
			t.Errorf("the round's plan (shards %v):\n%s\nwithout pauses:\n%s", held, plan, bare)
		}
	}
}

// scanOf is the plan's node that reads relay_outbox.
func scanOf(plan string) string {
	for _, line := range strings.Split(plan, "\n") {
		if strings.Contains(line, "on relay_outbox") {
			return strings.TrimSpace(strings.TrimLeft(strings.SplitN(line, "(cost", 2)[0], " ->"))
		}
	}
	return ""
}
