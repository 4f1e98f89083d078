package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/callback/callbacktest"
	"github.com/hookflow/hookflow/internal/integrations/generator/generatortest"
	"github.com/hookflow/hookflow/internal/testenv"
)

// historyWarnEvents is Temporal's history-length warning (the hard limit is
// 51,200 events): no run of a large job may reach it.
const historyWarnEvents = 10240

// bigJobResult is what the 10,000-lot phase saw.
type bigJobResult struct {
	lots      int
	span      time.Duration
	runs      []int // events of each run, first run first
	progress  []int // distinct finished (completed + failed) counts the status endpoint showed, in order
	completed int
	failed    int
}

func (r bigJobResult) maxEvents() int {
	m := 0
	for _, n := range r.runs {
		m = max(m, n)
	}
	return m
}

// intermediate counts the distinct finished counts (completed + failed)
// strictly between 0 and the number of lots: proof the status endpoint
// showed live progress.
func (r bigJobResult) intermediate() int {
	n := 0
	for _, c := range r.progress {
		if c > 0 && c < r.lots {
			n++
		}
	}
	return n
}

// bigJob submits one job of n lots, polls GET /api/v1/jobs/{id}/status
// while it runs, waits for its callback and reads the history length of
// every run of its workflow (following continue-as-new back from the last
// run).
func (b *jobsBench) bigJob(c client.Client, apiURL string, n int, timeout time.Duration) bigJobResult {
	res := bigJobResult{lots: n}
	ids := b.submitMany(1, n)
	if ids[0] == "" {
		b.t.Fatal("large job not accepted")
	}
	id := ids[0]
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		last := -1
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			resp, err := b.http.Get(apiURL + "/api/v1/jobs/" + id + "/status")
			if err != nil {
				continue
			}
			var st struct {
				CompletedLots int `json:"completed_lots"`
				FailedLots    int `json:"failed_lots"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				continue
			}
			mu.Lock()
			if done := st.CompletedLots + st.FailedLots; done != last {
				res.progress = append(res.progress, done)
				last = done
			}
			res.completed, res.failed = st.CompletedLots, st.FailedLots
			mu.Unlock()
		}
	}()
	ph := b.run(ids, timeout)
	close(stop)
	wg.Wait()
	res.span = ph.span
	_ = b.st.Pool.QueryRow(context.Background(), `SELECT completed_lots, failed_lots FROM jobs WHERE id = $1`, id).Scan(&res.completed, &res.failed)

	// Every run of the job, newest first, then reversed.
	ctx := context.Background()
	runID := ""
	for range 1000 {
		events, prev := runHistory(ctx, c, "job-"+id, runID)
		res.runs = append(res.runs, events)
		if prev == "" {
			break
		}
		runID = prev
	}
	for i, j := 0, len(res.runs)-1; i < j; i, j = i+1, j-1 {
		res.runs[i], res.runs[j] = res.runs[j], res.runs[i]
	}
	if m := res.maxEvents(); m >= historyWarnEvents {
		b.t.Errorf("large job: a run reached %d history events (warning at %d)", m, historyWarnEvents)
	}
	if res.completed+res.failed != n {
		b.t.Errorf("large job: %d completed + %d failed of %d lots", res.completed, res.failed, n)
	}
	if k := res.intermediate(); k < 2 {
		b.t.Errorf("large job: the status endpoint showed %d intermediate finished counts (%v), want at least 2", k, res.progress)
	}
	return res
}

// runHistory counts the events of one run and returns the run it
// continued from, if any.
func runHistory(ctx context.Context, c client.Client, workflowID, runID string) (events int, prev string) {
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			break
		}
		if events == 0 {
			prev = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		}
		events++
	}
	return events, prev
}

func (r bigJobResult) String() string {
	var runs []string
	for _, n := range r.runs {
		runs = append(runs, fmt.Sprint(n))
	}
	return fmt.Sprintf("%d runs, events per run %s (max %d, warning at %d)", len(r.runs), strings.Join(runs, " "), r.maxEvents(), historyWarnEvents)
}

// TestBenchJobsGeneratorDown is the worst case of docs/jobs.md ("Large
// jobs") measured: the generator answers 500 to everything, so every lot's
// first attempt (in its batch) is handed back, waits for its retry, fails
// it and is recorded failed. GENERATOR_RETRY_BASE is 1 ms and
// GENERATOR_MAX_ATTEMPTS 2 so it takes seconds. A job of
// BENCH_JOBS_DOWN (600: two runs) lots must finish with every lot failed, and every
// run's history must stay under 10,240 events; it prints the events per
// lot.
func TestBenchJobsGeneratorDown(t *testing.T) {
	benchOnly(t, "load benchmark: run with `make bench-jobs`")
	skipIfOnlyBig(t)
	n := envInt("BENCH_JOBS_DOWN", 600)
	gen := generatortest.New(benchKey, benchModel)
	t.Cleanup(gen.Close)
	gen.FailNext(4*n, http.StatusInternalServerError)
	rcv := callbacktest.New(benchSecret)
	t.Cleanup(rcv.Close)
	dbURL, st := testenv.Database(t)
	tmp := testenv.Temporal(t)
	cfg := testenv.Config(t, dbURL, tmp, jobsVars(gen.URL(), map[string]string{
		"JOBS_MAX_LOTS":          "0",
		"BODY_LIMIT_BYTES":       strconv.Itoa(64 << 20),
		"GENERATOR_RETRY_BASE":   "1ms",
		"GENERATOR_MAX_ATTEMPTS": "2",
	}))
	a := testenv.StartAppWithLogger(t, cfg, app.Roles{API: true, Worker: true}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	b := &jobsBench{t: t, url: a.URL() + "/api/v1/generate-descriptions", hook: rcv.URL(), rcv: rcv,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, submitted: map[string]time.Time{}, st: st}
	r := b.bigJob(a.Temporal, a.URL(), n, 30*time.Minute)
	if r.failed != n {
		t.Errorf("%d of %d lots failed, want all (the generator answers 500)", r.failed, n)
	}
	total := 0
	for _, e := range r.runs {
		total += e
	}
	fmt.Printf("\nGenerator down (every lot retried once and failed), one job of %d lots\n", n)
	b.printBig(r)
	fmt.Printf("         %.2f history events a lot; the largest run: %d events\n\n", float64(total)/float64(n), r.maxEvents())
	if b.check() > 0 {
		t.Fail()
	}
}
