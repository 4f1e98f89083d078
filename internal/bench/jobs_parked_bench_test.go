package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/generator/generatortest"
	"github.com/hookflow/hookflow/internal/testenv"
)

// vmRSS is this process's resident set size (VmRSS of /proc/self/status),
// in bytes; the worker runs in this process.
func vmRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

type memSample struct {
	rss, heap  int64
	goroutines int
}

func sampleMem() memSample {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSample{rss: vmRSS(), heap: int64(m.HeapInuse), goroutines: runtime.NumGoroutine()}
}

func (m memSample) String() string {
	return fmt.Sprintf("RSS %.1f MiB, Go heap in use %.1f MiB, %d goroutines", float64(m.rss)/(1<<20), float64(m.heap)/(1<<20), m.goroutines)
}

// TestBenchJobsParkedCallbacks: BENCH_JOBS_PARKED (10,000) one-lot jobs
// whose receiver answers 503 to everything, so every callback, after its
// first attempt, waits on its retry timer (CALLBACK_RETRY_BASE 1h: they
// stay parked). It prints the in-process worker's RSS, Go heap and
// goroutines before the jobs, once a fifth of them are parked and once all
// are. The timers live in Temporal; what the worker keeps is its sticky
// cache of workflow executions (WORKER_WORKFLOW_CACHE_SIZE, its default
// unless BENCH_JOBS_CACHE says otherwise): a parked callback costs memory
// only while it is cached, so from a cache's worth of parked callbacks on,
// more of them add nothing. It fails when a callback never gets its first
// attempt.
func TestBenchJobsParkedCallbacks(t *testing.T) {
	benchOnly(t, "load benchmark: run with `make bench-jobs`")
	skipIfOnlyBig(t)
	n := envInt("BENCH_JOBS_PARKED", 10000)
	defaults, err := config.LoadFrom(nil)
	if err != nil {
		t.Fatal(err)
	}
	cacheSize := envInt("BENCH_JOBS_CACHE", defaults.Temporal.WorkflowCacheSize) // WORKER_WORKFLOW_CACHE_SIZE
	gen := generatortest.New(benchKey, benchModel)
	t.Cleanup(gen.Close)
	var hits atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(rcv.Close)
	dbURL, st := testenv.Database(t)
	tmp := testenv.Temporal(t)
	cfg := testenv.Config(t, dbURL, tmp, jobsVars(gen.URL(), map[string]string{
		"CALLBACK_RETRY_BASE":        "1h",
		"WORKER_WORKFLOW_CACHE_SIZE": strconv.Itoa(cacheSize),
	}))
	a := testenv.StartAppWithLogger(t, cfg, app.Roles{API: true, Worker: true}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	b := &jobsBench{t: t, url: a.URL() + "/api/v1/generate-descriptions", hook: rcv.URL + "/hook",
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, submitted: map[string]time.Time{}, st: st}

	parked := func() (int, error) {
		var k int
		err := st.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM callback_deliveries WHERE status = 'pending' AND attempts >= 1 AND next_attempt_at > now()`).Scan(&k)
		return k, err
	}
	// Warm up: a few jobs parked, so the worker's pools and caches exist.
	b.submitMany(10, 1)
	testenv.Eventually(t, 5*time.Minute, func() error {
		if k, err := parked(); err != nil || k < 10 {
			return fmt.Errorf("%d of 10 callbacks parked (%v)", k, err)
		}
		return nil
	})
	before := sampleMem()
	t0 := time.Now()
	park := func(k int) {
		b.submitMany(k, 1)
		want := len(b.submitted)
		testenv.Eventually(t, 60*time.Minute, func() error {
			if k, err := parked(); err != nil || k < want {
				return fmt.Errorf("%d of %d callbacks parked on their retry timer (%v)", k, want, err)
			}
			return nil
		})
	}
	first := max(n/5, 1)
	park(first)
	some := sampleMem()
	park(n - first)
	allParked := time.Since(t0)
	after := sampleMem()
	time.Sleep(30 * time.Second)
	later := sampleMem()
	var lost int
	if err := st.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM callback_attempts WHERE error LIKE 'the attempt did not complete%'`).Scan(&lost); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\n%d callbacks parked on their retry timers (receiver answering 503, CALLBACK_RETRY_BASE 1h, WORKER_WORKFLOW_CACHE_SIZE %d)\n", n, cacheSize)
	fmt.Printf("  all parked after %s (%.1f jobs/s), %d attempts received, %d first attempts that did not complete\n",
		allParked.Round(time.Millisecond), float64(n)/allParked.Seconds(), hits.Load(), lost)
	fmt.Printf("  worker process before:   %s\n", before)
	fmt.Printf("  %6d parked:            %s\n", first+10, some)
	fmt.Printf("  %6d parked:            %s\n", n+10, after)
	growth := float64(after.rss-some.rss) / (1 << 20)
	fmt.Printf("  RSS from %d to %d parked: %+.1f MiB (%.1f KB per callback parked on top)\n", first+10, n+10, growth, growth*1024/float64(n-first))
	fmt.Printf("  30 s later:            %s\n\n", later)
}
