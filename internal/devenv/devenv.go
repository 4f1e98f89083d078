// Package devenv starts what `hookflow dev` needs on a developer's machine: a
// Temporal dev server (with its Web UI and hookflow's search attributes) and
// a Postgres, reusing ones that already answer. Its Process and
// StartPostgres are shared with `hookflow cluster` (internal/cluster).
package devenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/internal/temporalx"
)

// Env is what dev started; Stop ends it.
type Env struct {
	DatabaseURL string
	TemporalUI  string
	stops       []func()
	log         *slog.Logger
}

// Stop stops what Env started, newest first.
func (e *Env) Stop() {
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
}

// Options for Start.
type Options struct {
	DataDir         string // .data
	TemporalAddress string // host:port
	TemporalUIPort  int
	TemporalCLI     string // path to the temporal binary ("" looks in bin/ and PATH)
	DatabaseURL     string // "" picks or starts one
	Postgres        string // auto (local, else private), local, or private
}

// Start brings up Temporal and Postgres.
func Start(ctx context.Context, o Options, log *slog.Logger) (*Env, error) {
	e := &Env{log: log, DatabaseURL: o.DatabaseURL}
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, err
	}
	if err := e.startTemporal(ctx, o); err != nil {
		e.Stop()
		return nil, err
	}
	if e.DatabaseURL == "" {
		pg, err := StartPostgres(ctx, o.Postgres, o.DataDir, PrivatePostgresPort, log)
		if err != nil {
			e.Stop()
			return nil, err
		}
		e.stops = append(e.stops, pg.Stop)
		if e.DatabaseURL, err = EnsureDatabase(ctx, pg.AdminURL, "hookflow"); err != nil {
			e.Stop()
			return nil, err
		}
	}
	return e, nil
}

// Answers reports whether something accepts TCP connections on addr.
func Answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// FindTemporalCLI returns the temporal binary: the given path, bin/temporal,
// or temporal on PATH.
func FindTemporalCLI(given string) (string, error) {
	for _, p := range []string{given, "bin/temporal"} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return filepath.Abs(p)
		}
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	return "", errors.New("the Temporal CLI was not found in bin/ or on PATH: run `make bin/temporal` " +
		"(it runs `go install github.com/temporalio/cli/cmd/temporal@v1.5.1`) or set TEMPORAL_CLI")
}

func (e *Env) startTemporal(ctx context.Context, o Options) error {
	host, port, err := net.SplitHostPort(o.TemporalAddress)
	if err != nil {
		return fmt.Errorf("TEMPORAL_ADDRESS %q: %w", o.TemporalAddress, err)
	}
	e.TemporalUI = fmt.Sprintf("http://%s:%d", DisplayHost(host), o.TemporalUIPort)
	if Answers(o.TemporalAddress) {
		e.log.Info("Temporal already answers; using it", "address", o.TemporalAddress)
		return nil
	}
	cli, err := FindTemporalCLI(o.TemporalCLI)
	if err != nil {
		return err
	}
	args := []string{"server", "start-dev", "--ip", host, "--port", port,
		"--ui-port", strconv.Itoa(o.TemporalUIPort), "--db-filename", filepath.Join(o.DataDir, "temporal.db"),
		"--log-level", "warn"}
	args = append(args, temporalx.DevServerSearchAttributeArgs()...)
	p := &Process{
		Name: "Temporal dev server", Path: cli, Args: args, LogPath: filepath.Join(o.DataDir, "temporal.log"),
		Ready: func(context.Context) error {
			if !Answers(o.TemporalAddress) {
				return fmt.Errorf("nothing answers on %s yet", o.TemporalAddress)
			}
			return nil
		},
		ReadyTimeout: 90 * time.Second,
	}
	e.log.Info("starting the Temporal dev server", "address", o.TemporalAddress, "ui", e.TemporalUI, "log", p.LogPath)
	if err := p.Start(ctx); err != nil {
		return err
	}
	e.stops = append(e.stops, func() { p.Stop(10 * time.Second) })
	return nil
}

// DisplayHost is how a listen host is written in a URL for a browser.
func DisplayHost(h string) string {
	if h == "" || h == "0.0.0.0" || h == "127.0.0.1" {
		return "localhost"
	}
	return h
}

