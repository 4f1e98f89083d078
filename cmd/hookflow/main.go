// Command hookflow is the whole service: one binary with subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/telemetry"
	"github.com/hookflow/hookflow/internal/temporalx"
)

const usage = `hookflow: a self-hosted webhook orchestrator on Temporal.

Usage: hookflow <command> [flags]

Commands:
  serve        run the API and the Temporal worker in one process
  api          run only the HTTP API (and the relay that hands events to Temporal)
  worker       run only the Temporal worker
  migrate      apply database migrations; --temporal also registers search attributes
  dev          start a Temporal dev server and Postgres if needed, migrate, then serve
  cluster      run the production topology here: Temporal server on Postgres, UI, 2 APIs, 2 workers
  simplyprint  register-webhooks [--list]: manage the SimplyPrint webhook
  telegram     set-webhook [--url URL]: point the rating bot at this service
  okdesk       link-contact <contact_id>: print a deep link that ties a Telegram chat to a contact
  sources      [list] | pause <source> [--reason TEXT] | resume <source> | reload: on the running hookflow;
               check [--no-env] FILE: validate a SOURCES_FILE offline
  clients      [list] | pause <client> [--reason TEXT] | resume <client>: callback clients, likewise
  deliveries   retry <delivery id>... | retry --failed [filters]: new attempt series, on the running hookflow
  events       replay <event id>... | replay --source S [filters]: hand events to their flow again
  trigger      <source> <event> [flags] | --list: send a sample event to the running hookflow
  demo         tour [--timeout 60s]: run one of each flow through the running demo (make demo), step by step
  config       print every environment variable with its default
  healthcheck  exit 0 if the API on HTTP_ADDR answers /healthz (for container health checks)
  version      print the version

The remote commands (sources, clients, deliveries, events) call the admin API of the hookflow at
HOOKFLOW_URL (default: this machine, HTTP_ADDR's port) with ADMIN_TOKEN.
The client commands (those and okdesk, telegram, simplyprint, trigger, demo) take what their environment
leaves unset from .data/hookflow-dev.json, which a running 'hookflow dev' writes (mode 0600).

Configuration comes from environment variables; see README.md or 'hookflow config'.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1], os.Args[2:], os.Stdout)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "hookflow: %v\n\n%s", err, usage)
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "hookflow: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, cmd string, args []string, stdout io.Writer) error {
	switch cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, "hookflow", app.Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "config":
		return printConfig(stdout)
	case "sources":
		// Offline: needs no configuration beyond the secrets' variables.
		if len(args) > 0 && args[0] == "check" {
			return sourcesCheck(args[1:], stdout)
		}
	}
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, app.Roles{API: true, Worker: true})
	case "api":
		return serve(ctx, cfg, log, app.Roles{API: true})
	case "worker":
		return serve(ctx, cfg, log, app.Roles{Worker: true})
	case "migrate":
		return migrate(ctx, cfg, log, args)
	case "dev":
		return dev(ctx, cfg, log, args, stdout)
	case "cluster":
		return clusterCommand(ctx, cfg, log, args, stdout)
	case "healthcheck":
		return healthcheck(ctx, cfg)
	}
	if c, ok := clientCommands[cmd]; ok {
		return c(ctx, cfg, args, stdout)
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// clientCommands talk to a running hookflow or its database. They alone read
// the dev file (loadConfig): serve, api, worker and migrate never do, so a
// production process cannot pick up a developer's settings.
var clientCommands = map[string]func(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error{
	"okdesk":      okdeskCommand,
	"telegram":    telegramCommand,
	"simplyprint": simplyPrintCommand,
	"sources": func(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
		return pausesCommand(ctx, sourcesKind, cfg, args, stdout)
	},
	"clients": func(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
		return pausesCommand(ctx, clientsKind, cfg, args, stdout)
	},
	"deliveries": deliveriesCommand,
	"events":     eventsCommand,
	"trigger":    triggerCommand,
	"demo":       demoCommand,
}

// loadConfig reads the environment; the client commands also read the
// running `hookflow dev`'s file for what the environment leaves unset.
func loadConfig(cmd string) (config.Config, error) {
	if _, ok := clientCommands[cmd]; ok {
		return loadConfigWithDevFile(devDataDir, os.Stderr)
	}
	return config.Load()
}

func newLogger(cfg config.Config) *slog.Logger {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()}))
	slog.SetDefault(log)
	return log
}

func requireDatabase(cfg config.Config) error {
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/hookflow); 'hookflow dev' picks one for you, " +
			"and the client commands read it from .data/hookflow-dev.json while hookflow dev runs in this directory")
	}
	return nil
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, roles app.Roles) error {
	if err := requireDatabase(cfg); err != nil {
		return err
	}
	shutdown, err := telemetry.Setup(ctx, cfg.Telemetry, app.Version)
	if err != nil {
		return err
	}
	defer shutdown(context.Background()) //nolint:errcheck
	a, err := app.New(ctx, cfg, log, roles)
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	log.Info("hookflow started", "version", app.Version, "api", roles.API, "worker", roles.Worker,
		"http_addr", a.Addr(), "temporal", cfg.Temporal.Address, "task_queue", cfg.Temporal.TaskQueue)
	if cfg.SourcesFile != "" && roles.API {
		go reloadOnHangup(ctx, a, log)
	}
	<-ctx.Done()
	log.Info("stopping")
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	a.Stop(stopCtx)
	return nil
}

// reloadOnHangup reloads SOURCES_FILE at each SIGHUP; a bad file is
// logged with its problems and the sources in use stay.
func reloadOnHangup(ctx context.Context, a *app.App, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			srcs, err := a.ReloadSources(os.Getenv)
			if err != nil {
				log.Error("SOURCES_FILE not reloaded: the sources in use stay", "file", a.Config.SourcesFile, "error", err)
				continue
			}
			names := make([]string, len(srcs))
			for i, s := range srcs {
				names[i] = s.Name
			}
			log.Info("SOURCES_FILE reloaded", "file", a.Config.SourcesFile, "sources", names)
		}
	}
}

func migrate(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	withTemporal := fs.Bool("temporal", false, "also register hookflow's search attributes in TEMPORAL_NAMESPACE")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if err := requireDatabase(cfg); err != nil {
		return err
	}
	version, err := store.Migrate(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return err
	}
	log.Info("database is up to date", "version", version)
	if *withTemporal {
		tc, err := temporalx.Dial(cfg.Temporal, log)
		if err != nil {
			return err
		}
		defer tc.Close()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := temporalx.EnsureSearchAttributes(tctx, tc, cfg.Temporal.Namespace); err != nil {
			return err
		}
		log.Info("search attributes registered", "namespace", cfg.Temporal.Namespace)
	}
	return nil
}

func printConfig(w io.Writer) error {
	vars, err := config.Variables()
	if err != nil {
		return err
	}
	for _, v := range vars {
		fmt.Fprintf(w, "%s=%s\t# %s\n", v.Name, v.Default, v.Description)
	}
	return nil
}

// healthcheck asks the local API whether it is alive.
func healthcheck(ctx context.Context, cfg config.Config) error {
	_, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %q: %w", cfg.HTTPAddr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %d", resp.StatusCode)
	}
	return nil
}
