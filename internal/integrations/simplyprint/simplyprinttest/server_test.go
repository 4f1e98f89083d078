package simplyprinttest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
)

type received struct {
	header http.Header
	path   string
	body   []byte
}

// newReceiver is an httptest endpoint recording what the sender POSTs.
func newReceiver(t *testing.T, status int) (*httptest.Server, func() []received) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []received
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			t.Errorf("receiver got %s, want POST", r.Method)
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{header: r.Header.Clone(), path: r.URL.Path, body: b})
		mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

func TestSendHeadersAndBody(t *testing.T) {
	payload := simplyprinttest.Payload("job.done", 42, 1705320000, simplyprinttest.JobData(simplyprinttest.Job{ID: 456}))
	tests := []struct {
		name, secret, header string
		wantHeader           string // header expected to carry the secret, "" for none
	}{
		{"default header", "tok", "", "X-Sp-Token"},
		{"vendor code header", "tok", simplyprinttest.HeaderSecret, "X-Sp-Secret"},
		{"no secret, no header", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, got := newReceiver(t, http.StatusAccepted)
			fake := simplyprinttest.NewServer(t)
			resp, err := fake.Send(context.Background(), target.URL+"/hook/", tt.secret, tt.header, payload)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("status = %d, want the receiver's 202", resp.StatusCode)
			}
			rs := got()
			if len(rs) != 1 {
				t.Fatalf("receiver got %d requests", len(rs))
			}
			r := rs[0]
			if r.path != "/hook/" || !bytes.Equal(r.body, payload) {
				t.Fatalf("got %s %s, want /hook/ with the payload", r.path, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type = %q", ct)
			}
			for _, h := range []string{"X-Sp-Token", "X-Sp-Secret"} {
				want := ""
				if h == tt.wantHeader {
					want = tt.secret
				}
				if v := r.header.Get(h); v != want {
					t.Fatalf("%s = %q, want %q", h, v, want)
				}
			}
			ds := fake.Deliveries()
			if len(ds) != 1 || ds[0].WebhookID != 42 || ds[0].Event != "job.done" || ds[0].StatusCode != http.StatusAccepted {
				t.Fatalf("deliveries = %+v", ds)
			}
		})
	}
}

func TestSendTransportError(t *testing.T) {
	target, _ := newReceiver(t, 200)
	url := target.URL
	target.Close()
	fake := simplyprinttest.NewServer(t)
	if resp, err := fake.Send(context.Background(), url, "s", "", simplyprinttest.TestPayload(1, 1)); err == nil {
		resp.Body.Close()
		t.Fatal("Send to a closed server succeeded")
	}
	if ds := fake.Deliveries(); len(ds) != 1 || ds[0].Err == nil || ds[0].StatusCode != 0 {
		t.Fatalf("deliveries = %+v, want one with an error", ds)
	}
}