// Process is a child process that never outlives this one, also when this
// one is killed with SIGKILL: the kernel sends it DeathSignal when we die
// (Pdeathsig). It runs in its own process group, so a Ctrl-C in the terminal
// reaches only us and we stop the children in order. Stdout and stderr are
// appended to LogPath.
type Process struct {
	Name string // for messages: "api-1", "Temporal server"
	Path string
	Args []string
	Env  []string // nil: this process's environment
	Dir  string
	// LogPath receives stdout and stderr (appended: a restart keeps the
	// story of the previous run).
	LogPath string
	// StopSignal asks it to end (Stop); 0 is SIGTERM.
	StopSignal syscall.Signal
	// DeathSignal is what the kernel sends it when we die; 0 is SIGKILL.
	DeathSignal syscall.Signal
	// Credential runs it as another user (Postgres refuses root). The
	// kernel clears Pdeathsig on a credential change, but Go sets it after
	// switching users in the child, so it holds.
	Credential *syscall.Credential
	// Ready, when set, is polled after the start until it returns nil;
	// Start fails with its last error (and the log's path) when the process
	// exits first or ReadyTimeout passes (default 60s).
	Ready        func(ctx context.Context) error
	ReadyTimeout time.Duration

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current run has ended
	err    error         // the current run's exit error, valid after exited
}

// Start starts the process and waits until it is ready.
func (p *Process) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.cmd != nil && !isClosed(p.exited) {
		p.mu.Unlock()
		return fmt.Errorf("%s is already running (pid %d)", p.Name, p.cmd.Process.Pid)
	}
	if err := os.MkdirAll(filepath.Dir(p.LogPath), 0o755); err != nil {
		p.mu.Unlock()
		return err
	}
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	fmt.Fprintf(logFile, "--- %s: starting %s\n", time.Now().Format(time.RFC3339), p.Name)
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env, cmd.Dir = p.Env, p.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	death := p.DeathSignal
	if death == 0 {
		death = syscall.SIGKILL
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: death, Credential: p.Credential}
	if err := spawn(cmd); err != nil {
		p.mu.Unlock()
		logFile.Close()
		return fmt.Errorf("start %s (%s): %w", p.Name, p.Path, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited, p.err = cmd, exited, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(exited)
	}()
	if p.Ready == nil {
		return nil
	}
	timeout := p.ReadyTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := p.Ready(rctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited before it was ready (%v); see %s", p.Name, p.Err(), p.LogPath)
		case <-ctx.Done():
			p.Stop(5 * time.Second)
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop(5 * time.Second)
			return fmt.Errorf("%s was not ready within %s (%v); see %s", p.Name, timeout, err, p.LogPath)
		}
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Run starts a one-shot process (one without Ready) and waits for its
// exit; a failure names the log. A cancelled ctx kills it.
func (p *Process) Run(ctx context.Context) error {
	if err := p.Start(ctx); err != nil {
		return err
	}
	select {
	case <-p.Exited():
	case <-ctx.Done():
		p.Kill()
		return ctx.Err()
	}
	if err := p.Err(); err != nil {
		return fmt.Errorf("%s: %v; see %s", p.Name, err, p.LogPath)
	}
	return nil
}

// PID is the running process's id, 0 when it is not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isClosed(p.exited) {
		return 0
	}
	return p.cmd.Process.Pid
}

// Exited is closed when the current run ends (nil before the first start).
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Err is how the last run ended (nil while it runs or after a clean exit).
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Stop sends StopSignal and waits for the exit; after timeout it kills.
func (p *Process) Stop(timeout time.Duration) {
	sig := p.StopSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	p.signalAndWait(sig, timeout)
}

// Kill ends the process with SIGKILL (no cleanup, like a crash) and waits.
func (p *Process) Kill() {
	p.signalAndWait(syscall.SIGKILL, time.Minute)
}

