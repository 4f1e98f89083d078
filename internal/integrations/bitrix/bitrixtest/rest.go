// Package bitrixtest fakes Bitrix for tests, in the vendor's wire formats:
//
//   - REST: a Bitrix24 REST portal serving sale.order.get and
//     sale.order.update from an in-memory order store, authenticated by the
//     webhook path /rest/{user_id}/{code}/;
//   - Site: the shop's back-sync endpoint hookflow_order_update.php, as
//     contrib/bitrix ships it;
//   - senders posting Bitrix24 outbound events (form-encoded) and the site
//     handler's JSON webhooks.
//
// Both servers record every request and can answer the next N calls with an
// injected failure. Where the vendor's exact behaviour is unknown the fake
// picks one and says so. Everything is safe for concurrent use.
package bitrixtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Defaults of NewREST when userID/code are empty.
const (
	DefaultUserID = "1"
	DefaultCode   = "x7k2p9q4w1e5r8t3"
)

// PortalZone is the zone the REST fake writes dates in (Bitrix24 portals
// answer in the portal's zone, e.g. +03:00).
var PortalZone = time.FixedZone("MSK", 3*3600)

// Call is one request the REST fake received.
type Call struct {
	Method string // REST method, lower-cased, without ".json"
	UserID string // from the path
	Code   string // from the path
	// Params are the call's parameters as JSON (the JSON body, or form and
	// query parameters converted: id=1&fields[statusId]=P ->
	// {"fields":{"statusId":"P"},"id":"1"}).
	Params json.RawMessage
	Header http.Header
	Status int // the status the fake answered
}

type failure struct {
	left        int
	status      int
	code        any
	description string
	header      http.Header
}

// REST is a fake Bitrix24 REST portal.
type REST struct {
	srv    *httptest.Server
	userID string
	code   string

	shop
	calls []Call
	fails []*failure
}

// NewREST starts a fake portal accepting webhook /rest/{userID}/{code}/
// (DefaultUserID/DefaultCode when empty). With a non-nil tb it is closed in
// tb.Cleanup.
func NewREST(tb testing.TB, userID, code string) *REST {
	if userID == "" {
		userID = DefaultUserID
	}
	if code == "" {
		code = DefaultCode
	}
	r := &REST{userID: userID, code: code, shop: newShop()}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	if tb != nil {
		tb.Cleanup(r.Close)
	}
	return r
}

// Close shuts the server down.
func (r *REST) Close() { r.srv.Close() }

// URL is the webhook base, BITRIX_REST_URL: "<root>/rest/{user}/{code}/".
func (r *REST) URL() string { return r.srv.URL + "/rest/" + r.userID + "/" + r.code + "/" }

// Root is the server root, "http://127.0.0.1:port".
func (r *REST) Root() string { return r.srv.URL }

// Code is the accepted webhook code.
func (r *REST) Code() string { return r.code }

// PutOrder stores a camelCase order (see NewOrder); it must have an "id".
// The order is copied.
func (r *REST) PutOrder(order map[string]any) { r.putOrder("PutOrder", "id", order) }

// Orders returns copies of every stored order, by ascending id.
func (r *REST) Orders() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := slices.Sorted(maps.Keys(r.orders))
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		out = append(out, clone(r.orders[id]))
	}
	return out
}

// Calls returns the calls received so far, in order.
func (r *REST) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// FailNext answers the next n calls (any method) with status and the
// vendor's error body for it: 503 QUERY_LIMIT_EXCEEDED, 429
// OPERATION_TIME_LIMIT, 500 INTERNAL_SERVER_ERROR, 401 NO_AUTH_FOUND,
// 403 INVALID_CREDENTIALS; other statuses get a body whose error is the
// upper-cased status text.
func (r *REST) FailNext(n, status int) {
	code, desc := vendorError(status)
	r.FailNextWith(n, status, code, desc, nil)
}

// FailNextWith answers the next n calls with status and
// {"error":code,"error_description":description} (code may be a string or
// a number), plus header (e.g. Retry-After) when non-nil.
func (r *REST) FailNextWith(n, status int, code any, description string, header http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fails = append(r.fails, &failure{left: n, status: status, code: code, description: description, header: header})
}

