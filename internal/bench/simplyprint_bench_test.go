// Package bench holds load benchmarks run by `make bench`. They report
// ratios against a baseline measured in the same run and never assert on
// time; they are skipped unless HOOKFLOW_BENCH=1.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/cluster"
	"github.com/hookflow/hookflow/internal/cluster/clustertest"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/telemetry"
	"github.com/hookflow/hookflow/internal/testenv"
)

func TestMain(m *testing.M) {
	// The ceiling benchmark runs its bare handlers in a process of their
	// own (this binary again), so that their CPU can be read apart.
	if os.Getenv(baselineDBEnv) != "" {
		os.Exit(serveBaselines())
	}
	testenv.Main(m)
}

type result struct {
	name     string
	acks     int64
	errors   int64
	duration time.Duration
	lat      []time.Duration
}

func (r result) rate() float64 { return float64(r.acks) / r.duration.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
}

// load posts bodies from `workers` keep-alive clients for d, client w to
// urls[w % len(urls)] (API replicas behind a balancer); body(i) makes the
// i-th request's payload (unique, so nothing is deduplicated).
func load(urls []string, workers int, d time.Duration, seq *atomic.Int64, body func(i int64) []byte) result {
	return loadWith(urls, workers, d, seq, body, nil)
}

// loadWith is load with header added to every request (a webhook secret).
func loadWith(urls []string, workers int, d time.Duration, seq *atomic.Int64, body func(i int64) []byte, header http.Header) result {
	var mu sync.Mutex
	res := result{name: urls[0]}
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		url := urls[w%len(urls)]
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			var lat []time.Duration
			var acks, errs int64
			for time.Now().Before(stop) {
				i := seq.Add(1)
				t0 := time.Now()
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body(i)))
				if err != nil {
					panic(err) // a bad URL: a bug in the bench
				}
				req.Header.Set("Content-Type", "application/json")
				for k, v := range header {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
				acks++
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.acks += acks
			res.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.duration = time.Since(start)
	sort.Slice(res.lat, func(i, j int) bool { return res.lat[i] < res.lat[j] })
	return res
}

