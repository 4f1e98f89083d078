package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/store"
)

// This file holds what TestBenchScale (scale_bench_test.go) needs beyond
// the helpers of the ack benchmark: an app it can stop and start again
// around a seeding phase, the seeder, and the read timer.

// startStoppableApp runs hookflow like startTarget's dev target does, but
// hands back a stop function: the scale benchmark stops it while it seeds
// millions of events, so that no relay hands them to Temporal. Stop runs at
// most once (the test's cleanup calls it too).
func startStoppableApp(t *testing.T, cfg config.Config, log *slog.Logger) (a *app.App, stop func()) {
	t.Helper()
	ctx := context.Background()
	a, err := app.New(ctx, cfg, log, app.Roles{API: true, Worker: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a.Stop(stopCtx)
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// runEvents is printerEvent with webhook id webhookID in place of its fixed
// 42: the dedup key carries the webhook id, so the events of one run never
// repeat another run's, and the run's own events can be told apart from the
// seeded ones (dedup_key starts with "<webhookID>:").
func runEvents(t *testing.T, printers, webhookID int64) func(i int64) []byte {
	t.Helper()
	base := printerEvent(printers)
	old := []byte(`{"webhook_id":42,`)
	if !bytes.HasPrefix(base(0), old) {
		t.Fatalf("printerEvent's body no longer starts with %s: %s", old, base(0))
	}
	repl := []byte(fmt.Sprintf(`{"webhook_id":%d,`, webhookID))
	return func(i int64) []byte {
		b := base(i)
		out := make([]byte, 0, len(b)-len(old)+len(repl))
		return append(append(out, repl...), b[len(old):]...)
	}
}

// seeder fills a database layer by layer (a layer: processed SimplyPrint
// events spread evenly over a time range and orders with their items,
// mappings and sync_log, rating requests, ratings and done rating actions,
// jobs with lots, callback deliveries and attempts, and print jobs, each
// spread evenly over theirs). Events go in
// through store.RecordEvents, the ack path's multi-row INSERT, and are then
// marked processed with a set-based UPDATE like store.ProcessEvents does;
// everything else by INSERT ... SELECT statements into the same columns the
// flows write. The counters (event_counts, sync_log_counts,
// order_state_counts) are kept by their statement-level triggers, as for
// the real writers.
type seeder struct {
	st        *store.Store
	webhookID int64 // of every seeded event (the ack load uses another)
	printers  int64
	workers   int   // concurrent seeding statements
	batch     int   // events per RecordEvents call
	events    int64 // seeded so far
	stage     int64 // the first event of the layer being seeded
	orders    int64
	ratings   int64
	jobs      int64
	prints    int64 // print_jobs rows
}

// The mix of seeded events: a kind per hundredth. Failed jobs are 6 in 100
// so that the 10-thousand database's busy printer (scaleBusyPrinter) has a
// full page of them.
var seedKinds = []struct {
	upTo  int64 // k % 100 below this
	event string
}{
	{55, "job.progress"}, {63, "job.started"}, {71, "job.done"}, {77, "job.failed"}, {80, "job.paused"},
	{82, "job.cancelled"}, {87, "printer.material_changed"}, {92, "queue.add_item"},
	{100, "printer.out_of_order_state_changed"},
}

// scaleBusyPrinter gets one in five groups of seeded events (the others are
// spread over all printers): the benchmark's printer_id lists read it, and
// at 10 thousand events it has 2,000, enough for full pages of its events
// and of its failed jobs.
const scaleBusyPrinter = 7

// seedEvent is the k-th seeded event as the webhook handler would record it
// (api.simplyPrintWebhook: same parser, dedup key, workflow, entity and
// attrs), with the outcome processing gives it.
func (s *seeder) seedEvent(k int64) (*store.InboundEvent, store.EventOutcome, error) {
	// The kind and the outcome come from a hash of i, the event's place in
	// its layer (the recent layer's events are alike in both databases),
	// so that every printer's history has every kind; a hash of i/7 picks
	// the printer of 7 events in a row.
	i := k - s.stage
	h := uint64(i) * 0x9E3779B97F4A7C15
	var name string
	for _, kind := range seedKinds {
		if int64(h>>32%100) < kind.upTo {
			name = kind.event
			break
		}
	}
	pid := int64(scaleBusyPrinter)
	if g := uint64(i/7) * 0xD6E8FEB86659FD93 >> 32; g%5 != 0 {
		pid = 1 + int64(g/5%uint64(s.printers))
	}
	printer := simplyprinttest.Printer{ID: pid, Name: "printer " + strconv.FormatInt(pid, 10)}
	var data map[string]any
	category, _, _ := strings.Cut(name, ".")
	switch category {
	case "job":
		state := map[string]string{"job.progress": "printing", "job.started": "printing", "job.done": "completed",
			"job.failed": "failed", "job.paused": "paused", "job.cancelled": "cancelled"}[name]
		data = simplyprinttest.JobData(simplyprinttest.Job{ID: 100000 + k/20, Printer: printer, State: state,
			File: "part-" + strconv.FormatInt(k/20%500, 10) + ".gcode", Percentage: int(k % 100)})
	case "printer":
		data = simplyprinttest.PrinterData(printer)
	case "queue":
		data = map[string]any{"queue_item": map[string]any{"id": k, "file": "part.gcode"}}
	}
	body := simplyprinttest.Payload(name, s.webhookID, 1600000000+k, data)
	ev, err := simplyprint.ParseEvent(body)
	if err != nil {
		return nil, store.EventOutcome{}, err
	}
	rec := api.SimplyPrintRecord(ev, body) // as the webhook records it
	out := store.EventOutcome{Outcome: "applied"}
	switch h := uint64(i) * 0xBF58476D1CE4E5B9 >> 32 % 1000; {
	case ev.PrinterID == 0:
		out.Outcome = "recorded"
	case h < 20:
		out = store.EventOutcome{Outcome: "failed", Error: "simplyprint: cannot apply the event (seeded failure)"}
	case h < 70:
		out = store.EventOutcome{Outcome: "stale", Error: "older than the last applied event of printer " + rec.EntityID}
	}
	return rec, out, nil
}

// seedEvents records count more events, their received_at spread evenly
// over [start, end), and prints its progress. The relay must not run (the
// app is stopped): each batch's relay_outbox rows are deleted in the
// transaction that marks the batch processed.
func (s *seeder) seedEvents(ctx context.Context, count int64, start, end time.Time) error {
	from := s.events
	upTo, total := from+count, count
	if total <= 0 {
		return nil
	}
	step := end.Sub(start) / time.Duration(total)
	s.stage = from
	var next, done atomic.Int64
	next.Store(from)
	began := time.Now()
	errs := make(chan error, s.workers)
	var wg sync.WaitGroup
	progressDone := make(chan struct{})
	go func() {
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-tick.C:
				n := done.Load()
				fmt.Printf("  seeding events: %d of %d (%.0f rows/s)\n", from+n, upTo, float64(n)/time.Since(began).Seconds())
			}
		}
	}()
	for w := 0; w < s.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				a := next.Add(int64(s.batch)) - int64(s.batch)
				if a >= upTo || ctx.Err() != nil {
					return
				}
				b := min(a+int64(s.batch), upTo)
				if err := s.seedBatch(ctx, a, b, func(k int64) time.Time { return start.Add(time.Duration(k-from) * step) }); err != nil {
					errs <- err
					return
				}
				done.Add(b - a)
			}
		}()
	}
	wg.Wait()
	close(progressDone)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	s.events = upTo
	el := time.Since(began)
	fmt.Printf("  seeded %d events in %s (%.0f rows/s)\n", total, el.Round(time.Second), float64(total)/el.Seconds())
	return nil
}

