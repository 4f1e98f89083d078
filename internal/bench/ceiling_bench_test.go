package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/internal/cluster"
	"github.com/hookflow/hookflow/internal/cluster/clustertest"
	"github.com/hookflow/hookflow/internal/devenv"
	"github.com/hookflow/hookflow/internal/testenv"
)

// TestBenchCeiling measures hookflow against the ceiling of a durable ack
// (issue 17), in one run on one machine, each in BENCH_ROUNDS interleaved
// rounds of BENCH_PHASE:
//
//   - three bare Gin handlers on the same Postgres, in a process of their
//     own: one INSERT and commit per request, group commit (one COPY and
//     one commit per batch of concurrent requests, each answered after its
//     commit) and no database;
//   - hookflow ack-only: `hookflow api` with its relay holding nothing (the
//     bench holds every relay shard), so only the ack path runs;
//   - hookflow end to end: `hookflow api` and `hookflow worker` as separate
//     processes with a Temporal dev server (as `make run` has them, but
//     split so that each one's CPU can be read).
//
// Every request is a new event (a random webhook id and the clock make the
// bodies of a run unlike any other run's); every acked event must be
// stored, and processed exactly once. CPU per event comes from /proc of
// each process (cpu_test.go). It prints the figures, the ratios to group
// commit and whether issue 17's targets are met; it fails only on lost,
// duplicated or unprocessed events and on failed requests, never on time.
func TestBenchCeiling(t *testing.T) {
	benchOnly(t, "load benchmark: run with `make bench` or `make bench-ceiling`")
	const (
		workers  = 32
		printers = 50
		shards   = 8 // RELAY_SHARDS' default
	)
	phase := 5 * time.Second
	if v, err := time.ParseDuration(os.Getenv("BENCH_PHASE")); err == nil && v > 0 {
		phase = v
	}
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	ctx := context.Background()
	tmp := t.TempDir()
	logDir := filepath.Join(tmp, "logs")
	t.Cleanup(func() {
		if t.Failed() {
			// The temp dir goes with the test: copy what explains a failure.
			keep, err := os.MkdirTemp("", "hookflow-bench-ceiling-")
			if err == nil && os.CopyFS(keep, os.DirFS(logDir)) == nil {
				t.Logf("process logs kept in %s", keep)
			}
		}
	})

	hookDB, st := testenv.Database(t)
	baseDB := testenv.EmptyDatabase(t)
	pipeDB, _ := testenv.Database(t) // the bare pipeline's: hookflow's schema
	admin, err := pgx.Connect(ctx, testenv.AdminDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	// probe is the bench's own connection to hookflow's database (its
	// counts); its backend is left out of hookflow's Postgres CPU.
	probe, err := pgx.Connect(ctx, hookDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { probe.Close(context.Background()) })
	var probePID int32
	if err := probe.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&probePID); err != nil {
		t.Fatal(err)
	}

	ports := clustertest.FreePorts(t, 3)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	baseAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	baseline := &devenv.Process{Name: "baselines", Path: self, LogPath: filepath.Join(logDir, "baselines.log"),
		Env:   append(os.Environ(), baselineDBEnv+"="+baseDB, baselineAddrEnv+"="+baseAddr, baselineHookDBEnv+"="+pipeDB),
		Ready: func(ctx context.Context) error { return cluster.HTTPOK(ctx, "http://"+baseAddr+"/healthz") }}
	startProc(t, baseline)

	// The Temporal dev server as `make run` starts it (a database file;
	// BENCH_TEMPORAL_DB=memory: in memory, as the tests' shared one), its
	// pid found among our children by its port.
	devDB := filepath.Join(tmp, "temporal.db")
	switch v := os.Getenv("BENCH_TEMPORAL_DB"); v {
	case "", "file":
	case "memory":
		devDB = ""
	default:
		t.Fatalf("BENCH_TEMPORAL_DB=%q: use file (the default, as make run) or memory", v)
	}
	dev, err := testenv.StartTemporal("", devDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Stop() })
	_, devPort, _ := net.SplitHostPort(dev.HostPort)
	devPID := childPID(t, "start-dev", devPort)

	bin := clustertest.Hookflow(t)
	apiAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
	workerMetrics := "127.0.0.1:" + strconv.Itoa(ports[2])
	// hookflow as it ships (default relay settings, LOG_LEVEL info into a
	// log file, tracing in-process), configured only through the
	// environment as `hookflow api` and `hookflow worker` are.
	env := append(os.Environ(),
		"DATABASE_URL="+hookDB,
		"TEMPORAL_ADDRESS="+dev.HostPort,
		"TEMPORAL_NAMESPACE=default",
		"TEMPORAL_TASK_QUEUE=bench-ceiling",
		"LOG_LEVEL=info",
		// The ack path checks the webhook secret, as in production.
		"SIMPLYPRINT_WEBHOOK_SECRET="+spSecret,
	)
	prof := newProfiler(t, "api", "worker") // BENCH_PROFILE_DIR
	api := &devenv.Process{Name: "hookflow api", Path: bin, Args: []string{"api"}, LogPath: filepath.Join(logDir, "api.log"),
		Env:   append(append(slices.Clone(env), "HTTP_ADDR="+apiAddr), prof.env("api")...),
		Ready: func(ctx context.Context) error { return cluster.HTTPOK(ctx, "http://"+apiAddr+"/readyz") }}
	worker := &devenv.Process{Name: "hookflow worker", Path: bin, Args: []string{"worker"}, LogPath: filepath.Join(logDir, "worker.log"),
		Env:   append(append(slices.Clone(env), "METRICS_ADDR="+workerMetrics), prof.env("worker")...),
		Ready: func(ctx context.Context) error { return cluster.HTTPOK(ctx, "http://"+workerMetrics+"/metrics") }}
	startProc(t, worker)

	// What CPU is read for, in every window.
	dbPIDs := func(db string, except ...int32) func() []int {
		name := db[strings.LastIndexByte(db, '/')+1:]
		if i := strings.IndexByte(name, '?'); i >= 0 {
			name = name[:i]
		}
		return func() []int {
			// (0 keeps the array non-empty: ALL of NULL would match nothing.)
			rows, err := admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> ALL($2)`, name, append([]int32{0}, except...))
			if err != nil {
				t.Fatal(err)
			}
			pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
			if err != nil {
				t.Fatal(err)
			}
			out := make([]int, len(pids))
			for i, p := range pids {
				out[i] = int(p)
			}
			return out
		}
	}
	pgShared := func() []int {
		rows, err := admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname IS NULL AND backend_type <> 'client backend'`)
		if err != nil {
			t.Fatal(err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, p := range pids {
			out = append(out, int(p))
		}
		if len(out) > 0 { // the postmaster: their parent
			if pp := parentPID(out[0]); pp > 1 {
				out = append(out, pp)
			}
		}
		return out
	}
	one := func(pid func() int) func() []int { return func() []int { return []int{pid()} } }
	parts := []cpuPart{
		{"baseline handler process", one(baseline.PID)},
		{"baseline Postgres backends", dbPIDs(baseDB)},
		{"bare pipeline Postgres backends", dbPIDs(pipeDB)},
		{"hookflow api", one(api.PID)},
		{"hookflow worker", one(worker.PID)},
		{"Temporal dev server", one(func() int { return devPID })},
		{"hookflow Postgres backends", dbPIDs(hookDB, probePID)},
		{"Postgres shared processes", pgShared},
		{"load generator (bench)", one(os.Getpid)},
	}

	var seq atomic.Int64
	// Never a body of an earlier run: a random webhook id, timestamps from
	// now on.
	body := printerEventFrom(printers, 1+rand.Int64N(1<<40), time.Now().Unix())
	hookURL := []string{"http://" + apiAddr + "/api/v1/simpleprint/webhook/"}
	counts := func() (stored, processed int64) {
		if err := probe.QueryRow(ctx, `SELECT coalesce(sum(n), 0), coalesce(sum(n) FILTER (WHERE processed), 0)
			FROM event_counts WHERE source = 'simplyprint'`).Scan(&stored, &processed); err != nil {
			t.Fatal(err)
		}
		return stored, processed
	}
	var acked int64 // by hookflow, warm-ups included
	waitProcessed := func() time.Time {
		deadline := time.Now().Add(5 * time.Minute)
		for {
			stored, processed := counts()
			if processed >= acked {
				if stored != acked {
					t.Fatalf("hookflow acked %d events, stored %d", acked, stored)
				}
				return time.Now()
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d acked events processed after 5 minutes", processed, acked)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// holdRelay (re)starts the API with every relay shard held by the
	// bench: the relay then hands nothing over (its rounds stop at once)
	// until release.
	var release func()
	holdRelay := func() {
		api.Stop(20 * time.Second)
		if release, err = st.HoldRelayShards(ctx, shards); err != nil {
			t.Fatal(err)
		}
		startProc(t, api)
	}

	type scenario struct {
		name    string
		urls    []string
		res     []result
		cpu     cpuWindow
		events  int64
		drains  []time.Duration
		procRts []float64 // e2e: events processed per second, load start to drained
	}
	single := &scenario{name: "single insert", urls: []string{"http://" + baseAddr + pathSingle}}
	group := &scenario{name: "group commit", urls: []string{"http://" + baseAddr + pathGroup}}
	nodb := &scenario{name: "no database", urls: []string{"http://" + baseAddr + pathNoDB}}
	pipe := &scenario{name: "bare pipeline", urls: []string{"http://" + baseAddr + pathPipeline}}
	ackOnly := &scenario{name: "hookflow ack-only", urls: hookURL}
	e2e := &scenario{name: "hookflow end to end", urls: hookURL}
	baseAcked := map[*scenario]int64{}

	// Every request carries the secret (the baselines ignore it), so all
	// scenarios send the same bytes.
	header := http.Header{"X-Sp-Token": {spSecret}}
	load := func(urls []string, workers int, d time.Duration, seq *atomic.Int64, body func(int64) []byte) result {
		return loadWith(urls, workers, d, seq, body, header)
	}
	// With BENCH_PROFILE_DIR, the first round's phases are profiled.
	profile := func(round int, label string, processes []string, perf map[string][]int) {
		if round == 0 {
			prof.capture(label, phase, processes, perf)
		}
	}
	hookPerf := func() map[string][]int {
		return map[string][]int{"postgres": dbPIDs(hookDB, probePID)(), "temporal": {devPID}}
	}
	// The API's hookflow_ack_batch_rows: events and commits so far (the
	// process is new each round: read before and after a window).
	batchRows := func() (rows, commits float64) {
		page := testenv.Metrics(t, "http://"+apiAddr)
		return testenv.MetricValue(t, page, "hookflow_ack_batch_rows_sum"), testenv.MetricValue(t, page, "hookflow_ack_batch_rows_count")
	}
	type batching struct{ rows, commits float64 }
	perCommit := map[*scenario]*batching{ackOnly: {}, e2e: {}}
	countBatches := func(s *scenario, rows0, commits0 float64) {
		rows, commits := batchRows()
		b := perCommit[s]
		b.rows, b.commits = b.rows+rows-rows0, b.commits+commits-commits0
	}
	measure := func(s *scenario) (result, cpuWindow) {
		m := startCPU(parts)
		r := load(s.urls, workers, phase, &seq, body)
		return r, m.stop()
	}
	groupWriters := os.Getenv("BENCH_GROUP_WRITERS") // read by the baseline server
	if groupWriters == "" {
		groupWriters = "1"
	}
	fmt.Printf("\nCeiling benchmark: %d clients, %d printers, %d rounds of %s per scenario, interleaved; Temporal dev server database: %s; group-commit writers: %s\n",
		workers, printers, rounds, phase, map[bool]string{true: "file", false: "memory"}[devDB != ""], groupWriters)
	for _, s := range []*scenario{single, group, nodb, pipe} { // warm-up
		baseAcked[s] += load(s.urls, workers, time.Second, &seq, body).acks
	}
	for round := range rounds {
		// hookflow ack-only: the relay holds nothing.
		holdRelay()
		if round == 0 { // the secret is enforced: without it, 401 (and nothing recorded)
			resp, err := http.Post(hookURL[0], "application/json", bytes.NewReader(body(0)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("a webhook without the secret: %s, want 401", resp.Status)
			}
		}
		acked += load(hookURL, workers, 500*time.Millisecond, &seq, body).acks // warm the new process
		_, processedBefore := counts()
		profile(round, "ack-only", []string{"api"}, hookPerf())
		rows0, commits0 := batchRows()
		r, cpu := measure(ackOnly)
		prof.wait()
		countBatches(ackOnly, rows0, commits0)
		acked += r.acks
		stored, processed := counts()
		var outbox int64
		if err := probe.QueryRow(ctx, `SELECT count(*) FROM relay_outbox`).Scan(&outbox); err != nil {
			t.Fatal(err)
		}
		if stored != acked || processed != processedBefore || outbox != acked-processed {
			t.Fatalf("ack-only: acked %d, stored %d, processed %d (was %d), in the outbox %d: the relay must hold everything",
				acked, stored, processed, processedBefore, outbox)
		}
		ackOnly.res, ackOnly.events = append(ackOnly.res, r), ackOnly.events+r.acks
		ackOnly.cpu.add(cpu)
		// Resume: the relay takes its shards and hands the backlog over.
		release()
		waitProcessed()

		// hookflow end to end: its CPU window runs until everything the
		// load acked is processed.
		profile(round, "end-to-end", []string{"api", "worker"}, hookPerf())
		rows0, commits0 = batchRows()
		m := startCPU(parts)
		t0 := time.Now()
		r = load(hookURL, workers, phase, &seq, body)
		lastAck := time.Now()
		countBatches(e2e, rows0, commits0)
		acked += r.acks
		drained := waitProcessed()
		e2e.cpu.add(m.stop())
		e2e.res, e2e.events = append(e2e.res, r), e2e.events+r.acks
		e2e.drains = append(e2e.drains, drained.Sub(lastAck))
		e2e.procRts = append(e2e.procRts, float64(r.acks)/drained.Sub(t0).Seconds())

		for _, s := range []*scenario{single, group, nodb, pipe} {
			if s == group {
				profile(round, "group-commit", nil, map[string][]int{"postgres": dbPIDs(baseDB)(), "handler": {baseline.PID()}})
			}
			r, cpu := measure(s)
			prof.wait()
			s.res, s.events = append(s.res, r), s.events+r.acks
			s.cpu.add(cpu)
			baseAcked[s] += r.acks
		}
		fmt.Printf("  round %d: single %.0f/s, group %.0f/s, no db %.0f/s, bare pipeline %.0f/s, ack-only %.0f/s, end to end %.0f/s (processed %.0f/s, drained %s)\n",
			round+1, single.res[round].rate(), group.res[round].rate(), nodb.res[round].rate(), pipe.res[round].rate(), ackOnly.res[round].rate(),
			e2e.res[round].rate(), e2e.procRts[round], e2e.drains[round].Round(10*time.Millisecond))
	}

	// Exactly once: every acked event stored once and processed.
	var total, processed, dupes int64
	if err := probe.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE processed), count(*) - count(DISTINCT dedup_key) FROM inbound_events`).
		Scan(&total, &processed, &dupes); err != nil {
		t.Fatal(err)
	}
	if total != acked || processed != acked || dupes != 0 {
		t.Fatalf("hookflow acknowledged %d, recorded %d, processed %d, duplicate keys %d", acked, total, processed, dupes)
	}
	// The baselines stored what they acked (the group commit as JSON
	// objects, not strings).
	base, err := pgx.Connect(ctx, baseDB)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close(ctx)
	for s, table := range map[*scenario]string{single: "bare_events", group: "bare_group_events"} {
		var n int64
		if err := base.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE json_typeof(payload) = 'object'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != baseAcked[s] {
			t.Fatalf("%s acked %d requests, stored %d", s.name, baseAcked[s], n)
		}
	}
	pipeConn, err := pgx.Connect(ctx, pipeDB)
	if err != nil {
		t.Fatal(err)
	}
	defer pipeConn.Close(ctx)
	var pipeStored, pipeKeys int64
	if err := pipeConn.QueryRow(ctx, `SELECT count(*), count(DISTINCT dedup_key) FROM inbound_events`).Scan(&pipeStored, &pipeKeys); err != nil {
		t.Fatal(err)
	}
	if pipeStored != baseAcked[pipe] || pipeKeys != pipeStored {
		t.Fatalf("bare pipeline acked %d requests, stored %d events with %d dedup keys", baseAcked[pipe], pipeStored, pipeKeys)
	}

	median := func(s *scenario) result {
		rs := slices.Clone(s.res)
		sort.Slice(rs, func(i, j int) bool { return rs[i].rate() < rs[j].rate() })
		return rs[len(rs)/2]
	}
	med := func(xs []float64) float64 { s := slices.Clone(xs); slices.Sort(s); return s[len(s)/2] }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
	gRes := median(group)
	fmt.Printf("\n  %-22s %9s %9s %9s %7s %12s %11s\n", "median round", "acks/s", "p50", "p99", "errors", "processed/s", "drained in")
	for _, s := range []*scenario{single, group, nodb, pipe, ackOnly, e2e} {
		r := median(s)
		var errs int64
		for _, x := range s.res {
			errs += x.errors
		}
		proc, drain := "", ""
		if s == e2e {
			proc = fmt.Sprintf("%.0f", med(s.procRts))
			drain = fmt.Sprintf("%s max", slices.Max(s.drains).Round(10*time.Millisecond))
		}
		fmt.Printf("  %-22s %9.0f %9s %9s %7d %12s %11s\n", s.name, r.rate(), ms(r.pct(0.50)), ms(r.pct(0.99)), errs, proc, drain)
	}
	fmt.Printf("  hookflow: %d events acked, stored and processed exactly once\n", acked)
	for _, s := range []*scenario{ackOnly, e2e} {
		b := perCommit[s]
		fmt.Printf("  %s: %.1f events per ack commit (hookflow_ack_batch_rows: %.0f events in %.0f commits)\n",
			s.name, b.rows/max(b.commits, 1), b.rows, b.commits)
	}
	prof.done()

	// CPU per 1,000 events, summed over the rounds.
	per1k := func(s *scenario, part string) float64 {
		return float64(s.cpu.part[part]) / float64(time.Millisecond) * 1000 / float64(max(s.events, 1))
	}
	counted := map[*scenario][]string{
		single:  {"baseline handler process", "baseline Postgres backends"},
		group:   {"baseline handler process", "baseline Postgres backends"},
		nodb:    {"baseline handler process"},
		pipe:    {"baseline handler process", "bare pipeline Postgres backends"},
		ackOnly: {"hookflow api", "hookflow Postgres backends"},
		e2e:     {"hookflow api", "hookflow worker", "Temporal dev server", "hookflow Postgres backends"},
	}
	totalPer1k := map[*scenario]float64{}
	fmt.Printf("\n  CPU per 1,000 events (user+sys from /proc/<pid>/stat, all %d rounds; Postgres: backends of the scenario's database only)\n", rounds)
	fmt.Printf("  %-22s %-34s %10s %7s\n", "scenario", "component", "ms/1k", "share")
	for _, s := range []*scenario{single, group, nodb, pipe, ackOnly, e2e} {
		var sum float64
		for _, p := range counted[s] {
			sum += per1k(s, p)
		}
		totalPer1k[s] = sum
		for i, p := range counted[s] {
			name := s.name
			if i > 0 {
				name = ""
			}
			l := p
			if s == ackOnly && p == "hookflow api" {
				l = "hookflow api (the ack path)"
			}
			if s == e2e && p == "hookflow api" {
				l = "hookflow api (ack path + relay)"
			}
			fmt.Printf("  %-22s %-34s %10.1f %6.0f%%\n", name, l, per1k(s, p), 100*per1k(s, p)/max(sum, 1e-9))
		}
		if s == e2e {
			relay := per1k(e2e, "hookflow api") - per1k(ackOnly, "hookflow api")
			fmt.Printf("  %-22s %-34s %10.1f %6.0f%%\n", "", "  of which relay (api e2e - ack-only)", relay, 100*relay/max(sum, 1e-9))
		}
		fmt.Printf("  %-22s %-34s %10.1f\n", "", "total", sum)
	}
	fmt.Printf("  not counted above: Postgres shared processes (postmaster, walwriter, checkpointer, ...; they serve every database on the machine)\n")
	fmt.Printf("    %.1f ms/1k in group commit, %.1f ms/1k in hookflow end to end; load generator %.1f ms/1k (group) and %.1f ms/1k (end to end)\n",
		per1k(group, "Postgres shared processes"), per1k(e2e, "Postgres shared processes"),
		per1k(group, "load generator (bench)"), per1k(e2e, "load generator (bench)"))
	fmt.Printf("    idle parts during ack-only: worker %.1f, Temporal %.1f ms/1k\n", per1k(ackOnly, "hookflow worker"), per1k(ackOnly, "Temporal dev server"))
	var all cpuWindow
	for _, s := range []*scenario{single, group, nodb, pipe, ackOnly, e2e} {
		all.add(s.cpu)
	}
	var ours time.Duration
	for _, p := range parts {
		ours += all.part[p.name]
	}
	fmt.Printf("  machine during the measured windows: %.0f%% of its CPU busy; the bench's processes (all of the above) %.0f%%, everything else %.0f%%; %d measured process(es) ended mid-window\n",
		pct(all.machineBusy, all.machineTotal), pct(ours, all.machineTotal), pct(all.machineBusy-ours, all.machineTotal), all.lost)

	// Issue 17's targets.
	ackR, e2eR := median(ackOnly), median(e2e)
	check := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Printf("\n  Targets (issue 17), ratios to group commit (%.0f acks/s, %.1f ms CPU per 1,000 requests):\n", gRes.rate(), totalPer1k[group])
	for _, x := range []struct {
		what string
		ok   bool
	}{
		{fmt.Sprintf("ack-only acks/s %.2fx (>= 0.80x)", ackR.rate()/gRes.rate()), ackR.rate() >= 0.8*gRes.rate()},
		{fmt.Sprintf("ack-only p99 %s (<= 10ms)", ms(ackR.pct(0.99))), ackR.pct(0.99) <= 10*time.Millisecond},
		{fmt.Sprintf("end-to-end processed/s %.2fx (>= 0.50x)", med(e2e.procRts)/gRes.rate()), med(e2e.procRts) >= 0.5*gRes.rate()},
		{fmt.Sprintf("end-to-end drained in %s, worst round (<= 2s)", slices.Max(e2e.drains).Round(10*time.Millisecond)), slices.Max(e2e.drains) <= 2*time.Second},
		{fmt.Sprintf("end-to-end p99 ack %s (<= 15ms)", ms(e2eR.pct(0.99))), e2eR.pct(0.99) <= 15*time.Millisecond},
		{fmt.Sprintf("whole-system CPU per event %.2fx group commit's per request (<= 3x)", totalPer1k[e2e]/max(totalPer1k[group], 1e-9)), totalPer1k[e2e] <= 3*totalPer1k[group]},
	} {
		fmt.Printf("    %-72s %s\n", x.what, check(x.ok))
	}
	fmt.Println()
	// A non-200 answer (a wrong secret, an overload 503) makes the
	// figures meaningless.
	for _, s := range []*scenario{single, group, nodb, pipe, ackOnly, e2e} {
		for i, r := range s.res {
			if r.errors > 0 {
				t.Errorf("%s, round %d: %d requests failed or were not answered 200", s.name, i+1, r.errors)
			}
		}
	}
}

// spSecret is SIMPLYPRINT_WEBHOOK_SECRET of the ceiling benchmark's API.
const spSecret = "bench-ceiling-webhook-secret"

func pct(a, b time.Duration) float64 { return 100 * float64(a) / float64(max(b, 1)) }

func startProc(t *testing.T, p *devenv.Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(20 * time.Second) })
}

// childPID finds the child process of this one that has every one of args
// among its arguments.
func childPID(t *testing.T, args ...string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || parentPID(pid) != os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		have := strings.Split(string(cmd), "\x00")
		if !slices.ContainsFunc(args, func(a string) bool { return !slices.Contains(have, a) }) {
			return pid
		}
	}
	t.Fatalf("no child process with %q among its arguments", args)
	return 0
}

// parentPID is field 4 of /proc/<pid>/stat (0 when it is gone).
func parentPID(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0
	}
	pp, _ := strconv.Atoi(fields[1])
	return pp
}
