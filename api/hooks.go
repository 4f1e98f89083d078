package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/inbound"
	"github.com/hookflow/hookflow/internal/sources"
	"github.com/hookflow/hookflow/internal/store"
)

// hookTable is the sources of SOURCES_FILE by path.
type hookTable struct {
	list   []*sources.Source
	byPath map[string]*sources.Source
}

// hooksPrefix is where declared sources are served.
const hooksPrefix = "/hooks/"

// hookRoutes mounts POST /hooks/* for the sources of SOURCES_FILE: one
// route whose table SetSources swaps, so a reload neither restarts the
// router nor drops a request (one in flight keeps the source it started with).
// A built-in route may live under /hooks/ too (the seed's WEBHOOK_PATH is
// any path, /hooks/okdesk for one), and Gin's catch-all cannot share a
// prefix with it: then the declared sources are served from NoRoute
// instead (hooksUnrouted), after every built-in route, which wins.
func (s *Server) hookRoutes(r *gin.Engine) {
	if s.hooks.Load() == nil {
		s.SetSources(s.Config.Sources)
	}
	for _, route := range r.Routes() {
		if strings.HasPrefix(route.Path, hooksPrefix) {
			s.hooksUnrouted = true
			return
		}
	}
	r.POST(hooksPrefix+"*path", s.hookDispatch)
}

// SetSources replaces the declared sources the API serves.
func (s *Server) SetSources(srcs []*sources.Source) {
	t := &hookTable{list: srcs, byPath: make(map[string]*sources.Source, len(srcs))}
	for _, src := range srcs {
		t.byPath[src.Path] = src
	}
	s.hooks.Store(t)
}

// declaredSources are the sources of SOURCES_FILE now served.
func (s *Server) declaredSources() []*sources.Source {
	if t := s.hooks.Load(); t != nil {
		return t.list
	}
	return s.Config.Sources
}

func (s *Server) hookDispatch(c *gin.Context) {
	path := strings.TrimPrefix(c.Request.URL.Path, hooksPrefix)
	var src *sources.Source
	if t := s.hooks.Load(); t != nil {
		src = t.byPath[path]
	}
	if src == nil {
		fail(c, http.StatusNotFound, "no source is declared at /hooks/"+path+" (SOURCES_FILE)")
		return
	}
	start := time.Now()
	s.hook(src)(c)
	countInbound(c, src.Name, start)
}

// HookAck answers a declared source's webhook.
type HookAck struct {
	Status    string `json:"status"` // received, or ignored (not in accept)
	Source    string `json:"source"`
	ID        int64  `json:"id"`
	Duplicate bool   `json:"duplicate"`
}

// hook receives one declared source: verify the raw body, read the
// declared fields, record (ignored when accept leaves the type out), ack.
func (s *Server) hook(src *sources.Source) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, p := s.readLimited(c)
		if p != nil {
			p.reply(c)
			return
		}
		if err := src.Verify.Check(c.Request.Header, c.Request.URL.Query(), body, time.Now()); err != nil {
			var ve *sources.VerifyError
			if !errors.As(err, &ve) {
				s.internalError(c, "verify "+src.Name, err)
				return
			}
			s.Log.Warn("hooks: request refused", "source", src.Name, "reason", ve.Reason)
			// The error shape; details.reason says why for programs:
			// unsigned, forged or stale.
			c.AbortWithStatusJSON(http.StatusUnauthorized, ErrorBody{Error: ve.Error(), Field: ve.Field,
				Details: gin.H{"reason": ve.Reason}})
			return
		}
		payload, ok := declaredBody(c, src, body)
		if !ok {
			return
		}
		f, err := src.Extract(c.Request.Header, body, payload)
		if err != nil {
			refuseField(c, err)
			return
		}
		attrs := map[string]any{inbound.AttrDedup: f.Dedup}
		if f.Key != "" {
			attrs[inbound.AttrKey] = f.Key
		}
		if len(f.Headers) > 0 {
			attrs[inbound.AttrHeaders] = f.Headers
		}
		eventType := f.EventType
		if eventType == "" {
			eventType = inbound.DeclaredNoType
		}
		rec := &store.InboundEvent{Source: src.Name, DedupKey: f.Dedup, WorkflowID: src.WorkflowID(f.Key, f.Dedup),
			Event: eventType, EventType: eventType, EntityID: f.Key, Attrs: attrs, Payload: payload}
		status := "received"
		if !src.Accepts(f.EventType) {
			rec.Ignored("event type " + f.EventType + " is not in the source's accept list")
			status = "ignored"
			markIgnored(c)
		}
		id, duplicate, err := s.Pipeline.Accept(c.Request.Context(), rec)
		if err != nil {
			s.recordFailed(c, "hooks: cannot record event", err, "source", src.Name)
			return
		}
		markDuplicate(c, duplicate)
		c.JSON(http.StatusOK, HookAck{Status: status, Source: src.Name, ID: id, Duplicate: duplicate})
	}
}

// declaredBody checks a verified body as the source's body option says and
// answers its JSON: the body itself (json), or its view (form, raw). A
// refused one is answered here (415 for a Content-Type the option does not
// read, 400 for a body that is not what it says).
func declaredBody(c *gin.Context, src *sources.Source, body []byte) (json.RawMessage, bool) {
	ct := c.GetHeader("Content-Type")
	switch src.Body {
	case sources.BodyForm:
		if p := checkContentType(ct, "application/x-www-form-urlencoded (the source's body is form)", isFormType); p != nil {
			p.reply(c)
			return nil, false
		}
	case sources.BodyRaw:
	default:
		if p := checkContentType(ct, "application/json", isJSONType); p != nil {
			p.reply(c)
			return nil, false
		}
		if err := inbound.CheckJSON(body); err != nil {
			failField(c, http.StatusBadRequest, err.Field, err.Error())
			return nil, false
		}
		return body, true
	}
	view, err := src.View(ct, body)
	if err != nil {
		refuseField(c, err)
		return nil, false
	}
	return view, true
}

// refuseField answers 400 for a request the source's declaration cannot
// read, naming the field of a *sources.FieldError.
func refuseField(c *gin.Context, err error) {
	var fe *sources.FieldError
	if errors.As(err, &fe) {
		failField(c, http.StatusBadRequest, fe.Field, fe.Msg)
		return
	}
	fail(c, http.StatusBadRequest, err.Error())
}