func (s *seeder) seedBatch(ctx context.Context, a, b int64, at func(k int64) time.Time) error {
	n := int(b - a)
	evs := make([]*store.InboundEvent, n)
	outcomes := make([]store.EventOutcome, n)
	for i := range evs {
		var err error
		if evs[i], outcomes[i], err = s.seedEvent(a + int64(i)); err != nil {
			return err
		}
	}
	rec, err := s.st.RecordEvents(ctx, evs)
	if err != nil {
		return fmt.Errorf("record events: %w", err)
	}
	ids := make([]int64, n)
	kinds := make([]string, n)
	errTexts := make([]*string, n)
	times := make([]time.Time, n)
	for i, r := range rec {
		if r.Duplicate {
			return fmt.Errorf("seeded event %d is a duplicate of event %d (dedup key %s)", a+int64(i), r.ID, evs[i].DedupKey)
		}
		ids[i], kinds[i], times[i] = r.ID, outcomes[i].Outcome, at(a+int64(i))
		if e := outcomes[i].Error; e != "" {
			errTexts[i] = &e
		}
	}
	return pgx.BeginFunc(ctx, s.st.Pool, func(tx pgx.Tx) error {
		// store.ProcessEvents' UPDATE, plus the received_at of the past the
		// history is backdated to, without its "AND NOT e.processed": these
		// rows were recorded by this batch and nothing else processes them,
		// and with the guard the planner (whose statistics say that no event
		// is unprocessed) expects one row and joins the batch's ids to a
		// full scan of inbound_events, minutes per batch.
		if _, err := tx.Exec(ctx, `UPDATE inbound_events e SET processed = true, processed_at = u.at + interval '2 seconds',
				outcome = u.outcome, error = u.error, received_at = u.at
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[]) AS u(id, outcome, error, at)
			WHERE e.id = u.id`, ids, kinds, errTexts, times); err != nil {
			return fmt.Errorf("mark processed: %w", err)
		}
		_, err := tx.Exec(ctx, `DELETE FROM relay_outbox WHERE event_id = ANY($1)`, ids)
		return err
	})
}

