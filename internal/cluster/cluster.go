// Package cluster runs hookflow's production topology on one machine
// without Docker: Postgres, a Temporal server on SQL persistence (not the
// dev server), the Temporal UI server, and API and worker replicas, each its
// own OS process configured only through the environment variables
// docker-compose.yml uses. `hookflow cluster` (make cluster) runs it; tests
// and the chaos tool drive it through Start and the per-process handles.
//
// Every process is a child that never outlives the caller, also when the
// caller is killed with SIGKILL (see devenv.Process).
package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/hookflow/hookflow/internal/devenv"
)

// Ports are the listeners of the cluster. Zero fields take the defaults of
// DefaultPorts, so a test can choose free ports and run beside a
// `make cluster`.
type Ports struct {
	// Temporal services: gRPC and ringpop membership ports (the frontend
	// also serves Temporal's HTTP API). Membership ports must be below
	// 32768: Temporal stores them in a smallint column.
	Frontend, FrontendHTTP, FrontendMembership int
	History, HistoryMembership                 int
	Matching, MatchingMembership               int
	Worker, WorkerMembership                   int
	UI                                         int   // Temporal UI server
	APIs                                       []int // one per API replica (HTTP_ADDR)
	WorkerMetrics                              []int // one per worker (METRICS_ADDR)
	Postgres                                   int   // the private Postgres, when one is started
}

// DefaultPorts are Temporal's usual ports (as in its development configs),
// the UI on :8233 as `hookflow dev` has it, APIs from :8080 and worker
// metrics from :9464.
func DefaultPorts(apis, workers int) Ports {
	p := Ports{
		Frontend: 7233, FrontendHTTP: 7243, FrontendMembership: 6933,
		History: 7234, HistoryMembership: 6934,
		Matching: 7235, MatchingMembership: 6935,
		Worker: 7239, WorkerMembership: 6939,
		UI: 8233, Postgres: devenv.PrivatePostgresPort,
	}
	for i := range apis {
		p.APIs = append(p.APIs, 8080+i)
	}
	for i := range workers {
		p.WorkerMetrics = append(p.WorkerMetrics, 9464+i)
	}
	return p
}

func (p *Ports) fillDefaults(apis, workers int) error {
	d := DefaultPorts(apis, workers)
	for _, f := range []struct{ v, def *int }{
		{&p.Frontend, &d.Frontend}, {&p.FrontendHTTP, &d.FrontendHTTP}, {&p.FrontendMembership, &d.FrontendMembership},
		{&p.History, &d.History}, {&p.HistoryMembership, &d.HistoryMembership},
		{&p.Matching, &d.Matching}, {&p.MatchingMembership, &d.MatchingMembership},
		{&p.Worker, &d.Worker}, {&p.WorkerMembership, &d.WorkerMembership},
		{&p.UI, &d.UI}, {&p.Postgres, &d.Postgres},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if p.APIs == nil {
		p.APIs = d.APIs
	}
	if p.WorkerMetrics == nil {
		p.WorkerMetrics = d.WorkerMetrics
	}
	for _, m := range []int{p.FrontendMembership, p.HistoryMembership, p.MatchingMembership, p.WorkerMembership} {
		if m > 32767 {
			return fmt.Errorf("membership port %d: Temporal stores membership ports as smallint, use one below 32768", m)
		}
	}
	if len(p.APIs) != apis || len(p.WorkerMetrics) != workers {
		return fmt.Errorf("%d API ports for %d APIs and %d metrics ports for %d workers: give one port each", len(p.APIs), apis, len(p.WorkerMetrics), workers)
	}
	return nil
}

// checkFree fails, naming the listener, when one of the ports is taken (a
// `make run` holds 7233, 8233 and 8080): better than a server that dies
// with a bind error in its log.
func (p *Ports) checkFree() error {
	type namedPort struct {
		name string
		port int
	}
	named := []namedPort{
		{"Temporal frontend", p.Frontend}, {"Temporal frontend HTTP", p.FrontendHTTP}, {"Temporal frontend membership", p.FrontendMembership},
		{"Temporal history", p.History}, {"Temporal history membership", p.HistoryMembership},
		{"Temporal matching", p.Matching}, {"Temporal matching membership", p.MatchingMembership},
		{"Temporal worker", p.Worker}, {"Temporal worker membership", p.WorkerMembership}, {"Temporal UI", p.UI},
	}
	for i, port := range p.APIs {
		named = append(named, namedPort{fmt.Sprintf("api-%d", i+1), port})
	}
	for i, port := range p.WorkerMetrics {
		named = append(named, namedPort{fmt.Sprintf("worker-%d metrics", i+1), port})
	}
	for _, n := range named {
		l, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(n.port)))
		if err != nil {
			return fmt.Errorf("port %d (%s) is taken (is `make run` or another cluster running?): %w", n.port, n.name, err)
		}
		l.Close()
	}
	return nil
}

