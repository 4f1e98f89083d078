package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/internal/integrations/simplyprint"
	"github.com/hookflow/hookflow/internal/store"
)

// simplyPrintPrefixes: the seed's spelling (users' SimplyPrint configs point
// there) and the vendor's.
var simplyPrintPrefixes = []string{"/api/v1/simpleprint", "/api/v1/simplyprint"}

func (s *Server) simplyPrintRoutes(r *gin.Engine) {
	in := inboundMetrics(store.SimplyPrintSource)
	for _, p := range simplyPrintPrefixes {
		r.POST(p+"/webhook/", in, s.simplyPrintWebhook)
		r.POST(p+"/webhook", in, s.simplyPrintWebhook)
		r.GET(p+"/webhook/", s.simplyPrintReady)
		r.GET(p+"/webhook", s.simplyPrintReady)
		r.GET(p+"/events", s.requireRead, s.simplyPrintEvents)
		r.GET(p+"/printers", s.requireRead, s.simplyPrintPrinters)
		r.GET(p+"/stats", s.requireRead, s.simplyPrintStats)
		r.GET(p+"/stream", s.requireRead, s.simplyPrintStream)
	}
}

// SimplyPrintWorkflowID is the per-printer workflow of an event; events
// without a printer (queue, account, test) share one company workflow.
func SimplyPrintWorkflowID(printerID int64) (workflowID, entityID string) {
	if printerID == 0 {
		return "simplyprint-company", "company"
	}
	id := strconv.FormatInt(printerID, 10)
	return "simplyprint-printer-" + id, id
}

// SimplyPrintRecord is the inbound event the webhook records for ev, whose
// body is body: its printer's workflow, its dedup key and attributes.
func SimplyPrintRecord(ev simplyprint.Event, body []byte) *store.InboundEvent {
	workflowID, entityID := SimplyPrintWorkflowID(ev.PrinterID)
	attrs := map[string]any{"webhook_id": ev.WebhookID}
	if ev.PrinterID != 0 {
		attrs["printer_id"] = ev.PrinterID
	}
	if ev.JobID != "" {
		attrs["job_id"] = ev.JobID
	}
	if ev.Timestamp != 0 {
		attrs["timestamp"] = ev.Timestamp
	}
	return &store.InboundEvent{
		Source: store.SimplyPrintSource, DedupKey: simplyprint.DedupKey(ev, body),
		WorkflowID: workflowID, EntityID: entityID,
		Event: ev.Name, EventType: ev.Type, Attrs: attrs, Payload: body,
	}
}

func (s *Server) simplyPrintWebhook(c *gin.Context) {
	if sp := s.Config.SimplyPrint; sp.WebhookSecret != "" {
		token := cmp.Or(c.GetHeader("X-SP-Token"), c.GetHeader("X-SP-Secret"))
		if !s.acceptSecret(c, token, sp.WebhookSecret, sp.WebhookSecretPrevious, "SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS") {
			fail(c, http.StatusUnauthorized, "missing or wrong webhook secret (header X-SP-Token or X-SP-Secret)")
			return
		}
	}
	body, wellFormed, ok := s.readScannedJSON(c)
	if !ok {
		return
	}
	parse := simplyprint.ParseEvent // which says what is malformed
	if wellFormed {
		parse = simplyprint.ParseWellFormedEvent
	}
	ev, err := parse(body)
	var inputErr *simplyprint.InputError
	if errors.As(err, &inputErr) {
		failField(c, http.StatusBadRequest, inputErr.Field, err.Error())
		return
	} else if err != nil {
		fail(c, http.StatusBadRequest, err.Error())
		return
	}
	id, duplicate, err := s.Pipeline.Accept(c.Request.Context(), SimplyPrintRecord(ev, body))
	if err != nil {
		s.recordFailed(c, "simplyprint: cannot record event", err, "event", ev.Name)
		return
	}
	markDuplicate(c, duplicate)
	if ev.Type == "unknown" {
		s.Log.Warn("simplyprint: unknown event type, stored as unknown", "event", ev.Name, "id", id)
	}
	s.Log.Debug("simplyprint webhook received", "event", ev.Name, "event_type", ev.Type,
		"webhook_id", ev.WebhookID, "printer_id", ev.PrinterID, "id", id, "duplicate", duplicate)
	c.JSON(http.StatusOK, simplyPrintAck{Status: "received", Event: ev.Name, Message: "Webhook processed successfully",
		ID: id, Duplicate: duplicate})
}

