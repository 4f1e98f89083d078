package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/sources"
)

// aliasesKey is the path item extension that lists the other paths the
// router serves with the same operations (api/openapi.yaml, info).
const aliasesKey = "x-hookflow-aliases"

// loadOpenAPI loads the served JSON document with kin-openapi.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIJSON())
	if err != nil {
		t.Fatalf("api/openapi.yaml does not load: %v", err)
	}
	return doc
}

func docAliases(item *openapi3.PathItem) []string {
	raw, ok := item.Extensions[aliasesKey].([]any)
	if !ok {
		return nil
	}
	var out []string
	for _, a := range raw {
		if s, ok := a.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestOpenAPIDocument: the document is OpenAPI 3.1, valid by kin-openapi's
// 3.1 validation (JSON Schema 2020-12 schemas), and GET /openapi.json serves
// it as JSON, openly.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi is %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.yaml is not valid OpenAPI 3.1: %v", err)
	}
	// Every operation has an id, a tag and a security decision (an empty
	// list for open ones), and every error answer is the Error shape.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.OperationID == "" || len(op.Tags) == 0 {
				t.Errorf("%s: no operationId or tag", name)
			}
			if op.Security == nil {
				t.Errorf("%s: no security (write security: [] for an open route)", name)
			}
			for code, resp := range op.Responses.Map() {
				ct := resp.Value.Content.Get("application/json")
				if !strings.HasPrefix(code, "4") && !strings.HasPrefix(code, "5") || ct == nil {
					continue
				}
				if ref := ct.Schema.Ref; ref != "#/components/schemas/Error" && !strings.Contains(path, "health") && path != "/readyz" {
					t.Errorf("%s answers %s with %q, not the Error shape", name, code, ref)
				}
			}
		}
	}

	rec := httptest.NewRecorder()
	(&api.Server{Config: config.Config{}, Log: slog.New(slog.DiscardHandler)}).Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !bytes.Equal(rec.Body.Bytes(), api.OpenAPIJSON()) {
		t.Error("GET /openapi.json does not serve the embedded document")
	}
	var served map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &served); err != nil || served["openapi"] != "3.1.0" {
		t.Errorf("GET /openapi.json is not the JSON document: %v", err)
	}
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

// openAPIPath is a Gin route's path as OpenAPI writes it: :id and *file
// become {id} and {file}.
func openAPIPath(ginPath string) string {
	if strings.HasPrefix(ginPath, "/hooks/") { // the sources of SOURCES_FILE, documented as one path
		return "/hooks/{path}"
	}
	return ginParam.ReplaceAllString(ginPath, "{$1}")
}

// TestOpenAPIRoutes: every route the router registers is in the document
// with its method, as a path or as an x-hookflow-aliases entry of the path
// whose operations it serves; every documented operation is routed, under
// its path and each alias. The console's HTML pages and /metrics are
// documented too (tags console and health): nothing is left out.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]bool{} // "METHOD /path" over paths and aliases
	for path, item := range doc.Paths.Map() {
		for _, p := range append([]string{path}, docAliases(item)...) {
			for method := range item.Operations() {
				documented[method+" "+p] = true
			}
		}
	}
	cfg := config.Config{}
	srcs, err := sources.LoadFile(filepath.Join("testdata", "access-sources.yaml"), func(string) string { return "secret" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sources = srcs
	routed := map[string]bool{}
	for _, r := range api.Routes(cfg) {
		key := r.Method + " " + openAPIPath(r.Path)
		routed[key] = true
		if !documented[key] {
			t.Errorf("route %s %s is not in api/openapi.yaml (as %s): document it, or list it as an alias", r.Method, r.Path, key)
		}
	}
	var missing []string
	for key := range documented {
		if !routed[key] {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	for _, key := range missing {
		t.Errorf("api/openapi.yaml documents %s, which the router does not have", key)
	}
	if len(routed) < 50 {
		t.Errorf("only %d routes: is the router complete?", len(routed))
	}
}

// contract validates requests and answers against the document
// (kin-openapi's openapi3filter; the 3.1 document's schemas are checked as
// JSON Schema 2020-12).
type contract struct {
	router  routers.Router
	aliases map[string]string // alias path -> documented path
}

var (
	contractOnce sync.Once
	theContract  *contract
	contractErr  error
)

func loadContract() (*contract, error) {
	contractOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIJSON())
		if err != nil {
			contractErr = err
			return
		}
		// The console's pages, assets and the event stream are text the
		// document types as strings: read them as such.
		for _, ct := range []string{"text/html", "text/css", "text/javascript", "text/event-stream"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
		}
		// Tests listen on 127.0.0.1:<random port>: match any host.
		doc.Servers = nil
		c := &contract{aliases: map[string]string{}}
		for path, item := range doc.Paths.Map() {
			for _, a := range docAliases(item) {
				c.aliases[a] = path
			}
		}
		if c.router, err = legacy.NewRouter(doc); err != nil {
			contractErr = err
			return
		}
		theContract = c
	})
	return theContract, contractErr
}