// seedLayer is what one layer of seeding adds: events, orders (2 items, a
// mapping, 3 sync_log rows each), rating requests (half rated; 2 done
// rating actions each), jobs (3 lots; 9 in 10 with a callback delivery and
// its attempts) and print jobs, each spread evenly over a time range.
type seedLayer struct {
	events, orders, ratings, jobs, prints int64
	from, to                              time.Time // of everything but the rating requests
	ratingsFrom, ratingsTo                time.Time
}

func (l seedLayer) String() string {
	ago := func(t time.Time) string { return fmtSpan(time.Since(t)) + " ago" }
	return fmt.Sprintf("%d events (%.0f an hour), %d orders, %d jobs and %d print jobs from %s to %s; %d rating requests from %s to %s",
		l.events, float64(l.events)/l.to.Sub(l.from).Hours(), l.orders, l.jobs, l.prints, ago(l.from), ago(l.to),
		l.ratings, ago(l.ratingsFrom), ago(l.ratingsTo))
}

// seed adds the layer: its events, then the other tables.
func (s *seeder) seed(ctx context.Context, l seedLayer) error {
	if err := s.seedEvents(ctx, l.events, l.from, l.to); err != nil {
		return err
	}
	return s.seedRelated(ctx, l)
}

// seedRelated adds the layer's rows of the tables other than
// inbound_events. The printers are created once.
func (s *seeder) seedRelated(ctx context.Context, l seedLayer) error {
	began := time.Now()
	if _, err := s.st.Pool.Exec(ctx, `INSERT INTO printers (id, name, state, last_event_at, updated_at)
		SELECT g, 'printer ' || g, (ARRAY['idle','printing','offline','paused'])[1 + g % 4], to_timestamp(1700000000), now()
		FROM generate_series(1, $1::bigint) g ON CONFLICT (id) DO NOTHING`, s.printers); err != nil {
		return fmt.Errorf("printers: %w", err)
	}
	type part struct {
		name  string
		have  *int64
		want  int64
		chunk int64
		from  time.Time
		to    time.Time
		sql   string // $1 first number, $2 last, $3 first of the stage, $4 count of the stage, $5 and $6 its time range
	}
	parts := []part{
		{"orders", &s.orders, s.orders + l.orders, 20000, l.from, l.to, seedOrdersSQL},
		{"rating requests", &s.ratings, s.ratings + l.ratings, 20000, l.ratingsFrom, l.ratingsTo, seedRatingsSQL},
		{"jobs", &s.jobs, s.jobs + l.jobs, 20000, l.from, l.to, seedJobsSQL},
		{"print jobs", &s.prints, s.prints + l.prints, 50000, l.from, l.to, seedPrintJobsSQL},
	}
	for _, p := range parts {
		first, stage := *p.have+1, p.want-*p.have
		for lo := first; lo <= p.want; lo += p.chunk {
			hi := min(lo+p.chunk-1, p.want)
			if _, err := s.st.Pool.Exec(ctx, p.sql, lo, hi, first, stage, p.from, p.to); err != nil {
				return fmt.Errorf("seed %s %d-%d: %w", p.name, lo, hi, err)
			}
		}
		*p.have = p.want
	}
	if _, err := s.st.Pool.Exec(ctx, `UPDATE printers p SET current_job_id = 'seed-' || (p.id * 37 % $1 + 1)
		WHERE p.state IN ('printing', 'paused')`, max(s.prints, 1)); err != nil {
		return fmt.Errorf("printers' current jobs: %w", err)
	}
	fmt.Printf("  seeded %d orders, %d rating requests, %d jobs, %d print jobs in total (%s)\n",
		s.orders, s.ratings, s.jobs, s.prints, time.Since(began).Round(time.Millisecond))
	return nil
}