// Options configure Start. The zero value (with Log) is `make cluster`.
type Options struct {
	DataDir string // config, logs and a private Postgres; default .data/cluster
	// Postgres is auto (127.0.0.1:5432 when it lets us in, else a private
	// cluster under DataDir), local or private, as `hookflow dev` picks.
	Postgres string
	// AdminDatabaseURL, when set, is a superuser URL used instead (the
	// databases are created there).
	AdminDatabaseURL string
	// DatabasePrefix is put before the database names hookflow, temporal
	// and temporal_visibility (tests use a unique one and drop them).
	DatabasePrefix string
	APIs, Workers  int // replicas; default 2 each
	Ports          Ports
	// Binaries. Hookflow defaults to this executable (os.Executable), the
	// Temporal ones to BinDir/temporal-server, temporal-sql-tool and
	// temporal-ui-server (BinDir defaults to bin, as the Makefile builds them).
	Hookflow, TemporalServer, SQLTool, UIServer, BinDir string
	// AdminToken is given to the APIs as ADMIN_TOKEN ("" leaves the
	// environment's).
	AdminToken string
	// Env is added to the environment of the API and worker processes
	// last (KEY=VALUE), after this process's own and the cluster's.
	Env []string
	Log *slog.Logger
}

// Namespace is the Temporal namespace the cluster registers and hookflow uses.
const Namespace = "default"

// retention is how long Temporal keeps closed workflow histories.
const retention = 72 * time.Hour

// Cluster is a running topology; Stop ends it.
type Cluster struct {
	opts        Options
	log         *slog.Logger
	adminURL    string
	databaseURL string
	logDir      string
	procs       []*Process // in start order
	temporal    client.Client
}

// Process is one process of the cluster, by name: postgres (when private),
// temporal, ui, api-1.., worker-1...
type Process struct {
	name        string
	p           *devenv.Process
	stopTimeout time.Duration
}

// Name is the process's name in the cluster.
func (p *Process) Name() string { return p.name }

// Start starts it again with the same configuration and waits until it is
// ready.
func (p *Process) Start(ctx context.Context) error { return p.p.Start(ctx) }

// Stop asks it to end (SIGTERM; Postgres SIGINT, its fast shutdown) and
// waits, killing it when it takes too long.
func (p *Process) Stop() { p.p.Stop(p.stopTimeout) }

// Kill ends it with SIGKILL, as a crash would, and waits for the exit.
func (p *Process) Kill() { p.p.Kill() }

// PID is its process id, 0 when it is not running.
func (p *Process) PID() int { return p.p.PID() }

// LogPath is the file its stdout and stderr are appended to.
func (p *Process) LogPath() string { return p.p.LogPath }

// Exited is closed when the current run ends.
func (p *Process) Exited() <-chan struct{} { return p.p.Exited() }

