package telemetry

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Instruments are hookflow's own metrics (the Temporal SDK adds its own
// temporal_* series through the same meter provider).
type Instruments struct {
	Inbound          metric.Int64Counter     // hookflow_inbound_events_total{source,outcome}
	AckLatency       metric.Float64Histogram // hookflow_ack_duration_seconds{source}
	AckBatchRows     metric.Int64Histogram   // hookflow_ack_batch_rows: events per ack commit
	Relayed          metric.Int64Counter     // hookflow_relay_events_total{outcome}
	RelaySignals     metric.Int64Counter     // hookflow_relay_signals_total
	Processed        metric.Int64Counter     // hookflow_events_processed_total{source,outcome}
	CallbackAttempts metric.Int64Counter     // hookflow_callback_attempts_total{outcome,status}
}

var (
	instOnce sync.Once
	inst     *Instruments
)

// Metrics returns the process's instruments, created on first use from the
// global meter provider (call EnsureMetrics first to export them).
func Metrics() *Instruments {
	instOnce.Do(func() {
		m := otel.Meter("github.com/hookflow/hookflow")
		inst = &Instruments{}
		inst.Inbound, _ = m.Int64Counter("hookflow_inbound_events", metric.WithDescription("inbound requests per source and outcome (accepted, duplicate, rejected, error)"))
		inst.AckLatency, _ = m.Float64Histogram("hookflow_ack_duration", metric.WithUnit("s"),
			metric.WithDescription("time from request to acknowledgement of inbound events"),
			metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
		inst.AckBatchRows, _ = m.Int64Histogram("hookflow_ack_batch_rows",
			metric.WithDescription("inbound events written by one insert and commit of the ack path (concurrent requests share one)"),
			metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256))
		inst.Relayed, _ = m.Int64Counter("hookflow_relay_events", metric.WithDescription("events the relay handed to Temporal (outcome dispatched) or could not (failed)"))
		inst.RelaySignals, _ = m.Int64Counter("hookflow_relay_signals", metric.WithDescription("SignalWithStart calls the relay made; events per signal is hookflow_relay_events_total / this"))
		inst.Processed, _ = m.Int64Counter("hookflow_events_processed", metric.WithDescription("events processed by workflows, per source and outcome"))
		inst.CallbackAttempts, _ = m.Int64Counter("hookflow_callback_attempts", metric.WithDescription("callback delivery attempts per outcome and status code"))
	})
	return inst
}

// ObserveBacklog registers the relay backlog gauge, read at each scrape.
// Unregister it when the process part that owns read stops.
func ObserveBacklog(read func(ctx context.Context) (count int64, oldestSeconds float64, err error)) (metric.Registration, error) {
	m := otel.Meter("github.com/hookflow/hookflow")
	backlog, err := m.Int64ObservableGauge("hookflow_relay_backlog", metric.WithDescription("recorded events not yet handed to Temporal"))
	if err != nil {
		return nil, err
	}
	oldest, err := m.Float64ObservableGauge("hookflow_relay_backlog_oldest", metric.WithUnit("s"), metric.WithDescription("age of the oldest event not yet handed to Temporal"))
	if err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		n, age, err := read(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(backlog, n)
		o.ObserveFloat64(oldest, age)
		return nil
	}, backlog, oldest)
}

// ObserveSources registers hookflow_source_paused{source} (1 paused, 0 not)
// and hookflow_source_held{source} (events recorded and acked, not yet
// handed to Temporal: while paused, what a resume will drain), read at each
// scrape through read, which calls observe once per source.
func ObserveSources(read func(ctx context.Context, observe func(source string, paused bool, held int64)) error) (metric.Registration, error) {
	return observePauses("source",
		"hookflow_source_paused", "1 while the source is paused (its events are recorded and acked, and held until resume)",
		"hookflow_source_held", "the source's events recorded but not yet handed to Temporal", read)
}

// ObserveClients registers hookflow_client_paused{client} (1 paused, 0
// not) and hookflow_client_pending{client} (deliveries not finished: while
// paused, what waits), read at each scrape through read.
func ObserveClients(read func(ctx context.Context, observe func(client string, paused bool, pending int64)) error) (metric.Registration, error) {
	return observePauses("client",
		"hookflow_client_paused", "1 while the callback client is paused (its deliveries wait before each attempt)",
		"hookflow_client_pending", "the client's callback deliveries not finished yet", read)
}

// observePauses registers the gauges pausedName{label} (1 paused, 0 not)
// and countName{label}, read at each scrape through read, which calls
// observe once per value of label.
func observePauses(label, pausedName, pausedDesc, countName, countDesc string,
	read func(ctx context.Context, observe func(key string, paused bool, n int64)) error) (metric.Registration, error) {
	m := otel.Meter("github.com/hookflow/hookflow")
	paused, err := m.Int64ObservableGauge(pausedName, metric.WithDescription(pausedDesc))
	if err != nil {
		return nil, err
	}
	count, err := m.Int64ObservableGauge(countName, metric.WithDescription(countDesc))
	if err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return read(ctx, func(key string, p bool, n int64) {
			attrs := metric.WithAttributes(attribute.String(label, key))
			v := int64(0)
			if p {
				v = 1
			}
			o.ObserveInt64(paused, v, attrs)
			o.ObserveInt64(count, n, attrs)
		})
	}, paused, count)
}

// Attrs is a short way to build metric attributes. The set is built here:
// a hot path that records with the same attributes every time keeps the
// result and passes it again.
func Attrs(kv ...string) metric.MeasurementOption {
	attrs := make([]attribute.KeyValue, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		attrs = append(attrs, attribute.String(kv[i], kv[i+1]))
	}
	return metric.WithAttributes(attrs...)
}