// seedAt is the time of the g-th row of a stage: evenly over [$5, $6).
// What a row is like (its status, client, ...) comes from i, its place in
// the stage: the recent layer's rows are alike in both databases.
const seedAt = `$5::timestamptz + (g - $3)::float8 / greatest($4::bigint, 1) * ($6::timestamptz - $5::timestamptz)`

// Orders as the per-order workflow leaves them (SaveBitrixOrder: order,
// items, mapping) with their sync_log: created and updated from Bitrix, and
// a status pushed back (some failed, retried or skipped).
const seedOrdersSQL = `
WITH src AS (SELECT g, g - $3 AS i, ` + seedAt + ` AS t FROM generate_series($1::bigint, $2::bigint) g),
o AS (
	INSERT INTO orders (bitrix_id, number, status, bitrix_status, total, delivery_price, currency, paid, canceled,
		customer_name, customer_phone, customer_email, delivery_address, bitrix_created_at, bitrix_updated_at,
		sync_state, sync_error, created_at, updated_at)
	SELECT g, 'B-' || g, (ARRAY['new','paid','shipped','completed','cancelled'])[1 + i % 5], (ARRAY['N','P','S','F','D'])[1 + i % 5],
		(i % 997) * 10 + 0.5, 300, 'RUB', i % 5 IN (1, 2, 3), i % 5 = 4,
		'Customer ' || g, '+7900' || lpad((i % 10000000)::text, 7, '0'), 'c' || g || '@example.com', 'Street ' || i % 500,
		t - interval '1 hour', t,
		CASE WHEN i % 13 = 0 THEN 'failed' WHEN i % 89 = 0 THEN 'skipped' ELSE 'synced' END,
		CASE WHEN i % 13 = 0 THEN 'bitrix: status change refused' END,
		t - interval '1 hour', t
	FROM src ORDER BY g
	RETURNING id, bitrix_id, sync_state, updated_at),
i AS (
	INSERT INTO order_items (order_id, position, product_id, name, price, quantity, currency)
	SELECT o.id, p, 1000 + o.bitrix_id % 300, 'Product ' || o.bitrix_id % 300, 100 * p, p, 'RUB'
	FROM o CROSS JOIN generate_series(1, 2) p),
m AS (
	INSERT INTO sync_mapping (bitrix_id, crm_id, applied_version, applied_hash)
	SELECT bitrix_id, id, updated_at, md5(bitrix_id::text) FROM o)
INSERT INTO sync_log (direction, entity, entity_id, crm_id, action, status, error, detail, duration_ms, at)
SELECT CASE WHEN s = 3 THEN 'outbound' ELSE 'inbound' END, 'order', o.bitrix_id::text, o.id,
	(ARRAY['create', 'update', 'status'])[s],
	CASE WHEN s < 3 THEN 'success' WHEN o.sync_state = 'failed' THEN 'error' WHEN o.sync_state = 'skipped' THEN 'skipped'
		WHEN (o.bitrix_id - $3) % 17 = 0 THEN 'retry' ELSE 'success' END,
	CASE WHEN s = 3 AND (o.sync_state = 'failed' OR (o.bitrix_id - $3) % 17 = 0) THEN 'bitrix answered 503' END,
	'', 12.5 * s, o.updated_at - (3 - s) * interval '10 minutes'
FROM o CROSS JOIN generate_series(1, 3) s ORDER BY o.id, s`

