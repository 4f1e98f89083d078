package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/testenv"
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
