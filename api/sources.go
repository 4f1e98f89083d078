package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/auth"
	"github.com/hookflow/hookflow/internal/config"
)

// Source pauses (issue 12): a paused source still authenticates, records
// and acks its events (the ack path does not look at pauses), but the relay
// holds them in the outbox until the source is resumed, then hands them
// over in id order. The state is a table (source_pauses), so it survives
// restarts; GET /api/v1/sources, /readyz and the metric
// hookflow_source_paused show it.

func (s *Server) sourceRoutes(r *gin.Engine) {
	r.GET("/api/v1/sources", s.requireRead, s.listSources)
	r.POST("/api/v1/sources/:source/pause", s.requireAdmin, s.pauseSource(true))
	r.POST("/api/v1/sources/:source/resume", s.requireAdmin, s.pauseSource(false))
	r.GET("/api/v1/clients", s.requireRead, s.listClients)
	r.POST("/api/v1/clients/:client/pause", s.requireAdmin, s.pauseClient(true))
	r.POST("/api/v1/clients/:client/resume", s.requireAdmin, s.pauseClient(false))
}

// listSources: GET /api/v1/sources, every source with its pause state and
// the events the relay holds for it.
func (s *Server) listSources(c *gin.Context) {
	states, err := s.Store.SourceStates(c.Request.Context(), config.EventSources)
	if err != nil {
		s.internalError(c, "list sources", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"sources": states})
}

// pauseSource: POST /api/v1/sources/{source}/pause (optional JSON body
// {"reason": "..."}) and /resume. Both answer 200 with the source's state,
// whether or not it changed (pausing a paused source keeps its first pause;
// "changed" says which); the audit entry is written in the same
// transaction, count 1 if it changed, else 0. An unknown source is a 404
// naming the sources (audited as not_found by requireAdmin).
func (s *Server) pauseSource(pause bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		source := c.Param("source")
		if !slices.Contains(config.EventSources, source) {
			failField(c, http.StatusNotFound, "source", fmt.Sprintf("no source %q; sources are %s", source, strings.Join(config.EventSources, ", ")))
			return
		}
		reason, ok := pauseReason(c, pause)
		if !ok {
			return
		}
		who, _ := auth.Who(c)
		ctx := c.Request.Context()
		changed, err := s.Store.SetSourcePaused(ctx, who.Name, source, pause, reason)
		if err != nil {
			s.internalError(c, "pause or resume a source", err)
			return
		}
		markAudited(c)
		if !pause && s.Pipeline != nil && s.Pipeline.Relay != nil {
			s.Pipeline.Relay.Poke() // this relay hands the held events over now; others at their next poll
		}
		states, err := s.Store.SourceStates(ctx, []string{source})
		if err != nil || len(states) != 1 {
			s.internalError(c, "read a source's state", err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"source": states[0], "changed": changed})
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

// Client pauses (issue 12): while a callback client is paused, its
// deliveries wait before each attempt instead of sending it (the attempt is
// not spent), looking again after CALLBACK_PAUSE_POLL, doubling up to 10
// minutes; on resume they go out with their schedule where it was.

// clientIDs are the callback clients JOBS_CLIENTS (and JOBS_SHARED_SECRET)
// define.
func (s *Server) clientIDs() []string {
	clients, err := s.Config.Jobs.ClientSet()
	if err != nil {
		return nil // checked at load
	}
	ids := make([]string, 0, len(clients))
	for _, cl := range clients {
		ids = append(ids, cl.ID)
	}
	return ids
}

// listClients: GET /api/v1/clients, every callback client with its pause
// state and pending deliveries.
func (s *Server) listClients(c *gin.Context) {
	states, err := s.Store.ClientStates(c.Request.Context(), s.clientIDs())
	if err != nil {
		s.internalError(c, "list clients", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"clients": states})
}

// pauseClient: POST /api/v1/clients/{client}/pause (optional body
// {"reason": "..."}) and /resume, answered and audited as a source's.
func (s *Server) pauseClient(pause bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("client")
		ids := s.clientIDs()
		if !slices.Contains(ids, id) {
			failField(c, http.StatusNotFound, "client", fmt.Sprintf("no client %q; clients are %s (JOBS_CLIENTS)", id, strings.Join(ids, ", ")))
			return
		}
		reason, ok := pauseReason(c, pause)
		if !ok {
			return
		}
		who, _ := auth.Who(c)
		ctx := c.Request.Context()
		changed, err := s.Store.SetClientPaused(ctx, who.Name, id, pause, reason)
		if err != nil {
			s.internalError(c, "pause or resume a client", err)
			return
		}
		markAudited(c)
		states, err := s.Store.ClientStates(ctx, []string{id})
		if err != nil || len(states) != 1 {
			s.internalError(c, "read a client's state", err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"client": states[0], "changed": changed})
	}
}