// Rating requests of resolved Okdesk issues: half rated (with a rating),
// the rest expired, cancelled, without a chat or blocked; the last three
// days' unanswered ones still waiting. Each has two done actions.
const seedRatingsSQL = `
WITH src AS (SELECT g, g - $3 AS i, ` + seedAt + ` AS t FROM generate_series($1::bigint, $2::bigint) g),
q AS (
	INSERT INTO rating_requests (issue_id, resolution, workflow_id, title, status, contact_id, company_id, assignee_id,
		chat_id, message_id, state, error, requested_at, sent_at, reminded_at, closed_at)
	SELECT g, 1, 'okdesk-rating-' || g || '-1', 'Issue ' || g, 'resolved', 5000 + i % 3000, 100 + i % 50, 1 + i % 20,
		CASE WHEN i % 20 < 17 THEN 7000000 + i % 3000 END, CASE WHEN i % 20 < 17 THEN i % 100000 END,
		CASE WHEN i % 20 < 10 THEN 'rated'
			WHEN i % 20 < 15 AND t > now() - interval '3 days' THEN 'waiting'
			WHEN i % 20 < 15 THEN 'expired' WHEN i % 20 < 17 THEN 'cancelled' WHEN i % 20 < 19 THEN 'no_chat' ELSE 'blocked' END,
		CASE WHEN i % 20 = 19 THEN 'telegram: 403 Forbidden: bot was blocked by the user' END,
		t, CASE WHEN i % 20 < 17 THEN t + interval '5 seconds' END,
		CASE WHEN i % 20 BETWEEN 10 AND 14 AND t < now() - interval '1 day' THEN t + interval '1 day' END,
		CASE WHEN i % 20 < 10 THEN least(t + (i % 600) * interval '1 minute' + interval '6 seconds', now())
			WHEN i % 20 < 15 AND t > now() - interval '3 days' THEN NULL
			WHEN i % 20 < 15 THEN t + interval '3 days' ELSE t + interval '5 seconds' END
	FROM src ORDER BY g
	RETURNING id, issue_id, workflow_id, contact_id, chat_id, assignee_id, state, requested_at, sent_at, closed_at),
r AS (
	INSERT INTO ratings (request_id, issue_id, contact_id, chat_id, telegram_user_id, score, assignee_id, rated_at,
		comment_state, comment_id, commented_at)
	SELECT id, issue_id, contact_id, chat_id, chat_id, 1 + (id * 7) % 5, assignee_id, closed_at - interval '1 second',
		CASE WHEN id % 50 = 0 THEN 'failed' ELSE 'posted' END, CASE WHEN id % 50 <> 0 THEN id END, closed_at
	FROM q WHERE state = 'rated')
INSERT INTO rating_actions (owner, kind, payload, result, created_at, done_at)
SELECT q.workflow_id, (ARRAY['send_rating_request', 'post_comment'])[k], jsonb_build_object('request_id', q.id),
	'{"ok": true}', q.requested_at + k * interval '1 minute', q.requested_at + k * interval '1 minute' + interval '1 second'
FROM q CROSS JOIN generate_series(1, 2) k ORDER BY q.id, k`