// simplyPrintAck is the seed's answer ({"status","event","message"}, in
// that order) plus the recorded id and whether it was a repeat.
type simplyPrintAck struct {
	Status    string `json:"status"`
	Event     string `json:"event"`
	Message   string `json:"message"`
	ID        int64  `json:"id"`
	Duplicate bool   `json:"duplicate"`
}

func (s *Server) simplyPrintReady(c *gin.Context) {
	auth := "none (set SIMPLYPRINT_WEBHOOK_SECRET to require X-SP-Token)"
	if s.Config.SimplyPrint.WebhookSecret != "" {
		auth = "X-SP-Token or X-SP-Secret header"
	}
	c.JSON(http.StatusOK, gin.H{
		"status":  "ready",
		"message": "SimplyPrint webhook endpoint is ready",
		"path":    c.Request.URL.Path,
		"methods": []string{"POST"},
		"auth":    auth,
		"accepts": "application/json {webhook_id, event, timestamp, data}",
	})
}

// SimplyPrintEvent is the read API's view of a recorded event.
type SimplyPrintEvent struct {
	ID          int64           `json:"id"`
	Event       string          `json:"event"`
	EventType   string          `json:"event_type"`
	WebhookID   *int64          `json:"webhook_id"`
	PrinterID   *int64          `json:"printer_id"`
	JobID       *string         `json:"job_id"`
	ReceivedAt  time.Time       `json:"received_at"`
	Processed   bool            `json:"processed"`
	ProcessedAt *time.Time      `json:"processed_at"`
	Outcome     *string         `json:"outcome"`
	Error       *string         `json:"error"`
	WorkflowID  string          `json:"workflow_id"`
	Payload     json.RawMessage `json:"payload"`
}

// ToSimplyPrintEvent maps a recorded event to the read API's shape.
func ToSimplyPrintEvent(e store.InboundEvent) SimplyPrintEvent {
	out := SimplyPrintEvent{ID: e.ID, Event: e.Event, EventType: e.EventType, ReceivedAt: e.ReceivedAt,
		Processed: e.Processed, ProcessedAt: e.ProcessedAt, Outcome: e.Outcome, Error: e.Error,
		WorkflowID: e.WorkflowID, Payload: e.Payload}
	if v, ok := e.Attrs["webhook_id"].(float64); ok {
		n := int64(v)
		out.WebhookID = &n
	}
	if _, ok := e.Attrs["printer_id"]; ok {
		// From the entity id, exact: attrs decode numbers as float64,
		// which rounds ids beyond 2^53.
		if n, err := strconv.ParseInt(e.EntityID, 10, 64); err == nil {
			out.PrinterID = &n
		}
	}
	if v, ok := e.Attrs["job_id"].(string); ok {
		out.JobID = &v
	}
	return out
}

func (s *Server) simplyPrintEvents(c *gin.Context) {
	f := store.EventFilter{Source: store.SimplyPrintSource, EventType: c.Query("type")}
	if v := c.Query("printer_id"); v != "" {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			failField(c, http.StatusBadRequest, "printer_id", "printer_id must be an integer, got "+strconv.Quote(v))
			return
		}
		f.EntityID = v
	}
	var err error
	if f.Limit, err = queryInt(c, "limit", 100, 1, 1000); err != nil {
		return
	}
	if f.BeforeID, err = queryInt64(c, "before_id"); err != nil {
		return
	}
	if f.Since, f.Until, err = queryTimeRange(c); err != nil {
		return
	}
	if f.After, err = queryIDCursor(c, func(at time.Time, id int64) *store.EventCursor { return &store.EventCursor{ReceivedAt: at, ID: id} }); err != nil {
		return
	}
	f.Outcome = c.Query("outcome")
	events, err := s.Store.ListEvents(c.Request.Context(), f)
	if err != nil {
		s.internalError(c, "list events", err)
		return
	}
	// A list narrowed in time is in (received_at, id) order: its next page
	// is cursor=<this header> (before_id pages a list in id order).
	if f.ByTime() && len(events) == f.Limit {
		last := events[len(events)-1]
		nextIDCursor(c, last.ReceivedAt, last.ID)
	}
	out := make([]SimplyPrintEvent, 0, len(events))
	for _, e := range events {
		out = append(out, ToSimplyPrintEvent(e))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) simplyPrintPrinters(c *gin.Context) {
	printers, err := s.Store.ListPrinters(c.Request.Context())
	if err != nil {
		s.internalError(c, "list printers", err)
		return
	}
	if printers == nil {
		printers = []store.Printer{}
	}
	c.JSON(http.StatusOK, printers)
}

