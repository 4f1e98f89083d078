package bitrixtest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/samples"
)

// SiteZone is the zone the Site fake writes dates in (the shop's, UTC+5).
var SiteZone = samples.BitrixSiteZone

// SiteCall is one request the Site fake received.
type SiteCall struct {
	Method string      // HTTP method
	Path   string      // URL path
	Token  string      // X-Webhook-Token as received
	Body   []byte      // raw body
	Header http.Header // request headers
	Status int         // the status the fake answered
}

// Site fakes the shop's back-sync endpoint, contrib/bitrix's
// hookflow_order_update.php, with the same answers:
//
//	200 {"success":true,"changed":bool,"order":{...site-shaped order...}}
//	400 bad_request, 401 unauthorized, 404 order_not_found,
//	405 method_not_allowed, 422 unknown_status:
//	    {"success":false,"error":"<text>","code":"<code>"}
type Site struct {
	srv   *httptest.Server
	token string

	shop
	calls    []SiteCall
	fails    []*failure
	echoURL  string
	echoTok  string
	echoHC   *http.Client
	echoErrs []error
}

// NewSite starts a fake shop whose endpoint accepts token. With a non-nil tb
// it is closed in tb.Cleanup.
func NewSite(tb testing.TB, token string) *Site {
	s := &Site{token: token, shop: newShop()}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	if tb != nil {
		tb.Cleanup(s.Close)
	}
	return s
}

// Close shuts the server down.
func (s *Site) Close() { s.srv.Close() }

// URL is BITRIX_API_URL for this shop: "<root>/api/".
func (s *Site) URL() string { return s.srv.URL + "/api/" }

// SetEcho makes the shop behave like a site with the PHP handler installed:
// every change the endpoint saves is posted back to hookflowURL (the base,
// e.g. "http://127.0.0.1:8080") as the handler would — order.saved to
// /api/webhooks/bitrix/order, then order.status_changed to
// /api/webhooks/bitrix/status when the status changed — with "origin":
// "backsync", before the endpoint answers. hc nil uses a 5 s client.
func (s *Site) SetEcho(hookflowURL, token string, hc *http.Client) {
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.echoURL, s.echoTok, s.echoHC = hookflowURL, token, hc
}

// EchoErrors returns failures of echo posts (transport errors, non-2xx).
func (s *Site) EchoErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.echoErrs...)
}

// PutOrder stores a site-shaped order (see NewSiteOrder); it must have an
// "ID". The order is copied.
func (s *Site) PutOrder(order map[string]any) { s.putOrder("Site.PutOrder", "ID", order) }

// Calls returns the requests received so far, in order.
func (s *Site) Calls() []SiteCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SiteCall(nil), s.calls...)
}

// FailNext answers the next n requests with status and
// {"success":false,"error":<status text>,"code":"injected"}.
func (s *Site) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, &failure{left: n, status: status, code: "injected", description: http.StatusText(status)})
}

func siteError(status int, code, msg string) (int, []byte) {
	b, _ := json.Marshal(map[string]any{"success": false, "error": msg, "code": code})
	return status, b
}

