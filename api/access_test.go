package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/testenv"
)

// Access kinds, as README's Access table words them.
const (
	accessVendor    = "vendor auth"
	accessSignature = "client signature"
	accessOpen      = "open"
	accessRead      = "read"
	accessAdmin     = "admin"
)

// routeAccess is the access every route needs, by method and canonical path
// (canonicalRoute). A route the router has and this table lacks fails
// TestRouteAccess: adding a route forces a decision, here and in README.
var routeAccess = map[string]string{
	"GET /":        accessOpen,
	"GET /healthz": accessOpen,
	"GET /readyz":  accessOpen,
	"GET /metrics": accessOpen,

	"GET /openapi.json": accessOpen, // the OpenAPI document: no data

	"POST /api/v1/simpleprint/webhook":       accessVendor,
	"GET /api/v1/simpleprint/webhook":        accessOpen,
	"GET /api/v1/simpleprint/events":         accessRead,
	"GET /api/v1/simpleprint/printers":       accessRead,
	"GET /api/v1/simpleprint/stats":          accessRead,
	"GET /api/v1/simpleprint/stream":         accessRead,
	"POST /okdesk-webhook":                   accessVendor,
	"GET /okdesk-webhook":                    accessOpen,
	"POST /telegram-webhook":                 accessVendor,
	"POST /api/v1/okdesk/contacts/{id}/link": accessAdmin,
	"GET /api/v1/ratings/stats":              accessRead,
	"GET /api/v1/ratings/export.csv":         accessRead,
	"POST /api/webhooks/bitrix/order":        accessVendor,
	"POST /api/webhooks/bitrix/status":       accessVendor,
	"POST /api/webhooks/bitrix24":            accessVendor,
	"GET /api/sync/status":                   accessRead,
	"GET /api/orders":                        accessRead,
	"GET /api/orders/{id}":                   accessRead,
	"PATCH /api/orders/{id}":                 accessAdmin,
	"GET /crm/sync":                          accessRead,
	"GET /crm/sync/assets/{file}":            accessOpen,

	"POST /api/v1/generate-descriptions":         accessSignature,
	"GET /api/v1/jobs/{id}/status":               accessOpen,
	"GET /api/v1/jobs/{id}/results":              accessOpen,
	"GET /api/v1/webhook-metrics":                accessRead, // open with PUBLIC_MONITORING=true
	"GET /api/v1/webhook-health":                 accessRead, // open with PUBLIC_MONITORING=true
	"GET /api/v1/webhook-failures":               accessRead, // open with PUBLIC_MONITORING=true
	"GET /api/v1/webhook-deliveries/{id}":        accessRead,
	"POST /api/v1/webhook-deliveries/{id}/retry": accessAdmin,
	"POST /api/v1/webhook-deliveries/retry":      accessAdmin,
	"GET /api/v1/clients":                        accessRead,
	"POST /api/v1/events/{id}/replay":            accessAdmin,
	"POST /api/v1/events/replay":                 accessAdmin,
	"POST /api/v1/clients/{client}/pause":        accessAdmin,
	"POST /api/v1/clients/{client}/resume":       accessAdmin,
	"GET /api/v1/audit":                          accessRead,
	"GET /api/v1/dead-letters":                   accessRead,
	"GET /api/v1/sources":                        accessRead,
	"POST /api/v1/sources/{source}/pause":        accessAdmin,
	"POST /api/v1/sources/{source}/resume":       accessAdmin,
	"POST /api/v1/sources/reload":                accessAdmin,
	"POST /hooks/{path}":                         accessVendor, // SOURCES_FILE: testdata/access-sources.yaml
	"GET /api/v1/events/{id}":                    accessRead,
	"POST /api/v1/events/processed":              accessAdmin,
	"GET /api/v1/demo":                           accessRead,

	"GET /ops":                             accessRead,
	"GET /ops/simplyprint":                 accessRead,
	"GET /ops/ratings":                     accessRead,
	"GET /ops/jobs":                        accessRead,
	"GET /ops/audit":                       accessRead,
	"GET /ops/dead-letters":                accessRead,
	"POST /ops/simplyprint/test-event":     accessAdmin,
	"POST /ops/jobs/deliveries/{id}/retry": accessAdmin,
	"POST /ops/dead-letters/act":           accessAdmin,
	"POST /ops/clients/{client}/pause":     accessAdmin,
	"POST /ops/clients/{client}/resume":    accessAdmin,
	"GET /ops/sources":                     accessRead,
	"POST /ops/sources/{source}/pause":     accessAdmin,
	"POST /ops/sources/{source}/resume":    accessAdmin,
	"GET /ops/demo":                        accessRead,
	"POST /ops/demo/act":                   accessAdmin,
	"GET /ops/login":                       accessOpen,
	"POST /ops/login":                      accessOpen,
	"POST /ops/logout":                     accessOpen,
	"GET /ops/assets/{file}":               accessOpen,
}

