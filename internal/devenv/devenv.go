// Package devenv starts what `hookflow dev` needs on a developer's machine: a
// Temporal dev server (with its Web UI and hookflow's search attributes) and
// a Postgres, reusing ones that already answer.
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
	"strconv"
	"strings"
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
		if err := e.startPostgres(ctx, o); err != nil {
			e.Stop()
			return nil, err
		}
	}
	return e, nil
}

func answers(addr string) bool {
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
	e.TemporalUI = fmt.Sprintf("http://%s:%d", displayHost(host), o.TemporalUIPort)
	if answers(o.TemporalAddress) {
		e.log.Info("Temporal already answers; using it", "address", o.TemporalAddress)
		return nil
	}
	cli, err := FindTemporalCLI(o.TemporalCLI)
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(o.DataDir, "temporal.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	args := []string{"server", "start-dev", "--ip", host, "--port", port,
		"--ui-port", strconv.Itoa(o.TemporalUIPort), "--db-filename", filepath.Join(o.DataDir, "temporal.db"),
		"--log-level", "warn"}
	args = append(args, temporalx.DevServerSearchAttributeArgs()...)
	cmd := exec.Command(cli, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us; we stop it ourselves
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start the Temporal dev server: %w", err)
	}
	e.log.Info("starting the Temporal dev server", "address", o.TemporalAddress, "ui", e.TemporalUI, "log", logFile.Name())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	e.stops = append(e.stops, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
	})
	deadline := time.Now().Add(90 * time.Second)
	for !answers(o.TemporalAddress) {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("the Temporal dev server exited (%v); see %s", err, logFile.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Temporal dev server did not answer on %s within 90s; see %s", o.TemporalAddress, logFile.Name())
		}
	}
	return nil
}

func displayHost(h string) string {
	if h == "" || h == "0.0.0.0" || h == "127.0.0.1" {
		return "localhost"
	}
	return h
}

// startPostgres uses the Postgres at 127.0.0.1:5432 (creating database
// hookflow), or starts a private cluster under DataDir.
func (e *Env) startPostgres(ctx context.Context, o Options) error {
	const local = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	if o.Postgres == "private" {
		return e.startPrivatePostgres(ctx, o)
	}
	if answers("127.0.0.1:5432") {
		url, err := ensureDatabase(ctx, local, "hookflow")
		if err == nil {
			e.DatabaseURL = url
			e.log.Info("using the local Postgres", "database", "hookflow", "address", "127.0.0.1:5432")
			return nil
		}
		if o.Postgres == "local" {
			return fmt.Errorf("the Postgres on 127.0.0.1:5432 cannot be used: %w", err)
		}
		e.log.Warn("a Postgres answers on 127.0.0.1:5432 but cannot be used; starting a private one", "error", err)
	} else if o.Postgres == "local" {
		return errors.New("no Postgres answers on 127.0.0.1:5432")
	}
	return e.startPrivatePostgres(ctx, o)
}

// ensureDatabase creates the database if missing and returns its URL.
func ensureDatabase(ctx context.Context, adminURL, name string) (string, error) {
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
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// PostgresBinDir finds initdb and pg_ctl on PATH or under /usr/lib/postgresql.
func PostgresBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", errors.New("no Postgres answers on 127.0.0.1:5432 and no PostgreSQL binaries (initdb, pg_ctl) were found " +
		"on PATH or in /usr/lib/postgresql/*/bin: install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL")
}

const privatePort = "54329"

func (e *Env) startPrivatePostgres(ctx context.Context, o Options) error {
	bin, err := PostgresBinDir()
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(filepath.Join(o.DataDir, "postgres"))
	if err != nil {
		return err
	}
	// Postgres refuses to run as root: run it as the postgres user then.
	var asUser []string
	var owner *user.User
	if os.Geteuid() == 0 {
		owner, err = user.Lookup("postgres")
		if err != nil {
			return errors.New("running as root, and Postgres will not run as root: create a 'postgres' user or set DATABASE_URL")
		}
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(ctx context.Context, name string, args ...string) error {
		full := append(append([]string{}, asUser...), append([]string{filepath.Join(bin, name)}, args...)...)
		out, err := exec.CommandContext(ctx, full[0], full[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if owner != nil {
			uid, _ := strconv.Atoi(owner.Uid)
			gid, _ := strconv.Atoi(owner.Gid)
			for _, p := range []string{filepath.Dir(dir), dir} {
				if err := os.Chown(p, uid, gid); err != nil {
					return err
				}
			}
		}
		e.log.Info("creating a private Postgres cluster", "dir", dir)
		if err := run(ctx, "initdb", "-D", dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8"); err != nil {
			return err
		}
	}
	logPath := filepath.Join(dir, "server.log")
	if err := run(ctx, "pg_ctl", "-D", dir, "-l", logPath, "-w", "-o",
		"-p "+privatePort+" -c listen_addresses=127.0.0.1 -k "+dir, "start"); err != nil {
		return err
	}
	// Stopping runs after Ctrl-C has cancelled ctx: it needs its own context.
	e.stops = append(e.stops, func() { _ = run(context.Background(), "pg_ctl", "-D", dir, "-m", "fast", "-w", "stop") })
	url, err := ensureDatabase(ctx, "postgres://postgres@127.0.0.1:"+privatePort+"/postgres?sslmode=disable", "hookflow")
	if err != nil {
		return err
	}
	e.DatabaseURL = url
	e.log.Info("started a private Postgres", "address", "127.0.0.1:"+privatePort, "dir", dir)
	return nil
}
