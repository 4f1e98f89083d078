package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/demo"
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
	demoMode := fs.Bool("demo", false, "also start fakes of every vendor and a callback receiver, wire hookflow to them, and show them on /ops/demo")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	var fakes *demo.Fakes
	if *demoMode {
		fakes = demo.Start()
		defer fakes.Close()
		var err error
		if cfg, err = demoConfig(fakes); err != nil {
			return err
		}
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
	var generatedToken bool
	cfg.AdminToken, generatedToken = adminTokenForRun(cfg.AdminToken)
	if made := fillDevSecrets(&cfg); len(made) > 0 {
		log.Info("inbound secrets made for this run (in the dev file, for hookflow trigger)", "variables", made)
	}
	if os.Getenv("TEMPORAL_UI_URL") == "" { // its default names port 8233, whatever --ui-port says
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
	if fakes != nil {
		a.Server.Demo = fakes
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
	demoNote := ""
	if fakes != nil {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := fakes.Connect(cctx, localURL(a.Addr()), cfg.Ratings.Path())
		cancel()
		if err != nil {
			stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
			defer cancelStop()
			a.Stop(stopCtx)
			return err
		}
		demoNote = fmt.Sprintf(`
DEMO MODE: SimplyPrint, Okdesk, Telegram, Bitrix24 REST and the description generator are
in-process fakes, and job callbacks go to a local receiver; nothing reaches a real account.
  demo page      %s/ops/demo   (the fakes' state; press the rating buttons of the fake Telegram chat)
  tour           bin/hookflow demo tour   (in a second terminal: one of each flow, step by step)
`, api)
	}
	fmt.Fprintf(stdout, `
hookflow is running (Ctrl-C stops everything it started)

  API            %[1]s   (health: %[1]s/readyz, metrics: %[1]s/metrics)
  Temporal UI    %[2]s/namespaces/%[3]s/workflows
  ops console    %[1]s/ops   %[5]s
  order sync     %[1]s/crm/sync
  Postgres       %[4]s

  inbound        POST %[1]s/api/v1/simpleprint/webhook/   (SimplyPrint)
                 POST %[1]s%[6]s   (Okdesk)   POST %[1]s/telegram-webhook
                 POST %[1]s/api/webhooks/bitrix/order and /status   (Bitrix site)
                 POST %[1]s/api/v1/generate-descriptions   (description jobs)
  read           %[1]s/api/v1/simpleprint/events   %[1]s/api/v1/simpleprint/stream (SSE)
                 (read endpoints need a token: Authorization: Bearer <token>; see README, Access)

Try:  curl -X POST %[1]s/api/v1/simpleprint/webhook/ -H 'Content-Type: application/json' -d '{"test": true}'
      curl -H "Authorization: Bearer %[7]s" %[1]s/api/v1/simpleprint/events
%[8]s`, api, env.TemporalUI, cfg.Temporal.Namespace, redactURL(cfg.DatabaseURL), adminHint(cfg.AdminToken, generatedToken), cfg.Ratings.WebhookPath,
		bearerForRun(cfg.AdminToken, generatedToken), demoNote)
	devPath, removeDevFile, err := writeDevFile(*dataDir, devFileEnv(cfg, localURL(a.Addr())))
	if err != nil {
		log.Warn("cannot write the dev file: other terminals will need the variables set", "error", err)
	} else {
		defer removeDevFile()
		fmt.Fprintf(stdout, "Other terminals: hookflow commands run in this directory find this run through %s\n"+
			"(try: bin/hookflow trigger --list)\n", devPath)
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping...")
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancelStop()
	a.Stop(stopCtx)
	return nil
}

// demoConfig is the configuration of the environment with the demo's
// variables (the fakes' URLs and credentials) set over it, read as
// hookflow reads any configuration.
func demoConfig(fakes *demo.Fakes) (config.Config, error) {
	vars := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	cfg, err := config.LoadFrom(fakes.Apply(vars))
	if err != nil {
		return cfg, fmt.Errorf("demo configuration: %w", err)
	}
	return cfg, nil
}

// localURL is how the fakes in this process, and a CLI on this machine
// (the dev file), reach the API listening on addr: its own host, or
// loopback when it listens on every interface.
func localURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return ":" + port
}

// adminTokenForRun is ADMIN_TOKEN, or when it is unset a token made for
// this run, so that the console and admin APIs of `dev` and `cluster` work
// out of the box on a developer's machine.
func adminTokenForRun(given string) (token string, generated bool) {
	if given != "" {
		return given, false
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b), true
}

// adminHint tells how to log in to the console. A token generated for this
// run is printed (it is new at every start and only for this machine);
// one from ADMIN_TOKEN never is.
func adminHint(token string, generated bool) string {
	if generated {
		return "(admin token for this run: " + token + "; set ADMIN_TOKEN to choose one)"
	}
	return "(log in with ADMIN_TOKEN)"
}

// bearerForRun is what the printed curl examples send: the token generated
// for this run, or a reference to ADMIN_TOKEN (never its value).
func bearerForRun(token string, generated bool) string {
	if generated {
		return token
	}
	return "$ADMIN_TOKEN"
}