func TestPayloadShapes(t *testing.T) {
	job := simplyprinttest.Job{
		ID: 456, UID: "pj_abc123", State: "completed", File: "benchy.gcode", Percentage: 100,
		Started: 1705320000, Ended: 1705323600, Cost: 0.42, Duration: 3600,
		Printer: simplyprinttest.Printer{ID: 123, Name: "Prusa MK4 - bed 1", Group: &simplyprinttest.Group{ID: 2, Name: "Production bay"}},
	}
	running := job
	running.Ended, running.Printer.Group, running.State = 0, nil, "printing"
	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"test event", simplyprinttest.TestPayload(7, 1705320000),
			`{"webhook_id":7,"event":"test","timestamp":1705320000,"data":{}}`},
		{"nil data", simplyprinttest.Payload("queue.empty_queue", 0, 5, nil),
			`{"webhook_id":0,"event":"queue.empty_queue","timestamp":5,"data":{}}`},
		{"reference job", simplyprinttest.Payload("job.done", 42, 1705323600, simplyprinttest.JobData(job)),
			`{"webhook_id":42,"event":"job.done","timestamp":1705323600,"data":{"job":{"id":456,"uid":"pj_abc123","printer_id":123,` +
				`"state":"completed","file":"benchy.gcode","percentage":100,"started":1705320000,"ended":1705323600,` +
				`"printer":{"id":123,"name":"Prusa MK4 - bed 1","group":{"id":2,"name":"Production bay"}},"cost":0.42,"duration":3600}}}`},
		{"running job", simplyprinttest.Payload("job.started", 42, 1705320000, simplyprinttest.JobData(running)),
			`{"webhook_id":42,"event":"job.started","timestamp":1705320000,"data":{"job":{"id":456,"uid":"pj_abc123","printer_id":123,` +
				`"state":"printing","file":"benchy.gcode","percentage":100,"started":1705320000,"ended":null,` +
				`"printer":{"id":123,"name":"Prusa MK4 - bed 1","group":null},"cost":0.42,"duration":3600}}}`},
		{"legacy job", simplyprinttest.Payload("job.finished", 1, 2, simplyprinttest.LegacyJobData(job)),
			`{"webhook_id":1,"event":"job.finished","timestamp":2,"data":{"job":{"id":456,"printer_id":123,` +
				`"printer_name":"Prusa MK4 - bed 1","file_name":"benchy.gcode","status":"completed","percentage":100}}}`},
		{"printer", simplyprinttest.Payload("printer.material_changed", 3, 4, simplyprinttest.PrinterData(job.Printer)),
			`{"webhook_id":3,"event":"printer.material_changed","timestamp":4,"data":{"printer":{"id":123,"name":"Prusa MK4 - bed 1","group":{"id":2,"name":"Production bay"}}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Compare as JSON values: key order is not part of the format.
			var got, want any
			if err := json.Unmarshal(tt.payload, &got); err != nil {
				t.Fatalf("payload is not JSON: %v: %s", err, tt.payload)
			}
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatalf("bad want: %v", err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if !bytes.Equal(g, w) {
				t.Fatalf("payload\n%s\nwant\n%s", g, w)
			}
		})
	}
	// The envelope keeps the vendor's field order.
	if p := string(simplyprinttest.TestPayload(1, 2)); !strings.HasPrefix(p, `{"webhook_id":1,"event":"test","timestamp":2,"data":`) {
		t.Fatalf("envelope order: %s", p)
	}
}

func TestFire(t *testing.T) {
	target, got := newReceiver(t, http.StatusOK)
	now := time.Unix(1705320000, 0)
	fake := simplyprinttest.NewServer(t,
		simplyprinttest.WithClock(func() time.Time { return now }),
		simplyprinttest.WithSecretHeaders(simplyprinttest.HeaderToken, simplyprinttest.HeaderSecret))
	sub := fake.AddWebhook(simplyprinttest.Webhook{Name: "sub", URL: target.URL + "/a", Events: []string{"job.done"}, Secret: "sa", Enabled: true})
	fake.AddWebhook(simplyprinttest.Webhook{Name: "disabled", URL: target.URL + "/b", Events: []string{"job.done"}, Secret: "sb"})
	fake.AddWebhook(simplyprinttest.Webhook{Name: "other event", URL: target.URL + "/c", Events: []string{"job.failed"}, Enabled: true})
	nosecret := fake.AddWebhook(simplyprinttest.Webhook{Name: "no secret", URL: target.URL + "/d", Events: []string{"job.done", "test"}, Enabled: true})

	ds, err := fake.Fire(context.Background(), "job.done", simplyprinttest.JobData(simplyprinttest.Job{ID: 9}))
	if err != nil {
		t.Fatalf("Fire: %v", err)
	}
	if len(ds) != 2 || ds[0].WebhookID != sub.ID || ds[1].WebhookID != nosecret.ID {
		t.Fatalf("deliveries = %+v, want to webhooks %d and %d", ds, sub.ID, nosecret.ID)
	}
	rs := got()
	if len(rs) != 2 || rs[0].path != "/a" || rs[1].path != "/d" {
		t.Fatalf("receiver got %+v", rs)
	}
	if rs[0].header.Get("X-SP-Token") != "sa" || rs[0].header.Get("X-SP-Secret") != "sa" {
		t.Fatalf("secret headers = %v", rs[0].header)
	}
	if _, has := rs[1].header["X-Sp-Token"]; has {
		t.Fatalf("webhook without secret got a token header: %v", rs[1].header)
	}
	var env simplyprinttest.Envelope
	if err := json.Unmarshal(rs[0].body, &env); err != nil || env.WebhookID != sub.ID || env.Event != "job.done" || env.Timestamp != now.Unix() {
		t.Fatalf("envelope = %+v, %v", env, err)
	}
}

// call sends a raw API request to the fake.
func call(t *testing.T, method, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, url, err)
	}
	return resp.StatusCode, m
}

func TestAPIShapesAndErrors(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	key := fake.APIKey()
	tests := []struct {
		name, method, path, key, body string
		wantHTTP                      int
		wantStatus                    bool
		wantMsg                       string // substring of message, or a top-level key when wantStatus
	}{
		{"list", "GET", "/1234/webhooks/Get", key, "", 200, true, "data"},
		{"list plugin path", "GET", "/api/1234/webhooks/Get", key, "", 200, true, "data"},
		{"create", "POST", "/1234/webhooks/Create", key, `{"name":"n","url":"https://x.test/h","events":["job.done"],"secret":"s"}`, 200, true, "webhook"},
		{"wrong key", "GET", "/1234/webhooks/Get", "nope", "", 401, false, "API key"},
		{"no key", "GET", "/1234/webhooks/Get", "", "", 401, false, "API key"},
		{"other company", "GET", "/77/webhooks/Get", key, "", 403, false, "company"},
		{"unknown endpoint", "GET", "/1234/webhooks/Nope", key, "", 404, false, "not found"},
		{"wrong method", "POST", "/1234/webhooks/Get", key, "{}", 405, false, "not allowed"},
		{"bad json", "POST", "/1234/webhooks/Create", key, "{", 400, false, "Invalid JSON"},
		{"missing fields", "POST", "/1234/webhooks/Create", key, `{}`, 200, false, "name field is required"},
		{"unknown event", "POST", "/1234/webhooks/Create", key, `{"name":"n","url":"https://x.test","events":["printer.online"]}`, 200, false, `"printer.online" is invalid`},
		{"long secret", "POST", "/1234/webhooks/Create", key, `{"name":"n","url":"https://x.test","events":["test"],"secret":"` + strings.Repeat("x", 129) + `"}`, 200, false, "128 characters"},
		{"bad url", "POST", "/1234/webhooks/Create", key, `{"name":"n","url":"ftp://x","events":["test"]}`, 200, false, "valid URL"},
		{"delete without id", "POST", "/1234/webhooks/Delete", key, `{}`, 200, false, "id field is required"},
		{"set enabled without flag", "POST", "/1234/webhooks/SetEnabled", key, `{"id":100}`, 200, false, "enabled field"},
		{"trigger unknown", "POST", "/1234/webhooks/TriggerTestWebhook", key, `{"id":"555"}`, 200, false, "555 not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, m := call(t, tt.method, fake.URL()+tt.path, tt.key, tt.body)
			if code != tt.wantHTTP || m["status"] != tt.wantStatus {
				t.Fatalf("HTTP %d %v; want HTTP %d status %t", code, m, tt.wantHTTP, tt.wantStatus)
			}
			if tt.wantStatus {
				if _, ok := m[tt.wantMsg]; !ok {
					t.Fatalf("answer %v lacks %q", m, tt.wantMsg)
				}
				return
			}
			if msg, _ := m["message"].(string); !strings.Contains(msg, tt.wantMsg) {
				t.Fatalf("message %q, want it to contain %q", msg, tt.wantMsg)
			}
		})
	}
}

func TestCreateUpdateKeepsAbsentFields(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	w := fake.AddWebhook(simplyprinttest.Webhook{Name: "a", Description: "d", URL: "https://x.test", Events: []string{"test"}, Secret: "s", Enabled: false})
	code, m := call(t, "POST", fake.BaseURL()+"webhooks/Create", fake.APIKey(),
		fmt.Sprintf(`{"id":%d,"name":"b","url":"https://y.test","events":["job.done"]}`, w.ID))
	if code != 200 || m["status"] != true {
		t.Fatalf("update: HTTP %d %v", code, m)
	}
	got, _ := fake.Webhook(w.ID)
	want := simplyprinttest.Webhook{ID: w.ID, Name: "b", Description: "d", URL: "https://y.test", Events: []string{"job.done"}, Secret: "s"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after update %+v, want %+v", got, want)
	}
	code, m = call(t, "POST", fake.BaseURL()+"webhooks/Create", fake.APIKey(), `{"name":"c","url":"https://z.test","events":["test"]}`)
	hook, _ := m["webhook"].(map[string]any)
	if code != 200 || hook["enabled"] != true || hook["id"] == float64(w.ID) {
		t.Fatalf("create: HTTP %d %v; want a new id, enabled by default", code, m)
	}
}

func TestInjectedFailureScope(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	fake.InjectFailure(simplyprinttest.Failure{Endpoint: "webhooks/Create", Times: 2, HTTPStatus: 503, RetryAfter: "3"})
	get := fake.BaseURL() + "webhooks/Get"
	create := fake.BaseURL() + "webhooks/Create"
	body := `{"name":"n","url":"https://x.test","events":["test"]}`
	if code, _ := call(t, "GET", get, fake.APIKey(), ""); code != 200 {
		t.Fatalf("other endpoint failed with %d", code)
	}
	for i := range 2 {
		if code, m := call(t, "POST", create, fake.APIKey(), body); code != 503 || m["status"] != false {
			t.Fatalf("create %d: HTTP %d %v, want injected 503", i, code, m)
		}
	}
	if code, m := call(t, "POST", create, fake.APIKey(), body); code != 200 || m["status"] != true {
		t.Fatalf("after failures: HTTP %d %v", code, m)
	}
	if n := len(fake.RequestsTo("webhooks/Create")); n != 3 {
		t.Fatalf("recorded %d Create requests, want 3 (failures are recorded too)", n)
	}
}

func TestConcurrentCreates(t *testing.T) {
	fake := simplyprinttest.NewServer(t)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf(`{"name":"n%d","url":"https://x.test/%d","events":["test"]}`, i, i)
			req, _ := http.NewRequest("POST", fake.BaseURL()+"webhooks/Create", strings.NewReader(body))
			req.Header.Set("X-API-KEY", fake.APIKey())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	hooks := fake.Webhooks()
	ids := map[int64]bool{}
	for _, h := range hooks {
		ids[h.ID] = true
	}
	if len(hooks) != n || len(ids) != n || len(fake.Requests()) != n {
		t.Fatalf("%d webhooks, %d distinct ids, %d requests; want %d each", len(hooks), len(ids), len(fake.Requests()), n)
	}
}

func TestNilTBNeedsClose(t *testing.T) {
	fake := simplyprinttest.NewServer(nil)
	if code, _ := call(t, "GET", fake.BaseURL()+"webhooks/Get", fake.APIKey(), ""); code != 200 {
		t.Fatalf("HTTP %d", code)
	}
	fake.Close()
	if _, err := http.Get(fake.BaseURL() + "webhooks/Get"); err == nil {
		t.Fatal("server still answers after Close")
	}
}