// The tokens of the access tests: ADMIN_TOKEN (named admin), a named admin
// token, and testenv's read token (named tests).
const (
	accessAdminToken = "route-admin-token"
	opsAdminToken    = "ops-admin-token-0123456789"
	unknownToken     = "not-a-configured-token-0123"
	routeSampleID    = "3f1c2d4e-0000-4000-8000-000000000000"
)

// accessVars configures every inbound secret (so that no webhook is open
// for want of one) and the tokens above.
var accessVars = map[string]string{
	"ADMIN_TOKEN": accessAdminToken, "ADMIN_TOKENS": "ops:" + opsAdminToken,
	"SIMPLYPRINT_WEBHOOK_SECRET": "sp-secret-for-access", "OKDESK_WEBHOOK_SECRET": "okdesk-secret-for-access",
	"TELEGRAM_WEBHOOK_SECRET": "tg-secret-for-access", "BITRIX_WEBHOOK_TOKEN": "bx-token-for-access",
	"BITRIX_APP_TOKEN": "bx-app-token-for-access", "JOBS_CLIENTS": "acme:acme-secret-for-access",
	"SOURCES_FILE": "testdata/access-sources.yaml", "ACCESS_HOOK_SECRET": "hook-secret-for-access",
}

var pathParam = regexp.MustCompile(`[:*]([a-z]+)`)

// canonicalRoute is a route's key in routeAccess and README's table: one
// spelling of SimplyPrint's paths, no trailing slash, {param}.
func canonicalRoute(method, path string) string {
	if strings.HasPrefix(path, "/hooks/") { // one row for the sources of SOURCES_FILE
		path = "/hooks/{path}"
	}
	path = strings.Replace(path, "/api/v1/simplyprint/", "/api/v1/simpleprint/", 1)
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	return method + " " + pathParam.ReplaceAllString(path, "{$1}")
}

// samplePath fills a route's parameters with plausible values.
func samplePath(path string) string {
	return pathParam.ReplaceAllStringFunc(path, func(p string) string {
		switch {
		case p == "*file" && strings.HasPrefix(path, "/ops/"):
			return "style.css"
		case p == "*file":
			return "sync.css"
		case p == "*path": // POST /hooks/*path: testdata/access-sources.yaml's source
			return "access"
		case strings.Contains(path, "/orders/") || strings.Contains(path, "/contacts/"):
			return "1"
		}
		return routeSampleID
	})
}

type answer struct {
	status int
	header http.Header
	body   string
}

// hit sends one request with an optional Bearer token, following no
// redirect; an event stream is not read past its headers.
func hit(t *testing.T, method, url, bearer string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := testenv.NoRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		a.body = string(raw)
	}
	checkExchange(t, req, []byte("{}"), resp, []byte(a.body))
	return a
}

func is2xx(code int) bool { return code >= 200 && code < 300 }

