package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/devenv"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/telemetry"
	"github.com/hookflow/hookflow/internal/temporalx"
)

// dev runs the whole system on embedded defaults: Temporal dev server (with
// its Web UI), Postgres, migrations, API and worker. Ctrl-C stops all of it.
func dev(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	dataDir := fs.String("data", ".data", "where the dev server and a private Postgres keep their files")
	uiPort := fs.Int("ui-port", 8233, "Temporal Web UI port")
	pg := fs.String("postgres", "auto", "without DATABASE_URL: auto (127.0.0.1:5432, else a private cluster), local, or private")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	env, err := devenv.Start(ctx, devenv.Options{
		DataDir: *dataDir, TemporalAddress: cfg.Temporal.Address, TemporalUIPort: *uiPort,
		TemporalCLI: os.Getenv("TEMPORAL_CLI"), DatabaseURL: cfg.DatabaseURL, Postgres: *pg,
	}, log)
	if err != nil {
		return err
	}
	defer env.Stop()
	cfg.DatabaseURL = env.DatabaseURL
	if cfg.Temporal.UIURL == "" {
		cfg.Temporal.UIURL = env.TemporalUI
	}
	if _, err := store.Migrate(ctx, cfg.DatabaseURL, log); err != nil {
		return err
	}
	shutdown, err := telemetry.Setup(ctx, cfg.Telemetry, app.Version)
	if err != nil {
		return err
	}
	defer shutdown(context.Background()) //nolint:errcheck
	a, err := app.New(ctx, cfg, log, app.Roles{API: true, Worker: true})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = temporalx.EnsureSearchAttributes(sctx, a.Temporal, cfg.Temporal.Namespace)
	cancel()
	if err != nil {
		a.Stop(context.Background())
		return err
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	api := "http://localhost" + portOf(a.Addr())
	fmt.Fprintf(stdout, `
hookflow is running (Ctrl-C stops everything it started)

  API            %[1]s
  health         %[1]s/readyz
  SimplyPrint    POST %[1]s/api/v1/simpleprint/webhook/
  events         %[1]s/api/v1/simpleprint/events
  live stream    %[1]s/api/v1/simpleprint/stream
  Temporal UI    %[2]s/namespaces/%[3]s/workflows
  Postgres       %[4]s

Try:  curl -X POST %[1]s/api/v1/simpleprint/webhook/ -H 'Content-Type: application/json' -d '{"test": true}'
`, api, env.TemporalUI, cfg.Temporal.Namespace, redactURL(cfg.DatabaseURL))
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping...")
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancelStop()
	a.Stop(stopCtx)
	return nil
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return ":" + port
}
