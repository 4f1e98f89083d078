package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/testenv"
	"github.com/hookflow/hookflow/workflows"
)

// TestMetricsAfterTraffic sends real traffic, then scrapes /metrics and
// checks the series ops rely on carry it.
func TestMetricsAfterTraffic(t *testing.T) {
	old := workflows.EntityIdleTimeout
	workflows.EntityIdleTimeout = time.Second // runs end, so outcomes are counted
	t.Cleanup(func() { workflows.EntityIdleTimeout = old })
	a, _, _ := startSimplyPrint(t, nil)
	body := simplyprinttest.Payload("job.started", 42, 1705320000, simplyprinttest.JobData(simplyprinttest.Job{ID: 5, Printer: simplyprinttest.Printer{ID: 9}}))
	call(t, "POST", a.URL()+spPath, body, nil, nil)
	call(t, "POST", a.URL()+spPath, body, nil, nil)                // duplicate
	call(t, "POST", a.URL()+spPath, []byte(`{"event":`), nil, nil) // rejected
	waitProcessed(t, a, 1)
	want := []string{
		`hookflow_inbound_events_total{outcome="accepted",source="simplyprint"}`,
		`hookflow_inbound_events_total{outcome="duplicate",source="simplyprint"}`,
		`hookflow_inbound_events_total{outcome="rejected",source="simplyprint"}`,
		`hookflow_ack_duration_seconds_bucket{source="simplyprint",le="+Inf"}`,
		`hookflow_ack_batch_rows_bucket{le="1"}`,
		`hookflow_relay_events_total{outcome="dispatched"}`,
		`hookflow_relay_signals_total`,
		`hookflow_relay_backlog `,
		`hookflow_events_processed_total{outcome="applied",source="simplyprint"}`,
		`hookflow_workflow_outcomes{`,
		`temporal_workflow_completed{`,
		`temporal_local_activity_execution_latency_seconds_bucket{`, // printers apply batches in local activities
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		text := testenv.Metrics(t, a.URL())
		for _, w := range want {
			if !strings.Contains(text, w) {
				return fmt.Errorf("/metrics lacks %s; it has:\n%s", w, grepLines(text, "hookflow_", "temporal_workflow"))
			}
		}
		return nil
	})
}

func grepLines(text string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}
