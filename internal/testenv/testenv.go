// Package testenv gives integration tests the real parts: a fresh Postgres
// database per test (migrated), one Temporal dev server per test binary (the
// CLI that `make` builds into bin/), and a running hookflow App on a free
// port. Only third-party SaaS is faked, by the integrations/*test packages.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/temporalx"
	"github.com/hookflow/hookflow/pkg/hookflowsdk"
)

// AdminDatabaseURL is where test databases are created (TEST_DATABASE_URL
// overrides the machine's Postgres at 127.0.0.1:5432).
func AdminDatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Database creates a fresh, migrated database and drops it after the test.
func Database(t testing.TB) (databaseURL string, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	databaseURL = EmptyDatabase(t)
	if _, err := store.Migrate(ctx, databaseURL, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	st, err := store.Open(ctx, databaseURL, 20)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close) // before the database is dropped (cleanups run last first)
	return databaseURL, st
}

// EmptyDatabase creates a fresh database without tables and drops it after
// the test.
func EmptyDatabase(t testing.TB) (databaseURL string) {
	t.Helper()
	ctx := context.Background()
	admin := AdminDatabaseURL()
	name := "hookflow_test_" + randomHex(6)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to Postgres (%s): %v — start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", redacted(admin), err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		t.Fatalf("create test database: %v", err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}

func redacted(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "?"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TemporalCLI finds the temporal binary: $TEMPORAL_CLI, else bin/temporal at
// the repository root (built by `make bin/temporal`).
func TemporalCLI() (string, error) {
	if p := os.Getenv("TEMPORAL_CLI"); p != "" {
		return p, nil
	}
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "temporal")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%s is missing: run `make bin/temporal` (or `make test`, which builds it)", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod) not found")
		}
		dir = parent
	}
}

// DevServer is a Temporal dev server for tests.
type DevServer struct {
	*testsuite.DevServer
	HostPort string
}

// UserWorker starts a worker on queue as a user of declared sources runs
// one: workflows registered under their names, and hookflowsdk's
// MarkProcessed activity reporting to the hookflow at baseURL with token.
// It is stopped when the test ends.
func UserWorker(t testing.TB, tc client.Client, queue, baseURL, token string, workflows map[string]any) worker.Worker {
	t.Helper()
	w := worker.New(tc, queue, worker.Options{})
	for name, wf := range workflows {
		w.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: name})
	}
	sdk := &hookflowsdk.Client{BaseURL: baseURL, Token: token}
	w.RegisterActivityWithOptions(sdk.MarkProcessed, activity.RegisterOptions{Name: hookflowsdk.ActivityMarkProcessed})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// StartTemporal starts a dev server with hookflow's search attributes on a
// free port (or hostPort), persisting to dbFile when given.
func StartTemporal(hostPort, dbFile string) (*DevServer, error) {
	cli, err := TemporalCLI()
	if err != nil {
		return nil, err
	}
	if hostPort == "" {
		hostPort, err = FreeHostPort()
		if err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  cli,
		ClientOptions: &client.Options{HostPort: hostPort, Namespace: "default", Logger: quietLogger{}},
		DBFilename:    dbFile,
		LogLevel:      "error",
		ExtraArgs:     temporalx.DevServerSearchAttributeArgs(),
		Stdout:        io.Discard,
		Stderr:        io.Discard,
	})
	if err != nil {
		return nil, fmt.Errorf("start Temporal dev server: %w", err)
	}
	return &DevServer{DevServer: srv, HostPort: hostPort}, nil
}

var (
	sharedOnce sync.Once
	shared     *DevServer
	sharedErr  error
)

// Temporal returns the dev server shared by the tests of this binary
// (started on first use; the process exit ends it, see Main).
func Temporal(t testing.TB) *DevServer {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = StartTemporal("", "") })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// Main runs a package's tests and stops the shared dev server afterwards.
// Use it from TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.Stop()
	}
	os.Exit(code)
}

// ReadToken is the read-only token, named "tests", that Config gives every
// app unless the test sets READ_TOKENS itself: endpoints that return stored
// data need one (send it with ReadHeader).
const ReadToken = "tests-read-token-0123456789"

// ReadHeader is the Authorization header that carries ReadToken.
func ReadHeader() map[string]string {
	return map[string]string{"Authorization": "Bearer " + ReadToken}
}

