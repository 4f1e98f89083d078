package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/auth"
	"github.com/hookflow/hookflow/internal/store"
)

// BulkRetryRequest is the body of POST /api/v1/webhook-deliveries/retry:
// which finished, unsuccessful deliveries to retry. Every field is
// optional; an empty body retries the newest failures, up to max.
type BulkRetryRequest struct {
	ClientID   string     `json:"client_id,omitempty"`   // one client's deliveries
	StatusCode int        `json:"status_code,omitempty"` // the last answer's HTTP status
	Since      *time.Time `json:"since,omitempty"`       // finished at or after
	Until      *time.Time `json:"until,omitempty"`       // finished before
	FailedOnly *bool      `json:"failed_only,omitempty"` // default true: status failed; false adds gone (410)
	DryRun     bool       `json:"dry_run,omitempty"`     // only count what the filter matches
	Max        int        `json:"max,omitempty"`         // deliveries retried by this call, default 100, at most 1000
}

// BulkRetryAnswer is what a bulk retry did.
type BulkRetryAnswer struct {
	DryRun      bool     `json:"dry_run"`
	Matched     int64    `json:"matched"` // deliveries the filter matched when the call began
	Retried     int      `json:"retried"` // new attempt series started (same webhook-id each)
	NotStarted  int      `json:"not_started"`
	More        bool     `json:"more"` // matched beyond max: call again for the next ones
	DeliveryIDs []string `json:"delivery_ids"`
}

const (
	bulkRetryDefault = 100
	bulkRetryMax     = 1000
)

// retryWebhookDeliveries: POST /api/v1/webhook-deliveries/retry. Each
// matched delivery gets a new attempt series as the single retry gives it,
// newest failure first; a retried delivery is pending again, so the next
// call with the same filter continues with the ones left (more). One audit
// entry records the filter and the count.
func (s *Server) retryWebhookDeliveries(c *gin.Context) {
	req, ok := bindBulkRetry(c)
	if !ok {
		return
	}
	f := store.DeliveryFilter{ClientID: req.ClientID, StatusCode: req.StatusCode, FailedOnly: req.FailedOnly == nil || *req.FailedOnly,
		Limit: req.Max}
	f.Since, f.Until = orZero(req.Since), orZero(req.Until)
	ctx := c.Request.Context()
	matched, err := s.Store.CountFailedDeliveries(ctx, f)
	if err != nil {
		s.internalError(c, "count deliveries to retry", err)
		return
	}
	out := BulkRetryAnswer{DryRun: req.DryRun, Matched: matched, DeliveryIDs: []string{}}
	who, _ := auth.Who(c)
	filter, _ := json.Marshal(req)
	markAudited(c)
	if req.DryRun {
		s.recordDryRun(ctx, who.Name, store.AuditDeliveryRetryBulk, "webhook-deliveries", filter, matched, "a bulk retry's dry run")
		c.JSON(http.StatusOK, out)
		return
	}
	ds, err := s.Store.FailedDeliveries(ctx, f)
	if err != nil {
		s.internalError(c, "list deliveries to retry", err)
		return
	}
	notPending := func(store.Delivery) bool { return false } // the filter lists finished deliveries only
	var lastErr error
retry:
	for _, d := range ds {
		// No entry per delivery: the bulk action is audited once below.
		got, err := s.Store.RetryDeliveryAs(ctx, "", d.ID, notPending, func(d store.Delivery) error {
			_, err := s.startCallbackSeries(ctx, d)
			return err
		})
		switch {
		case err == nil && got != nil:
			out.Retried++
			out.DeliveryIDs = append(out.DeliveryIDs, d.ID)
		case errors.Is(err, store.ErrDeliveryPending) || (err == nil && got == nil):
			out.NotStarted++ // retried meanwhile by someone else, or gone
		default:
			out.NotStarted++
			lastErr = err
			if ctx.Err() != nil {
				break retry // the client went away: what started stays started
			}
		}
	}
	out.More = matched > int64(out.Retried+out.NotStarted)
	result := store.AuditOK
	if lastErr != nil {
		result = store.AuditError
		s.Log.Error("jobs: a bulk callback retry could not start every series", "retried", out.Retried, "not_started", out.NotStarted, "error", lastErr)
	}
	if err := s.Store.RecordAudit(ctx, store.AuditEntry{Actor: who.Name, Action: store.AuditDeliveryRetryBulk, Target: "webhook-deliveries",
		Filter: filter, Count: int64(out.Retried), Result: result,
		Detail: store.AuditDetail(map[string]any{"matched": matched, "not_started": out.NotStarted, "more": out.More})}); err != nil {
		s.Log.Error("audit: cannot record a bulk retry", "token", who.Name, "error", err)
	}
	if lastErr != nil && out.Retried == 0 {
		fail(c, http.StatusServiceUnavailable, "no retry could be started (is Temporal reachable?); nothing changed, please retry")
		return
	}
	c.JSON(http.StatusOK, out)
}

// bindBulkRetry reads and checks a bulk retry's body (empty: the defaults).
func bindBulkRetry(c *gin.Context) (BulkRetryRequest, bool) {
	var req BulkRetryRequest
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		failField(c, http.StatusBadRequest, "body", "the body could not be read")
		return req, false
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := decodeStrict(raw, &req); err != nil {
			field := ""
			if _, name, ok := strings.Cut(err.Error(), "unknown field "); ok {
				field = strings.Trim(name, `"`)
			}
			failField(c, http.StatusBadRequest, field, "the body is a JSON filter: client_id, status_code, since, until, failed_only, dry_run, max ("+err.Error()+")")
			return req, false
		}
	}
	switch {
	case req.StatusCode != 0 && (req.StatusCode < 100 || req.StatusCode > 599):
		failField(c, http.StatusBadRequest, "status_code", fmt.Sprintf("status_code must be an HTTP status (100-599), got %d", req.StatusCode))
		return req, false
	case req.Since != nil && req.Until != nil && !req.Since.Before(*req.Until):
		failField(c, http.StatusBadRequest, "until", "until must be later than since (the range includes since and excludes until)")
		return req, false
	case req.Max < 0 || req.Max > bulkRetryMax:
		failField(c, http.StatusBadRequest, "max", fmt.Sprintf("max must be between 1 and %d (call again while more is true), got %d", bulkRetryMax, req.Max))
		return req, false
	case req.Max == 0:
		req.Max = bulkRetryDefault
	}
	return req, true
}
