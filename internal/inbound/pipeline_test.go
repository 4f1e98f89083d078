package inbound_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookflow/hookflow/internal/inbound"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// An event Postgres refuses (here a NUL in its attrs, which jsonb cannot
// hold) fails alone: the events recorded in the same batch are recorded
// and acknowledged.
func TestPipelineRefusesOnlyTheEventPostgresRefuses(t *testing.T) {
	_, st := testenv.Database(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &inbound.Pipeline{Store: st}
	p.Run(ctx)
	const n = 60
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := &store.InboundEvent{Source: "test", DedupKey: fmt.Sprint("k", i), WorkflowID: "test-entity-1",
				EntityID: "1", Event: "e", EventType: "e", Payload: []byte(`{}`), Attrs: map[string]any{"n": i}}
			if i == n/2 {
				ev.Attrs["bad"] = "a\x00b"
			}
			_, _, errs[i] = p.Accept(ctx, ev)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == n/2 {
			if !store.IsDataError(err) {
				t.Fatalf("the bad event: %v, want a data error", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	var count int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM inbound_events`).Scan(&count); err != nil || count != n-1 {
		t.Fatalf("%d events recorded (%v), want %d", count, err, n-1)
	}
}

// TraceParent writes what the W3C TraceContext propagator writes.
func TestTraceParentAsThePropagator(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled, 0xff} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags})
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
		if got, want := inbound.TraceParent(sc), carrier.Get("traceparent"); got != want || want == "" {
			t.Fatalf("flags %02x: %q, the propagator %q", byte(flags), got, want)
		}
	}
	if got := inbound.TraceParent(trace.SpanContext{}); got != "" {
		t.Fatalf("invalid span context: %q, want none", got)
	}
}
