package store

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookflow/hookflow/internal/telemetry"
)

var tracer = otel.Tracer("github.com/hookflow/hookflow/internal/store")

// EventContext returns ctx carrying the remote span of the request that
// recorded an event (when it had one), so work done for the event joins
// the request's trace.
func EventContext(ctx context.Context, traceParent string) context.Context {
	if traceParent == "" {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier{"traceparent": traceParent})
}

// traceProcessing records, in each event's own trace, a span saying how the
// event was processed: a batch serves events of many requests, and this is
// how each request's trace reaches its processing. The span links to the
// activity span that did the work.
func traceProcessing(ctx context.Context, events []InboundEvent, outcomes []EventOutcome) {
	batch := trace.SpanContextFromContext(ctx)
	m := telemetry.Metrics()
	for i, ev := range events {
		m.Processed.Add(ctx, 1, telemetry.Attrs("source", ev.Source, "outcome", outcomes[i].Outcome))
		if ev.TraceParent == "" {
			continue
		}
		parent := trace.SpanContextFromContext(EventContext(context.Background(), ev.TraceParent))
		if !parent.IsValid() {
			continue
		}
		opts := []trace.SpanStartOption{trace.WithAttributes(
			attribute.Int64("hookflow.event.id", ev.ID),
			attribute.String("hookflow.source", ev.Source),
			attribute.String("hookflow.event", ev.Event),
			attribute.String("hookflow.outcome", outcomes[i].Outcome),
			attribute.Int("hookflow.batch.size", len(events)),
		)}
		if batch.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: batch}))
		}
		_, span := tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "process "+ev.Source+" event", opts...)
		span.End()
	}
}
