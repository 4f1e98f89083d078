package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// sourcesState is GET /api/v1/sources' answer.
type sourcesState struct {
	Sources []store.SourceState `json:"sources"`
}

func sourceState(t *testing.T, base, source string) store.SourceState {
	t.Helper()
	var got sourcesState
	if code := call(t, "GET", base+"/api/v1/sources", nil, reader, &got); code != 200 {
		t.Fatalf("GET /api/v1/sources: %d", code)
	}
	for _, s := range got.Sources {
		if s.Source == source {
			return s
		}
	}
	t.Fatalf("GET /api/v1/sources lacks %s: %+v", source, got)
	return store.SourceState{}
}

// TestSourcePauseHoldsThroughWorkerRestart: API and worker are separate
// Apps. simplyprint is paused; a printer's events are all acked and stored
// but none is processed, through a worker restart; the state shows on
// GET /api/v1/sources, /readyz and /metrics. On resume they are processed
// in id order and the printer ends in the state of its last event. Pause
// and resume are audited under the token's name, a read token is refused.
func TestSourcePauseHoldsThroughWorkerRestart(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	dbURL, st := testenv.Database(t)
	cfg := testenv.Config(t, dbURL, testenv.Temporal(t), map[string]string{"ADMIN_TOKEN": adminToken})
	a := testenv.StartApp(t, cfg, app.Roles{API: true})
	ctx := context.Background()
	w1 := testenv.StartStoppable(t, cfg, app.Roles{Worker: true})
	admin := map[string]string{"Authorization": "Bearer " + adminToken}

	// A read token may not pause (requireAdmin audits the refusal); an
	// unknown source is a 404 naming the sources.
	var refused map[string]any
	if code := call(t, "POST", a.URL()+"/api/v1/sources/simplyprint/pause", nil, reader, &refused); code != 403 {
		t.Fatalf("pause with a read token: %d %v", code, refused)
	}
	if code := call(t, "POST", a.URL()+"/api/v1/sources/nope/pause", nil, admin, &refused); code != 404 ||
		!strings.Contains(fmt.Sprint(refused["error"]), "simplyprint, okdesk") {
		t.Fatalf("pause of an unknown source: %d %v", code, refused)
	}
	var paused struct {
		Source  store.SourceState `json:"source"`
		Changed bool              `json:"changed"`
	}
	for i, want := range []bool{true, false} { // the second pause is a no-op, answered with the first's state
		body := []byte(`{"reason": "printer firmware upgrade"}`)
		if code := call(t, "POST", a.URL()+"/api/v1/sources/simplyprint/pause", body, admin, &paused); code != 200 ||
			paused.Changed != want || !paused.Source.Paused || paused.Source.PausedBy != "admin" || paused.Source.Reason != "printer firmware upgrade" {
			t.Fatalf("pause %d: %d %+v", i+1, code, paused)
		}
	}

	sp := simplyprinttest.NewServer(t)
	const t0 = 1705320000
	p := simplyprinttest.Printer{ID: 101, Name: "Prusa MK4"}
	job := func(state string, pct int, ended int64) any {
		return simplyprinttest.JobData(simplyprinttest.Job{ID: 7, UID: "pj_7", Printer: p, State: state, File: "part.gcode",
			Percentage: pct, Started: t0, Ended: ended})
	}
	send := func(event string, ts int64, data any) {
		t.Helper()
		resp, err := sp.Send(ctx, a.URL()+spPath, "", "", simplyprinttest.Payload(event, 42, ts, data))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s while paused: %d, want the ack", event, resp.StatusCode)
		}
	}
	send("job.started", t0, job("printing", 0, 0))
	for i := 1; i <= 4; i++ {
		send("job.progress", t0+int64(i*10), job("printing", i*20, 0))
	}
	send("job.done", t0+100, job("completed", 100, t0+100))
	const sent = 6

	held := func(when string) {
		t.Helper()
		var events []map[string]any
		call(t, "GET", a.URL()+"/api/v1/simpleprint/events?limit=100", nil, reader, &events)
		if len(events) != sent {
			t.Fatalf("%s: %d events stored, want %d", when, len(events), sent)
		}
		for _, e := range events {
			if e["processed"] != false {
				t.Fatalf("%s: event processed while its source is paused: %v", when, e)
			}
		}
		var printers []store.Printer
		call(t, "GET", a.URL()+"/api/v1/simpleprint/printers", nil, reader, &printers)
		if len(printers) != 0 {
			t.Fatalf("%s: the printer read model changed while paused: %+v", when, printers)
		}
		if s := sourceState(t, a.URL(), "simplyprint"); !s.Paused || s.Held != sent {
			t.Fatalf("%s: simplyprint %+v, want paused holding %d", when, s, sent)
		}
	}
	time.Sleep(5 * cfg.Relay.PollInterval)
	held("after five relay intervals")

	// /readyz: still ready, naming the paused source; /metrics: the gauges.
	var ready struct {
		Status string         `json:"status"`
		Checks map[string]any `json:"checks"`
	}
	if code := call(t, "GET", a.URL()+"/readyz", nil, nil, &ready); code != 200 || ready.Status != "ready" ||
		fmt.Sprint(ready.Checks["paused_sources"]) != "[simplyprint]" {
		t.Fatalf("/readyz while paused: %d %+v", code, ready)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		text := testenv.Metrics(t, a.URL())
		for _, w := range []string{`hookflow_source_paused{source="simplyprint"} 1`, `hookflow_source_paused{source="okdesk"} 0`,
			fmt.Sprintf(`hookflow_source_held{source="simplyprint"} %d`, sent)} {
			if !strings.Contains(text, w) {
				return fmt.Errorf("/metrics lacks %s:\n%s", w, grepLines(text, "hookflow_source"))
			}
		}
		return nil
	})

	// The worker restarts; the pause holds (it is in Postgres).
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	w1.Stop(stopCtx)
	cancel()
	testenv.StartApp(t, cfg, app.Roles{Worker: true})
	time.Sleep(5 * cfg.Relay.PollInterval)
	held("after the worker restart")

	var resumed struct {
		Source  store.SourceState `json:"source"`
		Changed bool              `json:"changed"`
	}
	if code := call(t, "POST", a.URL()+"/api/v1/sources/simplyprint/resume", nil, admin, &resumed); code != 200 || !resumed.Changed || resumed.Source.Paused {
		t.Fatalf("resume: %d %+v", code, resumed)
	}
	waitProcessed(t, a, sent)
	var printers []store.Printer
	call(t, "GET", a.URL()+"/api/v1/simpleprint/printers", nil, reader, &printers)
	if len(printers) != 1 || printers[0].ID != 101 || printers[0].State != "idle" || printers[0].CurrentJobID != nil {
		t.Fatalf("after the resume the printer is not in its last event's state: %+v", printers)
	}
	// Processed in the order they were acked.
	rows, err := st.Pool.Query(ctx, `SELECT id, processed_at, outcome FROM inbound_events WHERE source = 'simplyprint' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for rows.Next() {
		var id int64
		var at time.Time
		var outcome string
		if err := rows.Scan(&id, &at, &outcome); err != nil {
			t.Fatal(err)
		}
		if at.Before(last) || outcome != "applied" {
			t.Fatalf("event %d processed at %s (%s), before the one acked before it (%s)", id, at, outcome, last)
		}
		last = at
	}
	if s := sourceState(t, a.URL(), "simplyprint"); s.Paused || s.Held != 0 {
		t.Fatalf("after the resume: %+v", s)
	}

	// The audit log: the refusal, the 404, both pauses and the resume, by name.
	entries, err := st.ListAudit(ctx, store.AuditFilter{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		got = append(got, fmt.Sprintf("%s %s %s %s %d", e.Actor, e.Action, e.Target, e.Result, e.Count))
	}
	want := []string{"tests source.pause simplyprint forbidden 0", "admin source.pause nope not_found 0",
		"admin source.pause simplyprint ok 1", "admin source.pause simplyprint ok 0", "admin source.resume simplyprint ok 1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestOpsConsoleSourceToggle: /ops/sources lists the sources; an admin
// session's Pause and Resume buttons go through the API as its token (and
// are audited under it); a read session sees no button and is refused 403,
// audited as forbidden.
func TestOpsConsoleSourceToggle(t *testing.T) {
	dbURL, st := testenv.Database(t)
	a := testenv.StartApp(t, testenv.Config(t, dbURL, testenv.Temporal(t), accessVars), app.Roles{API: true})
	base := a.URL()
	read, admin := opsLogin(t, base, testenv.ReadToken), opsLogin(t, base, opsAdminToken)

	if resp, body := opsRequest(t, "GET", base+"/ops/sources", read, nil); resp.StatusCode != 200 ||
		!strings.Contains(body, `data-source="simplyprint"`) || strings.Contains(body, `class="pause"`) {
		t.Fatalf("/ops/sources for a read session: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := opsRequest(t, "POST", base+"/ops/sources/okdesk/pause", read, url.Values{}); resp.StatusCode != 403 || !strings.Contains(body, "admin token") {
		t.Fatalf("pause with a read session: %d %s", resp.StatusCode, body)
	}
	if _, body := opsRequest(t, "GET", base+"/ops/sources", admin, nil); !strings.Contains(body, `action="/ops/sources/okdesk/pause"`) {
		t.Fatalf("/ops/sources for an admin session has no pause button:\n%s", body)
	}
	resp, _ := opsRequest(t, "POST", base+"/ops/sources/okdesk/pause", admin, url.Values{"reason": {"noisy tenant"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "done=paused+okdesk") {
		t.Fatalf("pause with an admin session: %d to %q", resp.StatusCode, loc)
	}
	if s := sourceState(t, base, "okdesk"); !s.Paused || s.PausedBy != "ops" || s.Reason != "noisy tenant" {
		t.Fatalf("okdesk after the console's pause: %+v", s)
	}
	if _, body := opsRequest(t, "GET", base+"/ops/sources", admin, nil); !strings.Contains(body, `action="/ops/sources/okdesk/resume"`) {
		t.Fatalf("/ops/sources after the pause has no resume button:\n%s", body)
	}
	resp, _ = opsRequest(t, "POST", base+"/ops/sources/okdesk/resume", admin, url.Values{})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "done=resumed+okdesk") {
		t.Fatalf("resume with an admin session: %d to %q", resp.StatusCode, loc)
	}
	resp, _ = opsRequest(t, "POST", base+"/ops/sources/nope/pause", admin, url.Values{})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "error=") || !strings.Contains(loc, "simplyprint") {
		t.Fatalf("pause of an unknown source: %d to %q", resp.StatusCode, loc)
	}
	entries, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		got = append(got, fmt.Sprintf("%s %s %s %s", e.Actor, e.Action, e.Target, e.Result))
	}
	want := []string{"tests source.pause okdesk forbidden", "ops source.pause okdesk ok", "ops source.resume okdesk ok", "ops source.pause nope not_found"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