// TestRouteAccess walks every route the router registers and calls it
// without a token, with an unknown one, with a read token and with an
// admin token: no read or admin route answers 2xx without a known token,
// no action answers 2xx to a read token, a Bearer token opens no webhook,
// and open routes answer the same with or without one. The table agrees
// with README's. Every answer is one the OpenAPI document lists.
func TestRouteAccess(t *testing.T) {
	checkContract(t) // every answer, to every token, is validated against api/openapi.yaml
	dbURL, st := testenv.Database(t)
	cfg := testenv.Config(t, dbURL, testenv.Temporal(t), accessVars)
	a := testenv.StartApp(t, cfg, app.Roles{API: true})
	// auditActors are the actors of the audit entries after id, oldest first.
	auditActors := func(after int64) (actors []string, last int64) {
		rows, err := st.Pool.Query(context.Background(), `SELECT id, actor FROM audit_log WHERE id > $1 ORDER BY id`, after)
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		var actor string
		if _, err := pgx.ForEachRow(rows, []any{&id, &actor}, func() error {
			actors, last = append(actors, actor), id
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			last = after
		}
		return actors, last
	}
	_, audited := auditActors(0)

	seen := map[string]bool{}
	for _, r := range api.Routes(cfg) {
		key := canonicalRoute(r.Method, r.Path)
		level, known := routeAccess[key]
		if !known {
			t.Errorf("route %s %s (%s) is not in routeAccess: decide its access here and in README's Access table", r.Method, r.Path, key)
			continue
		}
		seen[key] = true
		url := a.URL() + samplePath(r.Path)
		name := r.Method + " " + samplePath(r.Path)
		none, unknown := hit(t, r.Method, url, ""), hit(t, r.Method, url, unknownToken)
		read, admin := hit(t, r.Method, url, testenv.ReadToken), hit(t, r.Method, url, accessAdminToken)
		for _, ans := range []answer{none, unknown, read, admin} {
			for _, secret := range []string{testenv.ReadToken, accessAdminToken, opsAdminToken, unknownToken} {
				if strings.Contains(ans.body, secret) {
					t.Errorf("%s: an answer shows a token: %s", name, ans.body)
				}
			}
		}
		switch level {
		case accessOpen:
			if none.status != admin.status {
				t.Errorf("%s is open, but answers %d without a token and %d with one", name, none.status, admin.status)
			}
		case accessVendor, accessSignature:
			for cred, ans := range map[string]answer{"no token": none, "an unknown token": unknown, "a read token": read, "an admin token": admin} {
				if is2xx(ans.status) {
					t.Errorf("%s (%s) answers %d to %s and no %s", name, level, ans.status, cred, level)
				}
			}
		case accessRead, accessAdmin:
			for cred, ans := range map[string]answer{"no token": none, "an unknown token": unknown} {
				if is2xx(ans.status) {
					t.Errorf("%s (%s) answers %d to %s: %.200s", name, level, ans.status, cred, ans.body)
				}
				checkRefusal(t, name, cred, ans)
			}
			if level == accessRead && (read.status == 401 || read.status == 403) {
				t.Errorf("%s (read) refuses a read token: %d %.200s", name, read.status, read.body)
			}
			if level == accessAdmin {
				if is2xx(read.status) || read.status != 403 {
					t.Errorf("%s (admin) answers %d to a read token, want 403: %.200s", name, read.status, read.body)
				} else if !strings.Contains(read.body, "admin token") {
					t.Errorf("%s: the 403 does not name the access needed: %.200s", name, read.body)
				}
			}
			if admin.status == 401 || admin.status == 403 {
				t.Errorf("%s (%s) refuses an admin token: %d %.200s", name, level, admin.status, admin.body)
			}
		default:
			t.Fatalf("%s: unknown access %q", key, level)
		}
		// Every action is audited, a read token's refusal included, under
		// the token's name; nothing else is.
		var actors []string
		actors, audited = auditActors(audited)
		if got := strings.Join(actors, ","); level == accessAdmin && got != "tests,admin" || level != accessAdmin && got != "" {
			t.Errorf("%s (%s): audit entries by %q, want %s", name, level, got, map[bool]string{true: "tests,admin", false: "none"}[level == accessAdmin])
		}
	}
	for key := range routeAccess {
		if !seen[key] {
			t.Errorf("routeAccess lists %s, which the router does not have", key)
		}
	}
	checkREADMEAccessTable(t)
	// The console's test event (sent with the admin token) started
	// simplyprint-company on this test's task queue, which no worker polls:
	// once the relay has handed it over, the cleanup terminates that run, so
	// later tests' events do not go to it.
	testenv.Eventually(t, 30*time.Second, func() error {
		if n, _, err := a.Store.Backlog(context.Background()); err != nil || n != 0 {
			return fmt.Errorf("relay backlog %d (%v)", n, err)
		}
		return nil
	})
}

// checkRefusal: an API route refuses with 401, a JSON error and a Bearer
// challenge; a console page sends the browser to the login form.
func checkRefusal(t *testing.T, name, cred string, ans answer) {
	t.Helper()
	path := strings.SplitN(name, " ", 2)[1]
	switch {
	case strings.HasPrefix(path, "/ops"):
		if ans.status != http.StatusSeeOther || !strings.HasPrefix(ans.header.Get("Location"), "/ops/login") {
			t.Errorf("%s with %s: %d to %q, want 303 to the login form", name, cred, ans.status, ans.header.Get("Location"))
		}
	case ans.status != http.StatusUnauthorized || !strings.HasPrefix(ans.header.Get("WWW-Authenticate"), "Bearer"):
		t.Errorf("%s with %s: %d (WWW-Authenticate %q), want 401 with a Bearer challenge: %.200s", name, cred, ans.status,
			ans.header.Get("WWW-Authenticate"), ans.body)
	case strings.HasPrefix(path, "/api/"):
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(ans.body), &e); err != nil || !strings.Contains(e.Error, "token") {
			t.Errorf("%s with %s: the 401 is not a JSON error about the token: %s", name, cred, ans.body)
		}
	}
}

