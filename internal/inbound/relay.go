// Package inbound is the pipeline every source shares after its handler has
// authenticated and parsed a request: record the event in Postgres (before the
// 2xx), then let the relay hand it to Temporal. Recording is synchronous;
// handing over is not, so a slow or absent Temporal never slows the ack and
// never loses an event.
package inbound

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/sources"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/telemetry"
	"github.com/hookflow/hookflow/workflows"
)

// Route says which workflow type receives a source's events.
type Route struct {
	WorkflowType string
	// Declared is set for a source of SOURCES_FILE: its events go to the
	// user's workflow on the user's task queue (see handOver).
	Declared *sources.Source
}

// Relay hands recorded events from the outbox to Temporal: it groups them per
// workflow (entity) and sends each group as one SignalWithStart, so an
// entity's events arrive in order and in batches.
type Relay struct {
	store     *store.Store
	temporal  client.Client
	taskQueue string
	cfg       config.RelayConfig
	log       *slog.Logger
	poke      chan struct{}

	routesMu sync.RWMutex // Handle may run while the relay does (a SOURCES_FILE reload)
	routes   map[string]Route

	// lease is the relay's own connection and its shards; only Run's
	// goroutine uses it.
	lease         *store.RelayLease
	lastRebalance time.Time

	mu        sync.Mutex
	lastErr   error
	lastRound time.Time
	held      []int
}

// NewRelay builds a relay; call Handle for each source, then Run.
func NewRelay(st *store.Store, tc client.Client, taskQueue string, cfg config.RelayConfig, log *slog.Logger) *Relay {
	return &Relay{store: st, temporal: tc, taskQueue: taskQueue, cfg: cfg, log: log,
		routes: map[string]Route{}, poke: make(chan struct{}, 1)}
}

// Handle routes a source's events to a workflow type.
func (r *Relay) Handle(source string, route Route) {
	r.routesMu.Lock()
	defer r.routesMu.Unlock()
	r.routes[source] = route
}

