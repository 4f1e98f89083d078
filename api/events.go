package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/pkg/hookflowsdk"
)

// Events of declared sources (SOURCES_FILE): a body handed over as a
// reference is fetched here, and the user's workflows report outcomes here
// (hookflowsdk.Client.MarkProcessed).

func (s *Server) eventRoutes(r *gin.Engine) {
	r.GET("/api/v1/events/:id", s.requireRead, s.getEvent)
	r.POST("/api/v1/events/processed", s.requireAdmin, s.markProcessed)
}

// getEvent: GET /api/v1/events/{id}, any source, payload included.
func (s *Server) getEvent(c *gin.Context) {
	ev, ok := s.eventParam(c, "load an event")
	if !ok {
		return
	}
	c.JSON(http.StatusOK, ev)
}

// eventParam loads the event the path's id names, or answers 404 (no such
// event) or 500 (what names the failed load in the log) and says no.
func (s *Server) eventParam(c *gin.Context, what string) (store.InboundEvent, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		failField(c, http.StatusNotFound, "id", "no event "+strconv.Quote(c.Param("id")))
		return store.InboundEvent{}, false
	}
	evs, err := s.Store.EventsByID(c.Request.Context(), []int64{id})
	if err != nil {
		s.internalError(c, what, err)
		return store.InboundEvent{}, false
	}
	if len(evs) == 0 {
		failField(c, http.StatusNotFound, "id", fmt.Sprintf("no event %d", id))
		return store.InboundEvent{}, false
	}
	return evs[0], true
}

// decodeStrict decodes a JSON body into v, refusing fields v does not have.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// ProcessedAnswer says which reported events were marked.
type ProcessedAnswer struct {
	Marked []int64 `json:"marked"`
	// Skipped: unknown, already processed (the first outcome stays), or not
	// an event of a declared source.
	Skipped []int64 `json:"skipped"`
}

const maxProcessedPerCall = 1000

// markProcessed: POST /api/v1/events/processed {"events":[{id, outcome, error}]}.
func (s *Server) markProcessed(c *gin.Context) {
	body, ok := s.readJSON(c)
	if !ok {
		return
	}
	var req hookflowsdk.Processed
	if err := decodeStrict(body, &req); err != nil {
		failField(c, http.StatusBadRequest, "body", `the body is {"events":[{"id":1,"outcome":"applied","error":""}]}: `+err.Error())
		return
	}
	if len(req.Events) == 0 || len(req.Events) > maxProcessedPerCall {
		failField(c, http.StatusBadRequest, "events", fmt.Sprintf("events must list 1 to %d outcomes, got %d", maxProcessedPerCall, len(req.Events)))
		return
	}
	outcomes := make([]store.ReportedOutcome, len(req.Events))
	for i, o := range req.Events {
		field := fmt.Sprintf("events[%d]", i)
		switch {
		case o.ID <= 0:
			failField(c, http.StatusBadRequest, field+".id", "id must be an event id (positive)")
			return
		case o.Outcome == "" || len(o.Outcome) > 40 || o.Outcome == store.OutcomePending:
			failField(c, http.StatusBadRequest, field+".outcome", "outcome must be a word of at most 40 characters (applied, skipped, failed ...), not pending")
			return
		}
		outcomes[i] = store.ReportedOutcome{ID: o.ID, EventOutcome: store.EventOutcome{Outcome: o.Outcome, Error: o.Error}}
	}
	marked, err := s.Store.MarkProcessed(c.Request.Context(), s.declaredNames(), outcomes)
	if err != nil {
		s.recordFailed(c, "mark events processed", err)
		return
	}
	done := map[int64]bool{}
	for _, id := range marked {
		done[id] = true
	}
	ans := ProcessedAnswer{Marked: append([]int64{}, marked...), Skipped: []int64{}}
	for _, o := range outcomes {
		if !done[o.ID] {
			ans.Skipped = append(ans.Skipped, o.ID)
			done[o.ID] = true
		}
	}
	c.JSON(http.StatusOK, ans)
}