func vendorError(status int) (string, string) {
	switch status {
	case http.StatusServiceUnavailable:
		return "QUERY_LIMIT_EXCEEDED", "Too many requests"
	case http.StatusTooManyRequests:
		return "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."
	case http.StatusInternalServerError:
		return "INTERNAL_SERVER_ERROR", "Internal server error"
	case http.StatusUnauthorized:
		return "NO_AUTH_FOUND", "Wrong authorization data"
	case http.StatusForbidden:
		return "INVALID_CREDENTIALS", "Invalid request credentials"
	}
	return strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")), http.StatusText(status)
}

func takeFailure(fails *[]*failure) *failure {
	for len(*fails) > 0 {
		f := (*fails)[0]
		if f.left <= 0 {
			*fails = (*fails)[1:]
			continue
		}
		f.left--
		return f
	}
	return nil
}

var restPathRe = regexp.MustCompile(`^/rest/([^/]+)/([^/]+)/([A-Za-z0-9_.]+?)(\.json)?$`)

func (r *REST) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 8<<20))
	params := requestParams(req, body)
	call := Call{Params: params, Header: req.Header.Clone()}
	m := restPathRe.FindStringSubmatch(req.URL.Path)
	if m != nil {
		call.UserID, call.Code, call.Method = m[1], m[2], strings.ToLower(m[3])
	}

	r.mu.Lock()
	status, reply := r.route(req, m, call, params)
	call.Status = status
	r.calls = append(r.calls, call)
	r.mu.Unlock()

	for k, vs := range reply.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(reply.body)
}

type restAnswer struct {
	body   []byte
	header http.Header
}

func restError(code any, desc string) restAnswer {
	b, _ := json.Marshal(map[string]any{"error": code, "error_description": desc})
	return restAnswer{body: b}
}

// route runs with r.mu held.
func (r *REST) route(req *http.Request, m []string, call Call, params json.RawMessage) (int, restAnswer) {
	if f := takeFailure(&r.fails); f != nil {
		a := restError(f.code, f.description)
		a.header = f.header
		return f.status, a
	}
	if m == nil {
		return http.StatusNotFound, restError("ERROR_METHOD_NOT_FOUND", "Method not found!")
	}
	if req.Method != http.MethodPost && req.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, restError("ERROR_METHOD_NOT_ALLOWED", "Method not allowed")
	}
	if call.UserID != r.userID || call.Code != r.code {
		return http.StatusUnauthorized, restError("INVALID_CREDENTIALS", "Invalid request credentials")
	}
	var p map[string]json.RawMessage
	if len(params) > 0 && json.Unmarshal(params, &p) != nil {
		return http.StatusBadRequest, restError("INVALID_REQUEST", "Invalid JSON body")
	}
	switch call.Method {
	case "sale.order.get":
		return r.orderGet(p)
	case "sale.order.update":
		return r.orderUpdate(p)
	}
	return http.StatusNotFound, restError("ERROR_METHOD_NOT_FOUND", "Method not found!")
}

func (r *REST) success(result any) (int, restAnswer) {
	now := r.now()
	b, _ := json.Marshal(map[string]any{
		"result": result,
		"time": map[string]any{
			"start": float64(now.UnixMicro()) / 1e6, "finish": float64(now.UnixMicro())/1e6 + 0.01,
			"duration": 0.01, "processing": 0.005,
			"date_start": now.In(PortalZone).Format(time.RFC3339), "date_finish": now.In(PortalZone).Format(time.RFC3339),
		},
	})
	return http.StatusOK, restAnswer{body: b}
}

