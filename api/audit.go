package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/web/ops"
)

// The audit log (issue 12): every admin action writes one audit_log entry
// under the token's name. An action whose store call can take the entry
// into its own transaction does so and marks the request audited
// (markAudited: the callback retry); requireAdmin records every other one
// after its handler, with the HTTP status as its result, and records the
// refusals of read-only tokens. Later actions (replay, bulk retry, pause)
// follow the first pattern.

const auditedKey = "hookflow.audited"

// markAudited tells requireAdmin that the handler has recorded the entry.
func markAudited(c *gin.Context) { c.Set(auditedKey, true) }

// recordDryRun records the one audit entry of a bulk action's dry run: what
// its filter matched; what names the action in the log line of a failure.
func (s *Server) recordDryRun(ctx context.Context, actor, action, target string, filter []byte, matched any, what string) {
	if err := s.Store.RecordAudit(ctx, store.AuditEntry{Actor: actor, Action: action, Target: target,
		Filter: filter, Result: store.AuditOK, Detail: store.AuditDetail(map[string]any{"matched": matched, "dry_run": true})}); err != nil {
		s.Log.Error("audit: cannot record "+what, "token", actor, "error", err)
	}
}

// adminActions names the audit action of each admin route (method and Gin
// path); a route missing here is still recorded, as "METHOD path".
var adminActions = map[string]string{
	"POST /api/v1/webhook-deliveries/:id/retry": store.AuditDeliveryRetry,
	"POST /api/v1/webhook-deliveries/retry":     store.AuditDeliveryRetryBulk,
	"PATCH /api/orders/:id":                     store.AuditOrderUpdate,
	"POST " + OkdeskContactLinkPath:             store.AuditContactLink,
	"POST /api/v1/sources/:source/pause":        store.AuditSourcePause,
	"POST /api/v1/sources/:source/resume":       store.AuditSourceResume,
	"POST /api/v1/sources/reload":               store.AuditSourcesReload,
	"POST /api/v1/clients/:client/pause":        store.AuditClientPause,
	"POST /api/v1/events/:id/replay":            store.AuditEventsReplay,
	"POST /api/v1/events/replay":                store.AuditEventsReplay,
	"POST /api/v1/events/processed":             store.AuditEventsProcessed,
	"POST /api/v1/clients/:client/resume":       store.AuditClientResume,
}

func auditAction(c *gin.Context) string {
	key := c.Request.Method + " " + c.FullPath()
	if a, ok := adminActions[key]; ok {
		return a
	}
	return key
}

// HTTPAuditResult is an action's result from its answer's status: ok for
// 2xx, else forbidden, not_found, conflict or http_<status>.
func HTTPAuditResult(status int) string {
	switch {
	case status >= 200 && status < 300:
		return store.AuditOK
	case status == http.StatusForbidden:
		return "forbidden"
	case status == http.StatusNotFound:
		return store.AuditNotFound
	case status == http.StatusConflict:
		return store.AuditConflict
	}
	return "http_" + strconv.Itoa(status)
}

// recordAfter writes the entry of an action its handler did not record.
// The request's context may be cancelled by now (the client went away):
// the entry is written all the same.
func (s *Server) recordAfter(c *gin.Context, actor string) {
	status := c.Writer.Status()
	target := c.Param("id")
	if target == "" {
		target = c.Param("source")
	}
	if target == "" {
		target = c.Param("client")
	}
	e := store.AuditEntry{Actor: actor, Action: auditAction(c), Target: target, Result: HTTPAuditResult(status),
		Detail: store.AuditDetail(map[string]any{"method": c.Request.Method, "path": c.Request.URL.Path, "status": status})}
	if e.Result == store.AuditOK {
		e.Count = 1
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 5*time.Second)
	defer cancel()
	if err := s.Store.RecordAudit(ctx, e); err != nil && s.Log != nil {
		s.Log.Error("audit: cannot record an admin action", "action", e.Action, "token", actor, "error", err)
	}
}

