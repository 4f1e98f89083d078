package simplyprint_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/simplyprint"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
)

const receiverURL = "https://hooks.example.com/api/v1/simpleprint/webhook/"

func newClient(t *testing.T, fake *simplyprinttest.Server) *simplyprint.Client {
	t.Helper()
	return simplyprint.New(fake.BaseURLTemplate(), fake.CompanyID(), fake.APIKey(), nil)
}

func asAPIError(t *testing.T, err error) *simplyprint.APIError {
	t.Helper()
	var ae *simplyprint.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v (%T), want *simplyprint.APIError", err, err)
	}
	return ae
}

func TestResolveBaseURL(t *testing.T) {
	tests := []struct {
		name, base, company, want, wantErr string
	}{
		{name: "empty is the documented default", company: "27286", want: "https://api.simplyprint.io/27286/"},
		{name: "documented template", base: "https://api.simplyprint.io/{companyId}/", company: "27286", want: "https://api.simplyprint.io/27286/"},
		{name: "plugin template", base: "https://simplyprint.io/api/{companyId}/", company: "27286", want: "https://simplyprint.io/api/27286/"},
		{name: "template without trailing slash", base: "https://simplyprint.io/api/{companyId}", company: "27286", want: "https://simplyprint.io/api/27286/"},
		{name: "id appended to plugin base", base: "https://simplyprint.io/api", company: "27286", want: "https://simplyprint.io/api/27286/"},
		{name: "id appended to host root", base: "https://api.simplyprint.io/", company: "7", want: "https://api.simplyprint.io/7/"},
		{name: "base already ends with the id", base: "https://simplyprint.io/api/27286", company: "27286", want: "https://simplyprint.io/api/27286/"},
		{name: "base ends with the id and slash", base: "https://simplyprint.io/api/27286/", company: "27286", want: "https://simplyprint.io/api/27286/"},
		{name: "id that is a suffix of a segment is still appended", base: "https://x.test/api/127286", company: "27286", want: "https://x.test/api/127286/27286/"},
		{name: "empty id uses base as given", base: "https://simplyprint.io/api/27286", want: "https://simplyprint.io/api/27286/"},
		{name: "template needs an id", base: "https://simplyprint.io/api/{companyId}/", wantErr: "needs a company id"},
		{name: "relative base", base: "simplyprint.io/api", company: "1", wantErr: "absolute http(s)"},
		{name: "other scheme", base: "ftp://simplyprint.io/api", company: "1", wantErr: "absolute http(s)"},
		{name: "query", base: "https://simplyprint.io/api?x=1", company: "1", wantErr: "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := simplyprint.ResolveBaseURL(tt.base, tt.company)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ResolveBaseURL(%q, %q) = %q, %v; want error containing %q", tt.base, tt.company, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ResolveBaseURL(%q, %q) = %q, %v; want %q", tt.base, tt.company, got, err, tt.want)
			}
		})
	}
}

func TestBaseURLFormsReachTheAPI(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	fake.AddWebhook(simplyprinttest.Webhook{Name: "x", URL: receiverURL, Events: []string{"job.done"}, Enabled: true})
	tests := []struct {
		name, base, company, wantPath string
	}{
		{"template", fake.BaseURLTemplate(), fake.CompanyID(), "/1234/webhooks/Get"},
		{"resolved", fake.BaseURL(), fake.CompanyID(), "/1234/webhooks/Get"},
		{"plugin form", fake.PluginBaseURL(), fake.CompanyID(), "/api/1234/webhooks/Get"},
		{"plugin template", fake.URL() + "/api/{companyId}/", fake.CompanyID(), "/api/1234/webhooks/Get"},
		{"id appended", fake.URL() + "/api", fake.CompanyID(), "/api/1234/webhooks/Get"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fake.Requests())
			hooks, err := simplyprint.New(tt.base, tt.company, fake.APIKey(), nil).ListWebhooks(context.Background())
			if err != nil {
				t.Fatalf("ListWebhooks: %v", err)
			}
			if len(hooks) != 1 {
				t.Fatalf("got %d webhooks, want 1", len(hooks))
			}
			reqs := fake.Requests()[before:]
			if len(reqs) != 1 || reqs[0].Path != tt.wantPath {
				t.Fatalf("requests = %+v, want one to %s", reqs, tt.wantPath)
			}
		})
	}
}

