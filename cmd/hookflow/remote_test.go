package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/testenv"
	"github.com/hookflow/hookflow/pkg/hookflowsdk"
)

// The remote commands act on a running hookflow over its admin API: a
// pause, the list showing it, a resume, a retry of a delivery that does not
// exist, each audited under the token's name.
func TestRemoteSourcesAndDeliveries(t *testing.T) {
	const token = "cli-admin-token-0123456789"
	dbURL, st := testenv.Database(t)
	cfg := testenv.Config(t, dbURL, testenv.Temporal(t), map[string]string{"ADMIN_TOKEN": token, "JOBS_CLIENTS": "acme:acme-secret-0123456789"})
	a := testenv.StartApp(t, cfg, app.Roles{API: true})
	ctx := context.Background()

	t.Setenv("HOOKFLOW_URL", a.URL())
	t.Setenv("ADMIN_TOKEN", "")
	var out bytes.Buffer
	if err := run(ctx, "sources", []string{"list"}, &out); err == nil || !strings.Contains(err.Error(), "ADMIN_TOKEN is not set") {
		t.Fatalf("without a token: %v", err)
	}
	t.Setenv("ADMIN_TOKEN", token)
	if err := run(ctx, "sources", []string{"pause", "simplyprint", "--reason", "printer farm maintenance"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "paused simplyprint") {
		t.Fatalf("pause printed %q", out.String())
	}
	out.Reset()
	if err := run(ctx, "sources", nil, &out); err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "simplyprint ") {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) < 6 || f[1] != "paused" || f[4] != "admin" || !strings.Contains(line, "printer farm maintenance") {
		t.Fatalf("list shows simplyprint as %q:\n%s", line, out.String())
	}
	if !strings.Contains(out.String(), "okdesk ") || !strings.Contains(out.String(), "running") {
		t.Fatalf("list:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, "sources", []string{"pause", "printers"}, &out); err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "sources are simplyprint") {
		t.Fatalf("an unknown source: %v", err)
	}
	if err := run(ctx, "sources", []string{"resume", "simplyprint"}, &out); err != nil || !strings.HasPrefix(out.String(), "resumed simplyprint") {
		t.Fatalf("resume: %v %q", err, out.String())
	}
	if err := run(ctx, "sources", []string{"reload"}, &out); err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "SOURCES_FILE is not set") {
		t.Fatalf("reload without SOURCES_FILE: %v", err)
	}
	out.Reset()
	err := run(ctx, "deliveries", []string{"retry", "3f1c2d4e-0000-4000-8000-000000000000"}, &out)
	if err == nil || !strings.Contains(out.String(), "[1/1] 3f1c2d4e-0000-4000-8000-000000000000: not retried") || !strings.Contains(out.String(), "404") {
		t.Fatalf("retry of an unknown delivery: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(ctx, "clients", []string{"pause", "acme", "--reason", "receiver migration"}, &out); err != nil || !strings.HasPrefix(out.String(), "paused acme: its callbacks wait") {
		t.Fatalf("clients pause: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(ctx, "clients", nil, &out); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(strings.Split(out.String(), "\n")[1]); len(f) < 6 || f[0] != "acme" || f[1] != "paused" || f[4] != "admin" {
		t.Fatalf("clients list:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, "clients", []string{"resume", "acme"}, &out); err != nil || !strings.HasPrefix(out.String(), "resumed acme") {
		t.Fatalf("clients resume: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(ctx, "deliveries", []string{"retry", "--failed", "--client", "acme", "--status", "503", "--dry-run"}, &out); err != nil ||
		out.String() != "0 deliveries match; nothing was retried (dry run)\n" {
		t.Fatalf("dry run: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(ctx, "deliveries", []string{"retry", "--failed", "--since", "2026-01-01T00:00:00Z"}, &out); err != nil || out.String() != "retried 0 of 0 matched\n" {
		t.Fatalf("retry by filter: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(ctx, "events", []string{"replay", "--source", "simplyprint", "--entity", "7", "--dry-run"}, &out); err != nil ||
		out.String() != "0 events match; nothing was replayed (dry run)\n" {
		t.Fatalf("events replay dry run: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(ctx, "events", []string{"replay", "12345"}, &out); err == nil || !strings.Contains(out.String(), "event 12345: not replayed") ||
		!strings.Contains(out.String(), "404") {
		t.Fatalf("replay of an unknown event: %v %q", err, out.String())
	}
	if err := run(ctx, "events", []string{"replay", "--type", "job.done"}, &out); err == nil || !strings.Contains(err.Error(), "usage: hookflow events") {
		t.Fatalf("replay without a source: %v", err)
	}
	for _, args := range [][]string{{"retry", "--client", "acme"}, {"retry", "--failed", "--since", "yesterday"}} {
		if err := run(ctx, "deliveries", args, &out); err == nil || !strings.Contains(err.Error(), "usage") && !strings.Contains(err.Error(), "RFC 3339") {
			t.Fatalf("deliveries %v: %v", args, err)
		}
	}
	for _, args := range [][]string{{"pause"}, {"resume", "simplyprint", "--reason", "x"}, {"stop", "simplyprint"}} {
		if err := run(ctx, "sources", args, &out); err == nil || !strings.Contains(err.Error(), "usage: hookflow sources") {
			t.Fatalf("sources %v: %v", args, err)
		}
	}

	// The audit log names the token's name, never the token.
	var actions, leaked string
	if err := st.Pool.QueryRow(ctx, `SELECT string_agg(action || ':' || actor || ':' || result, ',' ORDER BY id),
		coalesce(string_agg(id::text, ',') FILTER (WHERE audit_log::text LIKE '%' || $1 || '%'), '') FROM audit_log`, token).
		Scan(&actions, &leaked); err != nil {
		t.Fatal(err)
	}
	if actions != "source.pause:admin:ok,source.pause:admin:not_found,source.resume:admin:ok,sources.reload:admin:conflict,delivery.retry:admin:not_found,"+
		"client.pause:admin:ok,client.resume:admin:ok,delivery.retry_bulk:admin:ok,delivery.retry_bulk:admin:ok,"+
		"events.replay:admin:ok,events.replay:admin:not_found" || leaked != "" {
		t.Fatalf("audit log %q (entries holding the token: %q)", actions, leaked)
	}
}

// TestRemoteSourcesReload: `hookflow sources reload` reloads the running
// API's SOURCES_FILE; a bad file's problems are all printed and change
// nothing.
func TestRemoteSourcesReload(t *testing.T) {
	const token = "cli-admin-token-0123456789"
	file := filepath.Join(t.TempDir(), "sources.yaml")
	const good = `sources:
  - name: %s
    path: %s
    verify: {mode: none}
    target: {workflow: W, task_queue: cli-reload}
`
	if err := os.WriteFile(file, []byte(fmt.Sprintf(good, "first", "first")), 0o600); err != nil {
		t.Fatal(err)
	}
	dbURL, _ := testenv.Database(t)
	a := testenv.StartApp(t, testenv.Config(t, dbURL, testenv.Temporal(t), map[string]string{"ADMIN_TOKEN": token, "SOURCES_FILE": file}), app.Roles{API: true})
	t.Setenv("HOOKFLOW_URL", a.URL())
	t.Setenv("ADMIN_TOKEN", token)
	ctx := context.Background()
	var out bytes.Buffer
	bad := strings.Replace(fmt.Sprintf(good, "Bad Name", "bad"), "{mode: none}", "{mode: hmac}", 1)
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(ctx, "sources", []string{"reload"}, &out)
	if err == nil || !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "name") || strings.Count(err.Error(), "\n  ") < 2 {
		t.Fatalf("reload of a bad file: %v", err)
	}
	if err := os.WriteFile(file, []byte(fmt.Sprintf(good, "second", "second")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, "sources", []string{"reload"}, &out); err != nil || !strings.Contains(out.String(), "serving second") {
		t.Fatalf("reload: %v %q", err, out.String())
	}
}

// TestRemoteEventsReplayDeclared: `hookflow events replay` replays a
// declared source's start-mode event, by id and by filter: each replay
// starts its own run, <the event's workflow ID>-replay-<n>, with the event
// saying replay n; both are audited.
func TestRemoteEventsReplayDeclared(t *testing.T) {
	const token = "cli-admin-token-0123456789"
	stamp := fmt.Sprint(time.Now().UnixNano())
	file := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(file, []byte(`sources:
  - name: shop
    path: shop
    verify: {mode: none}
    dedup: {pointer: /id}
    target: {workflow: ShopOrder, task_queue: cli-replay-`+stamp+`, workflow_id: "shop-`+stamp+`-{dedup}", mode: start}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	dbURL, st := testenv.Database(t)
	tmp := testenv.Temporal(t)
	a := testenv.StartApp(t, testenv.Config(t, dbURL, tmp, map[string]string{"ADMIN_TOKEN": token, "SOURCES_FILE": file}), app.Roles{API: true})
	tc := tmp.Client()
	ctx := context.Background()
	resp, err := http.Post(a.URL()+"/hooks/shop", "application/json", strings.NewReader(`{"id":"o-7"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /hooks/shop: %v %v", resp, err)
	}
	resp.Body.Close()
	first := "shop-" + stamp + "-o-7"
	// The run's input: the event, as the relay started it (no worker runs
	// ShopOrder; the run waits for one).
	input := func(id string) (ev hookflowsdk.Event) {
		t.Helper()
		testenv.Eventually(t, time.Minute, func() error {
			it := tc.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			if !it.HasNext() {
				return fmt.Errorf("%s: no history", id)
			}
			h, err := it.Next()
			if err != nil {
				return err
			}
			payloads := h.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
			if len(payloads) != 1 {
				return fmt.Errorf("%s: input %v", id, payloads)
			}
			return json.Unmarshal(payloads[0].GetData(), &ev)
		})
		_ = tc.TerminateWorkflow(ctx, id, "", "test over")
		return ev
	}
	ev := input(first)
	if ev.Replay != 0 || ev.Dedup != "o-7" {
		t.Fatalf("first run's event: %+v", ev)
	}
	t.Setenv("HOOKFLOW_URL", a.URL())
	t.Setenv("ADMIN_TOKEN", token)
	var out bytes.Buffer
	// Just after the hand-over its outbox row may not be deleted yet: the
	// replay is refused (409) until it is.
	testenv.Eventually(t, time.Minute, func() error {
		out.Reset()
		return run(ctx, "events", []string{"replay", fmt.Sprint(ev.ID)}, &out)
	})
	if out.String() != fmt.Sprintf("[1/1] event %d: handed to its flow again\n", ev.ID) {
		t.Fatalf("replay by id printed %q", out.String())
	}
	if r := input(first + "-replay-1"); r.ID != ev.ID || r.Replay != 1 {
		t.Fatalf("first replay's event: %+v", r)
	}
	testenv.Eventually(t, time.Minute, func() error {
		out.Reset()
		if err := run(ctx, "events", []string{"replay", "--source", "shop"}, &out); err != nil {
			return err
		}
		if out.String() != "replayed 1\n" {
			return fmt.Errorf("replay by filter printed %q", out.String())
		}
		return nil
	})
	if r := input(first + "-replay-2"); r.ID != ev.ID || r.Replay != 2 {
		t.Fatalf("second replay's event: %+v", r)
	}
	var actions string
	if err := st.Pool.QueryRow(ctx, `SELECT string_agg(action || ':' || target || ':' || count || ':' || result, ',' ORDER BY id)
		FROM audit_log WHERE result = 'ok' AND count > 0`).Scan(&actions); err != nil { // a try refused or empty (the outbox row not yet deleted) is audited too
		t.Fatal(err)
	}
	if want := fmt.Sprintf("events.replay:%d:1:ok,events.replay:shop:1:ok", ev.ID); actions != want {
		t.Fatalf("audit log %q, want %q", actions, want)
	}
}
