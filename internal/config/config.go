// Package config holds hookflow's configuration, read from environment
// variables with caarlos0/env. Every variable has a documented default in
// README.md (a test checks that the table and these structs agree).
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/hookflow/hookflow/internal/auth"
	"github.com/hookflow/hookflow/internal/sources"
)

// Config is the whole configuration of the hookflow binary. Flow-specific
// settings live in their own structs, one file per flow.
type Config struct {
	HTTPAddr      string        `env:"HTTP_ADDR" envDefault:":8080" desc:"address the API listens on"`
	PublicBaseURL string        `env:"PUBLIC_BASE_URL" envDefault:"http://localhost:8080" desc:"URL third parties use to reach the API (webhook registration, deep links)"`
	HookflowURL   string        `env:"HOOKFLOW_URL" desc:"the running hookflow the CLI talks to (hookflow sources and deliveries with ADMIN_TOKEN, hookflow trigger); unset: the one a running hookflow dev wrote to .data/hookflow-dev.json, else this machine at HTTP_ADDR's port"`
	LogLevel      string        `env:"LOG_LEVEL" envDefault:"info" desc:"debug, info, warn or error"`
	BodyLimit     int64         `env:"BODY_LIMIT_BYTES" envDefault:"1048576" desc:"largest accepted request body; larger ones get 413"`
	AdminToken    string        `env:"ADMIN_TOKEN" desc:"an admin token, named admin in logs and traces: Bearer token for every endpoint, admin actions included, and the ops console (see Access)"`
	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE" envDefault:"10s" desc:"how long a stop waits for in-flight requests and activities"`

	// Named tokens (internal/auth): the name, never the token, is what logs,
	// traces and the access log record.
	AdminTokens      string `env:"ADMIN_TOKENS" desc:"more admin tokens, name:token,name2:token2 (each at least 16 characters; names and tokens unique, the name admin is ADMIN_TOKEN's); with ADMIN_TOKEN unset too, admin actions are disabled"`
	ReadTokens       string `env:"READ_TOKENS" desc:"read-only tokens for dashboards and monitoring, name:token,... (each at least 16 characters): every endpoint that returns stored data and the ops pages, no actions; with no token at all those answer 403"`
	PublicMonitoring bool   `env:"PUBLIC_MONITORING" envDefault:"false" desc:"compatibility switch for the seed's monitoring: true answers GET /api/v1/webhook-metrics, /api/v1/webhook-health and /api/v1/webhook-failures without a token (failures show client callback URLs and receiver errors); a warning is logged at start"`

	SourcesFile string `env:"SOURCES_FILE" desc:"YAML file that declares your own webhook sources (received at POST /hooks/<path>, verified, recorded and handed to your Temporal workflow; see docs/sources.md); checked at start like hookflow sources check"`
	// Sources is SOURCES_FILE as LoadFrom read and checked it (secrets
	// resolved from the same variables).
	Sources []*sources.Source `env:"-"`

	DatabaseURL     string `env:"DATABASE_URL" desc:"Postgres connection string; hookflow dev picks or starts one when unset"`
	DatabaseMaxConn int32  `env:"DATABASE_MAX_CONNS" envDefault:"20" desc:"pgxpool size"`

	HTTP      HTTPConfig
	Temporal  TemporalConfig
	Relay     RelayConfig
	Telemetry TelemetryConfig
	Retention RetentionConfig

	SimplyPrint SimplyPrintConfig
	Jobs        JobsConfig
	Orders      OrdersConfig
	Ratings     RatingsConfig
}

