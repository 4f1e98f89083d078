package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/auth"
	"github.com/hookflow/hookflow/internal/store"
)

// Replay (issue 12): an event processed once goes through its flow again,
// in its entity's workflow, and the read models show what it did. See
// store.ReplayEvents. A declared source's event (SOURCES_FILE) is handed to
// the user's workflow again with its replay count (docs/sources.md).

func (s *Server) replayRoutes(r *gin.Engine) {
	r.POST("/api/v1/events/:id/replay", s.requireAdmin, s.replayEvent)
	r.POST("/api/v1/events/replay", s.requireAdmin, s.replayEvents)
}

// ReplayAnswer is what a replay did.
type ReplayAnswer struct {
	DryRun   bool    `json:"dry_run"`
	Matched  int     `json:"matched"`  // events the filter matched (at most max)
	More     bool    `json:"more"`     // the filter matched more than max: call again with before_id
	Replayed []int64 `json:"replayed"` // ids handed to their flow again
	// NextBeforeID pages a filter's matches: the next call's before_id.
	NextBeforeID int64 `json:"next_before_id,omitempty"`
}

// replayEvent: POST /api/v1/events/{id}/replay.
func (s *Server) replayEvent(c *gin.Context) {
	ev, ok := s.eventParam(c, "load an event to replay")
	if !ok {
		return
	}
	id, ctx := ev.ID, c.Request.Context()
	declared := s.declaredNames()
	isDeclared := slices.Contains(declared, ev.Source)
	switch {
	case !slices.Contains(store.ReplaySources, ev.Source) && !isDeclared:
		failField(c, http.StatusConflict, "id", fmt.Sprintf("event %d is a %s event: only webhook events (%s) can be replayed", id, ev.Source, strings.Join(s.replaySources(), ", ")))
		return
	case !ev.Processed && !isDeclared:
		failField(c, http.StatusConflict, "id", fmt.Sprintf("event %d is not processed yet: it is on its way to its flow", id))
		return
	case ev.Outcome != nil && *ev.Outcome == "ignored":
		failField(c, http.StatusConflict, "id", fmt.Sprintf("event %d was ignored at the edge (no flow handles its kind)", id))
		return
	}
	who, _ := auth.Who(c)
	markAudited(c)
	replayed, err := s.Store.ReplayEvents(ctx, who.Name, strconv.FormatInt(id, 10), nil, []int64{id}, declared)
	if err != nil {
		s.internalError(c, "replay an event", err)
		return
	}
	if len(replayed) == 0 {
		// Still in the outbox: replayed by someone else just now, or its
		// hand-over's last step (the relay deletes the row after the
		// signal) is not done yet.
		failField(c, http.StatusConflict, "id", fmt.Sprintf("event %d is on its way to its workflow; retry in a moment", id))
		return
	}
	s.pokeRelay()
	c.JSON(http.StatusAccepted, ReplayAnswer{Matched: 1, Replayed: replayed})
}

// ReplayRequest is the body of POST /api/v1/events/replay: the events of a
// source to replay, newest first, at most max per call.
type ReplayRequest struct {
	Source   string     `json:"source"`
	Type     string     `json:"type,omitempty"`
	EntityID string     `json:"entity_id,omitempty"`
	Outcome  string     `json:"outcome,omitempty"`
	Since    *time.Time `json:"since,omitempty"`
	Until    *time.Time `json:"until,omitempty"`
	BeforeID int64      `json:"before_id,omitempty"`
	DryRun   bool       `json:"dry_run,omitempty"`
	Max      int        `json:"max,omitempty"` // default 100, at most 1000
}