// bareHandler is the baseline: Gin, read the body, insert it into Postgres,
// answer 200. No auth, parsing, dedup or hand-over.
func bareHandler(t *testing.T, st *store.Store) string {
	if _, err := st.Pool.Exec(context.Background(), `CREATE TABLE bare_events (id bigserial PRIMARY KEY, payload json NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/hook", singleInsert(st.Pool))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/hook"
}

// singleInsert answers each request after its own INSERT and commit into
// bare_events.
func singleInsert(pool *pgxpool.Pool) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			c.AbortWithStatus(400)
			return
		}
		var id int64
		if err := pool.QueryRow(c.Request.Context(), `INSERT INTO bare_events (payload) VALUES ($1) RETURNING id`, string(body)).Scan(&id); err != nil {
			c.AbortWithStatus(500)
			return
		}
		c.JSON(200, gin.H{"status": "received", "id": id})
	}
}

// ackRun is what one target's run measured.
type ackRun struct {
	target           string
	bare, hook       result // median rounds
	rounds           [][2]float64
	acked, processed int64
	drain            time.Duration // from the last ack to the last event processed
	throughput       float64       // events processed per second over the run
	relayed, signals float64
}

func (r ackRun) ratio() float64 { return r.hook.rate() / r.bare.rate() }

// benchTargets reads BENCH_TARGET: dev (the Temporal dev server and one
// hookflow process, the default), cluster (Temporal server on Postgres, two
// API replicas and two workers as processes) or both.
func benchTargets(t *testing.T) []string {
	switch v := os.Getenv("BENCH_TARGET"); v {
	case "", "dev":
		return []string{"dev"}
	case "cluster":
		return []string{"cluster"}
	case "both":
		return []string{"dev", "cluster"}
	default:
		t.Fatalf("BENCH_TARGET=%q: use dev, cluster or both", v)
		return nil
	}
}

func TestBenchSimplyPrintAcks(t *testing.T) {
	benchOnly(t, "load benchmark: run with `make bench`")
	var runs []ackRun
	for _, target := range benchTargets(t) {
		t.Run(target, func(t *testing.T) {
			urls, st, metricsURLs := startTarget(t, target)
			runs = append(runs, measureAcks(t, target, urls, st, metricsURLs))
		})
	}
	if len(runs) > 1 {
		fmt.Printf("\nSide by side (median rounds)\n  %-10s %10s %10s %7s %9s %9s %12s %9s\n", "target", "bare/s", "hookflow/s", "ratio", "p50", "p99", "processed/s", "ev/signal")
		for _, r := range runs {
			fmt.Printf("  %-10s %10.0f %10.0f %7.2f %9s %9s %12.0f %9.1f\n", r.target, r.bare.rate(), r.hook.rate(), r.ratio(),
				r.hook.pct(0.50).Round(10*time.Microsecond), r.hook.pct(0.99).Round(10*time.Microsecond), r.throughput, r.relayed/max(r.signals, 1))
		}
		fmt.Println()
	}
}

// startTarget brings up hookflow as it ships on the target and returns the
// webhook URLs to load, a store on its database and the URLs of its API
// replicas' /metrics.
func startTarget(t *testing.T, target string) (urls []string, st *store.Store, metricsURLs []string) {
	if target == "cluster" {
		// The processes run on the shipped defaults: relay settings, info
		// logs, tracing as `hookflow api` sets it up.
		c := clustertest.Start(t, cluster.Options{})
		var err error
		if st, err = store.Open(context.Background(), c.DatabaseURL(), 20); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		for _, api := range c.APIURLs() {
			urls = append(urls, api+"/api/v1/simpleprint/webhook/")
		}
		return urls, st, c.APIURLs()
	}
	dbURL, st := testenv.Database(t)
	tmp := testenv.Temporal(t)
	// hookflow as it ships: default relay settings (not the tests' fast
	// polling), LOG_LEVEL's default (a JSON line per webhook, written to
	// io.Discard here) and tracing set up as hookflow serve does it (spans
	// recorded; nothing exported without OTEL_EXPORTER_OTLP_ENDPOINT).
	defaults, err := config.LoadFrom(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testenv.Config(t, dbURL, tmp, map[string]string{"LOG_LEVEL": defaults.LogLevel})
	cfg.Relay = defaults.Relay
	shutdown, err := telemetry.Setup(context.Background(), cfg.Telemetry, "bench")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: cfg.SlogLevel()}))
	a := testenv.StartAppWithLogger(t, cfg, app.Roles{API: true, Worker: true}, log)
	return []string{a.URL() + "/api/v1/simpleprint/webhook/"}, st, []string{a.URL()}
}

// printerEvent is the i-th event of the load: a job's progress on one of
// the printers, with a timestamp of its own (so never a duplicate).
func printerEvent(printers int64) func(i int64) []byte {
	return printerEventFrom(printers, 42, 1705320000)
}

// printerEventFrom is printerEvent with the webhook id and the first
// timestamp given (a run that must never repeat an earlier run's bodies
// picks them at random and from the clock).
func printerEventFrom(printers, webhookID, ts0 int64) func(i int64) []byte {
	return func(i int64) []byte {
		p := simplyprinttest.Printer{ID: 1 + i%printers, Name: fmt.Sprintf("printer %d", 1+i%printers)}
		return simplyprinttest.Payload("job.progress", webhookID, ts0+i, simplyprinttest.JobData(simplyprinttest.Job{
			ID: 1000 + i%printers, Printer: p, State: "printing", File: "part.gcode", Percentage: int(i % 100)}))
	}
}

func measureAcks(t *testing.T, target string, hook []string, st *store.Store, metricsURLs []string) ackRun {
	const (
		workers  = 32
		printers = 50
		rounds   = 3
	)
	phase := 5 * time.Second
	if v, err := time.ParseDuration(os.Getenv("BENCH_PHASE")); err == nil {
		phase = v
	}
	bare := []string{bareHandler(t, st)}
	var seq atomic.Int64
	body := printerEvent(printers)
	// Warm both paths (connections, JIT-free but caches and pools).
	load(bare, workers, time.Second, &seq, body)
	warm := load(hook, workers, time.Second, &seq, body)
	firstAck := time.Now()

	var bareRes, hookRes []result
	for r := 0; r < rounds; r++ {
		bareRes = append(bareRes, load(bare, workers, phase, &seq, body))
		hookRes = append(hookRes, load(hook, workers, phase, &seq, body))
	}
	lastAck := time.Now()
	acked := warm.acks
	for _, r := range hookRes {
		acked += r.acks
	}
	// Every acknowledged event must get processed, exactly once.
	var processed int64
	testenv.Eventually(t, 5*time.Minute, func() error {
		if err := st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM inbound_events WHERE processed`).Scan(&processed); err != nil {
			return err
		}
		if processed < acked {
			return fmt.Errorf("%d of %d acknowledged events processed", processed, acked)
		}
		return nil
	})
	drained := time.Now()
	var total, dupes int64
	_ = st.Pool.QueryRow(context.Background(), `SELECT count(*), count(*) - count(DISTINCT dedup_key) FROM inbound_events`).Scan(&total, &dupes)
	if total != acked || processed != acked || dupes != 0 {
		t.Fatalf("acknowledged %d, recorded %d, processed %d, duplicate keys %d", acked, total, processed, dupes)
	}

	run := ackRun{target: target, acked: acked, processed: processed, drain: drained.Sub(lastAck),
		throughput: float64(processed) / drained.Sub(firstAck).Seconds()}
	for _, u := range metricsURLs {
		metrics := testenv.Metrics(t, u)
		run.relayed += testenv.MetricValue(t, metrics, `hookflow_relay_events_total{outcome="dispatched"}`)
		run.signals += testenv.MetricValue(t, metrics, "hookflow_relay_signals_total")
	}
	median := func(rs []result) result {
		s := slices.Clone(rs)
		sort.Slice(s, func(i, j int) bool { return s[i].rate() < s[j].rate() })
		return s[len(s)/2]
	}
	run.bare, run.hook = median(bareRes), median(hookRes)
	for i := range bareRes {
		run.rounds = append(run.rounds, [2]float64{bareRes[i].rate(), hookRes[i].rate()})
	}
	b, h := run.bare, run.hook
	fmt.Printf("\nSimplyPrint webhook acks on %s, %d clients over %d API replica(s), %d printers, %d rounds of %s each (median round shown)\n",
		target, workers, len(hook), printers, rounds, phase)
	fmt.Printf("  %-28s %9s %9s %9s %7s\n", "", "acks/s", "p50", "p99", "errors")
	for _, x := range []struct {
		n string
		r result
	}{{"bare Gin -> Postgres insert", b}, {"hookflow (record + relay)", h}} {
		fmt.Printf("  %-28s %9.0f %9s %9s %7d\n", x.n, x.r.rate(), x.r.pct(0.50).Round(10*time.Microsecond), x.r.pct(0.99).Round(10*time.Microsecond), x.r.errors)
	}
	for i, r := range run.rounds {
		fmt.Printf("  round %d: bare %.0f/s, hookflow %.0f/s, ratio %.2f\n", i+1, r[0], r[1], r[1]/r[0])
	}
	fmt.Printf("  RATIO hookflow/bare acks/s: %.2f (target >= 0.50)\n", run.ratio())
	fmt.Printf("  processed: %d of %d acknowledged events, exactly once; all processed %.1fs after the last ack\n",
		processed, acked, run.drain.Seconds())
	fmt.Printf("  processing throughput over the run: %.0f events/s\n", run.throughput)
	fmt.Printf("  relay: %.0f events in %.0f signals, %.1f events per signal\n\n", run.relayed, run.signals, run.relayed/max(run.signals, 1))
	return run
}