// TemporalConfig says where the Temporal frontend is.
type TemporalConfig struct {
	Address   string `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233" desc:"Temporal frontend host:port"`
	Namespace string `env:"TEMPORAL_NAMESPACE" envDefault:"default" desc:"Temporal namespace"`
	TaskQueue string `env:"TEMPORAL_TASK_QUEUE" envDefault:"hookflow" desc:"task queue the worker polls"`
	UIURL     string `env:"TEMPORAL_UI_URL" envDefault:"http://localhost:8233" desc:"Temporal Web UI base URL, for links to runs"`
	APIKey    string `env:"TEMPORAL_API_KEY" desc:"API key for Temporal Cloud (turns TLS on)"`
	TLS       bool   `env:"TEMPORAL_TLS" envDefault:"false" desc:"connect to Temporal over TLS"`
	// The SDK's default is 2 fixed pollers per task type: after a failover
	// one worker then takes a few workflow tasks a second while the backlog
	// grows (make chaos showed it); autoscaling pollers follow the backlog.
	WorkerMaxPollers int `env:"WORKER_MAX_POLLERS" envDefault:"20" desc:"most pollers a worker opens per task type (workflow, activity); the worker scales them with the task queue's backlog"`
	// A workflow waiting on a timer (a callback on its retry schedule) stays
	// in the worker's sticky cache, about 45 KB and a goroutine each, until
	// the cache is full (make bench-jobs: TestBenchJobsParkedCallbacks). The
	// SDK's default of 10,000 lets 10,000 parked callbacks grow a worker by
	// about 450 MB; 1,000 bounds it at about 45 MB, and the hot path does not
	// need the cache: a job or callback that completes in its first workflow
	// task leaves it at once.
	WorkflowCacheSize int `env:"WORKER_WORKFLOW_CACHE_SIZE" envDefault:"1000" desc:"workflow executions a worker process keeps in memory between tasks (the SDK's sticky cache; about 45 KB each); evicted ones replay their history on their next task"`
}

// RelayConfig tunes the relay that hands recorded events to Temporal.
type RelayConfig struct {
	BatchSize    int           `env:"RELAY_BATCH_SIZE" envDefault:"10000" desc:"events the relay claims per round"`
	PollInterval time.Duration `env:"RELAY_POLL_INTERVAL" envDefault:"1s" desc:"how often the relay looks for events nobody poked it about; also the longest it holds events back to batch them"`
	SignalRate   int           `env:"RELAY_SIGNAL_RATE" envDefault:"50" desc:"SignalWithStart calls per second the relay spreads its rounds over: under load each entity's signal then carries more events (0: no spacing)"`
	MaxBackoff   time.Duration `env:"RELAY_MAX_BACKOFF" envDefault:"30s" desc:"longest wait between relay rounds while Temporal is unreachable"`
	Parallelism  int           `env:"RELAY_PARALLELISM" envDefault:"8" desc:"concurrent SignalWithStart calls per round"`
	Shards       int           `env:"RELAY_SHARDS" envDefault:"8" desc:"parts the relay work is split into (by workflow ID), shared out among the API replicas; every replica must use the same number"`
}

// TelemetryConfig holds hookflow's own telemetry switches; the exporters read
// the standard OTEL_* variables themselves (OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER ...).
type TelemetryConfig struct {
	OTLPEndpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT" desc:"OTLP/HTTP endpoint for traces; unset keeps tracing in-process only"`
	ServiceName  string `env:"OTEL_SERVICE_NAME" envDefault:"hookflow" desc:"service.name of every span and metric"`
	MetricsAddr  string `env:"METRICS_ADDR" desc:"extra listener for /metrics, for processes without the API (hookflow worker); the API serves /metrics on HTTP_ADDR"`
	PprofAddr    string `env:"PPROF_ADDR" desc:"loopback listener for Go's profiles (/debug/pprof/), e.g. 127.0.0.1:6060; unset: none"`
}

// Load reads the configuration from the environment.
func Load() (Config, error) {
	return LoadFrom(envMap(os.Environ()))
}

// LoadFrom reads the configuration from the given variables; tests use it.
func LoadFrom(vars map[string]string) (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: vars})
	if err != nil {
		return cfg, explain(err, vars)
	}
	if cfg.SourcesFile != "" {
		srcs, err := sources.LoadFile(cfg.SourcesFile, func(k string) string { return vars[k] })
		if err != nil {
			return cfg, fmt.Errorf("SOURCES_FILE %s:\n%w", cfg.SourcesFile, err)
		}
		cfg.Sources = srcs
		for _, src := range srcs {
			cfg.Retention.Declared = append(cfg.Retention.Declared, src.Name)
		}
	}
	if err := cfg.validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// httpURL parses s as an absolute http(s) URL with a host; ok is false