func (p *Process) signalAndWait(sig syscall.Signal, timeout time.Duration) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || isClosed(exited) {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Children are started from one goroutine locked to its OS thread for the
// life of the process. Pdeathsig fires when the *thread* that forked the
// child exits, not the process, and the Go runtime ends a thread whenever a
// goroutine that locked it returns without unlocking (and may start
// children from any thread). A thread that never exits makes Pdeathsig mean
// "when this process dies".
var (
	spawnOnce sync.Once
	spawns    = make(chan spawnRequest)
)

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as we do
			for r := range spawns {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawns <- spawnRequest{cmd, done}
	return <-done
}

// PrivatePostgresPort is where `hookflow dev` runs its private Postgres.
const PrivatePostgresPort = 54329

// Postgres is the database server dev and cluster use.
type Postgres struct {
	// AdminURL connects as a superuser to the postgres database.
	AdminURL string
	// Process is the private server we run, nil for the machine's (or one
	// that already answered on the private port).
	Process *Process
}

// Stop stops the private server with a fast shutdown (nothing when we did
// not start one).
func (pg *Postgres) Stop() {
	if pg.Process != nil {
		pg.Process.Stop(30 * time.Second)
	}
}

const localAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// StartPostgres picks the Postgres at 127.0.0.1:5432 (mode local, or auto
// when it answers and lets us in) or starts a private cluster under
// dataDir/postgres on privatePort (mode private, or auto otherwise).
func StartPostgres(ctx context.Context, mode, dataDir string, privatePort int, log *slog.Logger) (*Postgres, error) {
	switch mode {
	case "auto", "local", "":
	case "private":
		return startPrivatePostgres(ctx, dataDir, privatePort, log)
	default:
		return nil, fmt.Errorf("--postgres=%q: want auto, local or private", mode)
	}
	if Answers("127.0.0.1:5432") {
		err := ping(ctx, localAdminURL)
		if err == nil {
			log.Info("using the local Postgres", "address", "127.0.0.1:5432")
			return &Postgres{AdminURL: localAdminURL}, nil
		}
		if mode == "local" {
			return nil, fmt.Errorf("the Postgres on 127.0.0.1:5432 cannot be used: %w", err)
		}
		log.Warn("a Postgres answers on 127.0.0.1:5432 but cannot be used; starting a private one", "error", err)
	} else if mode == "local" {
		return nil, errors.New("no Postgres answers on 127.0.0.1:5432")
	}
	return startPrivatePostgres(ctx, dataDir, privatePort, log)
}

func ping(ctx context.Context, u string) error {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// EnsureDatabase creates the database if missing and returns its URL.
func EnsureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", err
		}
	}
	return DatabaseURL(adminURL, name)
}

// DatabaseURL is adminURL with its database replaced by name.
func DatabaseURL(adminURL, name string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// PostgresBinDir finds initdb and postgres on PATH or under /usr/lib/postgresql.
func PostgresBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", errors.New("no Postgres answers on 127.0.0.1:5432 and no PostgreSQL binaries (initdb, postgres) were found " +
		"on PATH or in /usr/lib/postgresql/*/bin: install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL")
}

// startPrivatePostgres runs the postgres server binary as our direct child
// (not daemonized by pg_ctl), so it cannot outlive us; SIGINT is its fast
// shutdown, which ends sessions and checkpoints.
func startPrivatePostgres(ctx context.Context, dataDir string, port int, log *slog.Logger) (*Postgres, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	adminURL := "postgres://postgres@" + addr + "/postgres?sslmode=disable"
	if Answers(addr) {
		// Left by an earlier run of an older hookflow (pg_ctl daemonized
		// it), or run by hand: use it, it is not ours to stop.
		log.Info("a private Postgres already answers; using it", "address", addr)
		return &Postgres{AdminURL: adminURL}, ping(ctx, adminURL)
	}
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Join(dataDir, "postgres"))
	if err != nil {
		return nil, err
	}
	// Postgres refuses to run as root: run it as the postgres user then.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		owner, err := user.Lookup("postgres")
		if err != nil {
			return nil, errors.New("running as root, and Postgres will not run as root: create a 'postgres' user or set DATABASE_URL")
		}
		uid, _ := strconv.Atoi(owner.Uid)
		gid, _ := strconv.Atoi(owner.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if cred != nil {
			for _, p := range []string{filepath.Dir(dir), dir} {
				if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
					return nil, err
				}
			}
		}
		log.Info("creating a private Postgres cluster", "dir", dir)
		initdb := &Process{Name: "initdb", Path: filepath.Join(bin, "initdb"),
			Args:    []string{"-D", dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8"},
			LogPath: filepath.Join(dataDir, "initdb.log"), Credential: cred}
		if err := initdb.Run(ctx); err != nil {
			return nil, err
		}
	}
	p := &Process{
		Name: "Postgres", Path: filepath.Join(bin, "postgres"),
		Args:    []string{"-D", dir, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1", "-k", dir},
		LogPath: filepath.Join(dir, "server.log"), Credential: cred,
		StopSignal: syscall.SIGINT, DeathSignal: syscall.SIGINT,
		Ready: func(ctx context.Context) error { return ping(ctx, adminURL) },
	}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	log.Info("started a private Postgres", "address", addr, "dir", dir, "log", p.LogPath)
	return &Postgres{AdminURL: adminURL, Process: p}, nil
}
