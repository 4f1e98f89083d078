package sources

import (
	"crypto/sha256"
	"errors"
	"fmt"
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
	f, err := s.Extract(h, []byte(`{"issue":{"number":12345678901234567890}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.EventType != "issues" || f.Dedup != "d-1" || f.Key != "12345678901234567890" || f.Headers["X-Github-Event"] != "issues" {
		t.Fatalf("fields: %+v", f)
	}
	if _, err := s.Extract(h, []byte(`{"zen":"x"}`), nil); err == nil || err.Error() != "key: the body has nothing at /issue/number" {
		t.Fatalf("missing key: %v", err)
	}
	ping := http.Header{"X-Github-Event": {"ping"}}
	if f, err := s.Extract(ping, []byte(`{"zen":"x"}`), nil); err != nil || f.Key != "" || len(f.Dedup) != 64 {
		t.Fatalf("an event outside accept needs no key or dedup header: %+v %v", f, err)
	}
	h.Del("X-GitHub-Delivery")
	var fe *FieldError
	if _, err := s.Extract(h, []byte(`{}`), nil); !errors.As(err, &fe) || fe.Field != "dedup" {
		t.Fatalf("missing dedup header: %v", err)
	}
	s.Dedup = nil
	a, _ := s.Extract(h, []byte(`{"issue":{"number":1}}`), nil)
	b, _ := s.Extract(h, []byte(`{"issue":{"number":1} }`), nil)
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

func TestParseBody(t *testing.T) {
	srcs, err := Parse([]byte(github))
	if err != nil || srcs[0].Body != BodyJSON {
		t.Fatalf("default body: %v %+v", err, srcs)
	}
	form := strings.Replace(github, "    headers: [X-GitHub-Event]\n", "    headers: [X-GitHub-Event]\n    body: form\n", 1)
	if srcs, err := Parse([]byte(form)); err != nil || srcs[0].Body != BodyForm {
		t.Fatalf("body form: %v", err)
	}
	bad := strings.Replace(github, "    headers: [X-GitHub-Event]\n", "    headers: [X-GitHub-Event]\n    body: xml\n", 1)
	_, err = Parse([]byte(bad))
	if err == nil || !strings.Contains(err.Error(), `source "github": body: "xml": use json (the default), form`) {
		t.Fatalf("body xml: %v", err)
	}
}

func TestFormView(t *testing.T) {
	view, err := FormView([]byte("token=abc&text=hello+world%21&tag=a&tag=b&empty=&flag&city=S%C3%A3o+Paulo&html=%3Cb%3E"))
	want := `{"token":"abc","text":"hello world!","tag":["a","b"],"empty":"","flag":"","city":"São Paulo","html":"<b>"}`
	if err != nil || string(view) != want {
		t.Fatalf("view %s (%v), want %s", view, err, want)
	}
	for body, msg := range map[string]string{
		"":            "the body is empty",
		"a=%zz":       "the body is not application/x-www-form-urlencoded: invalid URL escape",
		"a=%ff":       `form field "a": names and values must be UTF-8`,
		"a%00b=1":     "form field",
		"a=1&b=x%00y": `form field "b"`,
	} {
		var fe *FieldError
		if _, err := FormView([]byte(body)); !errors.As(err, &fe) || fe.Field != "body" || !strings.HasPrefix(fe.Msg, msg) {
			t.Errorf("%q: %v, want %q", body, err, msg)
		}
	}
}

func TestRawView(t *testing.T) {
	if got := string(RawView("text/plain; charset=utf-8", []byte("ping <ok>\n"))); got != `{"content_type":"text/plain; charset=utf-8","text":"ping <ok>\n"}` {
		t.Fatalf("text: %s", got)
	}
	if got := string(RawView("", []byte{0xff, 0, 1})); got != `{"content_type":"","base64":"/wAB"}` {
		t.Fatalf("bytes: %s", got)
	}
}

// A form source's pointers read the form's view; the default dedup value
// is the hash of the raw body.
func TestExtractFormView(t *testing.T) {
	file := strings.Replace(github, "    headers: [X-GitHub-Event]\n", "    body: form\n", 1)
	file = strings.Replace(file, "key: {pointer: /issue/number}", "key: {pointer: /channel}", 1)
	file = strings.Replace(file, "    dedup: {header: X-GitHub-Delivery}\n", "", 1)
	srcs, err := Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("channel=C42&text=hi")
	view, err := srcs[0].View("application/x-www-form-urlencoded", raw)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"X-Github-Event": {"issues"}}
	f, err := srcs[0].Extract(h, raw, view)
	if err != nil || f.Key != "C42" || f.Dedup != fmt.Sprintf("%x", sha256.Sum256(raw)) {
		t.Fatalf("%+v %v", f, err)
	}
}