// when it is not one.
func httpURL(s string) (u *url.URL, ok bool) {
	u, err := url.Parse(s)
	return u, err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (c Config) validate() error {
	var errs []error
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not one of debug, info, warn, error", c.LogLevel))
	}
	if _, ok := httpURL(c.PublicBaseURL); !ok {
		errs = append(errs, fmt.Errorf("PUBLIC_BASE_URL: %q is not an http(s) URL", c.PublicBaseURL))
	}
	if addr := c.Telemetry.PprofAddr; addr != "" {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			errs = append(errs, fmt.Errorf("PPROF_ADDR: %q is not a loopback host:port such as 127.0.0.1:6060 (profiles show the process's internals)", addr))
		}
	}
	if c.BodyLimit <= 0 {
		errs = append(errs, fmt.Errorf("BODY_LIMIT_BYTES: must be positive, got %d", c.BodyLimit))
	}
	if c.Relay.BatchSize <= 0 || c.Relay.Parallelism <= 0 {
		errs = append(errs, errors.New("RELAY_BATCH_SIZE and RELAY_PARALLELISM: must be positive"))
	}
	if c.Relay.Shards <= 0 || c.Relay.Shards > 1024 {
		errs = append(errs, fmt.Errorf("RELAY_SHARDS: must be between 1 and 1024, got %d", c.Relay.Shards))
	}
	if c.Relay.SignalRate < 0 {
		errs = append(errs, fmt.Errorf("RELAY_SIGNAL_RATE: must be 0 (no spacing) or positive, got %d", c.Relay.SignalRate))
	}
	if c.Relay.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("RELAY_POLL_INTERVAL: must be positive, got %s", c.Relay.PollInterval))
	}
	if c.Temporal.WorkerMaxPollers < 2 {
		errs = append(errs, fmt.Errorf("WORKER_MAX_POLLERS: must be at least 2 (one for the sticky queue, one for the shared one), got %d", c.Temporal.WorkerMaxPollers))
	}
	if c.Temporal.WorkflowCacheSize < 1 {
		errs = append(errs, fmt.Errorf("WORKER_WORKFLOW_CACHE_SIZE: must be at least 1, got %d", c.Temporal.WorkflowCacheSize))
	}
	if c.Temporal.TaskQueue == "" {
		errs = append(errs, errors.New("TEMPORAL_TASK_QUEUE: must not be empty"))
	}
	if _, err := c.Tokens(); err != nil {
		errs = append(errs, err) // names variables and entries, never a token
	}
	errs = append(errs, c.HTTP.validate())
	errs = append(errs, c.Retention.validate())
	errs = append(errs, c.SimplyPrint.validate())
	errs = append(errs, c.Jobs.validate())
	errs = append(errs, c.Orders.validate())
	errs = append(errs, c.Ratings.validate())
	return errors.Join(errs...)
}

// Tokens parses ADMIN_TOKEN, ADMIN_TOKENS and READ_TOKENS (checked at load).
func (c Config) Tokens() (*auth.Set, error) {
	return auth.Parse(c.AdminToken, c.AdminTokens, c.ReadTokens)
}

// SlogLevel maps LOG_LEVEL to a slog level.
func (c Config) SlogLevel() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.LogLevel))
	return l
}

// Variable describes one environment variable for documentation.
type Variable struct {
	Name, Default, Description string
}

// Variables lists every variable Config reads, in declaration order.
func Variables() ([]Variable, error) {
	params, err := env.GetFieldParams(&Config{})
	if err != nil {
		return nil, err
	}
	descs := descriptions()
	out := make([]Variable, 0, len(params))
	for _, p := range params {
		out = append(out, Variable{Name: p.Key, Default: p.DefaultValue, Description: descs[p.Key]})
	}
	return out, nil
}

// explain turns caarlos0/env's aggregate error into one line per variable,
// naming the variable (the library names the Go field).
func explain(err error, vars map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	byField := fieldVariables()
	msgs := make([]string, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			for _, name := range byField[pe.Name] {
				if v, set := vars[name]; set {
					msgs = append(msgs, fmt.Sprintf("%s: cannot read %q as %s", name, v, kindName(pe.Type.String())))
				}
			}
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return fmt.Errorf("invalid configuration: %s", strings.Join(msgs, "; "))
}

func kindName(goType string) string {
	switch goType {
	case "time.Duration":
		return "a duration (e.g. 30s, 5m, 1h)"
	case "config.Period":
		return "a period (e.g. 30d, 12h, 0 to keep for ever)"
	case "bool":
		return "a boolean (true or false)"
	case "int", "int32", "int64":
		return "a whole number"
	case "float64":
		return "a number"
	}
	return goType
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
