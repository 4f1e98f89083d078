package api

import (
	"cmp"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/store"
)

// Admin paths of the ratings flow (docs/ratings.md).
const (
	OkdeskContactLinkPath = "/api/v1/okdesk/contacts/:id/link"
	RatingStatsPath       = "/api/v1/ratings/stats"
	RatingExportPath      = "/api/v1/ratings/export.csv"
)

// OkdeskSecretHeader carries the Okdesk webhook secret (or ?token=).
const OkdeskSecretHeader = "X-Webhook-Secret"

func (s *Server) ratingsRoutes(r *gin.Engine) {
	in := inboundMetrics(store.OkdeskSource)
	path := s.Config.Ratings.Path()
	r.POST(path, in, s.okdeskWebhook)
	r.GET(path, s.okdeskReady)
	tin := inboundMetrics(store.TelegramSource)
	r.POST(config.TelegramWebhookPath, tin, s.telegramWebhook)
	r.POST(OkdeskContactLinkPath, s.requireAdmin, s.okdeskLinkContact)
	r.GET(RatingStatsPath, s.requireRead, s.ratingStats)
	r.GET(RatingExportPath, s.requireRead, s.ratingExport)
	if s.Log != nil && s.Config.Ratings.Secret() == "" {
		s.Log.Warn("OKDESK_WEBHOOK_SECRET (or WEBHOOK_SECRET) is not set: Okdesk webhooks are accepted without authentication")
	}
}

func (s *Server) okdeskReady(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"message": "Webhook endpoint is ready", "path": s.Config.Ratings.Path()})
}

// okdeskWebhook accepts an Okdesk webhook in the seed's or Okdesk's format.
// Status changes are deduplicated per transition: Okdesk sends no event id,
// so the key counts the issue's status changes, and a change to the status
// the last recorded change reached is a redelivery.
func (s *Server) okdeskWebhook(c *gin.Context) {
	if secret := s.Config.Ratings.Secret(); secret != "" {
		token := cmp.Or(c.Query("token"), c.GetHeader(OkdeskSecretHeader))
		if !s.acceptSecret(c, token, secret, s.Config.Ratings.PreviousSecret(), "OKDESK_WEBHOOK_SECRET_PREVIOUS (or WEBHOOK_SECRET_PREVIOUS)") {
			fail(c, http.StatusUnauthorized, "missing or wrong webhook secret (query parameter token or header "+OkdeskSecretHeader+")")
			return
		}
	}
	body, ok := s.readJSON(c)
	if !ok {
		return
	}
	w, err := okdesk.ParseWebhook(body)
	if err != nil {
		if eventType, ok := okdesk.WithoutIssue(body); ok {
			s.okdeskIgnore(c, body, eventType)
			return
		}
		field := "body"
		var fe *okdesk.FieldError
		if errors.As(err, &fe) && fe.Field != "" {
			field = fe.Field
		}
		failField(c, http.StatusBadRequest, field, err.Error())
		return
	}
	ctx := c.Request.Context()
	attrs := map[string]any{"issue_id": w.IssueID}
	eventType := store.OkdeskEventOther
	key := w.DedupKey()
	if w.Kind == okdesk.KindStatusChanged {
		eventType = store.OkdeskEventStatusChanged
		last, found, err := s.Store.LastOkdeskStatus(ctx, w.IssueID)
		if err != nil {
			s.Log.Error("okdesk: cannot read the issue's last status change", "issue_id", w.IssueID, "error", err)
			fail(c, http.StatusServiceUnavailable, "the event could not be recorded; please retry")
			return
		}
		seq := 1
		if found {
			seq = last.Seq + 1
		}
		key += "#" + strconv.Itoa(seq)
		if found && last.NewStatus == w.NewStatus.Code {
			key, seq = last.DedupKey, last.Seq // the same transition again
		}
		attrs["new_status"], attrs["old_status"], attrs["seq"] = w.NewStatus.Code, w.OldStatus.Code, seq
	} else if w.EventID == "" && w.OccurredAt == "" {
		// Without an id or a time, only the body tells two events apart.
		sum := sha256.Sum256(body)
		key += ":" + hex.EncodeToString(sum[:8])
	}
	workflowID := activities.OkdeskIssueWorkflowID(w.IssueID)
	rec := &store.InboundEvent{
		Source: store.OkdeskSource, DedupKey: key, WorkflowID: workflowID, EntityID: strconv.FormatInt(w.IssueID, 10),
		Event: w.EventType, EventType: eventType, Attrs: attrs, Payload: body,
	}
	id, duplicate, err := s.Pipeline.Accept(ctx, rec)
	if err != nil {
		s.recordFailed(c, "okdesk: cannot record event", err, "event", w.EventType)
		return
	}
	markDuplicate(c, duplicate)
	s.Log.Debug("okdesk webhook received", "event", w.EventType, "issue_id", w.IssueID, "new_status", w.NewStatus.Code,
		"id", id, "duplicate", duplicate)
	c.JSON(http.StatusOK, gin.H{
		"status":      "received",
		"event":       w.EventType,
		"issue_id":    w.IssueID,
		"workflow_id": workflowID,
		"id":          id,
		"duplicate":   duplicate,
	})
}