// Finished description jobs (3 lots each) and, for those with a webhook
// url, the callback delivery and its attempts: mostly delivered at the first
// or second attempt, one in ten failed after five, a few gone (410).
const seedJobsSQL = `
WITH src AS (SELECT g, g - $3 AS i, ` + seedAt + ` AS t FROM generate_series($1::bigint, $2::bigint) g),
j AS (
	INSERT INTO jobs (id, client_id, status, version, languages, webhook_url, total_lots, completed_lots, failed_lots,
		idempotency_key, request_hash, created_at, updated_at, started_at, finished_at)
	SELECT gen_random_uuid(), 'client-' || i % 5,
		CASE WHEN i % 20 < 17 THEN 'completed' WHEN i % 20 < 19 THEN 'partially_completed' ELSE 'failed' END,
		'v1', ARRAY['en', 'ru'], CASE WHEN i % 10 < 9 THEN 'https://client' || i % 5 || '.example.com/hooks/descriptions' ELSE '' END,
		3, CASE WHEN i % 20 < 17 THEN 3 WHEN i % 20 < 19 THEN 2 ELSE 0 END, CASE WHEN i % 20 < 17 THEN 0 WHEN i % 20 < 19 THEN 1 ELSE 3 END,
		'seed-' || g, md5(g::text), t, t + interval '30 seconds', t + interval '1 second', t + interval '30 seconds'
	FROM src ORDER BY g
	RETURNING id, client_id, webhook_url, completed_lots, finished_at, substr(idempotency_key, 6)::bigint - $3 AS i),
l AS (
	INSERT INTO job_lots (job_id, position, lot_id, images, status, descriptions, error, attempts, finished_at)
	SELECT j.id, p, 'lot-' || p, ARRAY['https://img.example.com/' || p || '.jpg'],
		CASE WHEN p < j.completed_lots THEN 'completed' ELSE 'failed' END,
		CASE WHEN p < j.completed_lots THEN '{"en": "A fine lot", "ru": "Хороший лот"}'::jsonb END,
		CASE WHEN p >= j.completed_lots THEN 'generator: timed out' END, 1, j.finished_at
	FROM j CROSS JOIN generate_series(0, 2) p),
d AS (
	INSERT INTO callback_deliveries (id, job_id, client_id, url, webhook_id, body, status, series, attempts,
		last_status_code, last_error, created_at, updated_at, finished_at)
	SELECT gen_random_uuid(), j.id, j.client_id, j.webhook_url, 'msg_' || replace(j.id::text, '-', ''),
		'{"job_id": "' || j.id || '"}', v.status, 1, v.attempts, v.code, v.err,
		j.finished_at, j.finished_at + v.attempts * interval '1 minute', j.finished_at + v.attempts * interval '1 minute'
	FROM j CROSS JOIN LATERAL (SELECT (hashtext(j.i::text) & 2147483647) % 100 AS h) x
	CROSS JOIN LATERAL (SELECT
		CASE WHEN h < 88 THEN 'delivered' WHEN h < 98 THEN 'failed' ELSE 'gone' END AS status,
		CASE WHEN h < 75 THEN 1 WHEN h < 88 THEN 2 WHEN h < 98 THEN 5 ELSE 1 END AS attempts,
		CASE WHEN h < 88 THEN 200 WHEN h < 98 THEN 503 ELSE 410 END AS code,
		CASE WHEN h >= 88 AND h < 98 THEN 'receiver answered 503' WHEN h >= 98 THEN 'receiver answered 410' END AS err) v
	WHERE j.webhook_url <> ''
	RETURNING id, status, attempts, created_at)
INSERT INTO callback_attempts (delivery_id, attempt, series, attempted_at, status_code, latency_ms, outcome, error, response_snippet)
SELECT d.id, a, 1, d.created_at + (a - 1) * interval '1 minute',
	CASE WHEN a < d.attempts OR d.status = 'failed' THEN 503 WHEN d.status = 'gone' THEN 410 ELSE 200 END,
	20 + (a * 37) % 180,
	CASE WHEN a < d.attempts THEN 'retryable' WHEN d.status = 'failed' THEN 'retryable' WHEN d.status = 'gone' THEN 'gone' ELSE 'delivered' END,
	CASE WHEN a < d.attempts OR d.status <> 'delivered' THEN 'receiver answered an error' END,
	CASE WHEN a < d.attempts OR d.status <> 'delivered' THEN 'Service Unavailable' ELSE '{"ok":true}' END
FROM d CROSS JOIN generate_series(1, 5) a WHERE a <= d.attempts`

