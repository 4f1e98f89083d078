// Package simplyprinttest is an in-memory SimplyPrint for tests. It serves
// the webhooks REST API (webhooks/Get, Create, Delete, SetEnabled,
// TriggerTestWebhook) in the vendor's shapes and acts as the webhook sender,
// POSTing real-format payloads with the secret in X-SP-Token.
//
// Where the vendor's exact behaviour is unknown the fake picks one and says
// so: validation and not-found errors are HTTP 200 with
// {"status":false,"message":..} (clients must check "status"); a missing or
// wrong X-API-KEY is HTTP 401 and a foreign company id HTTP 403, both with
// the same envelope.
package simplyprinttest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults of a new Server.
const (
	DefaultCompanyID = "1234"
	DefaultAPIKey    = "sp-test-api-key"
	// HeaderToken is where the vendor's help article says the secret goes.
	HeaderToken = "X-SP-Token"
	// HeaderSecret is where the vendor's own integrations read it from.
	HeaderSecret = "X-SP-Secret"
	// UserAgent is what the fake sender sends.
	UserAgent = "SimplyPrint-Webhooks (simplyprinttest)"
	// maxSecretLen is the vendor's validator: string|max:128.
	maxSecretLen = 128
)

// Webhook is a registration held by the fake, rendered in the vendor's shape.
type Webhook struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Secret      string   `json:"secret"`
	Enabled     bool     `json:"enabled"`
}

// Request is one API request the fake received.
type Request struct {
	Method   string
	Path     string // as received, e.g. "/1234/webhooks/Get"
	Endpoint string // e.g. "webhooks/Get"; "" if the path did not parse
	Header   http.Header
	Body     []byte
}

// Delivery is one webhook POST the fake sent.
type Delivery struct {
	WebhookID  int64 // 0 for Send with a payload that has none
	Event      string
	URL        string
	Header     http.Header
	Payload    []byte
	StatusCode int   // 0 when no response was received
	Err        error // transport error
}

// Failure makes the API answer the next Times matching calls with a failure
// instead of serving them. Failures are consumed in the order injected.
type Failure struct {
	// Endpoint limits the failure to one endpoint ("webhooks/Create");
	// "" matches every call.
	Endpoint string
	// Times is how many calls fail; 0 means 1.
	Times int
	// HTTPStatus is the status code; 0 means 200 (a "status": false answer).
	HTTPStatus int
	// Message is the envelope's message; "" means "injected failure".
	Message string
	// RetryAfter, if set, is sent as the Retry-After header.
	RetryAfter string
	// RawBody, if set, replaces the envelope (e.g. an HTML error page).
	RawBody string
}

// Option configures a Server.
type Option func(*Server)

// WithCompanyID sets the company id the API serves (default DefaultCompanyID).
func WithCompanyID(id string) Option { return func(s *Server) { s.companyID = id } }

// WithAPIKey sets the accepted X-API-KEY (default DefaultAPIKey).
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithSecretHeaders sets the headers that carry a webhook's secret when the
// fake delivers events (default HeaderToken only). Pass HeaderToken and
// HeaderSecret to send both.
func WithSecretHeaders(names ...string) Option {
	return func(s *Server) { s.secretHeaders = slices.Clone(names) }
}

// WithHTTPClient sets the client the sender uses (default: 10 s timeout).
func WithHTTPClient(hc *http.Client) Option { return func(s *Server) { s.hc = hc } }

// WithClock sets the clock for event timestamps (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// Server is the fake. It is safe for concurrent use.
type Server struct {
	srv           *httptest.Server
	companyID     string
	apiKey        string
	secretHeaders []string
	hc            *http.Client
	now           func() time.Time

	mu         sync.Mutex
	hooks      map[int64]Webhook
	nextID     int64
	requests   []Request
	deliveries []Delivery
	failures   []Failure
}

