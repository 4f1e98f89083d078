package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/hookflow/hookflow/internal/auth"
	"github.com/hookflow/hookflow/internal/integrations/bitrix"
	"github.com/hookflow/hookflow/internal/ordersync"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/web/crmsync"
	"github.com/hookflow/hookflow/internal/web/ops"
)

// Paths of the order sync (docs/orders.md).
const (
	BitrixOrderPath    = "/api/webhooks/bitrix/order"  // the PHP handler's OnSaleOrderSaved
	BitrixStatusPath   = "/api/webhooks/bitrix/status" // the PHP handler's OnSaleStatusOrderChange
	Bitrix24EventsPath = "/api/webhooks/bitrix24"      // Bitrix24 outbound events (form-encoded)
	CRMSyncPagePath    = "/crm/sync"
)

// maxCommentRunes bounds a PATCH comment.
const maxCommentRunes = 4000

func (s *Server) ordersRoutes(r *gin.Engine) {
	in := inboundMetrics(store.BitrixSource)
	r.POST(BitrixOrderPath, in, s.bitrixSiteWebhook)
	r.POST(BitrixStatusPath, in, s.bitrixSiteWebhook)
	r.POST(Bitrix24EventsPath, in, s.bitrix24Event)
	r.GET("/api/sync/status", s.syncStatus)
	r.GET("/api/orders", s.requireRead, s.listOrders)
	r.GET("/api/orders/:id", s.requireRead, s.getOrder)
	r.PATCH("/api/orders/:id", s.requireAdmin, s.patchOrder)
	r.GET(CRMSyncPagePath, s.crmSyncPage)
	r.GET(crmsync.AssetsPath+"*file", gin.WrapH(crmsync.Assets()))
}

// bitrixSiteWebhook accepts the JSON the PHP handler posts
// (contrib/bitrix/README.md) on both paths; the body's "event" says what
// happened.
func (s *Server) bitrixSiteWebhook(c *gin.Context) {
	token := s.Config.Orders.Token()
	if token == "" {
		fail(c, http.StatusForbidden, "Bitrix webhooks are disabled: set BITRIX_WEBHOOK_TOKEN (or WEBHOOK_TOKEN)")
		return
	}
	if !s.acceptSecret(c, c.GetHeader(bitrix.TokenHeader), token, s.Config.Orders.PreviousToken(), "BITRIX_WEBHOOK_TOKEN_PREVIOUS (or WEBHOOK_TOKEN_PREVIOUS)") {
		fail(c, http.StatusUnauthorized, "missing or wrong webhook token (header X-Webhook-Token)")
		return
	}
	body, ok := s.readJSON(c)
	if !ok {
		return
	}
	ev, err := ordersync.ParseSiteOrder(body)
	if err != nil {
		if name, other := ordersync.OtherEvent(body); other {
			s.ignoreSiteEvent(c, body, name)
			return
		}
		field := "body"
		var fe *ordersync.FieldError
		if errors.As(err, &fe) && fe.Field != "" {
			field = fe.Field
		}
		failField(c, http.StatusBadRequest, field, oneLine(err))
		return
	}
	eventType := store.OrderEventUpdated
	switch {
	case ev.Event == ordersync.EventStatusChanged:
		eventType = store.OrderEventStatusChanged
	case ev.IsNew:
		eventType = store.OrderEventCreated
	}
	o := ev.Order
	attrs := map[string]any{"order_id": o.ID, "status_id": o.StatusID,
		"date_update": ordersync.Version(o).Format(time.RFC3339)}
	if ev.Origin != "" {
		attrs["origin"] = ev.Origin
	}
	rec := &store.InboundEvent{
		Source: store.BitrixSource, DedupKey: ordersync.DedupKey(o),
		WorkflowID: ordersync.WorkflowID(o.ID), EntityID: strconv.FormatInt(o.ID, 10),
		Event: ev.Event, EventType: eventType, Attrs: attrs, Payload: body,
	}
	s.acceptOrderEvent(c, rec, o.ID)
}

// ignoreSiteEvent acknowledges a site event of a kind the order sync does
// not handle (a newer PHP handler): recorded as ignored, without a workflow.
func (s *Server) ignoreSiteEvent(c *gin.Context, body []byte, name string) {
	name = clipText(name, 100)
	sum := sha256.Sum256(body)
	in := (&store.InboundEvent{Source: store.BitrixSource, DedupKey: "ignored:" + name + ":" + hex.EncodeToString(sum[:12]),
		Event: name, EventType: store.OrderEventSiteOther, Payload: body}).Ignored(
		"event " + strconv.Quote(name) + " is not synced (only " + ordersync.EventOrderSaved + " and " + ordersync.EventStatusChanged + " are)")
	markIgnored(c)
	s.acceptOrderEvent(c, in, 0)
}