// Print jobs as the printer workflows leave them.
var seedPrintJobsSQL = `
INSERT INTO print_jobs (id, printer_id, file, state, percentage, started, ended, duration_seconds, last_event_at, updated_at)
SELECT 'seed-' || g, 1 + g % ` + strconv.Itoa(scalePrinters) + `, 'part-' || g % 500 || '.gcode', (ARRAY['completed','completed','completed','failed','cancelled'])[1 + g % 5],
	100, t - interval '1 hour', t, 3600, t, t
FROM (SELECT g, ` + seedAt + ` AS t FROM generate_series($1::bigint, $2::bigint) g) src`

// seededTables are the tables the seeder writes (VACUUM ANALYZE after each
// stage: autovacuum is off on the reference machine).
var seededTables = []string{"inbound_events", "relay_outbox", "event_counts", "printers", "print_jobs", "orders", "order_items",
	"sync_mapping", "sync_log", "sync_log_counts", "order_state_counts", "rating_requests", "ratings", "rating_actions",
	"jobs", "job_lots", "callback_deliveries", "callback_attempts"}

// autoExplain makes the plan (with row counts) of every statement slower
// than d on st's database go to the Postgres server log: for finding out why
// a read is slow (BENCH_SCALE_EXPLAIN). Only connections opened afterwards
// are affected: hookflow's, not the seeder's that are open already.
func autoExplain(t *testing.T, st *store.Store, d time.Duration) (database string) {
	t.Helper()
	ctx := context.Background()
	if err := st.Pool.QueryRow(ctx, `SELECT current_database()`).Scan(&database); err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{`session_preload_libraries = 'auto_explain'`,
		fmt.Sprintf(`auto_explain.log_min_duration = %d`, d.Milliseconds()),
		`auto_explain.log_analyze = on`, `auto_explain.log_timing = off`, `auto_explain.log_buffers = on`} {
		if _, err := st.Pool.Exec(ctx, `ALTER DATABASE `+database+` SET `+set); err != nil {
			t.Fatal(err)
		}
	}
	return database
}

func vacuumAnalyze(ctx context.Context, st *store.Store) error {
	began := time.Now()
	for _, table := range seededTables {
		if _, err := st.Pool.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
			return fmt.Errorf("VACUUM ANALYZE %s: %w", table, err)
		}
	}
	fmt.Printf("  VACUUM ANALYZE of the seeded tables: %s (autovacuum is off on this machine)\n", time.Since(began).Round(time.Millisecond))
	return nil
}

