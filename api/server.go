// Package api is hookflow's HTTP surface (Gin): one file per source, plus the
// shared middleware, error shape and health checks.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/metric"
	"go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/internal/auth"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/demo"
	"github.com/hookflow/hookflow/internal/inbound"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/telemetry"
	"github.com/hookflow/hookflow/internal/web/ops"
)

// Server carries what the handlers need.
type Server struct {
	Config   config.Config
	Store    *store.Store
	Temporal client.Client
	Pipeline *inbound.Pipeline
	Log      *slog.Logger

	// hooks is the SOURCES_FILE table POST /hooks/* serves (SetSources).
	hooks atomic.Pointer[hookTable]
	// hooksUnrouted: a built-in route lives under /hooks/, so NoRoute
	// serves the declared sources (hookRoutes).
	hooksUnrouted bool

	// SimplyPrintEvents feeds the live stream of processed events.
	SimplyPrintEvents *store.Notifier
	// SelfURL is this API's own base URL (the ops console's test button
	// calls the real webhook endpoint through it).
	SelfURL func() string
	// ReloadSources reads SOURCES_FILE again and serves it (app.ReloadSources):
	// POST /api/v1/sources/reload, as SIGHUP does. Nil: not offered.
	ReloadSources func() ([]string, error)
	// Demo is set in demo mode (hookflow dev --demo): the console shows
	// the fakes hookflow is wired to. Set it before the handler is built.
	Demo *demo.Fakes

	tokens *auth.Set // ADMIN_TOKEN, ADMIN_TOKENS, READ_TOKENS; set by Handler
}

// Handler builds the router.
func (s *Server) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	s.tokens = s.accessTokens()
	r := gin.New()
	r.ContextWithFallback = true // a *gin.Context used as context keeps the span (otelgin)
	r.RedirectTrailingSlash = false
	r.HandleMethodNotAllowed = true
	r.Use(otelgin.Middleware(s.Config.Telemetry.ServiceName), s.recoverJSON(), s.accessLog())
	r.NoRoute(func(c *gin.Context) {
		if s.hooksUnrouted && c.Request.Method == http.MethodPost && strings.HasPrefix(c.Request.URL.Path, hooksPrefix) {
			s.hookDispatch(c) // see hookRoutes
			return
		}
		fail(c, http.StatusNotFound, "no such endpoint: "+c.Request.Method+" "+c.Request.URL.Path)
	})
	r.NoMethod(func(c *gin.Context) {
		fail(c, http.StatusMethodNotAllowed, "method "+c.Request.Method+" is not allowed on "+c.Request.URL.Path)
	})

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/openapi.json", s.openAPI)
	if metrics, err := telemetry.EnsureMetrics(); err == nil {
		r.GET("/metrics", gin.WrapH(metrics))
	}
	(&ops.Console{
		Store: s.Store, Tokens: s.tokens, Log: s.Log,
		TemporalUI: s.Config.Temporal.UIURL, Namespace: s.Config.Temporal.Namespace,
		SelfURL: s.SelfURL, SPSecret: s.Config.SimplyPrint.WebhookSecret, ClientIDs: s.Config.Jobs.ClientIDs,
		Demo: s.Demo,
	}).Register(r)
	s.logRotations()
	s.simplyPrintRoutes(r)
	s.jobsRoutes(r)
	s.ordersRoutes(r)
	s.ratingsRoutes(r)
	s.opsRoutes(r)
	s.sourceRoutes(r)
	s.eventRoutes(r)
	s.replayRoutes(r)
	s.demoRoutes(r)
	s.hookRoutes(r) // last: it looks for built-in routes under /hooks/
	return r
}

// accessLog logs one line per request: never the query string (Okdesk-style
// tokens travel there) and never headers.
func (s *Server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		level := slog.LevelDebug
		if c.Writer.Status() >= 500 {
			level = slog.LevelWarn
		}
		if !s.Log.Enabled(c.Request.Context(), level) {
			return // every request passes here: format nothing for a disabled level
		}
		attrs := []any{"method", c.Request.Method, "path", c.Request.URL.Path,
			"status", c.Writer.Status(), "duration", time.Since(start).String()}
		if id, ok := auth.Who(c); ok {
			attrs = append(attrs, "token", id.Name) // the name; never the token
		}
		s.Log.Log(c.Request.Context(), level, "http request", attrs...)
	}
}

