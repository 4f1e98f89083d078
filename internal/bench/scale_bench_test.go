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
	scaleSmall        = 10_000 // events of the nearly empty database
	readGrowthTarget  = 2.0    // p95 at N over p95 at 10k
	readLatencyTarget = 50 * time.Millisecond
	ackRatioTarget    = 0.9 // acks/s at N over acks/s at 10k
	purgeP99Target    = 1.5 // ack p99 during a purge over ack p99 without one
	scalePrinters     = 50  // printers of the seeded events
	loadPrinters      = 50  // printers of the ack load (printerEvent)
	loadWorkers       = 32  // clients of the ack load, as in TestBenchSimplyPrintAcks
	ackRounds         = 3   // ack rate: median of this many rounds
	readRounds        = 5   // reads: p95 the median of this many rounds' p95s
	purgeLead         = 2 * time.Second
	answerTolerance   = 0.10 // answers of a read at the two sizes differing by more are flagged

	// The recent traffic both databases hold alike (recentLayer); the large
	// one adds history before it (historyLayer).
	recentSpan    = 48 * time.Hour      // events, orders, jobs, print jobs
	ratingSpan    = 32 * 24 * time.Hour // rating requests: rating stats read 30 days
	historySpan   = 60 * 24 * time.Hour
	recentOrders  = 2000 // 153 failed: a full page of orders sync_state=failed
	recentJobs    = 4000 // 430 failed or gone callbacks, 215 a day
	recentPrints  = 1000
	recentRatings = 6400                // 200 a day, half rated
	smallOld      = 36 * time.Hour      // the past the history reads look at on the 10k database
	largeOld      = 21 * 24 * time.Hour // and on the N database
)

// recentLayer is the traffic of the last hours that both databases hold,
// alike: 10 thousand events over 48 hours (208 an hour) with enough orders,
// jobs and ratings that each list the benchmark reads returns a full page
// at 10 thousand events as at N, and each window (24 hours, 30 days, the
// last hour) holds the same rows. ref is the time it ends at.
func recentLayer(ref time.Time) seedLayer {
	return seedLayer{events: scaleSmall, orders: recentOrders, ratings: recentRatings, jobs: recentJobs, prints: recentPrints,
		from: ref.Add(-recentSpan), to: ref.Add(-time.Minute), ratingsFrom: ref.Add(-ratingSpan), ratingsTo: ref.Add(-5 * time.Minute)}
}

// historyLayer is what the N database holds before its recent layer: the
// other N - 10 thousand events over the 58 days before, and per 100 of them
// an order, a rating request and a job, per 50 a print job.
func historyLayer(n int64, ref time.Time) seedLayer {
	ev := n - scaleSmall
	return seedLayer{events: ev, orders: ev / 100, ratings: ev / 100, jobs: ev / 100, prints: ev / 50,
		from: ref.Add(-historySpan), to: ref.Add(-recentSpan), ratingsFrom: ref.Add(-historySpan), ratingsTo: ref.Add(-ratingSpan)}
}

// scaleSide is one database of the scale benchmark and the hookflow that
// runs on it.
type scaleSide struct {
	name   string // "10k" or "N"
	events int64
	st     *store.Store
	seed   *seeder
	cfg    config.Config
	base   string // the API's URL once started
	reads  []read
	timing map[string]readTiming
	acks   result // median round
	rounds []float64
}