// NewServer starts a fake. With a non-nil tb it is closed in tb.Cleanup;
// with nil the caller must Close it.
func NewServer(tb testing.TB, opts ...Option) *Server {
	s := &Server{
		companyID:     DefaultCompanyID,
		apiKey:        DefaultAPIKey,
		secretHeaders: []string{HeaderToken},
		hc:            &http.Client{Timeout: 10 * time.Second},
		now:           time.Now,
		hooks:         map[int64]Webhook{},
		nextID:        100,
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	if tb != nil {
		tb.Cleanup(s.Close)
	}
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// URL is the server root, e.g. "http://127.0.0.1:4321".
func (s *Server) URL() string { return s.srv.URL }

// BaseURL is the company-scoped base in the documented form
// (<root>/<companyId>/).
func (s *Server) BaseURL() string { return s.srv.URL + "/" + s.companyID + "/" }

// BaseURLTemplate is <root>/{companyId}/, for clients that substitute the id.
func (s *Server) BaseURLTemplate() string { return s.srv.URL + "/{companyId}/" }

// PluginBaseURL is the vendor plugins' form, <root>/api/<companyId>/.
func (s *Server) PluginBaseURL() string { return s.srv.URL + "/api/" + s.companyID + "/" }

// CompanyID is the company id the API serves.
func (s *Server) CompanyID() string { return s.companyID }

// APIKey is the accepted X-API-KEY.
func (s *Server) APIKey() string { return s.apiKey }

// AddWebhook stores w as if created in the SimplyPrint UI and returns it; an
// ID of 0 is assigned. Nil Events stay empty.
func (s *Server) AddWebhook(w Webhook) Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.ID == 0 {
		w.ID = s.allocID()
	} else if w.ID >= s.nextID {
		s.nextID = w.ID + 1
	}
	w.Events = slices.Clone(w.Events)
	s.hooks[w.ID] = w
	return cloneHook(w)
}

// Webhook returns the webhook with the given id.
func (s *Server) Webhook(id int64) (Webhook, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.hooks[id]
	return cloneHook(w), ok
}

// Webhooks returns all webhooks ordered by id.
func (s *Server) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedLocked()
}

// Requests returns every API request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = cloneRequest(r)
	}
	return out
}

// RequestsTo returns the requests to one endpoint ("webhooks/Create").
func (s *Server) RequestsTo(endpoint string) []Request {
	return slices.DeleteFunc(s.Requests(), func(r Request) bool { return r.Endpoint != endpoint })
}

// Deliveries returns every webhook POST sent so far, in order.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.deliveries))
	for i, d := range s.deliveries {
		d.Header = d.Header.Clone()
		d.Payload = bytes.Clone(d.Payload)
		out[i] = d
	}
	return out
}

// InjectFailure queues f.
func (s *Server) InjectFailure(f Failure) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, f)
}

// FailNext answers the next n API calls with HTTP status httpStatus and
// {"status":false,"message":"injected failure"}.
func (s *Server) FailNext(n, httpStatus int) {
	s.InjectFailure(Failure{Times: n, HTTPStatus: httpStatus})
}

// Send POSTs payload to targetURL like the vendor does: Content-Type
// application/json and, when secret is not empty, the secret verbatim in
// header headerName ("" means HeaderToken). The caller closes the body.
func (s *Server) Send(ctx context.Context, targetURL, secret, headerName string, payload []byte) (*http.Response, error) {
	if headerName == "" {
		headerName = HeaderToken
	}
	var headers []string
	if secret != "" {
		headers = []string{headerName}
	}
	d, resp, err := s.post(ctx, targetURL, secret, headers, payload)
	s.record(d)
	return resp, err
}

// Fire delivers event to every enabled webhook subscribed to it, in id
// order, as SimplyPrint would, with each webhook's id and secret and the
// clock's timestamp. Non-2xx answers are recorded, not errors; the error
// joins the transport errors.
func (s *Server) Fire(ctx context.Context, event string, data any) ([]Delivery, error) {
	s.mu.Lock()
	var targets []Webhook
	for _, w := range s.sortedLocked() {
		if w.Enabled && slices.Contains(w.Events, event) {
			targets = append(targets, w)
		}
	}
	s.mu.Unlock()
	var out []Delivery
	var errs []error
	for _, w := range targets {
		d := s.deliver(ctx, w, Payload(event, w.ID, s.now().Unix(), data))
		out = append(out, d)
		if d.Err != nil {
			errs = append(errs, d.Err)
		}
	}
	return out, errors.Join(errs...)
}

// deliver sends payload to w with its secret, reads and closes the answer,
// and records the delivery.
func (s *Server) deliver(ctx context.Context, w Webhook, payload []byte) Delivery {
	var headers []string
	if w.Secret != "" {
		headers = s.secretHeaders
	}
	d, resp, _ := s.post(ctx, w.URL, w.Secret, headers, payload)
	if resp != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	s.record(d)
	return d
}

func (s *Server) post(ctx context.Context, target, secret string, secretHeaders []string, payload []byte) (Delivery, *http.Response, error) {
	d := Delivery{URL: target, Payload: bytes.Clone(payload)}
	var env struct {
		WebhookID int64  `json:"webhook_id"`
		Event     string `json:"event"`
	}
	if json.Unmarshal(payload, &env) == nil {
		d.WebhookID, d.Event = env.WebhookID, env.Event
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		d.Err = err
		return d, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	for _, h := range secretHeaders {
		req.Header.Set(h, secret)
	}
	d.Header = req.Header.Clone()
	resp, err := s.hc.Do(req)
	if err != nil {
		d.Err = err
		return d, nil, err
	}
	d.StatusCode = resp.StatusCode
	return d, resp, nil
}

func (s *Server) record(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, d)
}

// ---- API ----

