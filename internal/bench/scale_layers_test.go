package bench

import (
	"context"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// TestRecentLayerFillsEveryPage checks what makes `make bench-scale` like
// for like: the recent traffic both of its databases hold (recentLayer)
// alone fills every page its list reads ask for, and holds every window its
// windowed reads look at, so that each read answers the same at 10 thousand
// events as at N (where the same layer sits on top of the history). It
// seeds the layer the way the benchmark does and also checks that the
// trigger-kept counters equal full counts.
func TestRecentLayerFillsEveryPage(t *testing.T) {
	ctx := context.Background()
	_, st := testenv.Database(t)
	ref := time.Now()
	layer := recentLayer(ref)
	sd := &seeder{st: st, webhookID: ref.UnixNano(), printers: scalePrinters, workers: 2, batch: 5000}
	if err := sd.seed(ctx, layer); err != nil {
		t.Fatal(err)
	}
	const eventsPage, ordersPage, failuresPage = 100, 50, 50 // the lists' default limits (api: queryInt "limit")

	var midEvent int64
	if err := st.Pool.QueryRow(ctx, `SELECT (min(id) + max(id)) / 2 FROM inbound_events`).Scan(&midEvent); err != nil {
		t.Fatal(err)
	}
	old := ref.Add(-smallOld)
	// The benchmark's reads start minutes after seeding: "since 1h ago"
	// must find a page in the last 45 minutes of the layer.
	late := ref.Add(-45 * time.Minute)
	sp := store.SimplyPrintSource
	for _, c := range []struct {
		read string
		page int64
		q    string
		args []any
	}{
		{"events type=job_completed", eventsPage, `SELECT count(*) FROM inbound_events WHERE source = $1 AND event_type = 'job_completed'`, []any{sp}},
		{"events type=job_failed", eventsPage, `SELECT count(*) FROM inbound_events WHERE source = $1 AND event_type = 'job_failed'`, []any{sp}},
		{"events printer_id=<busy>", eventsPage, `SELECT count(*) FROM inbound_events WHERE source = $1 AND entity_id = $2`, []any{sp, "7"}},
		{"events type=job_failed&printer_id=<busy>", eventsPage,
			`SELECT count(*) FROM inbound_events WHERE source = $1 AND entity_id = $2 AND event_type = 'job_failed'`, []any{sp, "7"}},
		{"events outcome=failed", eventsPage, `SELECT count(*) FROM inbound_events WHERE source = $1 AND outcome = 'failed'`, []any{sp}},
		{"events outcome=stale", eventsPage, `SELECT count(*) FROM inbound_events WHERE source = $1 AND outcome = 'stale'`, []any{sp}},
		{"events since 1h ago", eventsPage, `SELECT count(*) FROM inbound_events WHERE source = $1 AND received_at >= $2`, []any{sp, late}},
		{"events since/until: 1h at <old>", eventsPage,
			`SELECT count(*) FROM inbound_events WHERE source = $1 AND received_at >= $2 AND received_at < $3`, []any{sp, old, old.Add(time.Hour)}},
		{"events before_id=<middle>", eventsPage, `SELECT count(*) FROM inbound_events WHERE source = $1 AND id < $2`, []any{sp, midEvent}},
		{"events type=job_completed&before_id=<middle>", eventsPage,
			`SELECT count(*) FROM inbound_events WHERE source = $1 AND id < $2 AND event_type = 'job_completed'`, []any{sp, midEvent}},
		{"orders status=shipped", ordersPage, `SELECT count(*) FROM orders WHERE status = 'shipped'`, nil},
		{"orders sync_state=failed", ordersPage, `SELECT count(*) FROM orders WHERE sync_state = 'failed'`, nil},
		{"orders status=shipped&cursor=<middle>", ordersPage, `SELECT count(*) FROM (SELECT status FROM orders
			ORDER BY updated_at DESC, id DESC OFFSET (SELECT count(*) / 2 FROM orders)) o WHERE status = 'shipped'`, nil},
		{"webhook-failures cursor=<middle>", failuresPage,
			`SELECT count(*) / 2 FROM callback_deliveries WHERE status IN ('failed', 'gone')`, nil},
		{"webhook-failures since/until: 1 day from <old>", failuresPage,
			`SELECT count(*) FROM callback_deliveries WHERE status IN ('failed', 'gone') AND finished_at >= $1 AND finished_at < $2`,
			[]any{old, old.AddDate(0, 0, 1)}},
	} {
		var n int64
		if err := st.Pool.QueryRow(ctx, c.q, c.args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.read, err)
		}
		t.Logf("%-50s %5d rows (page %d)", c.read, n, c.page)
		if n < c.page {
			t.Errorf("%s: the recent layer has %d rows for it, less than the page of %d: its answer at 10k would be shorter than at N", c.read, n, c.page)
		}
	}

	// The windows of the windowed reads lie inside the layer, where both
	// databases hold the same rows.
	for _, w := range []struct {
		read        string
		from, layer time.Time
	}{
		{"webhook-metrics (24h)", ref.Add(-24 * time.Hour), layer.from},
		{"events since/until: 1 day from <old>", old, layer.from},
		{"rating stats (30 days)", ref.AddDate(0, 0, -31), layer.ratingsFrom}, // from= a date: up to a day more
		{"rating export (1 day)", ref.AddDate(0, 0, -2), layer.ratingsFrom},
	} {
		if w.from.Before(w.layer) {
			t.Errorf("%s: its window starts at %s, before the recent layer (%s)", w.read, w.from.Format(time.RFC3339), w.layer.Format(time.RFC3339))
		}
	}
	var ratedYesterday int64
	y := time.Date(ref.Year(), ref.Month(), ref.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM rating_requests WHERE requested_at >= $1 AND requested_at < $2`,
		y, y.AddDate(0, 0, 1)).Scan(&ratedYesterday); err != nil {
		t.Fatal(err)
	}
	if ratedYesterday < 100 {
		t.Errorf("rating export (1 day): %d rating requests yesterday, want the layer's 200 a day", ratedYesterday)
	}

	bad, err := counterMismatches(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("counter differs from a full count: %s", b)
	}
}
