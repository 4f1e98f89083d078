package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/retention"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/telemetry"
	"github.com/hookflow/hookflow/internal/testenv"
)

// Targets of issue 11's scale benchmark.
const (
	scaleSmall        = 10_000 // events of the first measurement
	readGrowthTarget  = 2.0    // p95 at N over p95 at 10k
	readLatencyTarget = 50 * time.Millisecond
	ackRatioTarget    = 0.9 // acks/s at N over acks/s at 10k
	purgeP99Target    = 1.5 // ack p99 during a purge over ack p99 without one
	scalePrinters     = 200 // printers of the seeded events
	loadPrinters      = 50  // printers of the ack load (printerEvent)
	loadWorkers       = 32  // clients of the ack load, as in TestBenchSimplyPrintAcks
	ackRounds         = 3   // ack rate: median of this many rounds
	purgeLead         = 2 * time.Second
)

// TestBenchScale is `make bench-scale`: hookflow with years of history.
// It seeds 10 thousand SimplyPrint events (and proportional orders,
// ratings, jobs and deliveries), measures every read endpoint and ops page
// and the webhook ack rate, seeds up to BENCH_SCALE_N events (default 10
// million), measures again, then times a retention purge of what is older
// than 30 days with the ack load running through part of it. It prints the
// ratios; it fails only on data loss (an ack whose event was not stored) or
// wrong counters, never on timings.
func TestBenchScale(t *testing.T) {
	if os.Getenv("HOOKFLOW_BENCH") != "1" {
		t.Skip("scale benchmark: run with `make bench-scale`")
	}
	n := int64(10_000_000)
	if v := os.Getenv("BENCH_SCALE_N"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < scaleSmall {
			t.Fatalf("BENCH_SCALE_N=%q: a number of events of at least %d", v, scaleSmall)
		}
	}
	calls := 40
	if v, err := strconv.Atoi(os.Getenv("BENCH_SCALE_CALLS")); err == nil && v > 0 {
		calls = v
	}
	phase := 5 * time.Second
	if v, err := time.ParseDuration(os.Getenv("BENCH_PHASE")); err == nil {
		phase = v
	}
	ctx := context.Background()

	dbURL, st := testenv.Database(t)
	if v := os.Getenv("BENCH_SCALE_EXPLAIN"); v != "" {
		// For finding out why a read is slow: the plan (with row counts) of
		// every statement of hookflow's connections slower than v goes to
		// the Postgres server log. The seeder's connections, open already,
		// are left alone.
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("BENCH_SCALE_EXPLAIN=%q: a duration such as 20ms", v)
		}
		var db string
		if err := st.Pool.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
			t.Fatal(err)
		}
		for _, set := range []string{`session_preload_libraries = 'auto_explain'`,
			fmt.Sprintf(`auto_explain.log_min_duration = %d`, d.Milliseconds()),
			`auto_explain.log_analyze = on`, `auto_explain.log_timing = off`, `auto_explain.log_buffers = on`} {
			if _, err := st.Pool.Exec(ctx, `ALTER DATABASE `+db+` SET `+set); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Printf("auto_explain logs statements slower than %s on database %s into the Postgres server log\n", d, db)
	}
	tmp := testenv.Temporal(t)
	defaults, err := config.LoadFrom(nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := "bench-admin-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	// hookflow as it ships (relay defaults, default log level, tracing as
	// hookflow serve sets it up), except that its own retention schedule
	// keeps everything: the purge this benchmark times is the only one, and
	// no schedule firing mid-run purges the seeded history.
	cfg := testenv.Config(t, dbURL, tmp, map[string]string{"LOG_LEVEL": defaults.LogLevel, "ADMIN_TOKEN": admin,
		"EVENT_RETENTION": "0", "CALLBACK_ATTEMPT_RETENTION": "0", "SYNC_LOG_RETENTION": "0", "RATING_ACTION_RETENTION": "0"})
	cfg.Relay = defaults.Relay
	shutdown, err := telemetry.Setup(ctx, cfg.Telemetry, "bench")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: cfg.SlogLevel()}))

	// One webhook id per run for the seeded events and another for the ack
	// load: no dedup key repeats another run's.
	runID := time.Now().UnixNano()
	sd := &seeder{st: st, webhookID: runID, printers: scalePrinters, workers: 3, batch: 10000}
	body := runEvents(t, loadPrinters, runID+1)
	loadKeys := strconv.FormatInt(runID+1, 10) + ":%"
	var seq atomic.Int64

	fmt.Printf("\nScale benchmark: %d SimplyPrint events, then %d; %d calls per read (after one warm-up call); ack load %d clients, %d rounds of %s\n",
		scaleSmall, n, calls, loadWorkers, ackRounds, phase)
	fmt.Println("Postgres runs with autovacuum off on this machine: the benchmark runs VACUUM ANALYZE on the seeded tables after each seeding stage.")

	// drained waits until every recorded event has been handed over and
	// processed (the ack load's events, processed by the printer workflows).
	// Processing that stalls is an error, but the measurements go on: acks
	// and reads do not wait for Temporal. (The dev server's SQLite has been
	// seen to wedge under a machine overloaded by other work, answering
	// "Namespace default is not found" from then on.)
	stalled := false
	drained := func() bool {
		t.Helper()
		wait := 10 * time.Minute
		if stalled {
			wait = 30 * time.Second
		}
		deadline := time.Now().Add(wait)
		for {
			var outbox, pending int64
			if err := st.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM relay_outbox),
				(SELECT count(*) FROM inbound_events WHERE source = $1 AND outcome IS NULL AND NOT processed)`,
				store.SimplyPrintSource).Scan(&outbox, &pending); err != nil {
				t.Fatal(err)
			}
			if outbox == 0 && pending == 0 {
				return true
			}
			if time.Now().After(deadline) {
				if !stalled {
					t.Errorf("processing stalled: %d events in the relay outbox and %d not processed %s after the load; "+
						"is the Temporal dev server (%s) answering? The measurements go on", outbox, pending, wait, tmp.HostPort)
				}
				stalled = true
				return false
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	lastID := func() int64 {
		t.Helper()
		var id int64
		if err := st.Pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM inbound_events`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	// stored checks that every event acknowledged since afterID was stored
	// and processed: a shortfall is data loss and fails the test.
	var lossChecks []string
	lossFound := false
	stored := func(what string, afterID, acked int64) {
		t.Helper()
		processing := drained()
		var rows, processed int64
		if err := st.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE processed) FROM inbound_events
			WHERE id > $1 AND source = $2 AND dedup_key LIKE $3`, afterID, store.SimplyPrintSource, loadKeys).Scan(&rows, &processed); err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%s: %d acknowledged, %d stored, %d processed", what, acked, rows, processed)
		fmt.Println("  " + line)
		lossChecks = append(lossChecks, line)
		if rows < acked {
			lossFound = true
			t.Errorf("data loss: %s", line)
		} else if processing && processed < acked {
			t.Errorf("acknowledged events left unprocessed: %s", line)
		}
	}
	checkCounters := func(when string) {
		t.Helper()
		bad, err := counterMismatches(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) > 0 {
			t.Errorf("counters differ from full counts %s:\n  %s", when, strings.Join(bad, "\n  "))
			return
		}
		fmt.Printf("  counters (event_counts, sync_log_counts, order_state_counts) equal full counts %s\n", when)
	}

	type stageResult struct {
		events int64
		reads  []read
		timing map[string]readTiming
		acks   result // median round
		bare   result // median round of the bare handler
		rounds []float64
	}
	bare := []string{bareHandler(t, st)}
	runStage := func(size int64) (stageResult, string, func()) {
		t.Helper()
		fmt.Printf("\nStage: %d events\n", size)
		if err := sd.seedEvents(ctx, size); err != nil {
			t.Fatal(err)
		}
		if err := sd.seedRelated(ctx); err != nil {
			t.Fatal(err)
		}
		if err := vacuumAnalyze(ctx, st); err != nil {
			t.Fatal(err)
		}
		a, stop := startStoppableApp(t, cfg, log)
		base := a.URL()
		reads, err := scaleReads(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		timing := timeReads(base, admin, reads, calls)
		fmt.Printf("  %d reads timed in %s\n", len(reads), time.Since(began).Round(time.Millisecond))
		return stageResult{events: size, reads: reads, timing: timing}, base, stop
	}
	ackStage := func(res *stageResult, base string) {
		t.Helper()
		// Acks, in rounds interleaved with the bare Gin -> Postgres handler
		// of TestBenchSimplyPrintAcks (its table does not grow with the
		// seeded history): how fast the machine is at the moment, so that a
		// change of speed between the stages (the machine is shared) can be
		// told from an effect of the history.
		hook := []string{base + "/api/v1/simpleprint/webhook/"}
		from := lastID()
		load(bare, loadWorkers, time.Second, &seq, body)
		acked := load(hook, loadWorkers, time.Second, &seq, body).acks // warm-up
		var rounds, bareRounds []result
		for range ackRounds {
			bareRounds = append(bareRounds, load(bare, loadWorkers, phase, &seq, body))
			r := load(hook, loadWorkers, phase, &seq, body)
			acked += r.acks
			rounds = append(rounds, r)
		}
		res.acks, res.bare = medianRate(rounds), medianRate(bareRounds)
		for _, r := range rounds {
			res.rounds = append(res.rounds, r.rate())
		}
		fmt.Printf("  acks: %.0f/s median of %v, p50 %s ms, p99 %s ms, errors %d; bare handler %.0f/s\n", res.acks.rate(), roundRates(res.rounds),
			ms(res.acks.pct(0.50)), ms(res.acks.pct(0.99)), res.acks.errors, res.bare.rate())
		stored(fmt.Sprintf("ack load at %d events", res.events), from, acked)
	}

	small, smallBase, stopSmall := runStage(scaleSmall)
	ackStage(&small, smallBase)
	checkCounters("at 10k")
	// The relay must not run while millions of events are seeded (it would
	// hand each to Temporal): stop hookflow, seed, start it again.
	stopSmall()
	large, base, _ := runStage(n)

	// Reads, printed before anything else can go wrong.
	fmt.Printf("\nReads: p50/p95 over %d calls each (ms); ratio = p95 at %d / p95 at %d\n", calls, n, scaleSmall)
	fmt.Printf("  %-50s %9s %9s %9s %9s %7s  %s\n", "read", "p50@10k", "p95@10k", "p50@N", "p95@N", "ratio", "flag")
	var slowReads []string
	for _, r := range large.reads {
		s, l := small.timing[r.name], large.timing[r.name]
		ratio := float64(l.p95) / float64(max(s.p95, time.Microsecond))
		var flags []string
		if ratio > readGrowthTarget {
			flags = append(flags, fmt.Sprintf(">%.0fx", readGrowthTarget))
		}
		if l.p95 > readLatencyTarget {
			flags = append(flags, fmt.Sprintf(">%s", readLatencyTarget))
		}
		for _, x := range []struct {
			at string
			t  readTiming
		}{{"10k", s}, {"N", l}} {
			if x.t.failures > 0 {
				flags = append(flags, fmt.Sprintf("%d of %d failed at %s: %s", x.t.failures, x.t.calls, x.at, x.t.status))
			}
		}
		if len(flags) > 0 {
			slowReads = append(slowReads, r.name)
		}
		fmt.Printf("  %-50s %9s %9s %9s %9s %7.2f  %s\n", r.name, ms(s.p50), ms(s.p95), ms(l.p50), ms(l.p95), ratio, strings.Join(flags, "; "))
	}
	fmt.Println("  paths:")
	for _, r := range large.reads {
		fmt.Printf("    %-50s %s\n", r.name, r.path)
	}

	// Acks.
	ackStage(&large, base)
	ackRatio := large.acks.rate() / small.acks.rate()
	bareRatio := large.bare.rate() / small.bare.rate()
	fmt.Printf("\nAcks (median of %d rounds of %s, %d clients): at %d events %.0f/s (p50 %s, p99 %s ms), at %d events %.0f/s (p50 %s, p99 %s ms); ratio %.2f (target >= %.1f)\n",
		ackRounds, phase, loadWorkers, scaleSmall, small.acks.rate(), ms(small.acks.pct(0.5)), ms(small.acks.pct(0.99)), n, large.acks.rate(),
		ms(large.acks.pct(0.5)), ms(large.acks.pct(0.99)), ackRatio, ackRatioTarget)
	fmt.Printf("  the bare handler in the same rounds: %.0f/s, then %.0f/s (ratio %.2f); hookflow's ratio relative to it: %.2f\n",
		small.bare.rate(), large.bare.rate(), bareRatio, ackRatio/bareRatio)

	// Retention purge of everything older than 30 days, with the ack load
	// running through part of it.
	hook := []string{base + "/api/v1/simpleprint/webhook/"}
	period := config.Period(30 * 24 * time.Hour)
	rcfg := config.RetentionConfig{Events: period, Attempts: period, SyncLog: period, RatingActions: period}
	now := time.Now()
	purgeLoad := time.Duration(ackRounds) * phase
	type trial struct {
		batch          int
		pause          time.Duration
		before, during result
		purged         int64
		took           time.Duration
	}
	var trials []trial
	total := retention.Counts{}
	var purgeTime time.Duration
	finished := false
	fmt.Printf("\nRetention purge (30 days) of the seeded history; ack p99 over %s of load without, then during, the purge\n", purgeLoad)
	for _, set := range []struct {
		batch int
		pause time.Duration
	}{{2000, 0}, {2000, 20 * time.Millisecond}, {2000, 100 * time.Millisecond}, {500, 0}, {500, 20 * time.Millisecond}} {
		drained()
		from := lastID()
		tr := trial{batch: set.batch, pause: set.pause}
		tr.before = load(hook, loadWorkers, purgeLoad, &seq, body)
		drained()
		done := make(chan struct{})
		var res retention.Result
		var perr error
		began := time.Now()
		go func() {
			defer close(done)
			res, perr = retention.Purge(ctx, st, rcfg, retention.Options{BatchSize: set.batch, Pause: set.pause, Now: now,
				Budget: purgeLead + purgeLoad + time.Second})
		}()
		time.Sleep(purgeLead)
		tr.during = load(hook, loadWorkers, purgeLoad, &seq, body)
		<-done
		tr.took = time.Since(began)
		if perr != nil {
			t.Fatalf("purge: %v", perr)
		}
		tr.purged = res.Purged.Total()
		total.Add(res.Purged)
		purgeTime += tr.took
		trials = append(trials, tr)
		ratio := float64(tr.during.pct(0.99)) / float64(tr.before.pct(0.99))
		fmt.Printf("  batch %d, pause %s: ack p99 %s without, %s during (ratio %.2f); p50 %s / %s; acks/s %.0f / %.0f; purged %d rows in %s (%.0f rows/s)\n",
			set.batch, set.pause, ms(tr.before.pct(0.99)), ms(tr.during.pct(0.99)), ratio, ms(tr.before.pct(0.50)), ms(tr.during.pct(0.50)),
			tr.before.rate(), tr.during.rate(), tr.purged, tr.took.Round(time.Millisecond), float64(tr.purged)/tr.took.Seconds())
		stored(fmt.Sprintf("ack load around the purge (batch %d, pause %s)", set.batch, set.pause), from, tr.before.acks+tr.during.acks)
		if !res.More {
			finished = true
			break
		}
		if ratio <= purgeP99Target {
			break
		}
	}
	var rest retention.Counts
	var restTook time.Duration
	if !finished {
		began := time.Now()
		res, err := retention.Purge(ctx, st, rcfg, retention.Options{BatchSize: 2000, Now: now})
		if err != nil {
			t.Fatalf("purge: %v", err)
		}
		restTook = time.Since(began)
		rest = res.Purged
		total.Add(rest)
		purgeTime += restTook
		fmt.Printf("  the rest without load (batch 2000, no pause): %d rows in %s (%.0f rows/s)\n",
			rest.Total(), restTook.Round(time.Millisecond), float64(rest.Total())/restTook.Seconds())
	}
	keys := make([]string, 0, len(total))
	for k := range total {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, total[k]))
	}
	fmt.Printf("  purged in all: %d rows (%s) in %s of purging, %.0f rows/s\n", total.Total(), strings.Join(parts, ", "),
		purgeTime.Round(time.Millisecond), float64(total.Total())/purgeTime.Seconds())
	var left int64
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM inbound_events WHERE source = $1 AND received_at < $2`,
		store.SimplyPrintSource, now.Add(-period.Duration())).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left > 0 {
		t.Errorf("%d events older than 30 days are left after the purge", left)
	}
	checkCounters("after the purge")

	// Summary.
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	fmt.Printf("\nSUMMARY (N = %d events; 2 cores, Postgres autovacuum off; timings are one run on a shared machine)\n", n)
	fmt.Printf("  reads within %.0fx and %s p95 at N: %d of %d  %s", readGrowthTarget, readLatencyTarget, len(large.reads)-len(slowReads),
		len(large.reads), verdict(len(slowReads) == 0))
	if len(slowReads) > 0 {
		fmt.Printf(" (flagged: %s)", strings.Join(slowReads, ", "))
	}
	fmt.Println()
	fmt.Printf("  ack rate at N / at 10k: %.2f (%.0f / %.0f per s; target >= %.1f)  %s\n", ackRatio, large.acks.rate(), small.acks.rate(),
		ackRatioTarget, verdict(ackRatio >= ackRatioTarget))
	fmt.Printf("  ... relative to the bare handler measured alongside (machine speed drift removed): %.2f  %s\n", ackRatio/bareRatio,
		verdict(ackRatio/bareRatio >= ackRatioTarget))
	first := trials[0]
	firstRatio := float64(first.during.pct(0.99)) / float64(first.before.pct(0.99))
	fmt.Printf("  ack p99 during the purge / without (batch 2000, no pause): %.2f (%s / %s; target <= %.1f)  %s\n", firstRatio,
		ms(first.during.pct(0.99)), ms(first.before.pct(0.99)), purgeP99Target, verdict(firstRatio <= purgeP99Target))
	if len(trials) > 1 {
		last := trials[len(trials)-1]
		lastRatio := float64(last.during.pct(0.99)) / float64(last.before.pct(0.99))
		fmt.Printf("  ... with batch %d, pause %s: %.2f  %s\n", last.batch, last.pause, lastRatio, verdict(lastRatio <= purgeP99Target))
	}
	fmt.Printf("  purge: %d rows in %s, %.0f rows/s\n", total.Total(), purgeTime.Round(time.Second), float64(total.Total())/purgeTime.Seconds())
	fmt.Printf("  every acknowledged event stored and processed (%d loads checked)  %s\n", len(lossChecks), verdict(!lossFound))
	fmt.Println()
}