type apiError struct {
	status  int
	message string
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	company, endpoint := splitPath(r.URL.Path)

	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, Endpoint: endpoint,
		Header: r.Header.Clone(), Body: body,
	})
	f, failing := s.takeFailureLocked(endpoint)
	s.mu.Unlock()

	if failing {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		code := f.HTTPStatus
		if code == 0 {
			code = http.StatusOK
		}
		if f.RawBody != "" {
			w.WriteHeader(code)
			_, _ = io.WriteString(w, f.RawBody)
			return
		}
		msg := f.Message
		if msg == "" {
			msg = "injected failure"
		}
		writeJSON(w, code, map[string]any{"status": false, "message": msg})
		return
	}

	if key := r.Header.Get("X-API-KEY"); key == "" ||
		subtle.ConstantTimeCompare([]byte(key), []byte(s.apiKey)) != 1 {
		writeErr(w, apiError{http.StatusUnauthorized, "Invalid or missing API key"})
		return
	}
	if endpoint == "" {
		writeErr(w, apiError{http.StatusNotFound, "Not found"})
		return
	}
	if company != s.companyID {
		writeErr(w, apiError{http.StatusForbidden, fmt.Sprintf("You do not have access to company %q", company)})
		return
	}

	var (
		resp map[string]any
		aerr *apiError
	)
	switch endpoint {
	case "webhooks/Get":
		if aerr = wantMethod(r, http.MethodGet); aerr == nil {
			resp = s.list()
		}
	case "webhooks/Create":
		if aerr = wantMethod(r, http.MethodPost); aerr == nil {
			resp, aerr = s.create(body)
		}
	case "webhooks/Delete":
		if aerr = wantMethod(r, http.MethodPost); aerr == nil {
			resp, aerr = s.delete(body)
		}
	case "webhooks/SetEnabled":
		if aerr = wantMethod(r, http.MethodPost); aerr == nil {
			resp, aerr = s.setEnabled(body)
		}
	case "webhooks/TriggerTestWebhook":
		if aerr = wantMethod(r, http.MethodPost); aerr == nil {
			resp, aerr = s.triggerTest(r.Context(), body)
		}
	default:
		aerr = &apiError{http.StatusNotFound, "Endpoint " + endpoint + " not found"}
	}
	if aerr != nil {
		writeErr(w, *aerr)
		return
	}
	resp["status"] = true
	if _, ok := resp["message"]; !ok {
		resp["message"] = nil
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) takeFailureLocked(endpoint string) (Failure, bool) {
	for i, f := range s.failures {
		if f.Endpoint != "" && f.Endpoint != endpoint {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.failures = slices.Delete(s.failures, i, i+1)
		} else {
			s.failures[i] = f
		}
		return f, true
	}
	return Failure{}, false
}

// splitPath accepts /<company>/<endpoint> and /api/<company>/<endpoint>.
func splitPath(p string) (company, endpoint string) {
	p = strings.TrimPrefix(p, "/")
	if rest, ok := strings.CutPrefix(p, "api/"); ok {
		p = rest
	}
	company, endpoint, ok := strings.Cut(p, "/")
	if !ok || company == "" || endpoint == "" {
		return "", ""
	}
	if c, err := url.PathUnescape(company); err == nil {
		company = c
	}
	return company, strings.TrimSuffix(endpoint, "/")
}

func wantMethod(r *http.Request, method string) *apiError {
	if r.Method != method {
		return &apiError{http.StatusMethodNotAllowed, fmt.Sprintf("Method %s not allowed, use %s", r.Method, method)}
	}
	return nil
}

func (s *Server) list() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]any{"data": s.sortedLocked()}
}

// requestBody holds the fields of a webhooks/* POST body; pointers tell
// absent from empty.
type requestBody struct {
	ID          *json.Number `json:"id"`
	Name        *string      `json:"name"`
	Description *string      `json:"description"`
	URL         *string      `json:"url"`
	Secret      *string      `json:"secret"`
	Enabled     *bool        `json:"enabled"`
	Events      *[]string    `json:"events"`
}

func parseBody(body []byte) (requestBody, *apiError) {
	var b requestBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&b); err != nil {
		return b, &apiError{http.StatusBadRequest, "Invalid JSON body: " + err.Error()}
	}
	return b, nil
}

// id parses the "id" field; a missing or non-positive id is a status:false
// answer.
func (b requestBody) id() (int64, *apiError) {
	if b.ID == nil {
		return 0, &apiError{http.StatusOK, "The id field is required."}
	}
	n, err := strconv.ParseInt(b.ID.String(), 10, 64)
	if err != nil || n <= 0 {
		return 0, &apiError{http.StatusOK, "The id must be a positive integer."}
	}
	return n, nil
}

