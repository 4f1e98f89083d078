package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

const spPath = "/api/v1/simpleprint/webhook/"

func startSimplyPrint(t *testing.T, vars map[string]string) (*app.App, *store.Store, *testenv.DevServer) {
	t.Helper()
	dbURL, st := testenv.Database(t)
	tmp := testenv.Temporal(t)
	cfg := testenv.Config(t, dbURL, tmp, vars)
	return testenv.StartApp(t, cfg, app.Roles{API: true, Worker: true}), st, tmp
}

// waitProcessed waits until n SimplyPrint events are processed.
func waitProcessed(t *testing.T, a *app.App, n int) []api.SimplyPrintEvent {
	t.Helper()
	var events []api.SimplyPrintEvent
	testenv.Eventually(t, 30*time.Second, func() error {
		events = nil
		call(t, "GET", a.URL()+"/api/v1/simpleprint/events?limit=1000", nil, reader, &events)
		done := 0
		for _, e := range events {
			if e.Processed {
				done++
			}
		}
		if done != n || len(events) != n {
			return fmt.Errorf("%d of %d events processed (want %d)", done, len(events), n)
		}
		return nil
	})
	return events
}

func TestSimplyPrintSeedCurlCheck(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	a, _, tmp := startSimplyPrint(t, nil)
	var got map[string]any
	code := call(t, "POST", a.URL()+spPath, []byte(`{"test": true}`), nil, &got)
	if code != 200 || got["status"] != "received" || got["event"] != "test" || got["message"] != "Webhook processed successfully" {
		t.Fatalf("seed check answered %d %v", code, got)
	}
	// The seed's answer, byte for byte, then hookflow's additions.
	resp, err := http.Post(a.URL()+spPath, "application/json", strings.NewReader(`{"test": true}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if seed := `{"status":"received","event":"test","message":"Webhook processed successfully",`; !strings.HasPrefix(string(raw), seed) {
		t.Fatalf("answer %s does not start like the seed's %s", raw, seed)
	}
	events := waitProcessed(t, a, 1)
	if e := events[0]; e.Event != "test" || e.EventType != "test" || *e.Outcome != "recorded" || e.ProcessedAt == nil {
		t.Fatalf("event %+v", e)
	}
	// The run is visible in Temporal, with hookflow's search attributes.
	desc, err := tmp.Client().DescribeWorkflowExecution(context.Background(), "simplyprint-company", "")
	if err != nil {
		t.Fatal(err)
	}
	if sa := desc.WorkflowExecutionInfo.SearchAttributes.GetIndexedFields(); sa["HookflowSource"] == nil || sa["HookflowEntity"] == nil {
		t.Fatalf("search attributes missing: %v", sa)
	}
	// GET on the same path answers a readiness JSON; both spellings and the
	// path without the trailing slash are served.
	var ready map[string]any
	if code := call(t, "GET", a.URL()+spPath, nil, nil, &ready); code != 200 || ready["status"] != "ready" {
		t.Fatalf("GET webhook: %d %v", code, ready)
	}
	for _, p := range []string{"/api/v1/simpleprint/webhook", "/api/v1/simplyprint/webhook/", "/api/v1/simplyprint/webhook"} {
		if code := call(t, "POST", a.URL()+p, []byte(`{"event":"queue.changed","webhook_id":1,"timestamp":5}`), nil, nil); code != 200 {
			t.Fatalf("POST %s: %d", p, code)
		}
	}
	// The only relay holds every shard of the outbox (it takes them in its
	// first round).
	var health struct {
		Checks struct {
			Shards struct {
				Held []int `json:"held"`
				Of   int   `json:"of"`
			} `json:"relay_shards"`
		} `json:"checks"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code := call(t, "GET", a.URL()+"/readyz", nil, nil, &health); code != 200 {
			t.Fatalf("readyz %d %+v", code, health)
		}
		if len(health.Checks.Shards.Held) == 8 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if sh := health.Checks.Shards; sh.Of != 8 || len(sh.Held) != 8 {
		t.Fatalf("readyz relay_shards %+v, want all 8 of 8 held", sh)
	}
}

func TestSimplyPrintAuthAndBadInput(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	a, _, _ := startSimplyPrint(t, map[string]string{"SIMPLYPRINT_WEBHOOK_SECRET": "s3cret", "BODY_LIMIT_BYTES": "2048"})
	good := simplyprinttest.Payload("job.started", 42, 1705320000, simplyprinttest.JobData(simplyprinttest.Job{ID: 1, Printer: simplyprinttest.Printer{ID: 7}}))
	cases := []struct {
		name    string
		body    []byte
		headers map[string]string
		code    int
		field   string
	}{
		{"no token", good, nil, 401, ""},
		{"wrong token", good, map[string]string{"X-SP-Token": "nope"}, 401, ""},
		{"wrong secret header", good, map[string]string{"X-SP-Secret": "s3cre"}, 401, ""},
		{"X-SP-Token", good, map[string]string{"X-SP-Token": "s3cret"}, 200, ""},
		{"X-SP-Secret", good, map[string]string{"X-SP-Secret": "s3cret"}, 200, ""},
		{"malformed", []byte(`{"event":`), map[string]string{"X-SP-Token": "s3cret"}, 400, "body"},
		{"oversize", []byte(`{"event":"test","pad":"` + strings.Repeat("x", 4096) + `"}`), map[string]string{"X-SP-Token": "s3cret"}, 413, ""},
		{"event not a string", []byte(`{"event":5}`), map[string]string{"X-SP-Token": "s3cret"}, 400, "event"},
		{"webhook_id not an integer", []byte(`{"event":"job.started","webhook_id":"x"}`), map[string]string{"X-SP-Token": "s3cret"}, 400, "webhook_id"},
		{"data not an object", []byte(`{"event":"job.started","data":"x"}`), map[string]string{"X-SP-Token": "s3cret"}, 400, "data"},
		{"no event", []byte(`{"webhook_id":1}`), map[string]string{"X-SP-Token": "s3cret"}, 400, "event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body map[string]any
			code := call(t, "POST", a.URL()+spPath, c.body, c.headers, &body)
			if code != c.code {
				t.Fatalf("status %d, want %d (%v)", code, c.code, body)
			}
			if code >= 400 {
				if msg, _ := body["error"].(string); msg == "" {
					t.Fatalf("error answer without a message: %v", body)
				}
				if c.field != "" && body["field"] != c.field {
					t.Fatalf("error names field %v, want %s: %v", body["field"], c.field, body)
				}
			}
		})
	}
	// Only the two authenticated requests were recorded (the same event twice: one row).
	events := waitProcessed(t, a, 1)
	if events[0].Event != "job.started" {
		t.Fatalf("recorded %+v", events)
	}
}

func TestSimplyPrintDedup(t *testing.T) {
	a, st, _ := startSimplyPrint(t, nil)
	body := simplyprinttest.Payload("job.started", 42, 1705320000, simplyprinttest.JobData(simplyprinttest.Job{ID: 9, File: "a.gcode", Printer: simplyprinttest.Printer{ID: 3}}))
	var first, second map[string]any
	call(t, "POST", a.URL()+spPath, body, nil, &first)
	if code := call(t, "POST", a.URL()+spPath, body, nil, &second); code != 200 {
		t.Fatalf("a duplicate must be acknowledged, got %d", code)
	}
	if first["duplicate"] != false || second["duplicate"] != true || first["id"] != second["id"] {
		t.Fatalf("first %v, second %v", first, second)
	}
	waitProcessed(t, a, 1)
	var applied int
	if err := st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM inbound_events WHERE processed AND outcome = 'applied'`).Scan(&applied); err != nil || applied != 1 {
		t.Fatalf("applied %d times (%v)", applied, err)
	}
}

// TestSimplyPrintOrderPerPrinter sends two printers' job lifecycles
// interleaved, in both vocabularies, plus a stale update, and checks the read
// models end in the newest state.
func TestSimplyPrintOrderPerPrinter(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	a, _, _ := startSimplyPrint(t, nil)
	sp := simplyprinttest.NewServer(t)
	send := func(event string, ts int64, data any) {
		t.Helper()
		resp, err := sp.Send(context.Background(), a.URL()+spPath, "", "", simplyprinttest.Payload(event, 42, ts, data))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", event, resp.StatusCode)
		}
	}
	const t0 = 1705320000
	p1 := simplyprinttest.Printer{ID: 101, Name: "Prusa MK4 - bed 1", Group: &simplyprinttest.Group{ID: 2, Name: "Production bay"}}
	p2 := simplyprinttest.Printer{ID: 102, Name: "Bambu X1"}
	job := func(id int64, p simplyprinttest.Printer, state string, pct int, started, ended int64) any {
		return simplyprinttest.JobData(simplyprinttest.Job{ID: id, UID: fmt.Sprintf("pj_%d", id), Printer: p, State: state,
			File: fmt.Sprintf("part-%d.gcode", id), Percentage: pct, Started: started, Ended: ended})
	}
	send("job.started", t0, job(1, p1, "printing", 0, t0, 0))
	send("job.started", t0+1, job(2, p2, "printing", 0, t0+1, 0))
	for i := 1; i <= 9; i++ {
		send("job.progress", t0+int64(i*10), job(1, p1, "printing", i*10, t0, 0))
		send("job.progress", t0+int64(i*10)+1, job(2, p2, "printing", i*10, t0+1, 0))
	}
	send("job.done", t0+100, job(1, p1, "completed", 100, t0, t0+100))      // vendor name
	send("job.finished", t0+101, job(2, p2, "finished", 100, t0+1, t0+101)) // seed name
	send("job.progress", t0+55, job(1, p1, "printing", 55, t0, 0))          // stale: older than job.done
	send("printer.state_changed", t0+200, map[string]any{"printer": map[string]any{"id": 102, "name": "Bambu X1", "state": "maintenance"}})
	events := waitProcessed(t, a, 2+18+2+1+1)

	stale := 0
	for _, e := range events {
		if *e.Outcome == "stale" {
			stale++
			if e.PrinterID == nil || *e.PrinterID != 101 || e.Error == nil {
				t.Fatalf("stale event %+v", e)
			}
		}
	}
	if stale != 1 {
		t.Fatalf("%d stale events, want 1", stale)
	}
	var printers []store.Printer
	call(t, "GET", a.URL()+"/api/v1/simpleprint/printers", nil, reader, &printers)
	if len(printers) != 2 {
		t.Fatalf("printers %+v", printers)
	}
	if p := printers[0]; p.ID != 101 || p.State != "idle" || p.CurrentJobID != nil || p.Name != "Prusa MK4 - bed 1" {
		t.Fatalf("printer 101: %+v", p)
	}
	if p := printers[1]; p.ID != 102 || p.State != "maintenance" {
		t.Fatalf("printer 102: %+v", p)
	}
	// Filters of the read API.
	var filtered []api.SimplyPrintEvent
	call(t, "GET", a.URL()+"/api/v1/simpleprint/events?type=job_completed&printer_id=102", nil, reader, &filtered)
	if len(filtered) != 1 || filtered[0].Event != "job.finished" || *filtered[0].JobID != "2" || *filtered[0].WebhookID != 42 {
		t.Fatalf("filtered %+v", filtered)
	}
	var bad map[string]any
	if code := call(t, "GET", a.URL()+"/api/v1/simpleprint/events?limit=abc", nil, reader, &bad); code != 400 || bad["field"] != "limit" {
		t.Fatalf("bad limit: %d %v", code, bad)
	}
	call(t, "GET", a.URL()+"/api/v1/simpleprint/events?outcome=stale", nil, reader, &filtered)
	if len(filtered) != 1 || *filtered[0].Outcome != "stale" {
		t.Fatalf("outcome=stale: %+v", filtered)
	}
	call(t, "GET", a.URL()+"/api/v1/simpleprint/events?since=2999-01-01T00:00:00Z", nil, reader, &filtered)
	if len(filtered) != 0 {
		t.Fatalf("events since 2999: %+v", filtered)
	}
	call(t, "GET", a.URL()+"/api/v1/simpleprint/events?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00%2B03:00&limit=3", nil, reader, &filtered)
	if len(filtered) != 3 {
		t.Fatalf("events of a range holding all: %d", len(filtered))
	}
	// A range pages by X-Next-Cursor: every event once, newest first.
	seen := map[int64]bool{}
	next := a.URL() + "/api/v1/simpleprint/events?since=2000-01-01T00:00:00Z&limit=5"
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatalf("paging a range does not end: %d events seen", len(seen))
		}
		page, cursor := eventsPage(t, next, reader)
		for _, e := range page {
			if seen[e.ID] {
				t.Fatalf("event %d on two pages", e.ID)
			}
			seen[e.ID] = true
		}
		next = ""
		if cursor != "" {
			next = a.URL() + "/api/v1/simpleprint/events?since=2000-01-01T00:00:00Z&limit=5&cursor=" + cursor
		} else if len(page) == 5 {
			t.Fatal("a full page of a range has no X-Next-Cursor")
		}
	}
	if len(seen) != 24 {
		t.Fatalf("paging the range saw %d events, want 24", len(seen))
	}
	if code := call(t, "GET", a.URL()+"/api/v1/simpleprint/events?since=2000-01-01T00:00:00Z&cursor=bm90LWFuLWlk", nil, reader, &bad); code != 400 || bad["field"] != "cursor" {
		t.Fatalf("a cursor of another list: %d %v", code, bad)
	}
	for q, field := range map[string]string{"since=yesterday": "since", "until=2025-01-09": "until",
		"since=2025-01-09T00:00:00Z&until=2025-01-08T00:00:00Z": "until"} {
		if code := call(t, "GET", a.URL()+"/api/v1/simpleprint/events?"+q, nil, reader, &bad); code != 400 || bad["field"] != field {
			t.Fatalf("%s: %d %v", q, code, bad)
		}
	}
	var stats store.EventStats
	call(t, "GET", a.URL()+"/api/v1/simpleprint/stats", nil, reader, &stats)
	if stats.Total != 24 || stats.ByType["job_progress"] != 19 || stats.ByType["job_completed"] != 2 || stats.ProcessedShare != 1 || stats.ByOutcome["stale"] != 1 {
		t.Fatalf("stats %+v", stats)
	}
	writeHistory(t, a, "simplyprint-printer-101")
}

func TestSimplyPrintStream(t *testing.T) {
	a, _, _ := startSimplyPrint(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.URL()+"/api/v1/simpleprint/stream", nil)
	req.Header.Set("Authorization", reader["Authorization"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Scan() // ": connected"
	body := simplyprinttest.Payload("job.started", 1, 1705320000, simplyprinttest.JobData(simplyprinttest.Job{ID: 77, Printer: simplyprinttest.Printer{ID: 5}}))
	call(t, "POST", a.URL()+spPath, body, nil, nil)
	for lines.Scan() {
		data, ok := strings.CutPrefix(lines.Text(), "data: ")
		if !ok {
			continue
		}
		var ev api.SimplyPrintEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("data line is not JSON: %s", data)
		}
		if ev.Event != "job.started" || !ev.Processed || *ev.PrinterID != 5 || *ev.JobID != "77" {
			t.Fatalf("streamed %+v", ev)
		}
		resumeStream(t, a.URL(), ev.ID)
		return
	}
	t.Fatalf("stream ended without an event: %v", lines.Err())
}

// resumeStream reconnects with Last-Event-ID = before-1 and expects the
// event it missed first.
func resumeStream(t *testing.T, base string, id int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/simpleprint/stream", nil)
	req.Header.Set("Authorization", reader["Authorization"])
	req.Header.Set("Last-Event-ID", fmt.Sprint(id-1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "id: "); ok {
			if v != fmt.Sprint(id) {
				t.Fatalf("resumed with id %s, want %d", v, id)
			}
			return
		}
	}
	t.Fatal("a resumed stream did not replay the missed event")
}

// TestSimplyPrintRelaySurvivesTemporalOutage stops Temporal, sends events
// (all acknowledged and recorded), starts Temporal again on the same port
// and database, and checks that every event is processed exactly once.
func TestSimplyPrintRelaySurvivesTemporalOutage(t *testing.T) {
	dbURL, st := testenv.Database(t)
	hostPort, err := testenv.FreeHostPort()
	if err != nil {
		t.Fatal(err)
	}
	dbFile := filepath.Join(t.TempDir(), "temporal.db")
	tmp, err := testenv.StartTemporal(hostPort, dbFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testenv.Config(t, dbURL, tmp, nil)
	a := testenv.StartApp(t, cfg, app.Roles{API: true, Worker: true})
	send := func(i int) {
		body := simplyprinttest.Payload("job.progress", 42, int64(1705320000+i), simplyprinttest.JobData(simplyprinttest.Job{
			ID: 1, Printer: simplyprinttest.Printer{ID: int64(1 + i%3)}, Percentage: i}))
		if code := call(t, "POST", a.URL()+spPath, body, nil, nil); code != 200 {
			t.Fatalf("event %d: %d", i, code)
		}
	}
	for i := 0; i < 5; i++ {
		send(i)
	}
	waitProcessed(t, a, 5)

	if err := tmp.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 25; i++ {
		send(i) // acknowledged while Temporal is down
	}
	var ready map[string]any
	if code := call(t, "GET", a.URL()+"/readyz", nil, nil, &ready); code != 503 {
		t.Fatalf("readyz with Temporal down: %d %v", code, ready)
	}
	n, _, err := st.Backlog(context.Background())
	if err != nil || n == 0 {
		t.Fatalf("backlog %d (%v): events should wait for Temporal", n, err)
	}

	tmp2, err := testenv.StartTemporal(hostPort, dbFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tmp2.Stop() })
	waitProcessed(t, a, 25)
	var processedTwice int
	if err := st.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM inbound_events WHERE NOT processed OR outcome IS NULL`).Scan(&processedTwice); err != nil || processedTwice != 0 {
		t.Fatalf("%d events not processed exactly once (%v)", processedTwice, err)
	}
	// The relay's commit can follow the processing of what it handed over.
	testenv.Eventually(t, 30*time.Second, func() error {
		if n, _, err := st.Backlog(context.Background()); err != nil || n != 0 {
			return fmt.Errorf("backlog %d (%v) after everything was processed", n, err)
		}
		return nil
	})
}

// eventsPage gets a page of the event list and its X-Next-Cursor.
func eventsPage(t *testing.T, url string, headers map[string]string) ([]api.SimplyPrintEvent, string) {
	t.Helper()
	resp, raw := testenv.Send(t, testenv.Request(t, "GET", url, nil, headers))
	var page []api.SimplyPrintEvent
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		t.Fatal(err)
	}
	return page, resp.Header.Get("X-Next-Cursor")
}
