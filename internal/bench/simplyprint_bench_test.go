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

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/telemetry"
	"github.com/hookflow/hookflow/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

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

// load posts bodies from `workers` keep-alive clients for d; body(i) makes
// the i-th request's payload (unique, so nothing is deduplicated).
func load(url string, workers int, d time.Duration, seq *atomic.Int64, body func(i int64) []byte) result {
	var mu sync.Mutex
	res := result{name: url}
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			var lat []time.Duration
			var acks, errs int64
			for time.Now().Before(stop) {
				i := seq.Add(1)
				t0 := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader(body(i)))
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
	r.POST("/hook", func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			c.AbortWithStatus(400)
			return
		}
		var id int64
		if err := st.Pool.QueryRow(c.Request.Context(), `INSERT INTO bare_events (payload) VALUES ($1) RETURNING id`, string(body)).Scan(&id); err != nil {
			c.AbortWithStatus(500)
			return
		}
		c.JSON(200, gin.H{"status": "received", "id": id})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/hook"
}

func TestBenchSimplyPrintAcks(t *testing.T) {
	if os.Getenv("HOOKFLOW_BENCH") != "1" {
		t.Skip("load benchmark: run with `make bench`")
	}
	const (
		workers  = 32
		printers = 50
		rounds   = 3
	)
	phase := 5 * time.Second
	if v, err := time.ParseDuration(os.Getenv("BENCH_PHASE")); err == nil {
		phase = v
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
	bare := bareHandler(t, st)
	hook := a.URL() + "/api/v1/simpleprint/webhook/"

	var seq atomic.Int64
	body := func(i int64) []byte {
		p := simplyprinttest.Printer{ID: 1 + i%printers, Name: fmt.Sprintf("printer %d", 1+i%printers)}
		return simplyprinttest.Payload("job.progress", 42, 1705320000+i, simplyprinttest.JobData(simplyprinttest.Job{
			ID: 1000 + i%printers, Printer: p, State: "printing", File: "part.gcode", Percentage: int(i % 100)}))
	}
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

	metrics := testenv.Metrics(t, a.URL())
	relayed := testenv.MetricValue(t, metrics, `hookflow_relay_events_total{outcome="dispatched"}`)
	signals := testenv.MetricValue(t, metrics, "hookflow_relay_signals_total")
	median := func(rs []result) result {
		s := slices.Clone(rs)
		sort.Slice(s, func(i, j int) bool { return s[i].rate() < s[j].rate() })
		return s[len(s)/2]
	}
	b, h := median(bareRes), median(hookRes)
	fmt.Printf("\nSimplyPrint webhook acks, %d clients, %d printers, %d rounds of %s each (median round shown)\n", workers, printers, rounds, phase)
	fmt.Printf("  %-28s %9s %9s %9s %7s\n", "", "acks/s", "p50", "p99", "errors")
	for _, x := range []struct {
		n string
		r result
	}{{"bare Gin -> Postgres insert", b}, {"hookflow (record + relay)", h}} {
		fmt.Printf("  %-28s %9.0f %9s %9s %7d\n", x.n, x.r.rate(), x.r.pct(0.50).Round(10*time.Microsecond), x.r.pct(0.99).Round(10*time.Microsecond), x.r.errors)
	}
	for i := range bareRes {
		fmt.Printf("  round %d: bare %.0f/s, hookflow %.0f/s, ratio %.2f\n", i+1, bareRes[i].rate(), hookRes[i].rate(), hookRes[i].rate()/bareRes[i].rate())
	}
	fmt.Printf("  RATIO hookflow/bare acks/s: %.2f (target >= 0.50)\n", h.rate()/b.rate())
	fmt.Printf("  processed: %d of %d acknowledged events, exactly once; all processed %.1fs after the last ack\n",
		processed, acked, drained.Sub(lastAck).Seconds())
	fmt.Printf("  processing throughput over the run: %.0f events/s\n", float64(processed)/drained.Sub(firstAck).Seconds())
	fmt.Printf("  relay: %.0f events in %.0f signals, %.1f events per signal\n\n", relayed, signals, relayed/max(signals, 1))
}
