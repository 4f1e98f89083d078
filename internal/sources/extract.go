package sources

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Fields are what a source's declaration reads from one request.
type Fields struct {
	EventType string            // "" when the source declares no event_type
	Dedup     string            // the sender's delivery identity, or sha256 of the body
	Key       string            // "" when the source declares no key
	Headers   map[string]string // the declared headers that were sent
}

// FieldError is a request the declaration cannot read (answered 400).
type FieldError struct {
	Field string // event_type, dedup or key
	Msg   string
}

func (e *FieldError) Error() string { return e.Msg }

// maxValue bounds a dedup key or key (they go into workflow IDs).
const maxValue = 200

// Extract reads the event type, dedup value, key and headers of a request.
// JSON pointers read view, the body's JSON (View); nil: raw is JSON. The
// default dedup value is the SHA-256 of raw, the bytes as sent and verified.
func (s *Source) Extract(h http.Header, raw, view []byte) (Fields, error) {
	if view == nil {
		view = raw
	}
	var f Fields
	var doc any
	decoded := false
	read := func(field string, l *Locator) (string, error) {
		if l.Header != "" {
			v := strings.TrimSpace(h.Get(l.Header))
			if v == "" {
				return "", &FieldError{Field: field, Msg: fmt.Sprintf("%s: header %s is missing or empty", field, l.Header)}
			}
			return v, nil
		}
		if !decoded {
			d := json.NewDecoder(bytes.NewReader(view))
			d.UseNumber()
			if err := d.Decode(&doc); err != nil {
				return "", &FieldError{Field: "body", Msg: "body is not JSON: " + err.Error()}
			}
			decoded = true
		}
		v, ok := Pointer(doc, l.Pointer)
		if !ok {
			return "", &FieldError{Field: field, Msg: fmt.Sprintf("%s: the body has nothing at %s", field, l.Pointer)}
		}
		switch x := v.(type) {
		case string:
			if x == "" {
				return "", &FieldError{Field: field, Msg: fmt.Sprintf("%s: %s is an empty string", field, l.Pointer)}
			}
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		default:
			return "", &FieldError{Field: field, Msg: fmt.Sprintf("%s: %s is not a string, number or boolean", field, l.Pointer)}
		}
	}
	var err error
	if s.EventType != nil {
		if f.EventType, err = read("event_type", s.EventType); err != nil {
			return f, err
		}
	}
	// An event the accept list leaves out is only recorded as ignored: it
	// need not carry a key (GitHub's ping has no issue), and without its
	// dedup value the body's hash stands in.
	ignored := !s.Accepts(f.EventType)
	if s.Dedup != nil {
		if f.Dedup, err = read("dedup", s.Dedup); err != nil && !ignored {
			return f, err
		}
	}
	if f.Dedup == "" {
		sum := sha256.Sum256(raw)
		f.Dedup = hex.EncodeToString(sum[:])
	}
	if s.Key != nil && !ignored {
		if f.Key, err = read("key", s.Key); err != nil {
			return f, err
		}
	}
	for field, v := range map[string]string{"dedup": f.Dedup, "key": f.Key} {
		if len(v) > maxValue {
			return f, &FieldError{Field: field, Msg: fmt.Sprintf("%s: the value is %d bytes, more than %d", field, len(v), maxValue)}
		}
	}
	if len(s.Headers) > 0 {
		f.Headers = map[string]string{}
		for _, name := range s.Headers {
			if v := h.Get(name); v != "" {
				f.Headers[http.CanonicalHeaderKey(name)] = v
			}
		}
	}
	return f, nil
}

// Pointer resolves an RFC 6901 JSON pointer in a decoded document.
func Pointer(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) || (len(tok) > 1 && tok[0] == '0') {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
