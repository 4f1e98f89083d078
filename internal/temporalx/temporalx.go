// Package temporalx connects hookflow to Temporal: the client with tracing
// and metrics, and the registration of hookflow's search attributes.
package temporalx

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/workflows"
)

// Options builds client options: the OpenTelemetry tracing interceptor with
// the global propagator (the SDK's own default would not join otelgin's
// traces), the OpenTelemetry metrics handler (with OnError, so a metrics
// failure never panics), slog logging, and API key / TLS for Temporal Cloud.
func Options(cfg config.TemporalConfig, log *slog.Logger) (client.Options, error) {
	tracing, err := opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{
		TextMapPropagator: otel.GetTextMapPropagator(),
	})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	opts := client.Options{
		HostPort:     cfg.Address,
		Namespace:    cfg.Namespace,
		Logger:       tlog.NewStructuredLogger(log.With("component", "temporal-sdk")),
		Interceptors: []interceptor.ClientInterceptor{tracing},
		MetricsHandler: opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
			OnError: func(err error) { log.Warn("temporal metrics", "error", err) },
		}),
	}
	if cfg.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.APIKey)
		opts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	} else if cfg.TLS {
		opts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return opts, nil
}

// Dial returns a lazy client: it connects on first use, so the API starts
// (and records events) while Temporal is still down; /readyz tells.
func Dial(cfg config.TemporalConfig, log *slog.Logger) (client.Client, error) {
	opts, err := Options(cfg, log)
	if err != nil {
		return nil, err
	}
	return client.NewLazyClient(opts)
}

// Ping checks that the Temporal frontend answers.
func Ping(ctx context.Context, c client.Client) error {
	_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// EnsureSearchAttributes registers hookflow's keyword search attributes in
// the namespace; attributes that exist already are left alone.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, name := range workflows.SearchAttributeNames() {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	if err != nil && !strings.Contains(err.Error(), "already") {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}

// DevServerSearchAttributeArgs are the `temporal server start-dev` flags that
// register hookflow's search attributes.
func DevServerSearchAttributeArgs() []string {
	var args []string
	for _, name := range workflows.SearchAttributeNames() {
		args = append(args, "--search-attribute", name+"=Keyword")
	}
	return args
}