// Start brings the cluster up in dependency order and returns when every
// process is ready. On error what was started is stopped again.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if err := o.fillDefaults(); err != nil {
		return nil, err
	}
	c := &Cluster{opts: o, log: o.Log, logDir: filepath.Join(o.DataDir, "logs")}
	if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (o *Options) fillDefaults() error {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.DataDir == "" {
		o.DataDir = filepath.Join(".data", "cluster")
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return err
	}
	o.DataDir = dir
	if o.APIs == 0 {
		o.APIs = 2
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	if err := o.Ports.fillDefaults(o.APIs, o.Workers); err != nil {
		return err
	}
	if o.BinDir == "" {
		o.BinDir = "bin"
	}
	if o.Hookflow == "" {
		if o.Hookflow, err = os.Executable(); err != nil {
			return err
		}
	}
	for _, b := range []struct {
		path *string
		name string
	}{{&o.TemporalServer, "temporal-server"}, {&o.SQLTool, "temporal-sql-tool"}, {&o.UIServer, "temporal-ui-server"}} {
		if *b.path == "" {
			*b.path = filepath.Join(o.BinDir, b.name)
		}
		p, err := filepath.Abs(*b.path)
		if err != nil {
			return err
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing: build it with `make bin/%s` (`make cluster` builds all of them)", p, b.name)
		}
		*b.path = p
	}
	return nil
}

func (c *Cluster) start(ctx context.Context) error {
	o := c.opts
	if err := o.Ports.checkFree(); err != nil {
		return err
	}
	c.adminURL = o.AdminDatabaseURL
	if c.adminURL == "" {
		pg, err := devenv.StartPostgres(ctx, o.Postgres, o.DataDir, o.Ports.Postgres, c.log)
		if err != nil {
			return err
		}
		c.adminURL = pg.AdminURL
		if pg.Process != nil {
			c.procs = append(c.procs, &Process{name: "postgres", p: pg.Process, stopTimeout: 30 * time.Second})
		}
	}
	var err error
	if c.databaseURL, err = devenv.EnsureDatabase(ctx, c.adminURL, o.DatabasePrefix+"hookflow"); err != nil {
		return fmt.Errorf("create the hookflow database: %w", err)
	}
	if err := c.setupTemporalSchemas(ctx); err != nil {
		return err
	}
	if err := c.startTemporal(ctx); err != nil {
		return err
	}
	if err := c.startUI(ctx); err != nil {
		return err
	}
	// The API replicas, then the workers: each listens on its port (the
	// variable) and is up when the probe path answers there.
	for _, r := range []struct {
		role, addrVar, probe string
		ports                []int
	}{
		{"api", "HTTP_ADDR", "/readyz", o.Ports.APIs},
		{"worker", "METRICS_ADDR", "/metrics", o.Ports.WorkerMetrics},
	} {
		for i, port := range r.ports {
			name := fmt.Sprintf("%s-%d", r.role, i+1)
			addr := "127.0.0.1:" + strconv.Itoa(port)
			env := c.hookflowEnv(r.addrVar + "=:" + strconv.Itoa(port))
			if err := c.startHookflow(ctx, name, r.role, env, "http://"+addr+r.probe); err != nil {
				return err
			}
		}
	}
	return nil
}

// hookflowEnv is the environment of an API or worker: ours, then the
// cluster's wiring (the variables docker-compose.yml sets), then
// Options.Env. Later entries win (os/exec keeps the last of a name).
func (c *Cluster) hookflowEnv(extra ...string) []string {
	o := c.opts
	env := os.Environ()
	// Tunables keep the caller's value when set.
	for k, v := range map[string]string{
		"TEMPORAL_TASK_QUEUE": "hookflow",
		"LOG_LEVEL":           "info",
		"PUBLIC_BASE_URL":     fmt.Sprintf("http://localhost:%d", o.Ports.APIs[0]),
	} {
		if os.Getenv(k) == "" {
			env = append(env, k+"="+v)
		}
	}
	env = append(env,
		"DATABASE_URL="+c.databaseURL,
		"TEMPORAL_ADDRESS="+c.TemporalAddress(),
		"TEMPORAL_NAMESPACE="+Namespace,
		"TEMPORAL_UI_URL="+c.UIURL(),
	)
	if o.AdminToken != "" {
		env = append(env, "ADMIN_TOKEN="+o.AdminToken)
	}
	env = append(env, extra...)
	return append(env, o.Env...)
}

// serverEnv is this process's environment without TEMPORAL_* variables:
// they configure hookflow's client, and the Temporal and UI servers read
// some of the same names.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_") {
			env = append(env, kv)
		}
	}
	return env
}