// okdeskIgnore acknowledges an Okdesk webhook about no issue (a company,
// contact or equipment event): recorded as ignored, without a workflow.
// Okdesk gets its 2xx, and the event stays visible with its reason.
func (s *Server) okdeskIgnore(c *gin.Context, body []byte, eventType string) {
	sum := sha256.Sum256(body)
	rec := (&store.InboundEvent{
		Source: store.OkdeskSource, DedupKey: "ignored:" + eventType + ":" + hex.EncodeToString(sum[:12]),
		Event: eventType, EventType: store.OkdeskEventOther, Payload: body,
	}).Ignored("event " + eventType + " is about no issue: the ratings flow does not use it")
	markIgnored(c)
	id, duplicate, err := s.Pipeline.Accept(c.Request.Context(), rec)
	if err != nil {
		s.recordFailed(c, "okdesk: cannot record event", err, "event", eventType)
		return
	}
	markDuplicate(c, duplicate)
	s.Log.Debug("okdesk webhook ignored", "event", eventType, "id", id, "duplicate", duplicate)
	c.JSON(http.StatusOK, gin.H{"status": store.OutcomeIgnored, "event": eventType, "reason": *rec.Error, "id": id, "duplicate": duplicate})
}

// okdeskLinkContact makes a single-use deep link that ties the Telegram
// chat opening it to an Okdesk contact.
func (s *Server) okdeskLinkContact(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		failField(c, http.StatusBadRequest, "id", "contact id must be a positive integer, got "+strconv.Quote(c.Param("id")))
		return
	}
	link, err := activities.CreateContactLink(c.Request.Context(), s.Config.Ratings, s.Store, nil, id)
	var oe *okdesk.APIError
	switch {
	case errors.Is(err, activities.ErrNoBotUsername):
		fail(c, http.StatusServiceUnavailable, err.Error())
		return
	case errors.Is(err, activities.ErrContactNotFound):
		failField(c, http.StatusNotFound, "id", fmt.Sprintf("Okdesk has no contact %d", id))
		return
	case errors.As(err, &oe):
		s.Log.Warn("okdesk: contact lookup failed", "contact_id", id, "error", err)
		fail(c, http.StatusBadGateway, "Okdesk did not answer the contact lookup: "+oe.Error())
		return
	case err != nil:
		s.internalError(c, "create link", err)
		return
	}
	c.JSON(http.StatusCreated, link)
}

// ratingPeriod reads ?from= and ?to= (RFC 3339 or YYYY-MM-DD; a date-only
// `to` includes that day).
func ratingPeriod(c *gin.Context) (store.RatingStatsFilter, bool) {
	var f store.RatingStatsFilter
	for _, p := range []struct {
		name string
		dst  *time.Time
		end  bool
	}{{"from", &f.From, false}, {"to", &f.To, true}} {
		v := strings.TrimSpace(c.Query(p.name))
		if v == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			*p.dst = t
			continue
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			failField(c, http.StatusBadRequest, p.name, p.name+" must be a date (2024-01-31) or an RFC 3339 time, got "+strconv.Quote(v))
			return f, false
		}
		if p.end {
			t = t.AddDate(0, 0, 1)
		}
		*p.dst = t
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		failField(c, http.StatusBadRequest, "to", "to must be after from")
		return f, false
	}
	return f, true
}

// RatingStatsAnswer is GET /api/v1/ratings/stats.
type RatingStatsAnswer struct {
	From *time.Time `json:"from"`
	To   *time.Time `json:"to"`
	store.RatingStats
}

func (s *Server) ratingStats(c *gin.Context) {
	f, ok := ratingPeriod(c)
	if !ok {
		return
	}
	st, err := s.Store.RatingStats(c.Request.Context(), f)
	if err != nil {
		s.internalError(c, "rating stats", err)
		return
	}
	out := RatingStatsAnswer{RatingStats: st}
	if !f.From.IsZero() {
		out.From = &f.From
	}
	if !f.To.IsZero() {
		out.To = &f.To
	}
	c.JSON(http.StatusOK, out)
}

// RatingExportColumns is the header of the CSV export.
var RatingExportColumns = []string{"request_id", "issue_id", "resolution", "title", "status", "contact_id", "assignee_id",
	"chat_id", "state", "requested_at", "sent_at", "score", "rated_at", "seconds_to_rate", "comment_state", "comment_id",
	"closed_at", "error", "workflow_id"}

func (s *Server) ratingExport(c *gin.Context) {
	f, ok := ratingPeriod(c)
	if !ok {
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="ratings.csv"`)
	w := csv.NewWriter(c.Writer)
	started := false
	err := s.Store.ExportRatings(c.Request.Context(), f, func(row store.RatingExportRow) error {
		if !started {
			c.Status(http.StatusOK)
			if err := w.Write(RatingExportColumns); err != nil {
				return err
			}
			started = true
		}
		return w.Write(exportRecord(row))
	})
	if err != nil && !started {
		s.internalError(c, "rating export", err)
		return
	}
	if err != nil {
		s.Log.Error("rating export broke off", "error", err)
		return
	}
	if !started {
		c.Status(http.StatusOK)
		_ = w.Write(RatingExportColumns)
	}
	w.Flush()
}

func exportRecord(row store.RatingExportRow) []string {
	q := row.Request
	id := func(v int64) string {
		if v == 0 {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	at := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	rec := []string{id(q.ID), id(q.IssueID), strconv.Itoa(q.Resolution), csvText(q.Title), q.Status, id(q.ContactID),
		id(q.AssigneeID), id(q.ChatID), q.State, at(&q.RequestedAt), at(q.SentAt), "", "", "", "", "", at(q.ClosedAt),
		csvText(q.Error), q.WorkflowID}
	if r := row.Rating; r != nil {
		rec[11], rec[12], rec[14], rec[15] = strconv.Itoa(r.Score), at(&r.RatedAt), r.CommentState, id(r.CommentID)
		if q.SentAt != nil {
			rec[13] = strconv.FormatInt(int64(r.RatedAt.Sub(*q.SentAt).Seconds()), 10)
		}
	}
	return rec
}

// csvText keeps spreadsheet programs from reading a cell as a formula.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