func (s *Site) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	call := SiteCall{Method: r.Method, Path: r.URL.Path, Token: r.Header.Get("X-Webhook-Token"), Body: body, Header: r.Header.Clone()}

	s.mu.Lock()
	status, out, echoes := s.route(r, call)
	call.Status = status
	s.calls = append(s.calls, call)
	echoURL, echoTok, echoHC := s.echoURL, s.echoTok, s.echoHC
	s.mu.Unlock()

	if echoURL != "" {
		for _, ev := range echoes {
			if code, err := PostSiteEvent(r.Context(), echoHC, echoURL, echoTok, ev); err != nil || code/100 != 2 {
				s.mu.Lock()
				s.echoErrs = append(s.echoErrs, fmt.Errorf("echo %s: status %d: %v", ev.Event, code, err))
				s.mu.Unlock()
			}
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// route runs with s.mu held.
func (s *Site) route(r *http.Request, call SiteCall) (int, []byte, []SiteEvent) {
	if f := takeFailure(&s.fails); f != nil {
		st, b := siteError(f.status, fmt.Sprint(f.code), f.description)
		return st, b, nil
	}
	if r.URL.Path != "/api/hookflow_order_update.php" {
		st, b := siteError(http.StatusNotFound, "not_found", "no such endpoint")
		return st, b, nil
	}
	if r.Method != http.MethodPost {
		st, b := siteError(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed, use POST")
		return st, b, nil
	}
	if s.token == "" || subtle.ConstantTimeCompare([]byte(call.Token), []byte(s.token)) != 1 {
		st, b := siteError(http.StatusUnauthorized, "unauthorized", "invalid or missing X-Webhook-Token")
		return st, b, nil
	}
	var req struct {
		OrderID  json.RawMessage `json:"order_id"`
		StatusID *string         `json:"status_id"`
		Comment  *string         `json:"comment"`
	}
	if json.Unmarshal(call.Body, &req) != nil {
		st, b := siteError(http.StatusBadRequest, "bad_request", "body is not a JSON object")
		return st, b, nil
	}
	var idv any
	_ = json.Unmarshal(req.OrderID, &idv)
	id, ok := intOf(idv)
	if !ok || id <= 0 {
		st, b := siteError(http.StatusBadRequest, "bad_request", "order_id must be a positive integer")
		return st, b, nil
	}
	statusID, comment := "", ""
	if req.StatusID != nil {
		statusID = strings.TrimSpace(*req.StatusID)
	}
	if req.Comment != nil {
		comment = strings.TrimSpace(*req.Comment)
	}
	if statusID == "" && comment == "" {
		st, b := siteError(http.StatusBadRequest, "bad_request", "nothing to update: give status_id and/or comment")
		return st, b, nil
	}
	o, ok := s.orders[id]
	if !ok {
		st, b := siteError(http.StatusNotFound, "order_not_found", fmt.Sprintf("order %d not found", id))
		return st, b, nil
	}
	if statusID != "" && !s.statuses[statusID] {
		st, b := siteError(http.StatusUnprocessableEntity, "unknown_status", fmt.Sprintf("status %q does not exist", statusID))
		return st, b, nil
	}
	now := s.now().In(SiteZone).Format(time.RFC3339)
	old := map[string]any{}
	if statusID != "" && o["STATUS_ID"] != statusID {
		old["STATUS_ID"], old["DATE_STATUS"] = o["STATUS_ID"], o["DATE_STATUS"]
		o["STATUS_ID"], o["DATE_STATUS"] = statusID, now
	}
	if comment != "" {
		cur, _ := o["COMMENTS"].(string)
		if !strings.Contains(cur, comment) {
			old["COMMENTS"] = cur
			if cur != "" {
				cur += "\n"
			}
			o["COMMENTS"] = cur + comment
		}
	}
	changed := len(old) > 0
	var echoes []SiteEvent
	if changed {
		old["DATE_UPDATE"] = o["DATE_UPDATE"]
		o["DATE_UPDATE"] = now
		sentAt := s.now()
		echoes = append(echoes, SiteEvent{Event: "order.saved", Order: clone(o), OldValues: old, SentAt: sentAt, Origin: "backsync"})
		if prev, ok := old["STATUS_ID"]; ok {
			echoes = append(echoes, SiteEvent{Event: "order.status_changed", Order: clone(o),
				OldValues: map[string]any{"STATUS_ID": prev}, SentAt: sentAt, Origin: "backsync"})
		}
	}
	b, _ := json.Marshal(map[string]any{"success": true, "changed": changed, "order": o})
	return http.StatusOK, b, echoes
}

// SiteEvent is the JSON envelope contrib/bitrix/webhook_integration.php
// posts (built by internal/samples, the one source of these bodies).
type SiteEvent = samples.BitrixSiteEvent

// SitePath is where the PHP handler posts an event, relative to the base:
// /api/webhooks/bitrix/status for order.status_changed, else
// /api/webhooks/bitrix/order.
func SitePath(event string) string { return samples.BitrixSitePath(event) }

// PostSiteEvent posts e like the PHP handler: JSON to hookflowURL +
// SitePath(e.Event) with X-Webhook-Token. It returns the response status.
func PostSiteEvent(ctx context.Context, hc *http.Client, hookflowURL, token string, e SiteEvent) (int, error) {
	return post(ctx, hc, strings.TrimRight(hookflowURL, "/")+SitePath(e.Event), string(e.JSON()),
		"application/json; charset=utf-8", "hookflow-bitrix/1.0", http.Header{"X-Webhook-Token": {token}})
}