// Config is a test configuration: loopback on a free port, the given
// database and dev server, a unique task queue, fast relay polling, and
// READ_TOKENS=tests:<ReadToken>.
func Config(t testing.TB, databaseURL string, temporal *DevServer, vars map[string]string) config.Config {
	t.Helper()
	base := map[string]string{
		"HTTP_ADDR":           "127.0.0.1:0",
		"DATABASE_URL":        databaseURL,
		"TEMPORAL_ADDRESS":    temporal.HostPort,
		"TEMPORAL_TASK_QUEUE": "test-" + randomHex(4),
		"RELAY_POLL_INTERVAL": "200ms",
		"RELAY_MAX_BACKOFF":   "1s",
		"LOG_LEVEL":           "warn",
		"READ_TOKENS":         "tests:" + ReadToken,
	}
	for k, v := range vars {
		base[k] = v
	}
	cfg, err := config.LoadFrom(base)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// logSink, when set by CaptureLogs, receives every log line of the apps a
// test starts.
var logSink io.Writer

// CaptureLogs makes the apps started afterwards in this test log JSON at
// debug level into the returned buffer (tests check what logs must not say).
func CaptureLogs(t testing.TB) *SyncBuffer {
	buf := &SyncBuffer{}
	logSink = buf
	t.Cleanup(func() { logSink = nil })
	return buf
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Logger is a test logger: quiet unless HOOKFLOW_TEST_LOG=1 or CaptureLogs.
func Logger() *slog.Logger {
	if logSink != nil {
		return slog.New(slog.NewJSONHandler(logSink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if os.Getenv("HOOKFLOW_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// StartApp runs hookflow with the given roles and stops it after the test.
func StartApp(t testing.TB, cfg config.Config, roles app.Roles) *app.App {
	t.Helper()
	return StartAppWithLogger(t, cfg, roles, Logger())
}

// StartAppWithLogger is StartApp with the caller's logger (the load
// benchmark logs as hookflow serve does).
func StartAppWithLogger(t testing.TB, cfg config.Config, roles app.Roles, log *slog.Logger) *app.App {
	t.Helper()
	return StartAppPrepared(t, cfg, roles, log, nil)
}

// StartAppPrepared is StartAppWithLogger with prepare (when not nil) called
// between app.New and Start, as hookflow dev --demo sets the console's
// fakes there.
func StartAppPrepared(t testing.TB, cfg config.Config, roles app.Roles, log *slog.Logger, prepare func(*app.App)) *app.App {
	t.Helper()
	a := startApp(t, cfg, roles, log, prepare)
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Runs an API alone started (its relay does) are ended too, or a
		// later test's events would be signalled to a run nobody polls for.
		terminateRuns(stopCtx, a, cfg.Temporal.TaskQueue)
		a.Stop(stopCtx)
	})
	return a
}

// StartStoppable starts an app the test stops itself, with Stop (a worker
// that goes away mid-test): nothing is cleaned up after the test.
func StartStoppable(t testing.TB, cfg config.Config, roles app.Roles) *app.App {
	t.Helper()
	return startApp(t, cfg, roles, Logger(), nil)
}

func startApp(t testing.TB, cfg config.Config, roles app.Roles, log *slog.Logger, prepare func(*app.App)) *app.App {
	t.Helper()
	ctx := context.Background()
	a, err := app.New(ctx, cfg, log, roles)
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(a)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}

// terminateRuns ends the runs a test left open on its task queue: tests
// share a dev server, and a later test signalling the same workflow ID
// (simplyprint-company, say) must start a new run on its own task queue
// instead of feeding one whose worker is gone. Visibility may not list a run
// started a moment ago (on a loaded machine it lags), so the workflow IDs
// the test's own database handed over are checked by ID as well.
func terminateRuns(ctx context.Context, a *app.App, taskQueue string) {
	c := a.Temporal
	ids := map[string]bool{}
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("TaskQueue = %q AND ExecutionStatus = 'Running'", taskQueue),
	})
	if err == nil {
		for _, ex := range resp.GetExecutions() {
			ids[ex.GetExecution().GetWorkflowId()] = true
		}
	}
	if rows, err := a.Store.Pool.Query(ctx, `SELECT DISTINCT workflow_id FROM inbound_events`); err == nil {
		if recorded, err := pgx.CollectRows(rows, pgx.RowTo[string]); err == nil {
			for _, id := range recorded {
				ids[id] = true
			}
		}
	}
	for id := range ids {
		desc, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err != nil || desc.GetExecutionConfig().GetTaskQueue().GetName() != taskQueue ||
			desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			continue // another test's run, or over already
		}
		_ = c.TerminateWorkflow(ctx, id, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), "test ended")
	}
}

// Eventually polls cond until it returns nil or the timeout passes, then
// fails with cond's last error. (A wait for an asynchronous outcome, not a
// timing assertion: the timeout only bounds a broken run.)
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

// Metrics returns the app's /metrics page.
func Metrics(t testing.TB, baseURL string) string {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return string(raw)
}

// MetricValue reads one series (name and labels, as printed) of a /metrics
// page.
func MetricValue(t testing.TB, page, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(page, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("/metrics has no series %s", series)
	return 0
}
