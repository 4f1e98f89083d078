package inbound

import (
	"context"
	"encoding/hex"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/telemetry"
)

// Pipeline records accepted events and wakes the relay. With Run started,
// concurrent Accept calls are written together: each flusher takes what is
// queued when it is free (one row when traffic is light, many under load),
// inserts it with one statement and one commit, then answers every waiter.
// Nobody waits for a timer, and each caller still returns only after its
// row is committed.
type Pipeline struct {
	Store *store.Store
	Relay *Relay

	queue chan *recordRequest
}

type recordRequest struct {
	ev   *store.InboundEvent
	done chan recordResult
}

type recordResult struct {
	rec store.Recorded
	err error
}

// Pipeline tuning. One flusher: while it commits a batch, the next one
// forms, so under load every commit carries all that arrived meanwhile.
// With four (until December 2026) concurrent requests were shared out into
// smaller batches: `make bench-ceiling` on the idle 2-core machine measured
// Postgres at 213 µs of CPU per acked event with four flushers, 154 with
// two and 100 with one, and the ack-only rate at 0.39×, 0.35× and 0.54× of
// the one-writer group commit (docs/performance.md).
const (
	flushers     = 1   // concurrent multi-row inserts
	maxBatchRows = 256 // rows per insert
)

// Run starts the flushers; Accept writes directly until then.
func (p *Pipeline) Run(ctx context.Context) {
	p.queue = make(chan *recordRequest, 4*maxBatchRows)
	for i := 0; i < flushers; i++ {
		go p.flush(ctx)
	}
}

func (p *Pipeline) flush(ctx context.Context) {
	batch := make([]*recordRequest, 0, maxBatchRows)
	evs := make([]*store.InboundEvent, 0, maxBatchRows)
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-p.queue:
			batch = append(batch[:0], r)
		}
	more:
		for len(batch) < maxBatchRows {
			select {
			case r := <-p.queue:
				batch = append(batch, r)
			default:
				break more
			}
		}
		evs = evs[:0]
		for _, r := range batch {
			evs = append(evs, r.ev)
		}
		// Not a request's context: the batch serves several requests, and a
		// client that hung up still gets its event recorded (its retry then
		// finds a duplicate).
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		res, err := p.Store.RecordEvents(wctx, evs)
		telemetry.Metrics().AckBatchRows.Record(wctx, int64(len(evs)))
		var errs []error
		if err != nil && len(evs) > 1 && store.IsDataError(err) {
			// Postgres refuses one event's data (something the handlers'
			// checks let through): record the others alone, so that only
			// its sender is refused.
			res, errs, err = p.recordOneByOne(wctx, evs)
		}
		cancel()
		inserted := false
		for i, r := range batch {
			if err != nil {
				r.done <- recordResult{err: err}
				continue
			}
			if errs != nil && errs[i] != nil {
				r.done <- recordResult{err: errs[i]}
				continue
			}
			inserted = inserted || !res[i].Duplicate
			r.done <- recordResult{rec: res[i]}
		}
		if inserted && p.Relay != nil {
			p.Relay.Poke()
		}
	}
}

// recordOneByOne records each request's event in its own statement; errs
// holds the data error of each event Postgres refused. A transient error
// stops it (err): the whole batch is then answered with it, and a retry of
// an event recorded meanwhile is a duplicate.
func (p *Pipeline) recordOneByOne(ctx context.Context, evs []*store.InboundEvent) (res []store.Recorded, errs []error, err error) {
	res, errs = make([]store.Recorded, len(evs)), make([]error, len(evs))
	for i, ev := range evs {
		one, err := p.Store.RecordEvents(ctx, []*store.InboundEvent{ev})
		switch {
		case err == nil:
			res[i] = one[0]
		case store.IsDataError(err):
			errs[i] = err
		default:
			return nil, nil, err
		}
	}
	return res, errs, nil
}

// Accept records ev durably (the caller answers 2xx only after this returns
// nil). A repeat of the same (source, dedup key) is reported as duplicate and
// not handed over again.
func (p *Pipeline) Accept(ctx context.Context, ev *store.InboundEvent) (id int64, duplicate bool, err error) {
	ctx, span := tracer.Start(ctx, "record "+ev.Source+" event")
	defer func() {
		span.SetAttributes(attribute.Int64("hookflow.event.id", id), attribute.Bool("hookflow.duplicate", duplicate))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	ev.TraceParent = TraceParent(span.SpanContext())
	if p.queue == nil {
		id, duplicate, err = p.Store.RecordEvent(ctx, ev)
		if err == nil && !duplicate && p.Relay != nil {
			p.Relay.Poke()
		}
		return id, duplicate, err
	}
	r := &recordRequest{ev: ev, done: make(chan recordResult, 1)}
	select {
	case p.queue <- r:
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.rec.ID, res.rec.Duplicate, res.err
	case <-ctx.Done():
		// The row may still be committed; a retry is then answered as a duplicate.
		return 0, false, ctx.Err()
	}
}

// TraceParent is the W3C traceparent header of sc, as the TraceContext
// propagator writes it ("" for an invalid context; TestTraceParentAsThePropagator
// holds it to the propagator), built in one
// allocation: the ack path stores one with every event.
func TraceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	var b [55]byte // 00-<32 hex>-<16 hex>-<2 hex>
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))}) // the flags the spec defines
	return string(b[:])
}
