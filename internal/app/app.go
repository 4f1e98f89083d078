// Package app is the composition root: it wires configuration, Postgres,
// Temporal, the relay, the HTTP API and the worker into one runnable unit,
// used by every subcommand of the binary and by the integration tests.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	"go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/inbound"
	"github.com/hookflow/hookflow/internal/sources"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/telemetry"
	"github.com/hookflow/hookflow/internal/temporalx"
	"github.com/hookflow/hookflow/worker"
)

// Version is the build's version (set with -ldflags by the Makefile).
var Version = "dev"

// Roles selects what a process runs.
type Roles struct {
	API    bool // HTTP API, relay and live-stream listener
	Worker bool // Temporal worker
}

// App is one running hookflow process.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	Store    *store.Store
	Temporal client.Client
	Relay    *inbound.Relay
	Server   *api.Server

	roles    Roles
	worker   *worker.Workers
	listener net.Listener
	http     *http.Server
	metrics  *http.Server
	// pprof serves Go's profiles on PPROF_ADDR (pprofAddr once listening).
	pprof     *http.Server
	pprofAddr string
	// backlogGauge is unregistered on Stop (several Apps share a process in tests).
	backlogGauge metric.Registration
	sourceGauge  metric.Registration // hookflow_source_paused and _held, unregistered with it
	clientGauge  metric.Registration // hookflow_client_paused and _pending
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	ownsDeps     bool
}

// New connects to Postgres and (lazily) Temporal and builds the parts.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, roles Roles) (*App, error) {
	if _, err := telemetry.EnsureMetrics(); err != nil { // before the Temporal client takes its meter
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConn)
	if err != nil {
		return nil, err
	}
	tc, err := temporalx.Dial(cfg.Temporal, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	a := Assemble(cfg, log, st, tc, roles)
	a.ownsDeps = true
	return a, nil
}

// Assemble builds an App from existing connections (tests share them).
func Assemble(cfg config.Config, log *slog.Logger, st *store.Store, tc client.Client, roles Roles) *App {
	a := &App{Config: cfg, Log: log, Store: st, Temporal: tc, roles: roles}
	if roles.API {
		a.Relay = inbound.NewRelay(st, tc, cfg.Temporal.TaskQueue, cfg.Relay, log.With("component", "relay"))
		for source, workflowType := range worker.Routes() {
			a.Relay.Handle(source, inbound.Route{WorkflowType: workflowType})
		}
		for _, src := range cfg.Sources {
			a.Relay.Handle(src.Name, inbound.Route{Declared: src})
		}
		a.Server = &api.Server{
			Config: cfg, Store: st, Temporal: tc, Log: log,
			Pipeline:          &inbound.Pipeline{Store: st, Relay: a.Relay},
			SimplyPrintEvents: store.NewNotifier(st, store.SimplyPrintChannel, log),
		}
		a.Server.SelfURL = a.URL
		a.Server.ReloadSources = func() ([]string, error) {
			srcs, err := a.ReloadSources(os.Getenv)
			names := make([]string, len(srcs))
			for i, src := range srcs {
				names[i] = src.Name
			}
			return names, err
		}
	}
	if roles.Worker {
		a.worker = worker.New(tc, a.deps())
	}
	return a
}

func (a *App) deps() worker.Deps {
	return worker.Deps{
		Config: a.Config, Store: a.Store, Log: a.Log, Version: Version,
		HTTPClient: &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport), Timeout: time.Minute},
	}
}