// TestBenchScale is `make bench-scale`: hookflow with years of history.
// It seeds one database with 10 thousand SimplyPrint events and another
// with BENCH_SCALE_N (default 10 million), both with the same recent
// traffic (recentLayer: the 10 thousand events over the last 48 hours, with
// orders, ratings, jobs and deliveries) and the large one with history
// before it (historyLayer), so that each read answers the same at both
// sizes and only the tables differ. It runs hookflow on both and measures
// every read endpoint and ops page (flagging a read whose answers differ
// by more than 10%) and the webhook ack rate on the two side by side, call
// by call and round by round, so that the shared machine's changes of
// speed weigh on both alike. Then it times a retention purge of
// what is older than 30 days on the large one, with the ack load running
// through part of it. It prints the ratios; it fails only on data loss (an
// ack whose event was not stored), processing that stalls or wrong
// counters, never on timings.
func TestBenchScale(t *testing.T) {
	benchOnly(t, "scale benchmark: run with `make bench-scale`")
	n := int64(10_000_000)
	if v := os.Getenv("BENCH_SCALE_N"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < scaleSmall {
			t.Fatalf("BENCH_SCALE_N=%q: a number of events of at least %d", v, scaleSmall)
		}
	}
	// Calls per read and database, in readRounds rounds: with 40 calls in
	// one round, the p95 of a 2 ms read was the second slowest call and, on
	// a machine shared with other work, as often a pause of the machine's
	// as the read's own cost (2-5x apart between two databases answering
	// alike).
	calls := 200
	if v, err := strconv.Atoi(os.Getenv("BENCH_SCALE_CALLS")); err == nil && v > 0 {
		calls = v
	}
	phase := 5 * time.Second
	if v, err := time.ParseDuration(os.Getenv("BENCH_PHASE")); err == nil {
		phase = v
	}
	var explain time.Duration
	if v := os.Getenv("BENCH_SCALE_EXPLAIN"); v != "" {
		var err error
		if explain, err = time.ParseDuration(v); err != nil || explain <= 0 {
			t.Fatalf("BENCH_SCALE_EXPLAIN=%q: a duration such as 20ms", v)
		}
	}
	ctx := context.Background()

	tmp := testenv.Temporal(t)
	defaults, err := config.LoadFrom(nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := "bench-admin-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	shutdown, err := telemetry.Setup(ctx, defaults.Telemetry, "bench")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: defaults.SlogLevel()}))

	// One webhook id per run and database for the seeded events and another
	// for the ack load: no dedup key repeats another run's, and the load's
	// events are told from the seeded ones by their dedup key's prefix.
	runID := time.Now().UnixNano()
	body := runEvents(t, loadPrinters, runID+2)
	loadKeys := strconv.FormatInt(runID+2, 10) + ":%"
	var seq atomic.Int64

	// Each database gets its own Temporal dev server: the two hookflows'
	// workflows have the same IDs (simplyprint-printer-7), and in one
	// namespace the large side's signals would reach the small side's runs.
	newSide := func(name string, events, webhookID int64, tmp *testenv.DevServer) *scaleSide {
		t.Helper()
		dbURL, st := testenv.Database(t)
		// hookflow as it ships (relay defaults, default log level, tracing
		// as hookflow serve sets it up), except that its own retention
		// schedule keeps everything: the purge this benchmark times is the
		// only one, and no schedule firing mid-run purges the history.
		cfg := testenv.Config(t, dbURL, tmp, map[string]string{"LOG_LEVEL": defaults.LogLevel, "ADMIN_TOKEN": admin,
			"EVENT_RETENTION": "0", "CALLBACK_ATTEMPT_RETENTION": "0", "SYNC_LOG_RETENTION": "0", "RATING_ACTION_RETENTION": "0"})
		cfg.Relay = defaults.Relay
		return &scaleSide{name: name, events: events, st: st, cfg: cfg,
			seed: &seeder{st: st, webhookID: webhookID, printers: scalePrinters, workers: 3, batch: 10000}}
	}
	own, err := testenv.StartTemporal("", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = own.Stop() }) // after the app's stop (cleanups run last first)
	small, large := newSide("10k", scaleSmall, runID, tmp), newSide("N", n, runID+1, own)
	sides := []*scaleSide{small, large}

	fmt.Printf("\nScale benchmark: a database with %d SimplyPrint events beside one with %d; %d calls per read and side in %d rounds (each after one warm-up call); ack load %d clients, %d rounds of %s per side\n",
		scaleSmall, n, calls, readRounds, loadWorkers, ackRounds, phase)
	fmt.Println("Like for like: both databases hold the same recent traffic, and the large one history before it; each read is to answer the same at both sizes (answers differing by more than 10% are flagged).")
	fmt.Println("Postgres runs with autovacuum off on this machine: the benchmark runs VACUUM ANALYZE on the seeded tables after seeding.")

	// Seeding, with no hookflow running: no relay hands the seeded events
	// to Temporal (their relay_outbox rows are deleted as they are marked
	// processed). The large database's history first (its ids below the
	// recent traffic's, as they would be), then the recent layer of both,
	// one right after the other, ending at the same time.
	hist := historyLayer(n, time.Now())
	fmt.Printf("\nSeeding the history of the %s database: %s\n", large.name, hist)
	if err := large.seed.seed(ctx, hist); err != nil {
		t.Fatal(err)
	}
	recent := recentLayer(time.Now())
	fmt.Printf("\nSeeding the recent traffic of both databases: %s\n", recent)
	for _, sd := range sides {
		fmt.Printf("  the %s database:\n", sd.name)
		if err := sd.seed.seed(ctx, recent); err != nil {
			t.Fatal(err)
		}
	}
	for _, sd := range sides {
		if err := vacuumAnalyze(ctx, sd.st); err != nil {
			t.Fatal(err)
		}
	}
	for _, sd := range sides {
		if explain > 0 {
			db := autoExplain(t, sd.st, explain)
			fmt.Printf("auto_explain logs statements slower than %s of connections opened from now on to %s (the %s database) into the Postgres server log\n",
				explain, db, sd.name)
		}
		a, _ := startStoppableApp(t, sd.cfg, log)
		sd.base = a.URL()
		old := smallOld
		if sd == large {
			old = largeOld
		}
		if sd.reads, err = scaleReads(ctx, sd.st, old); err != nil {
			t.Fatal(err)
		}
	}

	// drained waits until every recorded event of a side has been handed
	// over and processed (the ack load's events, processed by the printer
	// workflows). Processing that stalls is an error, but the measurements
	// go on: acks and reads do not wait for Temporal. (The dev server's
	// SQLite has been seen to wedge on a machine overloaded by other work,
	// answering "Namespace default is not found" from then on.)
	stalled := false
	drained := func(sd *scaleSide) bool {
		t.Helper()
		wait := 10 * time.Minute
		if stalled {
			wait = 30 * time.Second
		}
		deadline := time.Now().Add(wait)
		for {
			var outbox, pending int64
			if err := sd.st.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM relay_outbox),
				(SELECT count(*) FROM inbound_events WHERE source = $1 AND outcome IS NULL AND NOT processed)`,
				store.SimplyPrintSource).Scan(&outbox, &pending); err != nil {
				t.Fatal(err)
			}
			if outbox == 0 && pending == 0 {
				return true
			}
			if time.Now().After(deadline) {
				if !stalled {
					t.Errorf("processing stalled on the %s database: %d events in the relay outbox and %d not processed %s after the load; "+
						"is the Temporal dev server (%s) answering? The measurements go on", sd.name, outbox, pending, wait, sd.cfg.Temporal.Address)
				}
				stalled = true
				return false
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	lastID := func(sd *scaleSide) int64 {
		t.Helper()
		var id int64
		if err := sd.st.Pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM inbound_events`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	// stored checks that every event acknowledged since afterID was stored
	// (a shortfall is data loss and fails the test) and processed.
	var lossChecks []string
	lossFound := false
	stored := func(sd *scaleSide, what string, afterID, acked int64) {
		t.Helper()
		processing := drained(sd)
		var rows, processed int64
		if err := sd.st.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE processed) FROM inbound_events
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
	checkCounters := func(sd *scaleSide, when string) {
		t.Helper()
		bad, err := counterMismatches(ctx, sd.st)
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) > 0 {
			t.Errorf("counters of the %s database differ from full counts %s:\n  %s", sd.name, when, strings.Join(bad, "\n  "))
			return
		}
		fmt.Printf("  counters (event_counts, sync_log_counts, order_state_counts) of the %s database equal full counts %s\n", sd.name, when)
	}

	// Reads, alternating between the two databases call by call, printed
	// before anything else can go wrong.
	began := time.Now()
	timings := timeReads([]readTarget{{small.base, small.reads}, {large.base, large.reads}}, admin, calls, readRounds)
	small.timing, large.timing = timings[0], timings[1]
	fmt.Printf("\nReads (ms), the two databases alternately call by call (%s): p50 over %d calls each, p95 the median of %d rounds' p95s (a95: the p95 over all calls);\n"+
		"  ratio = p95 at %d / p95 at %d, r50 = the p50s' ratio\n",
		time.Since(began).Round(time.Second), calls, readRounds, n, scaleSmall)
	fmt.Printf("  <old> is %s ago on the N database (its history), %s ago on the 10k one (inside the %s it holds)\n",
		fmtSpan(largeOld), fmtSpan(smallOld), fmtSpan(recentSpan))
	// The answers' sizes show that the comparison is like for like: a read
	// answering more at N than at 10k (a page the small database cannot
	// fill) would cost more for that, not because the tables grew.
	fmt.Printf("  %-48s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s  %s\n", "read", "p50@10k", "p95@10k", "p50@N", "p95@N",
		"ratio", "r50", "a95@10k", "a95@N", "KB@10k", "KB@N", "flag")
	var slowReads, unequal []string
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
		if d := answerDiff(s.bytes, l.bytes); d > answerTolerance {
			flags = append(flags, fmt.Sprintf("answers differ by %.0f%%", 100*d))
			unequal = append(unequal, r.name)
		}
		for _, x := range []struct {
			at string
			t  readTiming
		}{{"10k", s}, {"N", l}} {
			if x.t.failures > 0 {
				flags = append(flags, fmt.Sprintf("%d of %d failed at %s: %s", x.t.failures, x.t.calls, x.at, x.t.status))
			}
		}
		if ratio > readGrowthTarget || l.p95 > readLatencyTarget || s.failures+l.failures > 0 {
			slowReads = append(slowReads, r.name)
		}
		r50 := float64(l.p50) / float64(max(s.p50, time.Microsecond))
		fmt.Printf("  %-48s %7s %7s %7s %7s %7.2f %7.2f %7s %7s %7.1f %7.1f  %s\n", r.name, ms(s.p50), ms(s.p95), ms(l.p50), ms(l.p95), ratio, r50,
			ms1(s.p95all), ms1(l.p95all),
			float64(s.bytes)/1024, float64(l.bytes)/1024, strings.Join(flags, "; "))
	}
	fmt.Println("  paths (on the N database; on the 10k one the same with its ids, cursors and <old>):")
	for _, r := range large.reads {
		fmt.Printf("    %-50s %s\n", r.name, r.path)
	}

	// Acks: rounds on the two databases in turn (the order swapped every
	// round), each followed by the wait for its events to be processed,
	// beside the bare Gin -> Postgres handler of TestBenchSimplyPrintAcks
	// as a gauge of the machine's speed.
	bare := []string{bareHandler(t, small.st)}
	hook := func(sd *scaleSide) []string { return []string{sd.base + "/api/v1/simpleprint/webhook/"} }
	from := map[*scaleSide]int64{small: lastID(small), large: lastID(large)}
	acked := map[*scaleSide]int64{}
	load(bare, loadWorkers, time.Second, &seq, body)
	for _, sd := range sides {
		acked[sd] += load(hook(sd), loadWorkers, time.Second, &seq, body).acks // warm-up
		drained(sd)
	}
	var bareRounds []result
	roundsOf := map[*scaleSide][]result{}
	for r := range ackRounds {
		bareRounds = append(bareRounds, load(bare, loadWorkers, phase, &seq, body))
		order := sides
		if r%2 == 1 {
			order = []*scaleSide{large, small}
		}
		for _, sd := range order {
			res := load(hook(sd), loadWorkers, phase, &seq, body)
			acked[sd] += res.acks
			roundsOf[sd] = append(roundsOf[sd], res)
			drained(sd)
		}
	}
	bareMedian := medianRate(bareRounds)
	fmt.Printf("\nAcks: %d rounds of %s per database, %d clients, in turn (median round shown)\n", ackRounds, phase, loadWorkers)
	for _, sd := range sides {
		sd.acks = medianRate(roundsOf[sd])
		for _, r := range roundsOf[sd] {
			sd.rounds = append(sd.rounds, r.rate())
		}
		fmt.Printf("  %-3s %8.0f/s  p50 %s ms  p99 %s ms  errors %d  rounds %s\n", sd.name, sd.acks.rate(), ms(sd.acks.pct(0.50)),
			ms(sd.acks.pct(0.99)), sd.acks.errors, roundRates(sd.rounds))
	}
	ackRatio := large.acks.rate() / small.acks.rate()
	fmt.Printf("  the bare handler, as a gauge of the machine: %.0f/s (rounds %s)\n", bareMedian.rate(), roundRates(rates(bareRounds)))
	fmt.Printf("  RATIO acks/s at %d / at %d events: %.2f (target >= %.1f)\n", n, scaleSmall, ackRatio, ackRatioTarget)
	for _, sd := range sides {
		stored(sd, fmt.Sprintf("ack load on the %s database", sd.name), from[sd], acked[sd])
	}
	checkCounters(small, "after the ack load")

	// Retention purge of everything older than 30 days on the large
	// database, with the ack load running through part of it.
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
	fmt.Printf("\nRetention purge (30 days) of the N database; ack p99 over %s of load without, then during, the purge\n", purgeLoad)
	for _, set := range []struct {
		batch int
		pause time.Duration
	}{
		// The shipped defaults first: the target is theirs. Then other
		// settings, for as long as the purge has rows left.
		{defaults.Retention.BatchSize, defaults.Retention.BatchPause},
		{2000, 0}, {2000, 100 * time.Millisecond}, {500, 0}, {500, 20 * time.Millisecond},
	} {
		drained(large)
		from := lastID(large)
		tr := trial{batch: set.batch, pause: set.pause}
		tr.before = load(hook(large), loadWorkers, purgeLoad, &seq, body)
		drained(large)
		done := make(chan struct{})
		var res retention.Result
		var perr error
		began := time.Now()
		go func() {
			defer close(done)
			res, perr = retention.Purge(ctx, large.st, rcfg, retention.Options{BatchSize: set.batch, Pause: set.pause, Now: now,
				Budget: purgeLead + purgeLoad + time.Second})
		}()
		time.Sleep(purgeLead)
		tr.during = load(hook(large), loadWorkers, purgeLoad, &seq, body)
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
		fmt.Printf("  batch %d, pause %s: ack p99 %s ms without, %s ms during (ratio %.2f); p50 %s / %s ms; acks/s %.0f / %.0f; purged %d rows in %s (%.0f rows/s)\n",
			set.batch, set.pause, ms(tr.before.pct(0.99)), ms(tr.during.pct(0.99)), ratio, ms(tr.before.pct(0.50)), ms(tr.during.pct(0.50)),
			tr.before.rate(), tr.during.rate(), tr.purged, tr.took.Round(time.Millisecond), float64(tr.purged)/tr.took.Seconds())
		stored(large, fmt.Sprintf("ack load around the purge (batch %d, pause %s)", set.batch, set.pause), from, tr.before.acks+tr.during.acks)
		if !res.More {
			finished = true
			break
		}
		if ratio <= purgeP99Target {
			break
		}
	}
	if !finished {
		began := time.Now()
		res, err := retention.Purge(ctx, large.st, rcfg, retention.Options{BatchSize: 2000, Now: now})
		if err != nil {
			t.Fatalf("purge: %v", err)
		}
		took := time.Since(began)
		total.Add(res.Purged)
		purgeTime += took
		fmt.Printf("  the rest without load (batch 2000, no pause): %d rows in %s (%.0f rows/s)\n",
			res.Purged.Total(), took.Round(time.Millisecond), float64(res.Purged.Total())/took.Seconds())
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
	if err := large.st.Pool.QueryRow(ctx, `SELECT count(*) FROM inbound_events WHERE source = $1 AND received_at < $2`,
		store.SimplyPrintSource, now.Add(-period.Duration())).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left > 0 {
		t.Errorf("%d events older than 30 days are left after the purge", left)
	}
	checkCounters(large, "after the purge")

	// Summary.
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	fmt.Printf("\nSUMMARY (N = %d events; 2 cores, Postgres autovacuum off; one run on a shared machine, the two databases measured alternately)\n", n)
	fmt.Printf("  reads within %.0fx and %s p95 at N: %d of %d  %s", readGrowthTarget, readLatencyTarget, len(large.reads)-len(slowReads),
		len(large.reads), verdict(len(slowReads) == 0))
	if len(slowReads) > 0 {
		fmt.Printf(" (flagged: %s)", strings.Join(slowReads, ", "))
	}
	fmt.Println()
	fmt.Printf("  reads answering the same at both sizes (within %.0f%%): %d of %d", 100*answerTolerance, len(large.reads)-len(unequal), len(large.reads))
	if len(unequal) > 0 {
		fmt.Printf(" (differing: %s)", strings.Join(unequal, ", "))
	}
	fmt.Println()
	fmt.Printf("  ack rate at N / at 10k: %.2f (%.0f / %.0f per s; target >= %.1f)  %s\n", ackRatio, large.acks.rate(), small.acks.rate(),
		ackRatioTarget, verdict(ackRatio >= ackRatioTarget))
	first := trials[0]
	firstRatio := float64(first.during.pct(0.99)) / float64(first.before.pct(0.99))
	fmt.Printf("  ack p99 during the purge / without (defaults: batch %d, pause %s): %.2f (%s / %s ms; target <= %.1f)  %s\n",
		first.batch, first.pause, firstRatio, ms(first.during.pct(0.99)), ms(first.before.pct(0.99)), purgeP99Target, verdict(firstRatio <= purgeP99Target))
	if len(trials) > 1 {
		last := trials[len(trials)-1]
		lastRatio := float64(last.during.pct(0.99)) / float64(last.before.pct(0.99))
		fmt.Printf("  ... with batch %d, pause %s: %.2f  %s\n", last.batch, last.pause, lastRatio, verdict(lastRatio <= purgeP99Target))
	}
	fmt.Printf("  purge: %d rows in %s, %.0f rows/s\n", total.Total(), purgeTime.Round(time.Second), float64(total.Total())/purgeTime.Seconds())
	fmt.Printf("  every acknowledged event stored (%d loads checked)  %s\n", len(lossChecks), verdict(!lossFound))
	if stalled {
		fmt.Println("  processing stalled (see the error above): acks were stored, not all processed")
	}
	fmt.Println()
}