func (r *REST) orderID(p map[string]json.RawMessage) (int64, *restAnswer) {
	raw, ok := p["id"]
	if !ok {
		a := restError(100, `Required parameter "id" is missing`)
		return 0, &a
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	id, ok := intOf(v)
	if !ok || id <= 0 {
		a := restError(100, `Parameter "id" must be a positive integer`)
		return 0, &a
	}
	return id, nil
}

func (r *REST) orderGet(p map[string]json.RawMessage) (int, restAnswer) {
	id, bad := r.orderID(p)
	if bad != nil {
		return http.StatusBadRequest, *bad
	}
	o, ok := r.orders[id]
	if !ok {
		return http.StatusBadRequest, restError(200540400001, "order does not exist")
	}
	return r.success(map[string]any{"order": o})
}

// updatableFields are the sale.order.update "fields" the docs list.
var updatableFields = map[string]bool{
	"price": true, "discountValue": true, "statusId": true, "empStatusId": true, "dateInsert": true,
	"marked": true, "empMarkedId": true, "reasonMarked": true, "userDescription": true,
	"additionalInfo": true, "comments": true, "companyId": true, "responsibleId": true,
	"recurringId": true, "lockedBy": true, "recountFlag": true, "affiliateId": true,
	"updated1c": true, "orderTopic": true, "xmlId": true, "id1c": true, "version1c": true,
	"externalOrder": true, "canceled": true, "empCanceledId": true, "reasonCanceled": true,
}

func (r *REST) orderUpdate(p map[string]json.RawMessage) (int, restAnswer) {
	id, bad := r.orderID(p)
	if bad != nil {
		return http.StatusBadRequest, *bad
	}
	var fields map[string]any
	if raw, ok := p["fields"]; !ok || json.Unmarshal(raw, &fields) != nil || len(fields) == 0 {
		return http.StatusBadRequest, restError(100, `Required parameter "fields" is missing or empty`)
	}
	o, ok := r.orders[id]
	if !ok {
		return http.StatusBadRequest, restError(200540400001, "order does not exist")
	}
	keys := slices.Sorted(maps.Keys(fields))
	// Fake's choice: unknown fields and unknown statuses are refused with
	// 400 (the real portal's exact codes for these are not documented).
	for _, k := range keys {
		if !updatableFields[k] {
			return http.StatusBadRequest, restError("ERROR_CORE", fmt.Sprintf("field %q is not allowed for update", k))
		}
	}
	now := r.now().In(PortalZone).Format(time.RFC3339)
	if s, ok := fields["statusId"]; ok {
		st, _ := s.(string)
		if !r.statuses[st] {
			return http.StatusBadRequest, restError("ERROR_CORE", fmt.Sprintf("status %q does not exist", st))
		}
		if o["statusId"] != st {
			o["dateStatus"] = now
		}
	}
	for _, k := range keys {
		o[k] = fields[k]
	}
	o["dateUpdate"] = now
	if v, ok := intOf(o["version"]); ok {
		o["version"] = v + 1
	}
	return r.success(map[string]any{"order": o})
}

// requestParams returns the call's parameters as JSON: the body when it is
// JSON, else form body and query merged with PHP-style keys nested.
func requestParams(req *http.Request, body []byte) json.RawMessage {
	if strings.Contains(req.Header.Get("Content-Type"), "json") {
		return json.RawMessage(bytes.TrimSpace(body))
	}
	vals := req.URL.Query()
	if form, err := url.ParseQuery(string(body)); err == nil {
		for k, vs := range form {
			vals[k] = append(vals[k], vs...)
		}
	}
	b, _ := json.Marshal(NestForm(vals))
	return b
}

// NestForm turns PHP-style keys into nested maps: "fields[statusId]=P" ->
// {"fields":{"statusId":"P"}}. The last value of a key wins.
func NestForm(vals url.Values) map[string]any {
	out := map[string]any{}
	for key, vs := range vals {
		if len(vs) == 0 {
			continue
		}
		parts := splitPHPKey(key)
		cur := out
		for i, p := range parts {
			if i == len(parts)-1 {
				cur[p] = vs[len(vs)-1]
				break
			}
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
	}
	return out
}

func splitPHPKey(key string) []string {
	i := strings.IndexByte(key, '[')
	if i <= 0 || !strings.HasSuffix(key, "]") {
		return []string{key}
	}
	return append([]string{key[:i]}, strings.Split(key[i+1:len(key)-1], "][")...)
}

func intOf(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// clone deep-copies a JSON-like map through JSON.
func clone(m map[string]any) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("bitrixtest: order is not JSON-encodable: %v", err))
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}
