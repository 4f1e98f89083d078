package telemetry

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

var (
	metricsOnce    sync.Once
	metricsHandler http.Handler
	metricsErr     error
)

// EnsureMetrics installs (once per process) the global OpenTelemetry meter
// provider backed by the Prometheus exporter, and returns the /metrics
// handler. Call it before creating the Temporal client, whose metrics
// handler takes its meter from the global provider.
func EnsureMetrics() (http.Handler, error) {
	metricsOnce.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
		if err != nil {
			metricsErr = err
			return
		}
		otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)))
		metricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	})
	return metricsHandler, metricsErr
}