// counterMismatches compares the trigger-kept counters with full counts of
// their tables and describes every difference.
func counterMismatches(ctx context.Context, st *store.Store) ([]string, error) {
	var out []string
	for _, c := range []struct{ name, counted, kept string }{
		{"event_counts",
			`SELECT source || '/' || event_type || '/' || processed || '/' || coalesce(outcome, '') || '/' || (error IS NOT NULL), count(*) FROM inbound_events GROUP BY 1`,
			`SELECT source || '/' || event_type || '/' || processed || '/' || outcome || '/' || errored, sum(n)::bigint FROM event_counts GROUP BY 1 HAVING sum(n) <> 0`},
		{"sync_log_counts",
			`SELECT direction || '/' || status, count(*) FROM sync_log GROUP BY 1`,
			`SELECT direction || '/' || status, sum(n)::bigint FROM sync_log_counts GROUP BY 1 HAVING sum(n) <> 0`},
		{"order_state_counts",
			`SELECT sync_state, count(*) FROM orders GROUP BY 1`,
			`SELECT sync_state, sum(n)::bigint FROM order_state_counts GROUP BY 1 HAVING sum(n) <> 0`},
	} {
		counted, err := keyCounts(ctx, st, c.counted)
		if err != nil {
			return nil, err
		}
		kept, err := keyCounts(ctx, st, c.kept)
		if err != nil {
			return nil, err
		}
		for k, n := range counted {
			if kept[k] != n {
				out = append(out, fmt.Sprintf("%s %s: counter %d, table %d", c.name, k, kept[k], n))
			}
		}
		for k, n := range kept {
			if _, ok := counted[k]; !ok {
				out = append(out, fmt.Sprintf("%s %s: counter %d, table 0", c.name, k, n))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func keyCounts(ctx context.Context, st *store.Store, q string) (map[string]int64, error) {
	rows, err := st.Pool.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var k string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&k, &n}, func() error { out[k] = n; return nil })
	return out, err
}

// read is one read endpoint or page as the scale benchmark calls it.
type read struct {
	name string
	path string // with its query, on the API's base URL
}

// readTiming is what calling a read repeatedly measured.
type readTiming struct {
	p50, p95 time.Duration // p95: the median of the rounds' (timeReads)
	p95all   time.Duration // over all calls
	calls    int
	failures int    // answers other than 200
	status   string // the last failure's status and the start of its body
	bytes    int    // size of the last answer
}

// readTarget is one running hookflow and the reads to time on it (the
// same names in the same order on every target; paths differ by the ids
// and cursors of its database).
type readTarget struct {
	baseURL string
	reads   []read
}

// timeReads times every read on every target, in rounds: each round calls
// every read, one after the other, once per target as a warm-up and then
// calls/rounds times more per target, alternating between the targets call
// by call (sequentially, one keep-alive connection each, with the admin
// token), so that a change of the machine's speed weighs on all targets
// alike. p50 is over all calls; p95 is the median of the rounds' p95s, as
// the ack rate is the median of its rounds: the rounds of a read lie
// seconds apart, and a burst of other work on the shared machine that
// lands in one of them does not make the read's p95.
func timeReads(targets []readTarget, adminToken string, calls, rounds int) []map[string]readTiming {
	clients := make([]*http.Client, len(targets))
	out := make([]map[string]readTiming, len(targets))
	for i := range targets {
		clients[i] = &http.Client{Timeout: 2 * time.Minute}
		out[i] = map[string]readTiming{}
	}
	reads := len(targets[0].reads)
	perRound := max(calls/rounds, 1)
	lat := make([][][]time.Duration, len(targets))      // [target][read] all calls
	roundP95 := make([][][]time.Duration, len(targets)) // [target][read] one per round
	rts := make([][]readTiming, len(targets))
	for i := range targets {
		lat[i], roundP95[i], rts[i] = make([][]time.Duration, reads), make([][]time.Duration, reads), make([]readTiming, reads)
	}
	for range rounds {
		for r := range reads {
			round := make([][]time.Duration, len(targets))
			for call := 0; call <= perRound; call++ {
				for i, tg := range targets {
					req, _ := http.NewRequest(http.MethodGet, tg.baseURL+tg.reads[r].path, nil)
					req.Header.Set("Authorization", "Bearer "+adminToken)
					t0 := time.Now()
					resp, err := clients[i].Do(req)
					var body []byte
					if err == nil {
						body, err = io.ReadAll(resp.Body)
						resp.Body.Close()
					}
					el := time.Since(t0)
					if call == 0 {
						continue // warm-up
					}
					round[i] = append(round[i], el)
					rt := &rts[i][r]
					switch {
					case err != nil:
						rt.failures++
						rt.status = err.Error()
					case resp.StatusCode != http.StatusOK:
						rt.failures++
						rt.status = fmt.Sprintf("%d %.80s", resp.StatusCode, body)
					default:
						rt.bytes = len(body)
					}
				}
			}
			for i := range targets {
				lat[i][r] = append(lat[i][r], round[i]...)
				roundP95[i][r] = append(roundP95[i][r], percentile(round[i], 0.95))
			}
		}
	}
	for i := range targets {
		for r := range reads {
			rt := rts[i][r]
			rt.calls = len(lat[i][r])
			rt.p50 = percentile(lat[i][r], 0.50)
			rt.p95 = percentile(roundP95[i][r], 0.50)
			rt.p95all = percentile(lat[i][r], 0.95)
			out[i][targets[i].reads[r].name] = rt
		}
	}
	return out
}

// percentile is the p-th of the durations (sorting them).
func percentile(l []time.Duration, p float64) time.Duration {
	sort.Slice(l, func(a, b int) bool { return l[a] < l[b] })
	return l[min(len(l)-1, int(float64(len(l))*p))]
}