// parseBodyID parses a body that names a webhook by its "id".
func parseBodyID(body []byte) (requestBody, int64, *apiError) {
	b, aerr := parseBody(body)
	if aerr != nil {
		return b, 0, aerr
	}
	id, aerr := b.id()
	return b, id, aerr
}

func (s *Server) create(body []byte) (map[string]any, *apiError) {
	b, aerr := parseBody(body)
	if aerr != nil {
		return nil, aerr
	}
	var problems []string
	if b.Name == nil || strings.TrimSpace(*b.Name) == "" {
		problems = append(problems, "The name field is required.")
	}
	if b.URL == nil || !validURL(*b.URL) {
		problems = append(problems, "The url must be a valid URL.")
	}
	if b.Secret != nil && len([]rune(*b.Secret)) > maxSecretLen {
		problems = append(problems, fmt.Sprintf("The secret may not be greater than %d characters.", maxSecretLen))
	}
	if b.Events == nil || len(*b.Events) == 0 {
		problems = append(problems, "The events field is required.")
	} else {
		for _, e := range *b.Events {
			if !slices.Contains(VendorEvents, e) {
				problems = append(problems, fmt.Sprintf("The event %q is invalid.", e))
			}
		}
	}
	if len(problems) > 0 {
		return nil, &apiError{http.StatusOK, strings.Join(problems, " ")}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var w Webhook
	if b.ID != nil {
		id, aerr := b.id()
		if aerr != nil {
			return nil, aerr
		}
		existing, ok := s.hooks[id]
		if !ok {
			return nil, &apiError{http.StatusOK, fmt.Sprintf("Webhook %d not found.", id)}
		}
		w = existing
	} else {
		w = Webhook{ID: s.allocID(), Enabled: true}
	}
	w.Name = strings.TrimSpace(*b.Name)
	w.URL = *b.URL
	w.Events = slices.Clone(*b.Events)
	if b.Description != nil {
		w.Description = *b.Description
	}
	if b.Secret != nil {
		w.Secret = *b.Secret
	}
	if b.Enabled != nil {
		w.Enabled = *b.Enabled
	}
	s.hooks[w.ID] = w
	return map[string]any{"webhook": cloneHook(w)}, nil
}

func (s *Server) delete(body []byte) (map[string]any, *apiError) {
	_, id, aerr := parseBodyID(body)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.hooks[id]; !ok {
		return nil, &apiError{http.StatusOK, fmt.Sprintf("Webhook %d not found.", id)}
	}
	delete(s.hooks, id)
	return map[string]any{}, nil
}

func (s *Server) setEnabled(body []byte) (map[string]any, *apiError) {
	b, id, aerr := parseBodyID(body)
	if aerr != nil {
		return nil, aerr
	}
	if b.Enabled == nil {
		return nil, &apiError{http.StatusOK, "The enabled field is required."}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.hooks[id]
	if !ok {
		return nil, &apiError{http.StatusOK, fmt.Sprintf("Webhook %d not found.", id)}
	}
	w.Enabled = *b.Enabled
	s.hooks[id] = w
	return map[string]any{}, nil
}

// triggerTest sends the "test" event synchronously. The vendor's answer
// when the receiver fails is unknown; the fake says status:false.
func (s *Server) triggerTest(ctx context.Context, body []byte) (map[string]any, *apiError) {
	_, id, aerr := parseBodyID(body)
	if aerr != nil {
		return nil, aerr
	}
	w, ok := s.Webhook(id)
	if !ok {
		return nil, &apiError{http.StatusOK, fmt.Sprintf("Webhook %d not found.", id)}
	}
	d := s.deliver(ctx, w, TestPayload(w.ID, s.now().Unix()))
	switch {
	case d.Err != nil:
		return nil, &apiError{http.StatusOK, "Test webhook could not be delivered: " + d.Err.Error()}
	case d.StatusCode < 200 || d.StatusCode > 299:
		return nil, &apiError{http.StatusOK, fmt.Sprintf("Test webhook was answered with HTTP %d.", d.StatusCode)}
	}
	return map[string]any{"message": "Test webhook sent."}, nil
}

func (s *Server) allocID() int64 {
	id := s.nextID
	s.nextID++
	return id
}

func (s *Server) sortedLocked() []Webhook {
	out := make([]Webhook, 0, len(s.hooks))
	for _, w := range s.hooks {
		out = append(out, cloneHook(w))
	}
	slices.SortFunc(out, func(a, b Webhook) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

func cloneHook(w Webhook) Webhook {
	w.Events = slices.Clone(w.Events)
	if w.Events == nil {
		w.Events = []string{}
	}
	return w
}

func cloneRequest(r Request) Request {
	r.Header = r.Header.Clone()
	r.Body = bytes.Clone(r.Body)
	return r
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func writeErr(w http.ResponseWriter, e apiError) {
	writeJSON(w, e.status, map[string]any{"status": false, "message": e.message})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