// bitrix24Event accepts a Bitrix24 outbound event (form-encoded,
// authenticated by auth[application_token]). It names only the order: the
// workflow fetches it with sale.order.get. Events of other kinds
// (ONCRMCONTACTADD, ONSALEORDERDELETED, ...) are acknowledged and recorded
// as ignored, without a workflow: a bitrix-order-<id> run named after a
// contact's id would mislead whoever looks for that order.
func (s *Server) bitrix24Event(c *gin.Context) {
	want := s.Config.Orders.AppToken
	if want == "" {
		fail(c, http.StatusForbidden, "Bitrix24 events are disabled: set BITRIX_APP_TOKEN")
		return
	}
	form, p := s.inboundForm(c)
	if p != nil {
		p.reply(c)
		return
	}
	if !s.acceptSecret(c, form.Get("auth[application_token]"), want, s.Config.Orders.AppTokenPrevious, "BITRIX_APP_TOKEN_PREVIOUS") {
		fail(c, http.StatusUnauthorized, "missing or wrong auth[application_token]")
		return
	}
	ev, err := bitrix.ParseOutboundEvent(form)
	if err != nil {
		field := "event"
		var fe *bitrix.FieldError
		if errors.As(err, &fe) {
			field = fe.Field
		}
		failField(c, http.StatusBadRequest, field, oneLine(err))
		return
	}
	eventType := store.OrderEventB24Other
	switch ev.Event {
	case bitrix.EventSaleOrderSaved:
		eventType = store.OrderEventB24Saved
	case bitrix.EventSaleOrderDeleted:
		eventType = store.OrderEventB24Deleted
	}
	rec := store.Bitrix24Event{Event: ev.Event, OrderID: ev.OrderID, Action: ev.Action, HandlerID: ev.HandlerID,
		Domain: ev.Domain, MemberID: ev.MemberID}
	// The event's identity: handler, order and time. Without a ts nothing
	// identifies a repeat, so the event is recorded as new.
	dedup := fmt.Sprintf("b24:%s:%d:%s:", ev.Event, ev.OrderID, ev.HandlerID)
	if !ev.TS.IsZero() {
		ts := ev.TS
		rec.TS = &ts
		dedup += strconv.FormatInt(ts.Unix(), 10)
	} else {
		dedup += "received-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	payload, err := json.Marshal(rec)
	if err != nil {
		s.internalError(c, "encode Bitrix24 event", err)
		return
	}
	in := &store.InboundEvent{
		Source: store.BitrixSource, DedupKey: dedup,
		WorkflowID: ordersync.WorkflowID(ev.OrderID), EntityID: strconv.FormatInt(ev.OrderID, 10),
		Event: ev.Event, EventType: eventType, Attrs: map[string]any{"order_id": ev.OrderID}, Payload: payload,
	}
	if eventType != store.OrderEventB24Saved {
		// Only ONSALEORDERSAVED is synced: the rest is ignored here.
		in.WorkflowID, in.EntityID, in.Attrs = "", "", nil
		if ev.OrderID != 0 {
			in.Attrs = map[string]any{"id": ev.OrderID}
		}
		in.Ignored("event " + ev.Event + " is not synced (only " + bitrix.EventSaleOrderSaved + " is)")
		markIgnored(c)
	}
	s.acceptOrderEvent(c, in, ev.OrderID)
}

func (s *Server) acceptOrderEvent(c *gin.Context, rec *store.InboundEvent, orderID int64) {
	id, duplicate, err := s.Pipeline.Accept(c.Request.Context(), rec)
	markDuplicate(c, duplicate)
	if err != nil {
		s.recordFailed(c, "bitrix: cannot record event", err, "event", rec.Event, "order_id", orderID)
		return
	}
	s.Log.Debug("bitrix event received", "event", rec.Event, "event_type", rec.EventType, "order_id", orderID,
		"id", id, "duplicate", duplicate)
	answer := gin.H{
		"status":      "accepted",
		"event":       rec.Event,
		"order_id":    orderID,
		"id":          id,
		"duplicate":   duplicate,
		"workflow_id": rec.WorkflowID,
	}
	if rec.Outcome != nil {
		answer["status"], answer["reason"] = *rec.Outcome, *rec.Error
		delete(answer, "workflow_id")
		delete(answer, "order_id")
	}
	c.JSON(http.StatusOK, answer)
}

// SyncStatusResponse is GET /api/sync/status.
type SyncStatusResponse struct {
	Status      string    `json:"status"`
	SyncEnabled bool      `json:"sync_enabled"`
	GeneratedAt time.Time `json:"generated_at"`
	store.SyncStatus
}

// syncStatus is the seed's monitoring endpoint: the Bitrix X-Webhook-Token
// (as the seed had it), or a read or admin token.
func (s *Server) syncStatus(c *gin.Context) {
	if got, token := c.GetHeader(bitrix.TokenHeader), s.Config.Orders.Token(); got != "" && token != "" {
		if !s.acceptSecret(c, got, token, s.Config.Orders.PreviousToken(), "BITRIX_WEBHOOK_TOKEN_PREVIOUS (or WEBHOOK_TOKEN_PREVIOUS)") {
			fail(c, http.StatusUnauthorized, "wrong X-Webhook-Token (send BITRIX_WEBHOOK_TOKEN, or Authorization: Bearer <read or admin token>)")
			return
		}
	} else if !s.authorize(c, auth.Read) {
		return
	}
	st, err := s.Store.SyncStatus(c.Request.Context(), 20)
	if err != nil {
		s.internalError(c, "sync status", err)
		return
	}
	c.JSON(http.StatusOK, SyncStatusResponse{Status: "ok", SyncEnabled: s.Config.Orders.SyncEnabled,
		GeneratedAt: time.Now().UTC(), SyncStatus: st})
}

func (s *Server) listOrders(c *gin.Context) {
	f := store.OrderFilter{Status: c.Query("status"), SyncState: c.Query("sync_state")}
	var err error
	if f.Limit, err = queryInt(c, "limit", 50, 1, 500); err != nil {
		return
	}
	if _, given := c.GetQuery("offset"); given {
		failField(c, http.StatusBadRequest, "offset", "offset is not supported: page with cursor= set to the X-Next-Cursor header of the previous page")
		return
	}
	if f.After, err = queryIDCursor(c, func(at time.Time, id int64) *store.OrderCursor { return &store.OrderCursor{UpdatedAt: at, ID: id} }); err != nil {
		return
	}
	orders, err := s.Store.ListOrders(c.Request.Context(), f)
	if err != nil {
		s.internalError(c, "list orders", err)
		return
	}
	// The body stays the array it always was; the next page's cursor
	// travels in a header, only when the page is full.
	if len(orders) == f.Limit {
		last := orders[len(orders)-1]
		nextIDCursor(c, last.UpdatedAt, last.ID)
	}
	c.JSON(http.StatusOK, orders)
}

func orderIDParam(c *gin.Context) (int64, bool) {
	v := c.Param("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		failField(c, http.StatusBadRequest, "id", "order id must be a positive integer (the CRM id), got "+strconv.Quote(v))
		return 0, false
	}
	return id, true
}

func (s *Server) getOrder(c *gin.Context) {
	id, ok := orderIDParam(c)
	if !ok {
		return
	}
	d, err := s.Store.GetOrder(c.Request.Context(), id, 100)
	if errors.Is(err, store.ErrOrderNotFound) {
		fail(c, http.StatusNotFound, fmt.Sprintf("no order with CRM id %d", id))
		return
	} else if err != nil {
		s.internalError(c, "get order", err)
		return
	}
	c.JSON(http.StatusOK, d)
}

// BackSyncRef points at the back sync a PATCH started.
type BackSyncRef struct {
	EventID    int64  `json:"event_id"`
	WorkflowID string `json:"workflow_id"`
	StatusID   string `json:"status_id,omitempty"`
}

// PatchOrderResponse is the answer of PATCH /api/orders/{id}.
type PatchOrderResponse struct {
	Order    store.Order  `json:"order"`
	BackSync *BackSyncRef `json:"backsync"` // null: nothing needed pushing
}

// patchOrder changes a CRM order's status and/or adds a comment, and
// records the back sync to Bitrix in the same transaction.
func (s *Server) patchOrder(c *gin.Context) {
	id, ok := orderIDParam(c)
	if !ok {
		return
	}
	body, ok := s.readJSON(c)
	if !ok {
		return
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		failField(c, http.StatusBadRequest, "body", `body must be a JSON object like {"status":"paid","comment":"..."}`)
		return
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "status" && k != "comment" {
			failField(c, http.StatusBadRequest, k, "unknown field "+strconv.Quote(k)+"; allowed: status, comment")
			return
		}
	}
	str := func(name string) (string, bool) {
		raw, present := fields[name]
		if !present || string(raw) == "null" {
			return "", true
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			failField(c, http.StatusBadRequest, name, name+" must be a string")
			return "", false
		}
		return strings.TrimSpace(v), true
	}
	status, ok := str("status")
	if !ok {
		return
	}
	comment, ok := str("comment")
	if !ok {
		return
	}
	if status == "" && comment == "" {
		failField(c, http.StatusBadRequest, "body", "nothing to change: give status and/or comment")
		return
	}
	if n := utf8.RuneCountInString(comment); n > maxCommentRunes {
		failField(c, http.StatusBadRequest, "comment", fmt.Sprintf("comment is %d characters long; at most %d are accepted", n, maxCommentRunes))
		return
	}
	who, _ := auth.Who(c)
	patch := store.OrderPatch{Comment: comment, Actor: who.Name}
	if status != "" {
		m := s.Config.Orders.Statuses()
		code, known := m.ToBitrix(status)
		if !known {
			failField(c, http.StatusUnprocessableEntity, "status", fmt.Sprintf("status %q has no Bitrix status in BITRIX_STATUS_MAP (%s)", status, m))
			return
		}
		crm, _ := m.ToCRM(code)
		patch.Status, patch.StatusID = crm, code
	}
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(c.Request.Context(), carrier)
	res, err := s.Store.PatchOrder(c.Request.Context(), id, patch, carrier.Get("traceparent"))
	if errors.Is(err, store.ErrOrderNotFound) {
		fail(c, http.StatusNotFound, fmt.Sprintf("no order with CRM id %d", id))
		return
	} else if store.IsDataError(err) {
		failField(c, http.StatusBadRequest, "body", "the change cannot be stored as sent: "+store.DataErrorText(err))
		return
	} else if err != nil {
		s.internalError(c, "update order", err)
		return
	}
	markAudited(c) // in PatchOrder's transaction; a refusal is audited by requireAdmin
	out := PatchOrderResponse{Order: res.Order}
	if res.EventID != 0 {
		if s.Pipeline != nil && s.Pipeline.Relay != nil {
			s.Pipeline.Relay.Poke()
		}
		out.BackSync = &BackSyncRef{EventID: res.EventID, WorkflowID: res.WorkflowID, StatusID: patch.StatusID}
		s.Log.Info("order changed in the CRM; back sync recorded", "crm_id", id, "bitrix_id", res.Order.BitrixID,
			"status", res.Order.Status, "event_id", res.EventID)
	}
	c.JSON(http.StatusOK, out)
}

// crmSyncPage renders the monitoring page. It needs a read or admin token:
// as a Bearer header, the ops console's session (log in at /ops/login), or
// once as ?token=, which sets that session (a cookie that names the token
// and is signed with it) and redirects to the bare URL, so the token leaves
// the address bar and the page can refresh itself.
func (s *Server) crmSyncPage(c *gin.Context) {
	if s.tokens.Empty() {
		c.Data(http.StatusForbidden, "text/plain; charset=utf-8", []byte("The sync page is disabled: set READ_TOKENS, ADMIN_TOKENS or ADMIN_TOKEN.\n"))
		return
	}
	if q, given := c.GetQuery("token"); given {
		id, known := s.tokens.Lookup(q)
		cookie, ok := s.tokens.SessionCookie(id.Name, c.Request.TLS != nil, time.Now())
		if !known || !ok {
			c.Data(http.StatusUnauthorized, "text/plain; charset=utf-8", []byte("Wrong token.\n"))
			return
		}
		auth.Remember(c, id)
		http.SetCookie(c.Writer, cookie)
		c.Redirect(http.StatusSeeOther, CRMSyncPagePath)
		return
	}
	id, res := s.tokens.FromRequest(c.Request, true)
	if res != auth.Known {
		c.Header("WWW-Authenticate", bearerChallenge)
		c.Data(http.StatusUnauthorized, "text/html; charset=utf-8", []byte(`<!doctype html><p>Unauthorized: <a href="/ops/login?next=`+
			CRMSyncPagePath+`">log in</a> with a read or admin token, or send Authorization: Bearer &lt;token&gt;.</p>`))
		return
	}
	auth.Remember(c, id)
	ctx := c.Request.Context()
	st, err := s.Store.SyncStatus(ctx, 20)
	if err != nil {
		s.internalError(c, "sync status", err)
		return
	}
	orders, err := s.Store.ListOrders(ctx, store.OrderFilter{Limit: 25})
	if err != nil {
		s.internalError(c, "list orders", err)
		return
	}
	log, err := s.Store.ListSyncLog(ctx, store.SyncLogFilter{Limit: 50})
	if err != nil {
		s.internalError(c, "sync log", err)
		return
	}
	var buf bytes.Buffer
	if err := crmsync.Render(&buf, crmsync.PageData{GeneratedAt: time.Now(), RefreshSeconds: 10,
		SyncEnabled: s.Config.Orders.SyncEnabled, Status: st, Orders: orders, Log: log,
		Who: id.Name, Level: id.Level.String(), Demo: s.Demo != nil,
		TemporalURL: func(id string) string {
			return ops.TemporalRunURL(s.Config.Temporal.UIURL, s.Config.Temporal.Namespace, id)
		},
	}); err != nil {
		s.internalError(c, "render sync page", err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'") // 'self': the console header's log-out form
	c.Header("Referrer-Policy", "no-referrer")
	c.Data(http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
}

// oneLine joins a (possibly errors.Join-ed) error's lines.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