// scaleReads lists the read endpoints and ops pages to time, with ids,
// cursors and times picked from what is in the database now; the reads of a
// past time range look at oldAgo before now.
func scaleReads(ctx context.Context, st *store.Store, oldAgo time.Duration) ([]read, error) {
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
	var middleID string
	var failedAt time.Time
	if err := st.Pool.QueryRow(ctx, `SELECT id::text, finished_at FROM callback_deliveries WHERE status IN ('failed', 'gone')
		ORDER BY finished_at DESC, id DESC OFFSET $1 LIMIT 1`, failed/2).Scan(&middleID, &failedAt); err != nil {
		return nil, fmt.Errorf("middle failed delivery: %w", err)
	}
	// The delivery and job read: the middle one of those that failed after
	// five attempts (a gone one has one), the same answer at both sizes.
	var jobID, deliveryID string
	if err := st.Pool.QueryRow(ctx, `SELECT job_id::text, id::text FROM callback_deliveries WHERE status = 'failed'
		ORDER BY finished_at DESC, id DESC OFFSET (SELECT count(*) / 2 FROM callback_deliveries WHERE status = 'failed') LIMIT 1`).
		Scan(&jobID, &deliveryID); err != nil {
		return nil, fmt.Errorf("middle delivery failed after five attempts: %w", err)
	}
	sp := "/api/v1/simpleprint/events"
	busy := strconv.Itoa(scaleBusyPrinter)
	old := now.Add(-oldAgo)
	yesterday := now.AddDate(0, 0, -1).Format(time.DateOnly)
	return []read{
		{"simpleprint stats", "/api/v1/simpleprint/stats"},
		{"events (newest 100)", sp},
		{"events type=job_completed", sp + "?type=job_completed"},
		{"events type=job_failed", sp + "?type=job_failed"},
		{"events printer_id=<busy>", sp + "?printer_id=" + busy},
		{"events outcome=failed", sp + "?outcome=failed"},
		{"events outcome=stale", sp + "?outcome=stale"},
		{"events outcome=pending", sp + "?outcome=pending"},
		{"events since 1h ago", sp + "?since=" + rfc(now.Add(-time.Hour))},
		{"events since/until: 1h at <old>", sp + "?since=" + rfc(old) + "&until=" + rfc(old.Add(time.Hour))},
		{"events since/until: 1 day from <old>", sp + "?since=" + rfc(old) + "&until=" + rfc(old.AddDate(0, 0, 1))},
		{"events type=job_failed&printer_id=<busy>", sp + "?type=job_failed&printer_id=" + busy},
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
		{"webhook-failures cursor=<middle>", "/api/v1/webhook-failures?cursor=" + cursor(failedAt, middleID)},
		{"webhook-failures since/until: 1 day from <old>", "/api/v1/webhook-failures?since=" + rfc(old) + "&until=" + rfc(old.AddDate(0, 0, 1))},
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

// answerDiff is how much two answers' sizes differ, relative to the larger.
func answerDiff(a, b int) float64 {
	if a == b {
		return 0
	}
	return float64(max(a, b)-min(a, b)) / float64(max(a, b))
}

func fmtSpan(d time.Duration) string {
	if d < time.Hour {
		return d.Round(time.Minute).String()
	}
	if d >= 72*time.Hour {
		return fmt.Sprintf("%.0f days", d.Hours()/24)
	}
	return fmt.Sprintf("%.0f hours", d.Hours())
}

func ms1(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func roundRates(rates []float64) string {
	s := make([]string, len(rates))
	for i, r := range rates {
		s[i] = fmt.Sprintf("%.0f", r)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func rates(rounds []result) []float64 {
	out := make([]float64, len(rounds))
	for i, r := range rounds {
		out[i] = r.rate()
	}
	return out
}