// scaleReads lists the read endpoints and ops pages to time, with ids,
// cursors and times picked from what is in the database now.
func scaleReads(ctx context.Context, st *store.Store) ([]read, error) {
	now := time.Now().UTC()
	rfc := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339)) }
	cursor := func(at time.Time, id string) string {
		// api/paging.go's format: "<unix micros>,<id>", base64url.
		return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "," + id))
	}
	var midEvent int64
	if err := st.Pool.QueryRow(ctx, `SELECT (min(id) + max(id)) / 2 FROM inbound_events`).Scan(&midEvent); err != nil {
		return nil, fmt.Errorf("middle event: %w", err)
	}
	var orders int64
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&orders); err != nil {
		return nil, err
	}
	var orderID int64
	var orderAt time.Time
	if err := st.Pool.QueryRow(ctx, `SELECT id, updated_at FROM orders ORDER BY updated_at DESC, id DESC OFFSET $1 LIMIT 1`, orders/2).
		Scan(&orderID, &orderAt); err != nil {
		return nil, fmt.Errorf("middle order: %w", err)
	}
	var failed int64
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM callback_deliveries WHERE status IN ('failed', 'gone')`).Scan(&failed); err != nil {
		return nil, err
	}
	var jobID, deliveryID string
	var failedAt time.Time
	if err := st.Pool.QueryRow(ctx, `SELECT job_id::text, id::text, finished_at FROM callback_deliveries WHERE status IN ('failed', 'gone')
		ORDER BY finished_at DESC, id DESC OFFSET $1 LIMIT 1`, failed/2).Scan(&jobID, &deliveryID, &failedAt); err != nil {
		return nil, fmt.Errorf("middle failed delivery: %w", err)
	}
	sp := "/api/v1/simpleprint/events"
	old := now.AddDate(0, 0, -21)
	yesterday := now.AddDate(0, 0, -1).Format(time.DateOnly)
	return []read{
		{"simpleprint stats", "/api/v1/simpleprint/stats"},
		{"events (newest 100)", sp},
		{"events type=job_completed", sp + "?type=job_completed"},
		{"events type=job_failed", sp + "?type=job_failed"},
		{"events printer_id=7", sp + "?printer_id=7"},
		{"events outcome=failed", sp + "?outcome=failed"},
		{"events outcome=stale", sp + "?outcome=stale"},
		{"events outcome=pending", sp + "?outcome=pending"},
		{"events since 1h ago", sp + "?since=" + rfc(now.Add(-time.Hour))},
		{"events since/until: 1h, 21 days ago", sp + "?since=" + rfc(old) + "&until=" + rfc(old.Add(time.Hour))},
		{"events since/until: 1 day, 21 days ago", sp + "?since=" + rfc(old) + "&until=" + rfc(old.AddDate(0, 0, 1))},
		{"events type=job_failed&printer_id=7", sp + "?type=job_failed&printer_id=7"},
		{"events before_id=<middle>", sp + "?before_id=" + strconv.FormatInt(midEvent, 10)},
		{"events type=job_completed&before_id=<middle>", sp + "?type=job_completed&before_id=" + strconv.FormatInt(midEvent, 10)},
		{"printers", "/api/v1/simpleprint/printers"},
		{"orders", "/api/orders"},
		{"orders status=shipped", "/api/orders?status=shipped"},
		{"orders sync_state=failed", "/api/orders?sync_state=failed"},
		{"orders cursor=<middle>", "/api/orders?cursor=" + cursor(orderAt, strconv.FormatInt(orderID, 10))},
		{"orders status=shipped&cursor=<middle>", "/api/orders?status=shipped&cursor=" + cursor(orderAt, strconv.FormatInt(orderID, 10))},
		{"order detail", "/api/orders/" + strconv.FormatInt(orderID, 10)},
		{"sync status", "/api/sync/status"},
		{"crm sync page", "/crm/sync"},
		{"webhook-metrics (24h)", "/api/v1/webhook-metrics"},
		{"webhook-health", "/api/v1/webhook-health"},
		{"webhook-failures", "/api/v1/webhook-failures"},
		{"webhook-failures cursor=<middle>", "/api/v1/webhook-failures?cursor=" + cursor(failedAt, deliveryID)},
		{"webhook-failures since/until: 1 day, 21 days ago", "/api/v1/webhook-failures?since=" + rfc(old) + "&until=" + rfc(old.AddDate(0, 0, 1))},
		{"webhook-delivery (5 attempts)", "/api/v1/webhook-deliveries/" + deliveryID},
		{"job status", "/api/v1/jobs/" + jobID + "/status"},
		{"job results", "/api/v1/jobs/" + jobID + "/results"},
		{"rating stats (all time)", "/api/v1/ratings/stats"},
		{"rating stats (30 days)", "/api/v1/ratings/stats?from=" + now.AddDate(0, 0, -30).Format(time.DateOnly)},
		{"rating export (1 day)", "/api/v1/ratings/export.csv?from=" + yesterday + "&to=" + yesterday},
		{"ops simplyprint", "/ops/simplyprint"},
		{"ops simplyprint type=job_failed", "/ops/simplyprint?type=job_failed"},
		{"ops jobs", "/ops/jobs"},
		{"ops ratings", "/ops/ratings"},
		{"readyz", "/readyz"},
	}, nil
}

// medianRate is the round with the median rate.
func medianRate(rounds []result) result {
	s := slices.Clone(rounds)
	sort.Slice(s, func(i, j int) bool { return s[i].rate() < s[j].rate() })
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func roundRates(rates []float64) string {
	s := make([]string, len(rates))
	for i, r := range rates {
		s[i] = fmt.Sprintf("%.0f", r)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