func (c *Cluster) logPath(name string) string { return filepath.Join(c.logDir, name+".log") }

func (c *Cluster) add(ctx context.Context, name string, stopTimeout time.Duration, p *devenv.Process) error {
	p.Name = name
	p.LogPath = c.logPath(name)
	c.log.Info("starting "+name, "log", p.LogPath)
	if err := p.Start(ctx); err != nil {
		return err
	}
	c.procs = append(c.procs, &Process{name: name, p: p, stopTimeout: stopTimeout})
	return nil
}

// startHookflow runs `hookflow <command>` and waits until readyURL answers
// 200.
func (c *Cluster) startHookflow(ctx context.Context, name, command string, env []string, readyURL string) error {
	return c.add(ctx, name, 20*time.Second, &devenv.Process{
		Path: c.opts.Hookflow, Args: []string{command}, Env: env,
		Ready: func(ctx context.Context) error { return HTTPOK(ctx, readyURL) },
	})
}

// HTTPOK is nil when GET u answers 200: the readiness check of the
// processes the cluster (and the benchmarks) start.
func HTTPOK(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

func (c *Cluster) startUI(ctx context.Context) error {
	root := filepath.Join(c.opts.DataDir, "ui")
	if err := writeTemplate(filepath.Join(root, "config", "cluster.yaml"), "ui.yaml.tmpl", c.templateData(), 0o644); err != nil {
		return err
	}
	return c.add(ctx, "ui", 10*time.Second, &devenv.Process{
		Path: c.opts.UIServer, Args: []string{"--root", root, "--config", "config", "--env", "cluster", "start"},
		Env:   serverEnv(),
		Ready: func(ctx context.Context) error { return HTTPOK(ctx, c.UIURL()) },
	})
}

// Process returns the process of that name, nil when there is none.
func (c *Cluster) Process(name string) *Process {
	for _, p := range c.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// Processes are all processes, in start order.
func (c *Cluster) Processes() []*Process { return append([]*Process(nil), c.procs...) }

// APIURLs are the base URLs of the API replicas.
func (c *Cluster) APIURLs() []string {
	var urls []string
	for _, p := range c.opts.Ports.APIs {
		urls = append(urls, fmt.Sprintf("http://localhost:%d", p))
	}
	return urls
}

// MetricsURLs are the /metrics pages of the workers (the APIs serve theirs
// on their own port).
func (c *Cluster) MetricsURLs() []string {
	var urls []string
	for _, p := range c.opts.Ports.WorkerMetrics {
		urls = append(urls, fmt.Sprintf("http://localhost:%d/metrics", p))
	}
	return urls
}

// TemporalAddress is the frontend's gRPC host:port.
func (c *Cluster) TemporalAddress() string {
	return "127.0.0.1:" + strconv.Itoa(c.opts.Ports.Frontend)
}

// UIURL is the Temporal UI.
func (c *Cluster) UIURL() string { return fmt.Sprintf("http://localhost:%d", c.opts.Ports.UI) }

// DatabaseURL is hookflow's database (with its password, if any: redact
// before printing).
func (c *Cluster) DatabaseURL() string { return c.databaseURL }

// TemporalDatabaseURL is the URL of Temporal's main database.
func (c *Cluster) TemporalDatabaseURL() string {
	u, _ := devenv.DatabaseURL(c.adminURL, c.opts.DatabasePrefix+"temporal")
	return u
}

// LogDir holds every process's log file.
func (c *Cluster) LogDir() string { return c.logDir }

// Stop stops every process, newest first, and waits for each.
func (c *Cluster) Stop() {
	if c.temporal != nil {
		c.temporal.Close()
		c.temporal = nil
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.log.Info("stopping " + c.procs[i].name)
		c.procs[i].Stop()
	}
}

// sdkLogger hands the Temporal SDK's logs to ours, one level down: its
// connection retries while the server comes up are expected.
func sdkLogger(log *slog.Logger) sdklog.Logger {
	return sdklog.NewStructuredLogger(log.With("component", "temporal-sdk"))
}