// listAudit: GET /api/v1/audit?action=&actor=&limit=&cursor=, newest first;
// the next page's cursor in X-Next-Cursor (and next_cursor).
func (s *Server) listAudit(c *gin.Context) {
	f := store.AuditFilter{Action: c.Query("action"), Actor: c.Query("actor")}
	var err error
	if f.Limit, err = queryInt(c, "limit", 50, 1, 500); err != nil {
		return
	}
	if f.Before, err = queryIDCursor(c, func(at time.Time, id int64) *store.AuditCursor { return &store.AuditCursor{At: at, ID: id} }); err != nil {
		return
	}
	entries, err := s.Store.ListAudit(c.Request.Context(), f)
	if err != nil {
		s.internalError(c, "list audit log", err)
		return
	}
	page := gin.H{"entries": entries, "count": len(entries)}
	if len(entries) == f.Limit {
		last := entries[len(entries)-1]
		page["next_cursor"] = nextIDCursor(c, last.At, last.ID)
	}
	c.JSON(http.StatusOK, page)
}

// DeadLetterView is one item of GET /api/v1/dead-letters.
type DeadLetterView struct {
	store.DeadLetter
	TemporalURL string `json:"temporal_url,omitempty"` // its run in Temporal UI (TEMPORAL_UI_URL)
	ActionURL   string `json:"action_url,omitempty"`   // the endpoint of the action, where one exists yet
}

// listDeadLetters: GET /api/v1/dead-letters?limit=&cursor=, what ended in
// failure across every flow, newest first.
func (s *Server) listDeadLetters(c *gin.Context) {
	var f store.DeadLetterFilter
	var err error
	if f.Limit, err = queryInt(c, "limit", 50, 1, 500); err != nil {
		return
	}
	at, id, err := queryCursor(c)
	if err != nil {
		return
	}
	if !at.IsZero() {
		kind, kid, found := strings.Cut(id, ":")
		if !found || (kind != store.DeadEvent && kind != store.DeadBackSync && kind != store.DeadCallback) || kid == "" {
			failField(c, http.StatusBadRequest, "cursor", "cursor is not one of this list (pass X-Next-Cursor of the previous page as is)")
			return
		}
		f.After = &store.DeadLetterCursor{At: at, Kind: kind, ID: kid}
	}
	items, more, err := s.Store.DeadLetters(c.Request.Context(), f)
	if err != nil {
		if f.After != nil && strings.Contains(err.Error(), "cursor") {
			failField(c, http.StatusBadRequest, "cursor", "cursor is not one of this list (pass X-Next-Cursor of the previous page as is)")
			return
		}
		s.internalError(c, "list dead letters", err)
		return
	}
	out := make([]DeadLetterView, 0, len(items))
	for _, d := range items {
		v := DeadLetterView{DeadLetter: d, TemporalURL: ops.TemporalRunURL(s.Config.Temporal.UIURL, s.Config.Temporal.Namespace, d.WorkflowID)}
		switch d.Action {
		case store.DeadActionRetry:
			v.ActionURL = "/api/v1/webhook-deliveries/" + d.ID + "/retry"
		case store.DeadActionReplay:
			v.ActionURL = "/api/v1/events/" + d.ID + "/replay"
		}
		out = append(out, v)
	}
	page := gin.H{"dead_letters": out, "count": len(out)}
	if more {
		last := items[len(items)-1]
		next := encodeCursor(last.At, fmt.Sprintf("%s:%s", last.Kind, last.ID))
		c.Header("X-Next-Cursor", next)
		page["next_cursor"] = next
	}
	c.JSON(http.StatusOK, page)
}

func (s *Server) opsRoutes(r *gin.Engine) {
	r.GET("/api/v1/audit", s.requireRead, s.listAudit)
	r.GET("/api/v1/dead-letters", s.requireRead, s.listDeadLetters)
}
