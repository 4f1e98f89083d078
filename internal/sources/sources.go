// Package sources reads SOURCES_FILE: webhook sources a user declares in
// YAML (how each is verified, deduplicated, keyed and which Temporal
// workflow receives its events) instead of code. Load checks the whole file
// and reports every problem at once, each naming the source and the field.
package sources

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// File is the YAML document.
type File struct {
	Sources []*Source `yaml:"sources"`
}

// Source is one declared webhook source.
type Source struct {
	Name string `yaml:"name"`
	// Path is where the source is received: /hooks/<path>.
	Path   string `yaml:"path"`
	Verify Verify `yaml:"verify"`
	// EventType locates the event's type (e.g. header X-GitHub-Event);
	// Accept keeps only the listed types, others are acked and stored as
	// ignored.
	EventType *Locator `yaml:"event_type"`
	Accept    []string `yaml:"accept"`
	// Dedup locates the sender's delivery identity; absent: the SHA-256 of
	// the raw body.
	Dedup *Locator `yaml:"dedup"`
	// Key orders events: one workflow per key, events in order. Absent:
	// one workflow per event.
	Key *Locator `yaml:"key"`
	// Body is how the body is read once verified: json (the default),
	// form or raw; a form or raw body is stored and handed over as JSON
	// (View).
	Body string `yaml:"body"`
	// Headers are handed to the workflow with each event.
	Headers []string `yaml:"headers"`
	// MaxInlineBody is the largest body handed over inline; larger ones are
	// handed over as a reference (GET /api/v1/events/{id}).
	MaxInlineBody int    `yaml:"max_inline_body"`
	Target        Target `yaml:"target"`
}

// Verify says how a request proves it comes from the sender.
type Verify struct {
	Mode string `yaml:"mode"` // none, token, hmac, stripe, standard-webhooks
	// Secrets are names of environment variables; every one that is set
	// is accepted, so a secret rotates without downtime.
	Secrets []string `yaml:"secrets"`
	// token: header or query parameter; hmac: header.
	Header string `yaml:"header"`
	Query  string `yaml:"query"`
	// hmac
	Algorithm string `yaml:"algorithm"` // sha256 (default), sha1
	Prefix    string `yaml:"prefix"`    // e.g. "sha256="
	Encoding  string `yaml:"encoding"`  // hex (default), base64
	// stripe, standard-webhooks: how far the signed timestamp may be from
	// now (default 5m).
	Tolerance time.Duration `yaml:"tolerance"`

	keys [][]byte // resolved secrets (Resolve)
}

// Locator finds a value in a request: a header, or a JSON pointer
// (RFC 6901) into the body.
type Locator struct {
	Header  string `yaml:"header"`
	Pointer string `yaml:"pointer"`
}

func (l *Locator) String() string {
	if l.Header != "" {
		return "header " + l.Header
	}
	return "JSON pointer " + l.Pointer
}

// Target is the workflow that receives a source's events.
type Target struct {
	Workflow   string `yaml:"workflow"`    // workflow type
	TaskQueue  string `yaml:"task_queue"`  // the user's worker's task queue
	WorkflowID string `yaml:"workflow_id"` // template: {source}, {key}, {dedup}
	Mode       string `yaml:"mode"`        // signal (default) or start
	Signal     string `yaml:"signal"`      // signal name (signal mode; default "events")
}

// Handover modes.
const (
	ModeSignal = "signal" // SignalWithStart a long-running workflow per key, batches of events
	ModeStart  = "start"  // each event starts its own run
)

// Verify modes.
const (
	VerifyNone             = "none"
	VerifyToken            = "token"
	VerifyHMAC             = "hmac"
	VerifyStripe           = "stripe"
	VerifyStandardWebhooks = "standard-webhooks"
)

// Defaults.
const (
	DefaultTolerance     = 5 * time.Minute
	DefaultMaxInlineBody = 64 << 10
	DefaultSignal        = "events"
)

// Errors is every problem of a file, each on its own line.
type Errors []string

func (e Errors) Error() string { return strings.Join(e, "\n") }