// accessTokens parses the tokens (LoadFrom has checked them; a config built
// otherwise that does not parse gets none, which closes everything) and
// warns about an API that is closed, or open, by its configuration.
func (s *Server) accessTokens() *auth.Set {
	tokens, err := s.Config.Tokens()
	if s.Log == nil {
		return tokens
	}
	if err != nil {
		s.Log.Error("access tokens do not parse: every endpoint that needs a token refuses", "error", err)
	} else if tokens.Empty() {
		s.Log.Warn("no ADMIN_TOKEN, ADMIN_TOKENS or READ_TOKENS: endpoints that return stored data and admin actions answer 403")
	}
	if s.Config.PublicMonitoring {
		s.Log.Warn("PUBLIC_MONITORING=true: GET /api/v1/webhook-metrics, /api/v1/webhook-health and /api/v1/webhook-failures answer without a token (failures show client callback URLs and receiver errors)")
	}
	return tokens
}

func (s *Server) recoverJSON() gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		s.Log.Error("handler panicked", "path", c.Request.URL.Path, "panic", err)
		fail(c, http.StatusInternalServerError, "internal error")
	})
}

// inboundMetrics counts an inbound endpoint's requests per outcome and
// measures its ack latency. Handlers mark duplicates with markDuplicate.
func inboundMetrics(source string) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		countInbound(c, source, start)
	}
}

// countInbound records one inbound request's outcome and ack latency.
func countInbound(c *gin.Context, source string, start time.Time) {
	m := telemetry.Metrics()
	outcome := "accepted"
	switch status := c.Writer.Status(); {
	case status >= 500:
		outcome = "error"
	case status >= 400:
		outcome = "rejected"
	case c.GetBool(duplicateKey):
		outcome = "duplicate"
	case c.GetBool(ignoredKey):
		outcome = "ignored"
	}
	ctx := c.Request.Context()
	m.Inbound.Add(ctx, 1, inboundAttrs(source, outcome))
	if outcome == "accepted" || outcome == "duplicate" {
		m.AckLatency.Record(ctx, time.Since(start).Seconds(), inboundAttrs(source, ""))
	}
}

// inboundAttrSets holds countInbound's attribute sets, built once per
// source and outcome ("" for the source alone) instead of per request.
var inboundAttrSets sync.Map // [2]string{source, outcome} -> metric.MeasurementOption

func inboundAttrs(source, outcome string) metric.MeasurementOption {
	key := [2]string{source, outcome}
	if o, ok := inboundAttrSets.Load(key); ok {
		return o.(metric.MeasurementOption)
	}
	kv := []string{"source", source}
	if outcome != "" {
		kv = append(kv, "outcome", outcome)
	}
	o, _ := inboundAttrSets.LoadOrStore(key, telemetry.Attrs(kv...))
	return o.(metric.MeasurementOption)
}

const duplicateKey = "hookflow.duplicate"

// markDuplicate tells inboundMetrics the event was a repeat.
func markDuplicate(c *gin.Context, duplicate bool) { c.Set(duplicateKey, duplicate) }

const ignoredKey = "hookflow.ignored"

// markIgnored tells inboundMetrics the request was acknowledged but its
// event is not processed (a kind no flow handles, or a Telegram update that
// can never be accepted).
func markIgnored(c *gin.Context) { c.Set(ignoredKey, true) }

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz reports whether Postgres and Temporal answer, the relay backlog
// and the paused sources (a pause leaves hookflow ready).
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := gin.H{}
	ready := true
	if err := s.Store.Ping(ctx); err != nil {
		checks["postgres"] = "unreachable: " + err.Error()
		ready = false
	} else {
		checks["postgres"] = "ok"
		if n, age, err := s.Store.Backlog(ctx); err == nil {
			checks["relay_backlog"] = n
			checks["relay_oldest_seconds"] = int(age.Seconds())
		}
		// Paused sources are held on purpose: shown, still ready.
		if paused, err := s.Store.PausedSources(ctx); err == nil {
			checks["paused_sources"] = append([]string{}, paused...)
		}
		if paused, err := s.Store.PausedClients(ctx); err == nil {
			checks["paused_clients"] = append([]string{}, paused...)
		}
	}
	if relay := s.Pipeline.Relay; relay != nil {
		held, of := relay.Shards()
		checks["relay_shards"] = gin.H{"held": held, "of": of}
		if err := relay.LastError(); err != nil {
			checks["relay"] = err.Error()
		}
	}
	if _, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"] = "unreachable: " + err.Error()
		ready = false
	} else {
		checks["temporal"] = "ok"
	}
	if !ready {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": checks})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": checks})
}