// check validates one exchange. The request is checked only when the server
// accepted it (2xx): tests send bad requests on purpose, and their refusal
// must still be a documented answer. The answer is always checked, its
// status included: an undocumented status fails.
func (c *contract) check(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	r := req.Clone(context.Background())
	if p, ok := configuredPaths.Load(r.URL.Path); ok {
		r.URL.Path, r.URL.RawPath = p.(string), ""
	}
	if p, ok := c.aliases[r.URL.Path]; ok {
		r.URL.Path, r.URL.RawPath = p, ""
	}
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		return fmt.Errorf("%s %s is not in the document: %w", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if r.Header.Get("Content-Type") == "" && len(reqBody) > 0 {
		// An inbound JSON body may come without a Content-Type (the body
		// decides; api/inbound.go): validate it as the JSON it is read as.
		r.Header.Set("Content-Type", "application/json")
	}
	if status >= 200 && status < 300 && !acknowledgedIgnored(body) {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("%s %s: the request the server accepted breaks the document: %w", req.Method, req.URL.Path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s %s: the %d answer breaks the document: %w\nbody: %.300s", req.Method, req.URL.Path, status, err, body)
	}
	return nil
}

// acknowledgedIgnored says whether an answer acknowledges a request it
// refused to process (Telegram's {"ok":true,"ignored":true}, an event
// recorded with status "ignored"): a sender that would retry a 4xx for
// ever gets a 2xx, but its request need not be one the document describes.
func acknowledgedIgnored(body []byte) bool {
	var a struct {
		Ignored bool   `json:"ignored"`
		Status  string `json:"status"`
	}
	return json.Unmarshal(body, &a) == nil && (a.Ignored || a.Status == "ignored")
}

// configuredPaths maps a path a test configured (OKDESK_WEBHOOK_PATH, the
// seed's WEBHOOK_PATH) to the documented default it replaces.
var configuredPaths sync.Map

// contractPathAs validates requests to path as those to documented.
func contractPathAs(path, documented string) { configuredPaths.Store(path, documented) }

// contractTests are the tests (and their subtests) whose call()s are
// checked against the document: checkContract opts a test in.
var contractTests sync.Map

// checkContract makes every call() of t and its subtests validate the
// request and the answer against api/openapi.yaml.
func checkContract(t testing.TB) {
	t.Helper()
	if _, err := loadContract(); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	contractTests.Store(t.Name(), true)
	t.Cleanup(func() { contractTests.Delete(t.Name()) })
}

// contractChecked says whether call() checks t's exchanges.
func contractChecked(t testing.TB) bool {
	name := t.Name()
	for {
		if _, ok := contractTests.Load(name); ok {
			return true
		}
		i := strings.LastIndex(name, "/")
		if i < 0 {
			return false
		}
		name = name[:i]
	}
}

// checkExchange is call()'s hook: a broken exchange fails the test.
func checkExchange(t testing.TB, req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	t.Helper()
	if !contractChecked(t) {
		return
	}
	c, err := loadContract()
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	if err := c.check(req, reqBody, resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("OpenAPI contract: %v", err)
	}
}

// recordingTB is a testing.TB whose failures are recorded, not reported:
// the negative test runs call() through it.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestOpenAPIContractCatchesBrokenAnswers: a server that answers outside
// the document fails call()'s check (a missing required field, a wrong
// type, an error that is not the Error shape, an undocumented status), and
// the same exchanges with documented answers pass.
func TestOpenAPIContractCatchesBrokenAnswers(t *testing.T) {
	checkContract(t)
	var answer struct {
		sync.Mutex
		status int
		body   string
	}
	answerWith := func(status int, body string) {
		answer.Lock()
		defer answer.Unlock()
		answer.status, answer.body = status, body
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer.Lock()
		status, body := answer.status, answer.body
		answer.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	event := `{"id":1,"event":"job.done","event_type":"job_completed","webhook_id":42,"printer_id":7,"job_id":null,` +
		`"received_at":"2026-01-01T00:00:00Z","processed":true,"processed_at":"2026-01-01T00:00:01Z","outcome":"applied",` +
		`"error":null,"workflow_id":"simplyprint-printer-7","payload":{}}`
	order := `{"id":1000,"bitrix_id":7,"number":"7","status":"new","bitrix_status":"N","status_unknown":false,"total":12.5,` +
		`"delivery_price":0,"currency":"RUB","paid":false,"canceled":false,"customer":{"name":"A","phone":"","email":""},` +
		`"delivery_address":"","customer_comment":"","comments":"","tracking_number":"","bitrix_created_at":null,` +
		`"bitrix_updated_at":"2026-01-01T00:00:00Z","sync_state":"synced","sync_error":null,` +
		`"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`
	detail := strings.TrimSuffix(order, "}") + `,"mapping":null,"sync_history":[]}`
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		answer                   string
		broken                   bool
	}{
		{"events", "GET", "/api/v1/simpleprint/events?limit=5", "", 200, "[" + event + "]", false},
		{"events under the vendor's spelling", "GET", "/api/v1/simplyprint/events", "", 200, "[" + event + "]", false},
		{"an event without id", "GET", "/api/v1/simpleprint/events", "", 200, "[" + strings.Replace(event, `"id":1,`, "", 1) + "]", true},
		{"a printer id as text", "GET", "/api/v1/simpleprint/events", "", 200, "[" + strings.Replace(event, `"printer_id":7`, `"printer_id":"7"`, 1) + "]", true},
		{"an undocumented field", "GET", "/api/v1/simpleprint/events", "", 200, "[" + strings.Replace(event, `"id":1,`, `"id":1,"secret":"x",`, 1) + "]", true},
		{"orders", "GET", "/api/orders?limit=2", "", 200, "[" + order + "]", false},
		{"an order with an undocumented field", "GET", "/api/orders", "", 200, "[" + strings.Replace(order, `"id":1000,`, `"id":1000,"mapping":null,`, 1) + "]", true},
		{"an order with its detail", "GET", "/api/orders/1000", "", 200, detail, false},
		{"an order's detail without its history", "GET", "/api/orders/1000", "", 200, strings.Replace(detail, `,"sync_history":[]`, "", 1), true},
		{"the error shape", "GET", "/api/orders/abc", "", 400, `{"error":"order id must be a positive integer","field":"id"}`, false},
		{"an error in another shape", "GET", "/api/orders/abc", "", 400, `{"message":"bad id"}`, true},
		{"an undocumented status", "GET", "/api/orders/1", "", 418, `{"error":"teapot"}`, true},
		{"a webhook ack", "POST", "/api/v1/simpleprint/webhook/", `{"event":"test","webhook_id":0,"timestamp":1,"data":{}}`, 200,
			`{"status":"received","event":"test","message":"Webhook processed successfully","id":3,"duplicate":false}`, false},
		{"an ack without duplicate", "POST", "/api/v1/simpleprint/webhook", `{"event":"test"}`, 200,
			`{"status":"received","event":"test","message":"ok","id":3}`, true},
		{"an accepted request outside the document", "POST", "/api/v1/simpleprint/webhook", `{"webhook_id":1}`, 200,
			`{"status":"received","event":"test","message":"ok","id":3,"duplicate":false}`, true},
	} {
		answerWith(c.status, c.answer)
		rec := &recordingTB{TB: t}
		var body []byte
		if c.body != "" {
			body = []byte(c.body)
		}
		call(rec, c.method, srv.URL+c.path, body, nil, nil)
		switch {
		case c.broken && len(rec.errors) == 0:
			t.Errorf("%s: call() let a broken exchange pass", c.name)
		case !c.broken && len(rec.errors) > 0:
			t.Errorf("%s: call() failed a documented exchange: %v", c.name, rec.errors)
		case c.broken:
			t.Logf("%s: %s", c.name, strings.SplitN(rec.errors[0], "\n", 2)[0])
		}
	}
	// The same through contractClient, as vendor fakes send: a Bitrix24
	// event the server accepted must carry the documented form fields.
	for _, c := range []struct {
		name, form string
		broken     bool
	}{
		{"a Bitrix24 event", "event=ONSALEORDERSAVED&data%5BFIELDS%5D%5BID%5D=300&auth%5Bapplication_token%5D=x", false},
		{"a Bitrix24 event without its token", "event=ONSALEORDERSAVED&data%5BFIELDS%5D%5BID%5D=300", true},
	} {
		answerWith(200, `{"status":"accepted","event":"ONSALEORDERSAVED","order_id":300,"id":5,"duplicate":false,"workflow_id":"bitrix-order-300"}`)
		rec := &recordingTB{TB: t}
		resp, err := contractClient(rec).Post(srv.URL+"/api/webhooks/bitrix24", "application/x-www-form-urlencoded", strings.NewReader(c.form))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if c.broken != (len(rec.errors) > 0) {
			t.Errorf("%s: broken %v, contract errors %v", c.name, c.broken, rec.errors)
		}
	}
}

// contractTransport runs checkExchange on every exchange of a client that
// tests hand to vendor fakes (bitrixtest.SendEvent ...).
type contractTransport struct{ t testing.TB }

func (c contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	checkExchange(c.t, req, reqBody, resp, body)
	return resp, nil
}

// contractClient is an HTTP client whose exchanges are validated against
// api/openapi.yaml when t called checkContract.
func contractClient(t testing.TB) *http.Client {
	return &http.Client{Transport: contractTransport{t}}
}

// TestOpenAPISecurityMatchesAccess: each operation's security says what
// routeAccess (and README's Access table) says: open routes need nothing,
// read routes a read token (or the console's session), admin routes an
// admin token (or an admin's session on the console's forms), webhooks
// their vendor's scheme, job submissions the client's signature.
func TestOpenAPISecurityMatchesAccess(t *testing.T) {
	doc := loadOpenAPI(t)
	vendorSchemes := map[string]bool{"simplyPrintToken": true, "simplyPrintSecret": true, "okdeskQueryToken": true,
		"okdeskSecret": true, "telegramSecret": true, "bitrixToken": true, "declaredSource": true}
	// Authenticated by a body field no security scheme can name (the
	// operation's description says which).
	bodyAuthenticated := map[string]bool{"POST /api/webhooks/bitrix24": true}
	for key, level := range routeAccess {
		method, path, _ := strings.Cut(key, " ")
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s (routeAccess) is not an operation of api/openapi.yaml", key)
			continue
		}
		op := item.GetOperation(method)
		schemes := map[string]bool{}
		anonymous := op.Security == nil || len(*op.Security) == 0
		if op.Security != nil {
			for _, req := range *op.Security {
				if len(req) == 0 {
					anonymous = true
				}
				for name := range req {
					schemes[name] = true
				}
			}
		}
		console := strings.HasPrefix(path, "/ops") || strings.HasPrefix(path, "/crm/")
		var ok bool
		switch level {
		case accessOpen:
			ok = anonymous && len(schemes) == 0
		case accessRead:
			ok = !anonymous && (schemes["readToken"] || console && schemes["opsSession"])
		case accessAdmin:
			ok = !anonymous && (schemes["adminToken"] || console && schemes["opsSession"])
		case accessVendor:
			ok = bodyAuthenticated[key]
			for name := range schemes {
				ok = ok || vendorSchemes[name]
			}
			ok = ok && (!anonymous || bodyAuthenticated[key])
		case accessSignature:
			ok = schemes["jobSignature"] // or the body's signature field: the empty requirement
		}
		if !ok {
			t.Errorf("%s is %s (routeAccess), but api/openapi.yaml's security is %v (anonymous: %v)", key, level, schemes, anonymous)
		}
	}
}
