package api_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/telemetry"
	"github.com/hookflow/hookflow/internal/testenv"
	"github.com/hookflow/hookflow/workflows"
)

// recordSpans installs an in-memory exporter as the global tracer provider,
// once per test binary: package-level tracers bind to the first provider
// set, so later tests reuse it and start from an empty exporter.
func recordSpans(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	spanOnce.Do(func() {
		spanExp = tracetest.NewInMemoryExporter()
		_, spanErr = telemetry.Setup(context.Background(), config.TelemetryConfig{ServiceName: "hookflow-test"}, "test",
			sdktrace.NewSimpleSpanProcessor(spanExp))
	})
	if spanErr != nil {
		t.Fatal(spanErr)
	}
	spanExp.Reset()
	return spanExp
}

var (
	spanOnce sync.Once
	spanExp  *tracetest.InMemoryExporter
	spanErr  error
)

// traceOf returns the spans of the trace that contains a span named like
// root, and checks they form one tree (every parent is in the trace).
func traceOf(t *testing.T, exp *tracetest.InMemoryExporter, root string) (map[string]tracetest.SpanStub, error) {
	var id trace.TraceID
	all := exp.GetSpans()
	for _, s := range all {
		if strings.Contains(s.Name, root) && !s.Parent.IsValid() {
			id = s.SpanContext.TraceID()
		}
	}
	if !id.IsValid() {
		return nil, fmt.Errorf("no root span %q among %d spans", root, len(all))
	}
	byName := map[string]tracetest.SpanStub{}
	ids := map[trace.SpanID]bool{}
	for _, s := range all {
		if s.SpanContext.TraceID() == id {
			byName[s.Name] = s
			ids[s.SpanContext.SpanID()] = true
		}
	}
	for name, s := range byName {
		if s.Parent.IsValid() && !ids[s.Parent.SpanID()] {
			return byName, fmt.Errorf("span %q has a parent outside the trace", name)
		}
	}
	return byName, nil
}

func requireSpans(byName map[string]tracetest.SpanStub, names ...string) error {
	for _, n := range names {
		if _, ok := byName[n]; !ok {
			have := make([]string, 0, len(byName))
			for k := range byName {
				have = append(have, k)
			}
			return fmt.Errorf("span %q missing; the trace has %q", n, have)
		}
	}
	return nil
}

func TestTraceOfSimplyPrintEvent(t *testing.T) {
	exp := recordSpans(t)
	// The workflow's own span ends when the run does: let it end soon.
	old := workflows.EntityIdleTimeout
	workflows.EntityIdleTimeout = time.Second
	t.Cleanup(func() { workflows.EntityIdleTimeout = old })
	a, _, _ := startSimplyPrint(t, nil)
	body := simplyprinttest.Payload("job.started", 42, 1705320000, simplyprinttest.JobData(simplyprinttest.Job{ID: 5, Printer: simplyprinttest.Printer{ID: 9}}))
	if code := call(t, "POST", a.URL()+spPath, body, nil, nil); code != 200 {
		t.Fatal(code)
	}
	waitProcessed(t, a, 1)
	var spans map[string]tracetest.SpanStub
	testenv.Eventually(t, 10*time.Second, func() error {
		var err error
		if spans, err = traceOf(t, exp, "/api/v1/simpleprint/webhook/"); err != nil {
			return err
		}
		return requireSpans(spans, "record simplyprint event", "relay simplyprint events",
			"SignalWithStartWorkflow:SimplyPrintPrinter", "RunWorkflow:SimplyPrintPrinter",
			"StartActivity:ApplyEvents", "RunActivity:ApplyEvents", "process simplyprint event")
	})
	// The request's span is the root; the processing span is in the same tree.
	if p := spans["process simplyprint event"]; p.Attributes == nil {
		t.Fatalf("process span without attributes: %+v", p)
	}
}

func TestTraceOfJob(t *testing.T) {
	exp := recordSpans(t)
	e := startJobs(t, app.Roles{API: true, Worker: true}, nil)
	acc := submit(t, e.api, jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, lot("car_001", 1)), nil)
	waitStatus(t, e.api, acc.JobID, callbackIs("delivered", 1))
	testenv.Eventually(t, 20*time.Second, func() error {
		spans, err := traceOf(t, exp, "/api/v1/generate-descriptions")
		if err != nil {
			return err
		}
		return requireSpans(spans, "INSERT", "relay jobs events", "RunActivity:JobGenerateLots", "RunActivity:CallbackDeliver",
			"SignalWithStartWorkflow:DescriptionJob", "RunWorkflow:DescriptionJob",
			"StartWorkflow:CallbackDelivery", "RunWorkflow:CallbackDelivery", "HTTP POST")
	})
}