func TestListWebhooks(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	a := fake.AddWebhook(simplyprinttest.Webhook{Name: "A", Description: "d", URL: receiverURL,
		Events: []string{"job.done", "job.failed"}, Secret: "s3cret", Enabled: true})
	b := fake.AddWebhook(simplyprinttest.Webhook{Name: "B", URL: "https://other.example/x", Events: []string{"test"}})

	got, err := newClient(t, fake).ListWebhooks(context.Background())
	if err != nil {
		t.Fatalf("ListWebhooks: %v", err)
	}
	want := []simplyprint.Webhook{
		{ID: a.ID, Name: "A", Description: "d", URL: receiverURL, Events: []string{"job.done", "job.failed"}, Enabled: true, Secret: "s3cret"},
		{ID: b.ID, Name: "B", URL: "https://other.example/x", Events: []string{"test"}},
	}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Fatalf("ListWebhooks =\n%#v\nwant\n%#v", got, want)
	}
	req := fake.RequestsTo("webhooks/Get")[0]
	if req.Method != http.MethodGet || req.Header.Get("X-API-KEY") != fake.APIKey() {
		t.Fatalf("request method %s, X-API-KEY %q; want GET with the API key", req.Method, req.Header.Get("X-API-KEY"))
	}
}

func TestListWebhooksEmpty(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	got, err := newClient(t, fake).ListWebhooks(context.Background())
	if err != nil || len(got) != 0 {
		t.Fatalf("ListWebhooks = %v, %v; want empty, nil", got, err)
	}
}

// createBody decodes a recorded webhooks/Create body.
func createBody(t *testing.T, r simplyprinttest.Request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("Create body %q: %v", r.Body, err)
	}
	return m
}