func (s *Server) simplyPrintStats(c *gin.Context) {
	st, err := s.Store.Stats(c.Request.Context(), store.SimplyPrintSource)
	if err != nil {
		s.internalError(c, "event stats", err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// simplyPrintStream is a Server-Sent Events stream: one `data:` line of JSON
// (the read API's shape) per processed event, fed by Postgres NOTIFY.
func (s *Server) simplyPrintStream(c *gin.Context) {
	if s.SimplyPrintEvents == nil {
		fail(c, http.StatusServiceUnavailable, "the live stream is not running in this process")
		return
	}
	notes, unsubscribe := s.SimplyPrintEvents.Subscribe()
	defer unsubscribe()
	w := c.Writer
	// The stream outlives HTTP_WRITE_TIMEOUT, which would cut it that long
	// after the request: each write gets that long of its own instead, so
	// a client that stops reading is still cut off. (Once the request is
	// read, net/http lifts the read deadline itself.)
	rc := http.NewResponseController(w)
	extend := func() {
		var deadline time.Time
		if d := s.Config.HTTP.WriteTimeout; d > 0 {
			deadline = time.Now().Add(d)
		}
		_ = rc.SetWriteDeadline(deadline)
	}
	extend()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": connected\n\n")
	ctx := c.Request.Context()
	send := func(events []store.InboundEvent) {
		extend()
		for _, e := range events {
			data, _ := json.Marshal(ToSimplyPrintEvent(e))
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, "simplyprint", data)
		}
		w.Flush()
	}
	// A client that reconnects with Last-Event-ID first gets what it missed
	// (EventSource sends the header by itself).
	if last, err := strconv.ParseInt(c.GetHeader("Last-Event-ID"), 10, 64); err == nil && last >= 0 {
		missed, err := s.Store.ProcessedAfter(ctx, store.SimplyPrintSource, last, 1000)
		if err != nil {
			s.Log.Warn("simplyprint stream: cannot load missed events", "error", err)
		}
		send(missed)
	}
	w.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			extend()
			fmt.Fprint(w, ": ping\n\n")
			w.Flush()
		case note := <-notes:
			ids := parseIDs(note)
			if len(ids) == 0 {
				continue
			}
			events, err := s.Store.EventsByID(ctx, ids)
			if err != nil {
				s.Log.Warn("simplyprint stream: cannot load events", "error", err)
				continue
			}
			send(events)
		}
	}
}

func parseIDs(s string) []int64 {
	var ids []int64
	for _, part := range strings.Split(s, ",") {
		if n, err := strconv.ParseInt(part, 10, 64); err == nil {
			ids = append(ids, n)
		}
	}
	return ids
}

func queryInt(c *gin.Context, name string, def, lo, hi int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		failField(c, http.StatusBadRequest, name, fmt.Sprintf("%s must be an integer from %d to %d, got %q", name, lo, hi, v))
		return 0, errBadQuery
	}
	return n, nil
}

func queryInt64(c *gin.Context, name string) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		failField(c, http.StatusBadRequest, name, fmt.Sprintf("%s must be a non-negative integer, got %q", name, v))
		return 0, errBadQuery
	}
	return n, nil
}

func (s *Server) internalError(c *gin.Context, what string, err error) {
	s.Log.Error(what+" failed", "error", err)
	fail(c, http.StatusInternalServerError, what+" failed; see the server log")
}
