package inbound

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxJSONDepth is how deeply an inbound JSON body may nest objects and
// arrays. Real webhooks stay under ten levels; Postgres' json parser runs out
// of stack somewhere past ten thousand, where it would refuse the body with
// an error that looks like an outage (503) instead of a bad request.
const MaxJSONDepth = 64

// BodyError is a body no endpoint accepts, whatever its vendor: it can never
// be stored or processed as sent, so a retry would fail the same way. Field
// is where the problem is, as a JSON path ("data.job.file", "lots[2].lot_id")
// or "body".
type BodyError struct {
	Field   string
	Problem string
}

func (e *BodyError) Error() string { return e.Field + ": " + e.Problem }

// CheckJSON refuses what hookflow cannot keep or would read ambiguously,
// before anything is parsed or recorded:
//   - bytes that are not UTF-8, and NUL bytes: Postgres text and json refuse
//     them (SQLSTATE 22021);
//   - the escape \u0000 in a string or key: json columns keep it, but once
//     decoded it can go into no text or jsonb column (22P05, 22021), so the
//     event would fail processing for ever;
//   - nesting deeper than MaxJSONDepth;
//   - a key repeated in one object: parsers disagree on which one counts
//     (encoding/json and Python take the last, jsonb too, others the first),
//     so what was authenticated or checked may not be what is processed.
//
// Malformed JSON is left to the endpoint's parser, which says what it
// expected; CheckJSON returns nil for it.
func CheckJSON(body []byte) *BodyError {
	_, err := ScanJSON(body)
	return err
}

// ScanJSON is CheckJSON that also says whether the body is well-formed JSON
// (exactly what json.Valid says, in the same walk), so that a parser that
// would check it again need not. wellFormed is false whenever err is set.
func ScanJSON(body []byte) (wellFormed bool, err *BodyError) {
	if i := bytes.IndexByte(body, 0); i >= 0 {
		return false, &BodyError{Field: "body", Problem: fmt.Sprintf("contains a NUL byte (offset %d), which cannot be stored", i)}
	}
	if !utf8.Valid(body) {
		i := invalidUTF8At(body)
		return false, &BodyError{Field: "body", Problem: fmt.Sprintf("is not valid UTF-8 (byte 0x%02x at offset %d)", body[i], i)}
	}
	s := jsonScan{b: body, path: make([]pathStep, 0, 16)}
	e := s.value(0)
	if e == nil {
		s.ws()
		return s.i == len(s.b), nil // anything after the value: malformed
	}
	var be *BodyError
	if errors.As(e, &be) {
		return false, be
	}
	return false, nil // malformed: the endpoint's parser reports it
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return 0
}

var errSyntax = errors.New("malformed JSON")

// jsonScan walks a JSON text once without building values. path holds the
// keys and indexes leading to the value being read, for error messages.
type jsonScan struct {
	b    []byte
	i    int
	path []pathStep
}

type pathStep struct {
	key   []byte // raw (escaped) key; nil for an array element
	index int
}

func (s *jsonScan) fail(problem string) error {
	return &BodyError{Field: s.pathString(), Problem: problem}
}

func (s *jsonScan) pathString() string {
	if len(s.path) == 0 {
		return "body"
	}
	var b strings.Builder
	for i, p := range s.path {
		if p.key == nil {
			fmt.Fprintf(&b, "[%d]", p.index)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(clipKey(decodeKey(p.key)))
	}
	return b.String()
}

func clipKey(k string) string {
	if len(k) > 60 {
		k = strings.ToValidUTF8(k[:60], "") + "…"
	}
	return strings.ReplaceAll(k, "\x00", `\u0000`)
}

// decodeKey unescapes a raw key (without its quotes).
func decodeKey(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var k string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k) != nil {
		return string(raw)
	}
	return k
}

