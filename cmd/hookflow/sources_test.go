package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSourcesCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(`sources:
  - name: github
    path: github
    verify: {mode: hmac, header: X-Hub-Signature-256, prefix: "sha256=", secrets: [HOOKFLOW_TEST_GH_SECRET]}
    event_type: {header: X-GitHub-Event}
    accept: [issues, issue_comment]
    dedup: {header: X-GitHub-Delivery}
    key: {pointer: /issue/number}
    target: {workflow: IssueWorkflow, task_queue: github, workflow_id: "github-{key}"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(t.Context(), "sources", []string{"check", good}, &out)
	if err == nil || !strings.Contains(err.Error(), `source "github": verify.secrets: environment variable HOOKFLOW_TEST_GH_SECRET is not set`) {
		t.Fatalf("unset secret: %v", err)
	}
	out.Reset()
	if err := run(t.Context(), "sources", []string{"check", "--no-env", good}, &out); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOOKFLOW_TEST_GH_SECRET", "s")
	out.Reset()
	if err := run(t.Context(), "sources", []string{"check", good}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SOURCE", "github  /hooks/github  hmac    json", "header X-GitHub-Delivery", "JSON pointer /issue/number", "issues,issue_comment", "signal events", "github-{key}", "1 source(s), no problems"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(`sources:
  - name: a
    path: a
    verify: {mode: hamc}
    target: {workflow: W}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(t.Context(), "sources", []string{"check", bad}, &out)
	if err == nil || !strings.Contains(err.Error(), "2 problem(s)") || !strings.Contains(err.Error(), `source "a": verify.mode: "hamc"`) ||
		!strings.Contains(err.Error(), `source "a": target.task_queue: missing`) {
		t.Fatalf("bad file: %v", err)
	}
	if err := run(t.Context(), "sources", []string{"check"}, &out); err == nil || !strings.Contains(err.Error(), "usage: hookflow sources check") {
		t.Fatalf("no file: %v", err)
	}
}
