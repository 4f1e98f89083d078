package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/auth"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/jobs"
	"github.com/hookflow/hookflow/internal/sources"
	"github.com/hookflow/hookflow/internal/store"
)

// Pauses (issue 12).
//
// A paused source still authenticates, records and acks its events (the
// ack path does not look at pauses), but the relay holds them in the
// outbox until the source is resumed, then hands them over in id order.
//
// While a callback client is paused, its deliveries wait before each
// attempt instead of sending it (the attempt is not spent), looking again
// after CALLBACK_PAUSE_POLL, doubling up to 10 minutes; on resume they go
// out with their schedule where it was.
//
// Both are rows (source_pauses, client_pauses), so they survive restarts;
// GET /api/v1/sources and /api/v1/clients, /readyz and the metrics
// hookflow_source_paused and hookflow_client_paused show them.

// pauseKind is a kind of thing that pauses: its route parameter and list,
// and its store calls.
type pauseKind[T any] struct {
	param, plural string
	hint          string // after the list of valid names in a 404
	names         func() []string
	set           func(ctx context.Context, actor, name string, pause bool, reason string) (bool, error)
	states        func(ctx context.Context, names []string) ([]T, error)
	resumed       func() // after a resume
}

func (s *Server) sourceRoutes(r *gin.Engine) {
	sources := pauseKind[store.SourceState]{param: "source", plural: "sources",
		names:  s.sourceNames,
		set:    s.Store.SetSourcePaused,
		states: s.Store.SourceStates,
		// This relay hands the held events over now; others at their next poll.
		resumed: s.pokeRelay}
	clients := pauseKind[store.ClientState]{param: "client", plural: "clients", hint: " (JOBS_CLIENTS)",
		names:  s.Config.Jobs.ClientIDs,
		set:    s.Store.SetClientPaused,
		states: s.Store.ClientStates}
	r.GET("/api/v1/sources", s.requireRead, listPauses(s, sources))
	r.POST("/api/v1/sources/:source/pause", s.requireAdmin, togglePause(s, sources, true))
	r.POST("/api/v1/sources/:source/resume", s.requireAdmin, togglePause(s, sources, false))
	r.POST("/api/v1/sources/reload", s.requireAdmin, s.reloadSources)
	r.GET("/api/v1/clients", s.requireRead, listPauses(s, clients))
	r.POST("/api/v1/clients/:client/pause", s.requireAdmin, togglePause(s, clients, true))
	r.POST("/api/v1/clients/:client/resume", s.requireAdmin, togglePause(s, clients, false))
}

// listPauses: GET /api/v1/sources (each with the events the relay holds
// for it) and GET /api/v1/clients (each with its pending deliveries).
func listPauses[T any](s *Server, k pauseKind[T]) gin.HandlerFunc {
	return func(c *gin.Context) {
		states, err := k.states(c.Request.Context(), k.names())
		if err != nil {
			s.internalError(c, "list "+k.plural, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{k.plural: states})
	}
}

// togglePause: POST .../{name}/pause (optional JSON body {"reason": "..."})
// and .../resume. Both answer 200 with the state, whether or not it
// changed (pausing a paused one keeps its first pause; "changed" says
// which); the audit entry is written in the same transaction, count 1 if it
// changed, else 0. An unknown name is a 404 naming the valid ones (audited
// as not_found by requireAdmin).
func togglePause[T any](s *Server, k pauseKind[T], pause bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		name := c.Param(k.param)
		if names := k.names(); !slices.Contains(names, name) {
			failField(c, http.StatusNotFound, k.param, fmt.Sprintf("no %s %q; %s are %s%s", k.param, name, k.plural, strings.Join(names, ", "), k.hint))
			return
		}
		reason, ok := pauseReason(c, pause)
		if !ok {
			return
		}
		who, _ := auth.Who(c)
		ctx := c.Request.Context()
		changed, err := k.set(ctx, who.Name, name, pause, reason)
		if err != nil {
			s.internalError(c, "pause or resume a "+k.param, err)
			return
		}
		markAudited(c)
		if !pause && k.resumed != nil {
			k.resumed()
		}
		states, err := k.states(ctx, []string{name})
		if err != nil || len(states) != 1 {
			s.internalError(c, "read a "+k.param+"'s state", err)
			return
		}
		c.JSON(http.StatusOK, gin.H{k.param: states[0], "changed": changed})
	}
}

// pauseReason reads a pause's optional body, {"reason": "..."}.
func pauseReason(c *gin.Context, pause bool) (string, bool) {
	var body struct {
		Reason string `json:"reason"`
	}
	if pause && c.Request.ContentLength != 0 {
		raw, err := io.ReadAll(io.LimitReader(c.Request.Body, 4<<10))
		if err == nil && len(strings.TrimSpace(string(raw))) > 0 {
			err = json.Unmarshal(raw, &body)
		}
		if err != nil {
			failField(c, http.StatusBadRequest, "reason", "the body is optional; when given it is {\"reason\": \"...\"}")
			return "", false
		}
	}
	return body.Reason, true
}

// sourceNames are the built-in flows' sources and those of SOURCES_FILE.
func (s *Server) sourceNames() []string {
	return append(slices.Clone(config.EventSources), s.declaredNames()...)
}

// SourcesReloaded is the answer of POST /api/v1/sources/reload.
type SourcesReloaded struct {
	Sources []string `json:"sources"` // the declared sources now served
}

// reloadSources: POST /api/v1/sources/reload reads SOURCES_FILE again, as
// SIGHUP does, on the API process that answers (each replica reloads on
// its own). A file with problems changes nothing: 422 with every problem
// in details; no SOURCES_FILE: 409.
func (s *Server) reloadSources(c *gin.Context) {
	if s.ReloadSources == nil || s.Config.SourcesFile == "" {
		fail(c, http.StatusConflict, "SOURCES_FILE is not set: there is nothing to reload")
		return
	}
	names, err := s.ReloadSources()
	if err != nil {
		var problems sources.Errors
		if errors.As(err, &problems) && len(problems) > 0 {
			details := make([]jobs.FieldError, len(problems))
			for i, p := range problems {
				details[i] = jobs.FieldError{Field: "SOURCES_FILE", Message: p}
			}
			c.AbortWithStatusJSON(http.StatusUnprocessableEntity, ErrorBody{
				Error: "SOURCES_FILE not reloaded, the sources in use stay: " + problems[0], Field: "SOURCES_FILE", Details: details})
			return
		}
		failField(c, http.StatusUnprocessableEntity, "SOURCES_FILE", "SOURCES_FILE not reloaded, the sources in use stay: "+err.Error())
		return
	}
	if s.Log != nil {
		s.Log.Info("SOURCES_FILE reloaded", "file", s.Config.SourcesFile, "sources", names)
	}
	c.JSON(http.StatusOK, SourcesReloaded{Sources: names})
}