func TestCreateOrUpdateWebhook(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	c := newClient(t, fake)
	ctx := context.Background()

	created, err := c.CreateOrUpdateWebhook(ctx, simplyprint.WebhookSpec{
		Name: "hookflow", URL: receiverURL, Secret: "tok", Enabled: true,
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.ID <= 0 || created.Name != "hookflow" || created.Secret != "tok" || !created.Enabled {
		t.Fatalf("created = %+v", created)
	}
	if !slices.Equal(created.Events, simplyprint.AllEvents) {
		t.Fatalf("nil Events should subscribe AllEvents, got %v", created.Events)
	}
	body := createBody(t, fake.RequestsTo("webhooks/Create")[0])
	if _, has := body["id"]; has {
		t.Fatalf("create sent an id: %v", body)
	}
	if body["secret"] != "tok" || body["enabled"] != true || body["url"] != receiverURL {
		t.Fatalf("create body = %v", body)
	}
	if ct := fake.RequestsTo("webhooks/Create")[0].Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}

	updated, err := c.CreateOrUpdateWebhook(ctx, simplyprint.WebhookSpec{
		ID: created.ID, Name: "renamed", URL: receiverURL, Events: []string{"job.done"}, Enabled: false,
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.ID != created.ID || updated.Name != "renamed" || updated.Enabled || !slices.Equal(updated.Events, []string{"job.done"}) {
		t.Fatalf("updated = %+v", updated)
	}
	if updated.Secret != "tok" {
		t.Fatalf("an empty spec secret must leave the secret alone, got %q", updated.Secret)
	}
	body = createBody(t, fake.RequestsTo("webhooks/Create")[1])
	if body["id"] != float64(created.ID) {
		t.Fatalf("update body id = %v, want %d", body["id"], created.ID)
	}
	if _, has := body["secret"]; has {
		t.Fatalf("update sent an empty secret: %v", body)
	}
	if n := len(fake.Webhooks()); n != 1 {
		t.Fatalf("fake holds %d webhooks, want 1", n)
	}
}

func TestEnsureWebhook(t *testing.T) {
	spec := simplyprint.WebhookSpec{
		Name: "hookflow", URL: receiverURL, Secret: "new-secret", Enabled: true,
		Events: []string{"job.started", "job.done", "test"},
	}
	other := simplyprinttest.Webhook{Name: "someone else", URL: "https://other.example/hook", Events: []string{"job.done"}, Enabled: true, Secret: "theirs"}
	tests := []struct {
		name        string
		existing    []simplyprinttest.Webhook
		wantCreated bool
		wantWrites  int   // webhooks/Create calls
		wantID      int64 // 0: any new id
		wantTotal   int
	}{
		{name: "creates when none", existing: nil, wantCreated: true, wantWrites: 1, wantTotal: 1},
		{name: "creates when only other URLs", existing: []simplyprinttest.Webhook{other}, wantCreated: true, wantWrites: 1, wantTotal: 2},
		{
			name: "updates same URL in place",
			existing: []simplyprinttest.Webhook{other, {ID: 40, Name: "PrintFarm Planning V2", URL: receiverURL,
				Events: []string{"job.started"}, Secret: "old", Enabled: false}},
			wantWrites: 1, wantID: 40, wantTotal: 2,
		},
		{
			name: "matches URL ignoring host case and trailing slash",
			existing: []simplyprinttest.Webhook{{ID: 41, Name: "hookflow", URL: "https://HOOKS.example.com:443/api/v1/simpleprint/webhook",
				Events: spec.Events, Secret: "new-secret", Enabled: true}},
			wantWrites: 1, wantID: 41, wantTotal: 1,
		},
		{
			name: "no write when already up to date",
			existing: []simplyprinttest.Webhook{{ID: 42, Name: "hookflow", URL: receiverURL,
				Events: []string{"test", "job.done", "job.started"}, Secret: "new-secret", Enabled: true}},
			wantWrites: 0, wantID: 42, wantTotal: 1,
		},
		{
			name: "duplicates: lowest id updated, others kept",
			existing: []simplyprinttest.Webhook{
				{ID: 51, Name: "dup2", URL: receiverURL, Events: []string{"job.done"}},
				{ID: 50, Name: "dup1", URL: receiverURL, Events: []string{"job.done"}},
			},
			wantWrites: 1, wantID: 50, wantTotal: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := simplyprinttest.NewServer(t)
			for _, w := range tt.existing {
				fake.AddWebhook(w)
			}
			c := newClient(t, fake)
			got, created, err := c.EnsureWebhook(context.Background(), spec)
			if err != nil {
				t.Fatalf("EnsureWebhook: %v", err)
			}
			if created != tt.wantCreated {
				t.Fatalf("created = %t, want %t", created, tt.wantCreated)
			}
			if tt.wantID != 0 && got.ID != tt.wantID {
				t.Fatalf("id = %d, want %d", got.ID, tt.wantID)
			}
			if n := len(fake.RequestsTo("webhooks/Create")); n != tt.wantWrites {
				t.Fatalf("webhooks/Create calls = %d, want %d", n, tt.wantWrites)
			}
			if n := len(fake.Webhooks()); n != tt.wantTotal {
				t.Fatalf("fake holds %d webhooks, want %d", n, tt.wantTotal)
			}
			stored, ok := fake.Webhook(got.ID)
			if !ok {
				t.Fatalf("webhook %d not in the fake", got.ID)
			}
			gotEvents := slices.Sorted(slices.Values(stored.Events))
			wantEvents := slices.Sorted(slices.Values(spec.Events))
			if stored.Name != spec.Name || stored.Secret != spec.Secret || !stored.Enabled ||
				!slices.Equal(gotEvents, wantEvents) || stored.URL == "" {
				t.Fatalf("stored = %+v, want name/secret/enabled/events of %v", stored, spec)
			}
			if got.Name != stored.Name || got.Enabled != stored.Enabled {
				t.Fatalf("returned %+v, stored %+v", got, stored)
			}
			if got2, created2, err := c.EnsureWebhook(context.Background(), spec); err != nil || created2 || got2.ID != got.ID {
				t.Fatalf("second EnsureWebhook = %+v, %t, %v; want same id %d, not created", got2, created2, err, got.ID)
			}
			if n := len(fake.RequestsTo("webhooks/Create")); n != tt.wantWrites {
				t.Fatalf("second EnsureWebhook wrote: webhooks/Create calls = %d, want still %d", n, tt.wantWrites)
			}
		})
	}
}

// TestEnsureWebhookAllEvents registers the default event list against the
// fake, whose copy of the vendor enum rejects unknown names.
func TestEnsureWebhookAllEvents(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	w, created, err := newClient(t, fake).EnsureWebhook(context.Background(),
		simplyprint.WebhookSpec{Name: "hookflow", URL: receiverURL, Enabled: true})
	if err != nil || !created {
		t.Fatalf("EnsureWebhook = %v, %t, %v", w, created, err)
	}
	stored, _ := fake.Webhook(w.ID)
	if !slices.Equal(stored.Events, simplyprint.AllEvents) {
		t.Fatalf("stored events = %v, want AllEvents", stored.Events)
	}
}

func TestAllEvents(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range simplyprint.AllEvents {
		if seen[e] {
			t.Errorf("duplicate event %q", e)
		}
		seen[e] = true
		if !slices.Contains(simplyprinttest.VendorEvents, e) {
			t.Errorf("AllEvents has %q, the vendor enum does not", e)
		}
	}
	for _, prefix := range []string{"job.", "printer.", "queue.", "filament.", "maintenance.", "balance.", "quota."} {
		if !slices.ContainsFunc(simplyprint.AllEvents, func(e string) bool { return strings.HasPrefix(e, prefix) }) {
			t.Errorf("AllEvents has no %s* event", prefix)
		}
	}
	for _, e := range simplyprinttest.VendorEvents {
		if !simplyprint.IsVendorEvent(e) {
			t.Errorf("IsVendorEvent(%q) = false for a vendor event", e)
		}
	}
	for _, e := range []string{"job.finished", "job.completed", "printer.online", "queue.changed", ""} {
		if simplyprint.IsVendorEvent(e) {
			t.Errorf("IsVendorEvent(%q) = true for a seed-only name", e)
		}
	}
}

func TestStatusFalseIsPermanent(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	c := newClient(t, fake)
	ctx := context.Background()
	tests := []struct {
		name, wantMsg string
		call          func() error
	}{
		{"seed event name rejected", `"job.finished" is invalid`, func() error {
			_, err := c.CreateOrUpdateWebhook(ctx, simplyprint.WebhookSpec{Name: "x", URL: receiverURL, Events: []string{"job.finished"}})
			return err
		}},
		{"update of unknown id", "Webhook 999 not found", func() error {
			_, err := c.CreateOrUpdateWebhook(ctx, simplyprint.WebhookSpec{ID: 999, Name: "x", URL: receiverURL})
			return err
		}},
		{"delete of unknown id", "Webhook 998 not found", func() error { return c.DeleteWebhook(ctx, 998) }},
		{"enable unknown id", "Webhook 997 not found", func() error { return c.SetWebhookEnabled(ctx, 997, true) }},
		{"injected status false", "Rate limit reached", func() error {
			fake.InjectFailure(simplyprinttest.Failure{Message: "Rate limit reached"})
			_, err := c.ListWebhooks(ctx)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ae := asAPIError(t, tt.call())
			if ae.Code != simplyprint.CodeStatusFalse || ae.Status != http.StatusOK || ae.Retryable {
				t.Fatalf("error = %+v; want status_false, HTTP 200, permanent", ae)
			}
			if !strings.Contains(ae.Message, tt.wantMsg) {
				t.Fatalf("message = %q, want it to contain %q", ae.Message, tt.wantMsg)
			}
		})
	}
}

func TestWrongKeyAndCompany(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	tests := []struct {
		name, company, key string
		wantStatus         int
	}{
		{"wrong key", fake.CompanyID(), "wrong-key-123", http.StatusUnauthorized},
		{"no key", fake.CompanyID(), "", http.StatusUnauthorized},
		{"other company", "9999", fake.APIKey(), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := simplyprint.New(fake.BaseURLTemplate(), tt.company, tt.key, nil)
			_, err := c.ListWebhooks(context.Background())
			ae := asAPIError(t, err)
			if ae.Status != tt.wantStatus || ae.Code != simplyprint.CodeHTTP || ae.Retryable || simplyprint.IsRetryable(err) {
				t.Fatalf("error = %+v; want HTTP %d, permanent", ae, tt.wantStatus)
			}
			if ae.Message == "" || ae.Message == http.StatusText(tt.wantStatus) {
				t.Fatalf("message = %q, want the vendor's message", ae.Message)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Fatalf("error leaks the API key: %v", err)
			}
		})
	}
}

func TestFailureClassification(t *testing.T) {
	tests := []struct {
		name          string
		failure       simplyprinttest.Failure
		wantCode      string
		wantStatus    int
		wantRetryable bool
		wantAfter     time.Duration
	}{
		{"500", simplyprinttest.Failure{HTTPStatus: 500}, simplyprint.CodeHTTP, 500, true, 0},
		{"502 html", simplyprinttest.Failure{HTTPStatus: 502, RawBody: "<html>Bad Gateway</html>"}, simplyprint.CodeHTTP, 502, true, 0},
		{"503 retry-after", simplyprinttest.Failure{HTTPStatus: 503, RetryAfter: "7"}, simplyprint.CodeHTTP, 503, true, 7 * time.Second},
		{"429 retry-after", simplyprinttest.Failure{HTTPStatus: 429, RetryAfter: "30"}, simplyprint.CodeHTTP, 429, true, 30 * time.Second},
		{"408", simplyprinttest.Failure{HTTPStatus: 408}, simplyprint.CodeHTTP, 408, true, 0},
		{"501", simplyprinttest.Failure{HTTPStatus: 501}, simplyprint.CodeHTTP, 501, false, 0},
		{"400", simplyprinttest.Failure{HTTPStatus: 400}, simplyprint.CodeHTTP, 400, false, 0},
		{"404", simplyprinttest.Failure{HTTPStatus: 404}, simplyprint.CodeHTTP, 404, false, 0},
		{"200 html", simplyprinttest.Failure{RawBody: "<html>maintenance</html>"}, simplyprint.CodeBadResponse, 200, true, 0},
		{"200 without status", simplyprinttest.Failure{RawBody: `{"data":[]}`}, simplyprint.CodeBadResponse, 200, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := simplyprinttest.NewServer(t)
			fake.InjectFailure(tt.failure)
			c := newClient(t, fake)
			_, err := c.ListWebhooks(context.Background())
			ae := asAPIError(t, err)
			if ae.Code != tt.wantCode || ae.Status != tt.wantStatus || ae.Retryable != tt.wantRetryable || ae.RetryAfter != tt.wantAfter {
				t.Fatalf("error = %+v; want code %s, status %d, retryable %t, retry after %s",
					ae, tt.wantCode, tt.wantStatus, tt.wantRetryable, tt.wantAfter)
			}
			if simplyprint.IsRetryable(err) != tt.wantRetryable {
				t.Fatalf("IsRetryable = %t", !tt.wantRetryable)
			}
			// The failure is consumed: the next call is served.
			if _, err := c.ListWebhooks(context.Background()); err != nil {
				t.Fatalf("call after the injected failure: %v", err)
			}
		})
	}
}