func (s *jsonScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScan) value(depth int) error {
	s.ws()
	if s.i >= len(s.b) {
		return errSyntax
	}
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		if depth >= MaxJSONDepth {
			return s.fail(fmt.Sprintf("JSON is nested deeper than %d levels", MaxJSONDepth))
		}
		if c == '{' {
			return s.object(depth + 1)
		}
		return s.array(depth + 1)
	case c == '"':
		_, nul, err := s.str()
		if err != nil {
			return err
		}
		if nul {
			return s.fail(`contains a NUL character (\u0000), which cannot be stored`)
		}
		return nil
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return errSyntax
}

// number reads a number as RFC 8259 spells it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScan) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return errSyntax
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return errSyntax
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return errSyntax
		}
	}
	return nil
}

func (s *jsonScan) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

func (s *jsonScan) literal(word string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return errSyntax
	}
	s.i += len(word)
	return nil
}

// str reads a string at s.i (at its opening quote) and returns its raw
// contents and whether it holds \u0000.
func (s *jsonScan) str() (raw []byte, nul bool, err error) {
	s.i++ // opening quote
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, nul, nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, false, errSyntax
			}
			if s.b[s.i+1] == 'u' {
				if s.i+6 > len(s.b) {
					return nil, false, errSyntax
				}
				zero := true
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHex(h) {
						return nil, false, errSyntax
					}
					zero = zero && h == '0'
				}
				nul = nul || zero
				s.i += 6
				continue
			}
			if strings.IndexByte(`"\\/bfnrt`, s.b[s.i+1]) < 0 {
				return nil, false, errSyntax
			}
			s.i += 2
		case c < 0x20:
			return nil, false, errSyntax
		default:
			s.i++
		}
	}
	return nil, false, errSyntax
}

func (s *jsonScan) object(depth int) error {
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	var small [16][]byte
	keys := small[:0]
	var seen map[string]bool // once an object has more keys than small holds
	s.path = append(s.path, pathStep{})
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return errSyntax
		}
		key, nul, err := s.str()
		if err != nil {
			return err
		}
		s.path[len(s.path)-1] = pathStep{key: key}
		if nul {
			return s.fail(`the key contains a NUL character (\u0000), which cannot be stored`)
		}
		var dup bool
		if keys, seen, dup = seenKey(keys, seen, key); dup {
			return s.fail(fmt.Sprintf("key %q appears more than once in its object; send each key once", clipKey(decodeKey(key))))
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return errSyntax
		}
		s.i++
		if err := s.value(depth); err != nil {
			return err
		}
		if end, err := s.next('}'); end || err != nil {
			return err
		}
	}
}

// seenKey records key and says whether the object had it already. Keys are
// compared decoded ("a" and "\u0061" are the same key).
func seenKey(keys [][]byte, seen map[string]bool, key []byte) ([][]byte, map[string]bool, bool) {
	if bytes.IndexByte(key, '\\') >= 0 {
		key = []byte(decodeKey(key))
	}
	if seen != nil {
		if seen[string(key)] {
			return keys, seen, true
		}
		seen[string(key)] = true
		return keys, seen, false
	}
	for _, k := range keys {
		if bytes.Equal(k, key) {
			return keys, seen, true
		}
	}
	if len(keys) == cap(keys) {
		seen = make(map[string]bool, 2*len(keys)+1)
		for _, k := range keys {
			seen[string(k)] = true
		}
		seen[string(key)] = true
		return keys, seen, false
	}
	return append(keys, key), seen, false
}

func (s *jsonScan) array(depth int) error {
	s.i++ // [
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	s.path = append(s.path, pathStep{})
	for n := 0; ; n++ {
		s.path[len(s.path)-1] = pathStep{index: n}
		if err := s.value(depth); err != nil {
			return err
		}
		if end, err := s.next(']'); end || err != nil {
			return err
		}
	}
}

// next reads what follows a member or an element: a comma (more to come)
// or the container's closing byte (end: its path step is dropped).
func (s *jsonScan) next(closing byte) (end bool, err error) {
	s.ws()
	if s.i >= len(s.b) {
		return false, errSyntax
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return false, nil
	case closing:
		s.i++
		s.path = s.path[:len(s.path)-1]
		return true, nil
	}
	return false, errSyntax
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