// Poke wakes the relay after an event was recorded. It never blocks.
func (r *Relay) Poke() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// LastError is the error of the latest round (nil when it went through).
func (r *Relay) LastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// Shards reports which shards of the outbox this relay hands over, and of
// how many.
func (r *Relay) Shards() (held []int, of int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int{}, r.held...), r.cfg.Shards
}

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	defer r.dropLease()
	backoff := time.Duration(0)
	ticker := time.NewTicker(r.cfg.PollInterval)
	defer ticker.Stop()
	sleep := func(d time.Duration) bool {
		if d <= 0 {
			return ctx.Err() == nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for {
		started := time.Now()
		claimed, signals, err := r.round(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			backoff = min(max(2*backoff, 250*time.Millisecond), r.cfg.MaxBackoff)
			r.log.Warn("relay: events not handed over; will retry", "error", err, "retry_in", backoff.String())
			if !sleep(backoff) {
				return
			}
			continue
		}
		backoff = 0
		// Events that arrive meanwhile wait for the next round (their pokes
		// are kept), so under load each signal carries more of them.
		if !sleep(time.Until(started.Add(r.spacing(signals)))) {
			return
		}
		if claimed >= r.cfg.BatchSize {
			continue // more waiting: go again without a poke
		}
		select {
		case <-ctx.Done():
			return
		case <-r.poke:
		case <-ticker.C:
		}
	}
}

// spacing is how long a round that sent the given number of signals keeps
// the next one from starting: Temporal's work grows with signals, not with
// events, so the relay spends at most RELAY_SIGNAL_RATE signals a second.
// A trickle (a signal or two per round) is handed over at once; a burst
// across many entities waits up to RELAY_POLL_INTERVAL, the longest the
// relay ever leaves events waiting when all is well.
func (r *Relay) spacing(signals int) time.Duration {
	if r.cfg.SignalRate <= 0 || signals == 0 {
		return 0
	}
	return min(time.Duration(signals)*time.Second/time.Duration(r.cfg.SignalRate), r.cfg.PollInterval)
}

// rebalanceEvery is how often a relay checks which relays are alive and
// takes or gives back shards; it bounds the takeover after a relay dies.
const rebalanceEvery = 500 * time.Millisecond

// ensureLease connects the relay's lease (again, after a failure) and
// rebalances the shards when that is due.
func (r *Relay) ensureLease(ctx context.Context) error {
	if r.lease == nil {
		lease, err := r.store.OpenRelayLease(ctx, r.cfg.Shards)
		if err != nil {
			return err
		}
		r.lease, r.lastRebalance = lease, time.Time{}
	}
	if time.Since(r.lastRebalance) < rebalanceEvery {
		return nil
	}
	took, gave, err := r.lease.Rebalance(ctx)
	held := r.lease.Held()
	r.mu.Lock()
	r.held = held
	r.mu.Unlock()
	if len(took) > 0 || len(gave) > 0 {
		r.log.Info("relay: shards rebalanced", "took", took, "gave", gave, "held", held, "of", r.cfg.Shards)
	}
	if err != nil && !errors.Is(err, store.ErrShardCountMismatch) {
		r.dropLease()
		return err
	}
	r.lastRebalance = time.Now()
	return err
}

// dropLease closes the lease's connection, which gives its shards back.
func (r *Relay) dropLease() {
	if r.lease == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.lease.Close(ctx)
	r.lease = nil
	r.mu.Lock()
	r.held = nil
	r.mu.Unlock()
}

// round hands one batch of this relay's shards over and says how many
// events it claimed and how many signals it sent for them.
func (r *Relay) round(ctx context.Context) (claimed, signals int, err error) {
	var handErr error
	var delivered int
	if err = r.ensureLease(ctx); err == nil {
		claimed, delivered, err = r.lease.DispatchRound(ctx, r.cfg.BatchSize, func(events []store.PendingEvent) (done, failed []int64) {
			done, failed, signals, handErr = r.hand(ctx, events)
			return done, failed
		})
		if err != nil { // Postgres: the connection may be gone, and its leases with it
			r.dropLease()
		}
	}
	if err == nil {
		err = handErr
	}
	r.mu.Lock()
	r.lastErr, r.lastRound = err, time.Now()
	r.mu.Unlock()
	if claimed > 0 {
		m := telemetry.Metrics()
		m.Relayed.Add(ctx, int64(delivered), telemetry.Attrs("outcome", "dispatched"))
		if failed := claimed - delivered; failed > 0 {
			m.Relayed.Add(ctx, int64(failed), telemetry.Attrs("outcome", "failed"))
		}
		m.RelaySignals.Add(ctx, int64(signals))
	}
	return claimed, signals, err
}

type group struct {
	workflowID string
	source     string
	entityID   string
	ids        []int64
	traces     []string // traceparents of the requests that recorded the events
}

// hand sends each workflow's events as one SignalWithStart, several
// workflows at a time. A group that fails stays in the outbox and is retried
// (in order) next round.
func (r *Relay) hand(ctx context.Context, events []store.PendingEvent) (done, failed []int64, signals int, firstErr error) {
	var groups []*group
	byID := map[string]*group{}
	for _, ev := range events {
		g := byID[ev.WorkflowID]
		if g == nil {
			g = &group{workflowID: ev.WorkflowID, source: ev.Source, entityID: ev.EntityID}
			byID[ev.WorkflowID] = g
			groups = append(groups, g)
		}
		g.ids = append(g.ids, ev.ID)
		if ev.TraceParent != "" {
			g.traces = append(g.traces, ev.TraceParent)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.cfg.Parallelism)
	for _, g := range groups {
		wg.Add(1)
		sem <- struct{}{}
		go func(g *group) {
			defer wg.Done()
			defer func() { <-sem }()
			err := r.signal(ctx, g)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, g.ids...)
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			done = append(done, g.ids...)
		}(g)
	}
	wg.Wait()
	return done, failed, len(groups), firstErr
}

func (r *Relay) signal(ctx context.Context, g *group) error {
	r.routesMu.RLock()
	route, ok := r.routes[g.source]
	r.routesMu.RUnlock()
	if !ok {
		return errors.New("no workflow handles source " + g.source)
	}
	opts := client.StartWorkflowOptions{
		ID:        g.workflowID,
		TaskQueue: r.taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SearchSource.ValueSet(g.source),
			workflows.SearchEntity.ValueSet(g.entityID),
		),
	}
	// The hand-over joins the trace of the first request of the group (so a
	// new run, its activities and their outbound calls are in that trace)
	// and links the others.
	if len(g.traces) > 0 {
		ctx = store.EventContext(ctx, g.traces[0])
	}
	var links []trace.Link
	for _, tp := range g.traces[min(1, len(g.traces)):] {
		if sc := trace.SpanContextFromContext(store.EventContext(context.Background(), tp)); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	ctx, span := tracer.Start(ctx, "relay "+g.source+" events", trace.WithLinks(links...),
		trace.WithAttributes(attribute.String("hookflow.workflow_id", g.workflowID), attribute.Int("hookflow.events", len(g.ids))))
	defer span.End()
	if route.Declared != nil {
		err := r.handOver(ctx, g, route.Declared)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := r.temporal.SignalWithStartWorkflow(cctx, g.workflowID, workflows.SignalEvents,
		workflows.EventBatch{IDs: g.ids}, opts, route.WorkflowType,
		workflows.EntityInput{Source: g.source, EntityID: g.entityID})
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

var tracer = otel.Tracer("github.com/hookflow/hookflow/internal/inbound")