var (
	namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	pathPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~/-]*$`)
	envPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	placeholder = regexp.MustCompile(`\{[^{}]*\}`)
)

// Reserved are source names hookflow's built-in flows use.
var Reserved = []string{"simplyprint", "okdesk", "telegram", "bitrix", "bitrix-backsync", "jobs"}

// LoadFile reads, checks and resolves (secrets from the environment) a
// sources file.
func LoadFile(path string, getenv func(string) string) ([]*Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	srcs, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return srcs, Resolve(srcs, getenv)
}

// Parse decodes and checks a sources file without reading secrets. Unknown
// fields are errors (a typo must not silently turn verification off).
func Parse(data []byte) ([]*Source, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{"the file is empty: declare `sources:` with at least one source"}
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, Errors(te.Errors)
		}
		return nil, Errors{err.Error()}
	}
	errs := check(f.Sources)
	if len(errs) > 0 {
		return nil, errs
	}
	return f.Sources, nil
}

// check validates every source and fills in defaults.
func check(srcs []*Source) Errors {
	var errs Errors
	if len(srcs) == 0 {
		errs = append(errs, "sources: the file declares no source")
	}
	names, paths := map[string]int{}, map[string]int{}
	for i, s := range srcs {
		if s == nil {
			errs = append(errs, fmt.Sprintf("sources[%d]: empty entry", i))
			continue
		}
		label := fmt.Sprintf("source %q", s.Name)
		if s.Name == "" {
			label = fmt.Sprintf("sources[%d]", i)
		}
		bad := func(field, format string, args ...any) {
			errs = append(errs, fmt.Sprintf("%s: %s: %s", label, field, fmt.Sprintf(format, args...)))
		}
		switch {
		case s.Name == "":
			bad("name", "missing")
		case !namePattern.MatchString(s.Name):
			bad("name", "%q must be lower-case letters, digits, - or _ (at most 63)", s.Name)
		case slices.Contains(Reserved, s.Name):
			bad("name", "%q is a built-in flow's source; choose another name", s.Name)
		default:
			if j, dup := names[s.Name]; dup {
				bad("name", "declared twice (also sources[%d])", j)
			}
			names[s.Name] = i
		}
		s.Path = strings.TrimPrefix(strings.TrimPrefix(s.Path, "/hooks"), "/")
		switch {
		case s.Path == "":
			bad("path", "missing (the source is received at POST /hooks/<path>)")
		case !pathPattern.MatchString(s.Path) || strings.Contains(s.Path, "//") || strings.HasSuffix(s.Path, "/"):
			bad("path", "%q is not a plain URL path (letters, digits, . _ ~ - and single /)", s.Path)
		default:
			if j, dup := paths[s.Path]; dup {
				bad("path", "/hooks/%s is also the path of sources[%d]", s.Path, j)
			}
			paths[s.Path] = i
		}
		checkVerify(&s.Verify, bad)
		checkLocator("event_type", s.EventType, bad)
		checkLocator("dedup", s.Dedup, bad)
		checkLocator("key", s.Key, bad)
		if len(s.Accept) > 0 && s.EventType == nil {
			bad("accept", "needs event_type (where the event's type is: a header or a JSON pointer)")
		}
		switch s.Body {
		case "":
			s.Body = BodyJSON
		case BodyJSON, BodyForm, BodyRaw:
		default:
			bad("body", "%q: use json (the default), form (application/x-www-form-urlencoded, handed over as an object of fields) or raw (any bytes, handed over as text or base64)", s.Body)
		}
		for _, h := range s.Headers {
			if h == "" || strings.ContainsAny(h, " :\t") {
				bad("headers", "%q is not a header name", h)
			}
		}
		switch {
		case s.MaxInlineBody == 0:
			s.MaxInlineBody = DefaultMaxInlineBody
		case s.MaxInlineBody < 0 || s.MaxInlineBody > 1<<20:
			bad("max_inline_body", "%d must be from 1 to 1048576 bytes (Temporal refuses payloads over 2 MB)", s.MaxInlineBody)
		}
		checkTarget(s, bad)
	}
	return errs
}

func checkVerify(v *Verify, bad func(field, format string, args ...any)) {
	needSecrets := true
	switch v.Mode {
	case "":
		bad("verify.mode", "missing: one of none, token, hmac, stripe, standard-webhooks (none must be said explicitly)")
		return
	case VerifyNone:
		needSecrets = false
		if len(v.Secrets) > 0 {
			bad("verify.secrets", "mode none checks no secret; remove secrets or choose a mode")
		}
	case VerifyToken:
		if (v.Header == "") == (v.Query == "") {
			bad("verify", "mode token needs exactly one of header or query")
		}
	case VerifyHMAC:
		if v.Header == "" {
			bad("verify.header", "missing: the header that carries the signature (e.g. X-Hub-Signature-256)")
		}
		oneOf("verify.algorithm", &v.Algorithm, "use sha256 or sha1", bad, "sha256", "sha1")
		oneOf("verify.encoding", &v.Encoding, "use hex or base64", bad, "hex", "base64")
	case VerifyStripe, VerifyStandardWebhooks:
	default:
		bad("verify.mode", "%q is not one of none, token, hmac, stripe, standard-webhooks", v.Mode)
		return
	}
	if v.Mode != VerifyToken && v.Query != "" {
		bad("verify.query", "only mode token reads a query parameter")
	}
	if v.Mode != VerifyToken && v.Mode != VerifyHMAC && v.Header != "" {
		bad("verify.header", "mode %s reads fixed headers: header applies to modes token and hmac", v.Mode)
	}
	if v.Mode != VerifyHMAC && (v.Algorithm != "" || v.Encoding != "" || v.Prefix != "") {
		bad("verify", "algorithm, encoding and prefix apply to mode hmac only")
	}
	switch {
	case v.Tolerance < 0:
		bad("verify.tolerance", "must be positive")
	case v.Tolerance > 0 && v.Mode != VerifyStripe && v.Mode != VerifyStandardWebhooks:
		bad("verify.tolerance", "applies to modes stripe and standard-webhooks only (their signatures carry a timestamp)")
	case v.Tolerance == 0:
		v.Tolerance = DefaultTolerance
	}
	if needSecrets && len(v.Secrets) == 0 {
		bad("verify.secrets", "missing: name the environment variable(s) that hold the secret")
	}
	for _, name := range v.Secrets {
		if !envPattern.MatchString(name) {
			bad("verify.secrets", "%q is not an environment variable name (the file names variables; it never holds secrets)", name)
		}
	}
}

// oneOf sets an empty *v to allowed[0], its default, and reports any
// other value not in allowed with hint.
func oneOf(field string, v *string, hint string, bad func(field, format string, args ...any), allowed ...string) {
	switch {
	case *v == "":
		*v = allowed[0]
	case !slices.Contains(allowed, *v):
		bad(field, "%q: "+hint, *v)
	}
}

func checkLocator(field string, l *Locator, bad func(field, format string, args ...any)) {
	if l == nil {
		return
	}
	switch {
	case (l.Header == "") == (l.Pointer == ""):
		bad(field, "needs exactly one of header or pointer")
	case l.Pointer != "" && !strings.HasPrefix(l.Pointer, "/"):
		bad(field+".pointer", "%q is not a JSON pointer: it starts with / (e.g. /issue/number)", l.Pointer)
	case l.Header != "" && strings.ContainsAny(l.Header, " :\t"):
		bad(field+".header", "%q is not a header name", l.Header)
	}
}

func checkTarget(s *Source, bad func(field, format string, args ...any)) {
	t := &s.Target
	if t.Workflow == "" {
		bad("target.workflow", "missing: the workflow type your worker registers")
	}
	if t.TaskQueue == "" {
		bad("target.task_queue", "missing: the task queue your worker polls")
	}
	oneOf("target.mode", &t.Mode, "use signal (a batch of events to a long-running workflow per key) or start (a run per event)", bad, ModeSignal, ModeStart)
	switch {
	case t.Mode == ModeSignal && t.Signal == "":
		t.Signal = DefaultSignal
	case t.Mode == ModeStart && t.Signal != "":
		bad("target.signal", "mode start sends no signal: the event is the run's input")
	}
	if t.WorkflowID == "" {
		if s.Key != nil && t.Mode == ModeSignal {
			t.WorkflowID = "{source}-{key}"
		} else {
			t.WorkflowID = "{source}-{dedup}"
		}
	}
	hasKey, hasDedup := false, false
	for _, p := range placeholder.FindAllString(t.WorkflowID, -1) {
		switch p {
		case "{source}":
		case "{key}":
			hasKey = true
		case "{dedup}":
			hasDedup = true
		case "{event_id}":
			bad("target.workflow_id", "{event_id} is not known when the event is acked (the ID is fixed then): use {dedup}, the sender's delivery id or the body's hash")
		default:
			bad("target.workflow_id", "unknown placeholder %s: use {source}, {key}, {dedup}", p)
		}
	}
	if strings.Count(t.WorkflowID, "{") != len(placeholder.FindAllString(t.WorkflowID, -1)) || strings.Count(t.WorkflowID, "}") != strings.Count(t.WorkflowID, "{") {
		bad("target.workflow_id", "%q has an unbalanced brace", t.WorkflowID)
	}
	if hasKey && s.Key == nil {
		bad("target.workflow_id", "uses {key} but the source declares no key")
	}
	switch {
	case t.Mode == ModeSignal && s.Key == nil && !hasDedup:
		bad("target.workflow_id", "without a key each event is its own workflow: the template needs {dedup}")
	case t.Mode == ModeSignal && s.Key != nil && !hasKey:
		bad("target.workflow_id", "the source has a key: the template needs {key} (one workflow per key)")
	case t.Mode == ModeStart && !hasDedup:
		bad("target.workflow_id", "mode start runs one workflow per event: the template needs {dedup}")
	}
}

// Resolve reads each source's secrets from the environment. Every variable
// named must be set and not empty.
func Resolve(srcs []*Source, getenv func(string) string) error {
	var errs Errors
	for _, s := range srcs {
		s.Verify.keys = nil
		for _, name := range s.Verify.Secrets {
			v := getenv(name)
			if v == "" {
				errs = append(errs, fmt.Sprintf("source %q: verify.secrets: environment variable %s is not set", s.Name, name))
				continue
			}
			key, err := secretKey(s.Verify.Mode, v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("source %q: verify.secrets: %s: %v", s.Name, name, err))
				continue
			}
			s.Verify.keys = append(s.Verify.keys, key)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// WorkflowID expands the target's template.
func (s *Source) WorkflowID(key, dedup string) string {
	return strings.NewReplacer("{source}", s.Name, "{key}", key, "{dedup}", dedup).Replace(s.Target.WorkflowID)
}

// Accepts tells whether an event of the given type is kept.
func (s *Source) Accepts(eventType string) bool {
	return len(s.Accept) == 0 || slices.Contains(s.Accept, eventType)
}
