package inbound

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/hookflow/hookflow/internal/store"
)

// Pipeline records accepted events and wakes the relay.
type Pipeline struct {
	Store *store.Store
	Relay *Relay
}

// Accept records ev durably (the caller answers 2xx only after this returns
// nil). A repeat of the same (source, dedup key) is reported as duplicate and
// not handed over again.
func (p *Pipeline) Accept(ctx context.Context, ev *store.InboundEvent) (id int64, duplicate bool, err error) {
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	ev.TraceParent = carrier.Get("traceparent")
	id, duplicate, err = p.Store.RecordEvent(ctx, ev)
	if err == nil && !duplicate && p.Relay != nil {
		p.Relay.Poke()
	}
	return id, duplicate, err
}