func TestFailNextCountsCalls(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	c := newClient(t, fake)
	fake.FailNext(2, http.StatusServiceUnavailable)
	for i := range 2 {
		if _, err := c.ListWebhooks(context.Background()); !simplyprint.IsRetryable(err) {
			t.Fatalf("call %d: err = %v, want a retryable error", i, err)
		}
	}
	if _, err := c.ListWebhooks(context.Background()); err != nil {
		t.Fatalf("third call: %v", err)
	}
}

func TestTransportErrors(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	base := fake.BaseURL()
	fake.Close()
	_, err := simplyprint.New(base, "", "k", nil).ListWebhooks(context.Background())
	if ae := asAPIError(t, err); ae.Code != simplyprint.CodeTransport || !ae.Retryable || ae.Status != 0 {
		t.Fatalf("closed server: %+v; want retryable transport error", ae)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(slow.Close)
	c := simplyprint.New(slow.URL, "1", "k", nil)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = c.ListWebhooks(ctx)
	if ae := asAPIError(t, err); ae.Code != simplyprint.CodeTransport || !ae.Retryable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %+v; want retryable transport error wrapping DeadlineExceeded", ae)
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = c.ListWebhooks(ctx)
	if ae := asAPIError(t, err); ae.Code != simplyprint.CodeTransport || ae.Retryable {
		t.Fatalf("cancelled: %+v; want permanent transport error", ae)
	}
}

func TestInvalidRequestsAreNotSent(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	c := newClient(t, fake)
	ctx := context.Background()
	tests := []struct {
		name, want string
		call       func() error
	}{
		{"no url", "url", func() error {
			_, err := c.CreateOrUpdateWebhook(ctx, simplyprint.WebhookSpec{Name: "x"})
			return err
		}},
		{"relative url", "url", func() error {
			_, _, err := c.EnsureWebhook(ctx, simplyprint.WebhookSpec{Name: "x", URL: "/hook"})
			return err
		}},
		{"no name", "name is empty", func() error {
			_, _, err := c.EnsureWebhook(ctx, simplyprint.WebhookSpec{URL: receiverURL})
			return err
		}},
		{"long secret", "129 characters", func() error {
			_, err := c.CreateOrUpdateWebhook(ctx, simplyprint.WebhookSpec{Name: "x", URL: receiverURL, Secret: strings.Repeat("s", 129)})
			return err
		}},
		{"zero id delete", "not positive", func() error { return c.DeleteWebhook(ctx, 0) }},
		{"bad base url", "absolute http(s)", func() error {
			_, err := simplyprint.New("not a url", "1", "k", nil).ListWebhooks(ctx)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ae := asAPIError(t, tt.call())
			if ae.Code != simplyprint.CodeInvalidRequest || ae.Retryable || !strings.Contains(ae.Message, tt.want) {
				t.Fatalf("error = %+v; want permanent invalid_request mentioning %q", ae, tt.want)
			}
		})
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d requests reached the server, want 0", n)
	}
}

func TestDeleteAndSetEnabled(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	c := newClient(t, fake)
	ctx := context.Background()
	w := fake.AddWebhook(simplyprinttest.Webhook{Name: "x", URL: receiverURL, Events: []string{"job.done"}, Enabled: true})

	if err := c.SetWebhookEnabled(ctx, w.ID, false); err != nil {
		t.Fatalf("SetWebhookEnabled(false): %v", err)
	}
	if got, _ := fake.Webhook(w.ID); got.Enabled {
		t.Fatal("webhook still enabled")
	}
	if err := c.SetWebhookEnabled(ctx, w.ID, true); err != nil {
		t.Fatalf("SetWebhookEnabled(true): %v", err)
	}
	if got, _ := fake.Webhook(w.ID); !got.Enabled {
		t.Fatal("webhook still disabled")
	}
	var body map[string]any
	_ = json.Unmarshal(fake.RequestsTo("webhooks/SetEnabled")[1].Body, &body)
	if body["id"] != float64(w.ID) || body["enabled"] != true {
		t.Fatalf("SetEnabled body = %v", body)
	}
	if err := c.DeleteWebhook(ctx, w.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if _, ok := fake.Webhook(w.ID); ok {
		t.Fatal("webhook not deleted")
	}
}

// receiver records webhook deliveries and answers with status.
type receiver struct {
	mu     sync.Mutex
	status int
	got    []*http.Request
	bodies [][]byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, r)
	rc.bodies = append(rc.bodies, b)
	w.WriteHeader(rc.status)
}

func TestTriggerTestWebhook(t *testing.T) {
	rc := &receiver{status: http.StatusOK}
	target := httptest.NewServer(rc)
	t.Cleanup(target.Close)
	now := time.Unix(1705320000, 0)
	fake := simplyprinttest.NewServer(t, simplyprinttest.WithClock(func() time.Time { return now }))
	c := newClient(t, fake)
	ctx := context.Background()

	w, _, err := c.EnsureWebhook(ctx, simplyprint.WebhookSpec{Name: "hookflow", URL: target.URL + "/api/v1/simpleprint/webhook/", Secret: "tok-1", Enabled: true})
	if err != nil {
		t.Fatalf("EnsureWebhook: %v", err)
	}
	if err := c.TriggerTestWebhook(ctx, w.ID); err != nil {
		t.Fatalf("TriggerTestWebhook: %v", err)
	}
	rc.mu.Lock()
	if len(rc.got) != 1 {
		rc.mu.Unlock()
		t.Fatalf("receiver got %d requests, want 1", len(rc.got))
	}
	r, body := rc.got[0], rc.bodies[0]
	rc.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/simpleprint/webhook/" {
		t.Fatalf("delivery %s %s", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("X-SP-Token"); got != "tok-1" {
		t.Fatalf("X-SP-Token = %q, want the registered secret", got)
	}
	want := fmt.Sprintf(`{"webhook_id":%d,"event":"test","timestamp":1705320000,"data":{}}`, w.ID)
	if string(body) != want {
		t.Fatalf("body = %s, want %s", body, want)
	}

	rc.mu.Lock()
	rc.status = http.StatusInternalServerError
	rc.mu.Unlock()
	err = c.TriggerTestWebhook(ctx, w.ID)
	if ae := asAPIError(t, err); ae.Code != simplyprint.CodeStatusFalse || !strings.Contains(ae.Message, "500") {
		t.Fatalf("failing receiver: %+v; want status_false mentioning 500", ae)
	}
}

func TestWebhookLooseDecoding(t *testing.T) {
	tests := []struct {
		name, in string
		want     simplyprint.Webhook
	}{
		{"canonical", `{"id":11,"name":"n","url":"u","events":["job.done"],"secret":"s","enabled":true}`,
			simplyprint.Webhook{ID: 11, Name: "n", URL: "u", Events: []string{"job.done"}, Secret: "s", Enabled: true}},
		{"php style", `{"id":"12","name":null,"url":"u","events":"job.done, job.failed","secret":null,"enabled":1,"created_at":"2025-01-01"}`,
			simplyprint.Webhook{ID: 12, URL: "u", Events: []string{"job.done", "job.failed"}, Enabled: true}},
		{"stringified array, enabled \"0\"", `{"id":13,"events":"[\"test\"]","enabled":"0"}`,
			simplyprint.Webhook{ID: 13, Events: []string{"test"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got simplyprint.Webhook
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
	var w simplyprint.Webhook
	if err := json.Unmarshal([]byte(`{"id":"abc"}`), &w); err == nil || !strings.Contains(err.Error(), `"id"`) {
		t.Fatalf("bad id: err = %v, want one naming the field", err)
	}
}

func TestSecretsStayOut(t *testing.T) {
	const secret = "very-secret-value"
	w := simplyprint.Webhook{ID: 1, Name: "n", URL: receiverURL, Secret: secret}
	s := simplyprint.WebhookSpec{Name: "n", URL: receiverURL, Secret: secret}
	b, _ := json.Marshal(w)
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "webhook", w, "spec", s)
	for name, out := range map[string]string{
		"json": string(b), "String": w.String(), "%v": fmt.Sprintf("%v %+v", w, s),
		"spec String": s.String(), "slog": logged.String(),
	} {
		if strings.Contains(out, secret) {
			t.Errorf("%s output contains the secret: %s", name, out)
		}
	}
}