// Start listens and starts the background parts; it returns once the API
// accepts connections and the worker polls.
func (a *App) Start(ctx context.Context) error {
	ctx, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if a.roles.API {
		ln, err := net.Listen("tcp", a.Config.HTTPAddr)
		if err != nil {
			return fmt.Errorf("HTTP_ADDR %s: %w", a.Config.HTTPAddr, err)
		}
		a.listener = ln
		hc := a.Config.HTTP
		a.http = &http.Server{
			Handler:           api.Limit(a.Server.Handler(), hc),
			ReadHeaderTimeout: hc.ReadHeaderTimeout,
			ReadTimeout:       hc.ReadTimeout, // the whole request: a client trickling its body is cut off
			WriteTimeout:      hc.WriteTimeout,
			IdleTimeout:       hc.IdleTimeout,
			MaxHeaderBytes:    api.HeaderHardLimit(hc),
		}
		a.goRun(func() {
			if err := a.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.Log.Error("HTTP server stopped", "error", err)
			}
		})
		a.Server.Pipeline.Run(ctx)
		reg, err := telemetry.ObserveBacklog(func(ctx context.Context) (int64, float64, error) {
			n, age, err := a.Store.Backlog(ctx)
			return n, age.Seconds(), err
		})
		if err != nil {
			return err
		}
		a.backlogGauge = reg
		if a.sourceGauge, err = telemetry.ObserveSources(func(ctx context.Context, observe func(string, bool, int64)) error {
			states, err := a.Store.SourceStates(ctx, config.EventSources)
			for _, s := range states {
				observe(s.Source, s.Paused, s.Held)
			}
			return err
		}); err != nil {
			return err
		}
		ids := a.Config.Jobs.ClientIDs()
		if a.clientGauge, err = telemetry.ObserveClients(func(ctx context.Context, observe func(string, bool, int64)) error {
			states, err := a.Store.ClientStates(ctx, ids)
			for _, s := range states {
				observe(s.ClientID, s.Paused, s.Pending)
			}
			return err
		}); err != nil {
			return err
		}
		a.goRun(func() { a.Relay.Run(ctx) })
		a.goRun(func() { a.Server.SimplyPrintEvents.Run(ctx) })
		if a.Config.SimplyPrint.WebhookSecret == "" {
			a.Log.Warn("SIMPLYPRINT_WEBHOOK_SECRET is not set: SimplyPrint webhooks are accepted without authentication")
		}
	}
	if addr := a.Config.Telemetry.MetricsAddr; addr != "" {
		metrics, err := telemetry.EnsureMetrics()
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics)
		if a.metrics, _, err = a.serveSide("METRICS_ADDR", addr, mux); err != nil {
			return err
		}
	}
	if addr := a.Config.Telemetry.PprofAddr; addr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		var err error
		if a.pprof, a.pprofAddr, err = a.serveSide("PPROF_ADDR", addr, mux); err != nil {
			return err
		}
	}
	if a.worker != nil {
		if err := a.worker.Start(); err != nil {
			a.Stop(context.Background())
			return fmt.Errorf("start Temporal worker (TEMPORAL_ADDRESS=%s): %w", a.Config.Temporal.Address, err)
		}
		a.goRun(func() { worker.KeepRetentionSchedule(ctx, a.Temporal, a.Config, a.Log) })
	}
	return nil
}

// serveSide serves h on a listener of its own at addr (the variable named
// env set it): METRICS_ADDR, PPROF_ADDR. Stop closes the server.
func (a *App) serveSide(env, addr string, h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: %w", env, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	a.goRun(func() { _ = srv.Serve(ln) })
	return srv, ln.Addr().String(), nil
}

func (a *App) goRun(f func()) {
	a.wg.Add(1)
	go func() { defer a.wg.Done(); f() }()
}

// PprofAddr is where PPROF_ADDR listens ("" when it is unset).
func (a *App) PprofAddr() string { return a.pprofAddr }

// Addr is the API's listening address (useful with HTTP_ADDR=127.0.0.1:0).
func (a *App) Addr() string {
	if a.listener == nil {
		return ""
	}
	return a.listener.Addr().String()
}

// URL is the API's base URL on loopback.
func (a *App) URL() string { return "http://" + a.Addr() }

// Stop shuts down gracefully within the context's deadline.
func (a *App) Stop(ctx context.Context) {
	if a.http != nil {
		if err := a.http.Shutdown(ctx); err != nil {
			_ = a.http.Close()
		}
	}
	if a.pprof != nil {
		_ = a.pprof.Close()
	}
	if a.metrics != nil {
		_ = a.metrics.Close()
	}
	for _, g := range []metric.Registration{a.sourceGauge, a.clientGauge, a.backlogGauge} {
		if g != nil {
			_ = g.Unregister()
		}
	}
	if a.worker != nil {
		a.worker.Stop()
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	if a.ownsDeps {
		a.Temporal.Close()
		a.Store.Close()
	}
}

// ReloadSources reads SOURCES_FILE again (secrets from getenv) and, if it
// is valid, serves its sources from now on: requests in flight finish with
// the sources they started with. A bad file changes nothing and its
// problems are returned. The relay keeps the routes of sources the file no
// longer declares, so their recorded events are still handed over.
func (a *App) ReloadSources(getenv func(string) string) ([]*sources.Source, error) {
	if a.Config.SourcesFile == "" {
		return nil, errors.New("SOURCES_FILE is not set: there is nothing to reload")
	}
	if a.Server == nil {
		return nil, nil // a worker alone serves no webhooks
	}
	srcs, err := sources.LoadFile(a.Config.SourcesFile, getenv)
	if err != nil {
		return nil, err
	}
	for _, src := range srcs {
		a.Relay.Handle(src.Name, inbound.Route{Declared: src})
	}
	a.Server.SetSources(srcs)
	return srcs, nil
}