// checkREADMEAccessTable: README's Access table lists exactly routeAccess,
// each row's access starting with the same kind.
func checkREADMEAccessTable(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, "<!-- access:start -->"), strings.Index(readme, "<!-- access:end -->")
	if i < 0 || j < i {
		t.Fatal("README.md lacks the <!-- access:start --> ... <!-- access:end --> table")
	}
	inREADME := map[string]string{}
	for _, line := range strings.Split(readme[i:j], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "method" {
			continue
		}
		method, path := strings.Trim(strings.TrimSpace(cells[1]), "`"), strings.Trim(strings.TrimSpace(cells[2]), "`")
		key := method + " " + path
		accessCell := strings.TrimSpace(cells[3])
		for _, kind := range []string{accessVendor, accessSignature, accessOpen, accessRead, accessAdmin} {
			if strings.HasPrefix(accessCell, kind) {
				inREADME[key] = kind
			}
		}
		if inREADME[key] == "" {
			t.Errorf("README's Access table: %s has access %q, which starts with none of the kinds", key, accessCell)
		}
	}
	var missing, wrong []string
	for key, level := range routeAccess {
		switch got, ok := inREADME[key]; {
		case !ok:
			missing = append(missing, key)
		case got != level:
			wrong = append(wrong, key+": README says "+got+", the router "+level)
		}
		delete(inREADME, key)
	}
	sort.Strings(missing)
	sort.Strings(wrong)
	for _, m := range missing {
		t.Errorf("README's Access table lacks %s (%s)", m, routeAccess[m])
	}
	for _, w := range wrong {
		t.Errorf("README's Access table: %s", w)
	}
	for key := range inREADME {
		t.Errorf("README's Access table lists %s, which the router does not have", key)
	}
}

// TestPublicMonitoring: PUBLIC_MONITORING=true opens the seed's three
// monitoring calls, and only those, and says so at start.
func TestPublicMonitoring(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	dbURL, _ := testenv.Database(t)
	vars := map[string]string{"PUBLIC_MONITORING": "true"}
	for k, v := range accessVars {
		vars[k] = v
	}
	a := testenv.StartApp(t, testenv.Config(t, dbURL, testenv.Temporal(t), vars), app.Roles{API: true})
	for _, path := range []string{"/api/v1/webhook-metrics", "/api/v1/webhook-health", "/api/v1/webhook-failures"} {
		for _, token := range []string{"", unknownToken, testenv.ReadToken} {
			if ans := hit(t, "GET", a.URL()+path, token); ans.status != 200 {
				t.Errorf("PUBLIC_MONITORING=true: GET %s with token %q: %d %s", path, token, ans.status, ans.body)
			}
		}
	}
	for _, path := range []string{"/api/v1/webhook-deliveries/" + routeSampleID, "/api/v1/simpleprint/events", "/api/orders"} {
		if ans := hit(t, "GET", a.URL()+path, ""); ans.status != 401 {
			t.Errorf("PUBLIC_MONITORING=true opens GET %s: %d", path, ans.status)
		}
	}
	if !strings.Contains(logs.String(), "PUBLIC_MONITORING=true") {
		t.Error("no warning at start about PUBLIC_MONITORING")
	}
}

