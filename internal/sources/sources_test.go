package sources

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const github = `sources:
  - name: github
    path: /hooks/github
    verify:
      mode: hmac
      header: X-Hub-Signature-256
      prefix: "sha256="
      secrets: [GITHUB_SECRET]
    event_type: {header: X-GitHub-Event}
    accept: [issues, issue_comment]
    dedup: {header: X-GitHub-Delivery}
    key: {pointer: /issue/number}
    headers: [X-GitHub-Event]
    target:
      workflow: IssueWorkflow
      task_queue: github
      workflow_id: "github-issue-{key}"
`

func TestParseDefaults(t *testing.T) {
	srcs, err := Parse([]byte(github))
	if err != nil {
		t.Fatal(err)
	}
	s := srcs[0]
	if s.Path != "github" || s.Verify.Algorithm != "sha256" || s.Verify.Encoding != "hex" ||
		s.Target.Mode != ModeSignal || s.Target.Signal != DefaultSignal || s.MaxInlineBody != DefaultMaxInlineBody {
		t.Fatalf("defaults not filled in: %+v", s)
	}
	if got := s.WorkflowID("42", "d"); got != "github-issue-42" {
		t.Fatalf("workflow id %q", got)
	}
	if !s.Accepts("issues") || s.Accepts("ping") {
		t.Fatal("accept filter")
	}
}

// Every problem of the file is reported at once, each naming its source
// and field.
func TestParseReportsEveryProblem(t *testing.T) {
	file := `sources:
  - name: github
    path: /hooks/github
    verify: {mode: hmac, secrets: [GITHUB_SECRET], algorithm: md5}
    key: {pointer: issue/number}
    accept: [issues]
    target: {workflow: W, task_queue: q, workflow_id: "gh-{event_id}"}
  - name: github
    path: github
    verify: {mode: token, secrets: ["not-an-env"]}
    target: {workflow: W, mode: start, signal: s, workflow_id: "x-{key}"}
  - name: Bad Name
    path: "a b"
    verify: {mode: stripe, header: X, secrets: [S], tolerance: -1s}
    dedup: {header: X, pointer: /id}
    target: {workflow: W, task_queue: q, mode: fire}
  - name: simplyprint
    path: sp
    verify: {mode: none}
    target: {workflow: W, task_queue: q, workflow_id: "{nope}"}
`
	_, err := Parse([]byte(file))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	want := []string{
		`source "github": verify.header: missing`,
		`source "github": verify.algorithm: "md5"`,
		`source "github": key.pointer: "issue/number" is not a JSON pointer`,
		`source "github": accept: needs event_type`,
		`source "github": target.workflow_id: {event_id} is not known when the event is acked`,
		`source "github": target.workflow_id: the source has a key: the template needs {key}`,
		`source "github": name: declared twice`,
		`source "github": path: /hooks/github is also the path of sources[0]`,
		`source "github": verify: mode token needs exactly one of header or query`,
		`source "github": verify.secrets: "not-an-env" is not an environment variable name`,
		`source "github": target.task_queue: missing`,
		`source "github": target.signal: mode start sends no signal`,
		`source "github": target.workflow_id: uses {key} but the source declares no key`,
		`source "github": target.workflow_id: mode start runs one workflow per event: the template needs {dedup}`,
		`source "Bad Name": name: "Bad Name" must be lower-case`,
		`source "Bad Name": path: "a b" is not a plain URL path`,
		`source "Bad Name": verify.header: mode stripe reads fixed headers`,
		`source "Bad Name": verify.tolerance: must be positive`,
		`source "Bad Name": dedup: needs exactly one of header or pointer`,
		`source "Bad Name": target.mode: "fire"`,
		`source "simplyprint": name: "simplyprint" is a built-in flow's source`,
		`source "simplyprint": target.workflow_id: unknown placeholder {nope}`,
		`source "simplyprint": target.workflow_id: without a key each event is its own workflow: the template needs {dedup}`,
	}
	text := err.Error()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("missing %q in:\n%s", w, text)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(errs), len(want), text)
	}
}

func TestParseRefusesUnknownFields(t *testing.T) {
	file := strings.Replace(github, "prefix:", "prefx:", 1)
	_, err := Parse([]byte(file))
	if err == nil || !strings.Contains(err.Error(), "field prefx not found") {
		t.Fatalf("a typo in a field name must be an error, got %v", err)
	}
	if _, err := Parse(nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := Parse([]byte("sources: []\n")); err == nil || !strings.Contains(err.Error(), "no source") {
		t.Fatalf("no sources: %v", err)
	}
}

func TestLoadFileSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sources.yaml")
	if err := os.WriteFile(path, []byte(github), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), `source "github": verify.secrets: environment variable GITHUB_SECRET is not set`) {
		t.Fatalf("unset secret: %v", err)
	}
	srcs, err := LoadFile(path, func(k string) string { return map[string]string{"GITHUB_SECRET": "x"}[k] })
	if err != nil || len(srcs[0].Verify.keys) != 1 {
		t.Fatalf("load: %v", err)
	}
}

func TestExtract(t *testing.T) {
	srcs, err := Parse([]byte(github))
	if err != nil {
		t.Fatal(err)
	}
	s := srcs[0]
	h := http.Header{}
	h.Set("X-GitHub-Event", "issues")
	h.Set("X-GitHub-Delivery", "d-1")
	f, err := s.Extract(h, []byte(`{"issue":{"number":12345678901234567890}}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.EventType != "issues" || f.Dedup != "d-1" || f.Key != "12345678901234567890" || f.Headers["X-Github-Event"] != "issues" {
		t.Fatalf("fields: %+v", f)
	}
	if _, err := s.Extract(h, []byte(`{"zen":"x"}`)); err == nil || err.Error() != "key: the body has nothing at /issue/number" {
		t.Fatalf("missing key: %v", err)
	}
	ping := http.Header{"X-Github-Event": {"ping"}}
	if f, err := s.Extract(ping, []byte(`{"zen":"x"}`)); err != nil || f.Key != "" || len(f.Dedup) != 64 {
		t.Fatalf("an event outside accept needs no key or dedup header: %+v %v", f, err)
	}
	h.Del("X-GitHub-Delivery")
	var fe *FieldError
	if _, err := s.Extract(h, []byte(`{}`)); !errors.As(err, &fe) || fe.Field != "dedup" {
		t.Fatalf("missing dedup header: %v", err)
	}
	s.Dedup = nil
	a, _ := s.Extract(h, []byte(`{"issue":{"number":1}}`))
	b, _ := s.Extract(h, []byte(`{"issue":{"number":1} }`))
	if len(a.Dedup) != 64 || a.Dedup == b.Dedup {
		t.Fatalf("default dedup is the body's sha256: %q %q", a.Dedup, b.Dedup)
	}
}

func TestPointer(t *testing.T) {
	doc := map[string]any{"a/b": map[string]any{"m~n": []any{"x", "y"}}}
	for ptr, want := range map[string]any{"/a~1b/m~0n/1": "y", "/a~1b/m~0n/0": "x"} {
		if got, ok := Pointer(doc, ptr); !ok || got != want {
			t.Errorf("%s: %v %v", ptr, got, ok)
		}
	}
	for _, ptr := range []string{"/a~1b/m~0n/2", "/a~1b/m~0n/01", "/x", "a"} {
		if _, ok := Pointer(doc, ptr); ok {
			t.Errorf("%s resolved", ptr)
		}
	}
}