// replayEvents: POST /api/v1/events/replay with a filter. The matches are
// read through the event list's indexes, newest first; a dry run answers
// them without replaying; the next page of a large filter is before_id.
func (s *Server) replayEvents(c *gin.Context) {
	var req ReplayRequest
	raw, err := io.ReadAll(c.Request.Body)
	if err == nil {
		err = decodeStrict(raw, &req)
	}
	if err != nil {
		failField(c, http.StatusBadRequest, "body", "the body is a JSON filter: source (required), type, entity_id, outcome, since, until, before_id, dry_run, max ("+err.Error()+")")
		return
	}
	declared := s.declaredNames()
	isDeclared := slices.Contains(declared, req.Source)
	switch {
	case !slices.Contains(store.ReplaySources, req.Source) && !isDeclared:
		failField(c, http.StatusBadRequest, "source", fmt.Sprintf("source must be one of %s, got %q", strings.Join(s.replaySources(), ", "), req.Source))
		return
	case req.Outcome == "ignored" || (req.Outcome == store.OutcomePending && !isDeclared):
		failField(c, http.StatusBadRequest, "outcome", "pending events are on their way and ignored ones have no flow: neither can be replayed")
		return
	case req.Since != nil && req.Until != nil && !req.Since.Before(*req.Until):
		failField(c, http.StatusBadRequest, "until", "until must be later than since (the range includes since and excludes until)")
		return
	case req.Max < 0 || req.Max > 1000:
		failField(c, http.StatusBadRequest, "max", fmt.Sprintf("max must be between 1 and 1000, got %d", req.Max))
		return
	case req.Max == 0:
		req.Max = 100
	}
	f := store.EventFilter{Source: req.Source, EventType: req.Type, EntityID: req.EntityID, Outcome: req.Outcome, BeforeID: req.BeforeID, Limit: req.Max + 1}
	f.Since, f.Until = orZero(req.Since), orZero(req.Until)
	ctx := c.Request.Context()
	evs, err := s.Store.ListEvents(ctx, f)
	if err != nil {
		s.internalError(c, "list events to replay", err)
		return
	}
	out := ReplayAnswer{DryRun: req.DryRun, Replayed: []int64{}, More: len(evs) > req.Max}
	evs = evs[:min(len(evs), req.Max)]
	ids := make([]int64, 0, len(evs))
	for _, e := range evs {
		// A declared source's event is replayable once handed over, reported
		// processed or not (ReplayEvents leaves out one still in the outbox).
		if (e.Processed || isDeclared) && (e.Outcome == nil || *e.Outcome != "ignored") {
			ids = append(ids, e.ID)
		}
	}
	out.Matched = len(ids)
	if out.More && len(evs) > 0 {
		out.NextBeforeID = evs[len(evs)-1].ID
	}
	who, _ := auth.Who(c)
	filter, _ := json.Marshal(req)
	markAudited(c)
	if req.DryRun {
		s.recordDryRun(ctx, who.Name, store.AuditEventsReplay, req.Source, filter, out.Matched, "a replay's dry run")
		c.JSON(http.StatusOK, out)
		return
	}
	slices.Sort(ids) // handed over in id order: each entity's events in the order they came
	if out.Replayed, err = s.Store.ReplayEvents(ctx, who.Name, req.Source, filter, ids, declared); err != nil {
		s.internalError(c, "replay events", err)
		return
	}
	if out.Replayed == nil {
		out.Replayed = []int64{}
	}
	s.pokeRelay()
	c.JSON(http.StatusOK, out)
}

// declaredNames are the names of the declared sources now served.
func (s *Server) declaredNames() []string {
	names := []string{}
	for _, src := range s.declaredSources() {
		names = append(names, src.Name)
	}
	return names
}

// replaySources are the sources whose events can be replayed: the built-in
// webhook flows' and the declared sources now served.
func (s *Server) replaySources() []string {
	return append(slices.Clone(store.ReplaySources), s.declaredNames()...)
}

// pokeRelay makes this process's relay hand the outbox over now (others
// at their next poll).
func (s *Server) pokeRelay() {
	if s.Pipeline != nil && s.Pipeline.Relay != nil {
		s.Pipeline.Relay.Poke()
	}
}