// TestAccessWithoutTokens: with no token configured, read endpoints, admin
// actions and the console are closed (403, saying what to set).
func TestAccessWithoutTokens(t *testing.T) {
	dbURL, _ := testenv.Database(t)
	a := testenv.StartApp(t, testenv.Config(t, dbURL, testenv.Temporal(t), map[string]string{"READ_TOKENS": ""}), app.Roles{API: true})
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/api/v1/simpleprint/events", "READ_TOKENS"},
		{"GET", "/api/v1/webhook-failures", "READ_TOKENS"},
		{"POST", "/api/v1/webhook-deliveries/" + routeSampleID + "/retry", "ADMIN_TOKEN"},
		{"GET", "/ops/jobs", "READ_TOKENS"},
		{"GET", "/crm/sync", "READ_TOKENS"},
	} {
		if ans := hit(t, c.method, a.URL()+c.path, "anything-at-all-0123456789"); ans.status != 403 || !strings.Contains(ans.body, c.want) {
			t.Errorf("%s %s without configured tokens: %d %s", c.method, c.path, ans.status, ans.body)
		}
	}
}

// TestTokenNameRecorded: the access log line and the request's span carry
// the token's name, never the token; so do a refusal of a read token and the
// audit line of an admin action.
func TestTokenNameRecorded(t *testing.T) {
	exp := recordSpans(t)
	logs := testenv.CaptureLogs(t)
	dbURL, _ := testenv.Database(t)
	a := testenv.StartApp(t, testenv.Config(t, dbURL, testenv.Temporal(t), accessVars), app.Roles{API: true})
	if ans := hit(t, "GET", a.URL()+"/api/v1/simpleprint/events?limit=1", testenv.ReadToken); ans.status != 200 {
		t.Fatalf("events: %d %s", ans.status, ans.body)
	}
	if ans := hit(t, "PATCH", a.URL()+"/api/orders/1", opsAdminToken); ans.status != 400 {
		t.Fatalf("patch as ops: %d %s", ans.status, ans.body)
	}
	if ans := hit(t, "PATCH", a.URL()+"/api/orders/1", testenv.ReadToken); ans.status != 403 {
		t.Fatalf("patch as tests: %d %s", ans.status, ans.body)
	}
	text := logs.String()
	for _, want := range []struct{ method, path, token string }{
		{"GET", "/api/v1/simpleprint/events", "tests"}, {"PATCH", "/api/orders/1", "ops"}, {"PATCH", "/api/orders/1", "tests"},
	} {
		found := false
		for _, line := range strings.Split(text, "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "http request" {
				continue
			}
			if rec["method"] == want.method && rec["path"] == want.path && rec["token"] == want.token {
				found = true
			}
		}
		if !found {
			t.Errorf("no access log line for %s %s with token=%s in:\n%s", want.method, want.path, want.token, text)
		}
	}
	if !regexp.MustCompile(`"msg":"admin action","method":"PATCH","path":"/api/orders/1","status":400,"token":"ops"`).MatchString(text) {
		t.Errorf("no audit line of the PATCH under the token ops:\n%s", text)
	}
	for _, secret := range []string{testenv.ReadToken, opsAdminToken, accessAdminToken} {
		if strings.Contains(text, secret) {
			t.Errorf("a token appears in the logs")
		}
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		for _, s := range exp.GetSpans() {
			if !strings.Contains(s.Name, "/api/v1/simpleprint/events") {
				continue
			}
			for _, kv := range s.Attributes {
				if string(kv.Key) == "hookflow.token_name" && kv.Value.AsString() == "tests" {
					return nil
				}
			}
			return fmt.Errorf("span %q lacks hookflow.token_name=tests: %v", s.Name, s.Attributes)
		}
		return errors.New("no span of GET /api/v1/simpleprint/events")
	})
}
