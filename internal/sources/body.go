package sources

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Body formats: how a source's body is read once verified (field body).
const (
	BodyJSON = "json" // the default: JSON, stored and handed over as received
	BodyForm = "form" // application/x-www-form-urlencoded, handed over as an object
	BodyRaw  = "raw"  // any bytes, handed over as {"content_type", "text" or "base64"}
)

// View is the JSON a verified body of a form or raw source is stored and
// handed over as; the source's JSON pointers read it. A json source's body
// is its own view (nil here). The error is a *FieldError (a 400).
func (s *Source) View(contentType string, raw []byte) ([]byte, error) {
	switch s.Body {
	case BodyForm:
		return FormView(raw)
	case BodyRaw:
		return RawView(contentType, raw), nil
	}
	return nil, nil
}

// FormView turns an application/x-www-form-urlencoded body into a JSON
// object: each field's name to its value, a string, or to the list of its
// values (strings, in order) when the field is repeated; fields in the
// order they first come. Names and values must be UTF-8 without NUL once
// decoded.
func FormView(raw []byte) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, &FieldError{Field: "body", Msg: "the body is empty: send application/x-www-form-urlencoded fields"}
	}
	var order []string
	values := map[string][]string{}
	for _, pair := range strings.Split(string(raw), "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err == nil {
			v, err = url.QueryUnescape(v)
		}
		if err != nil {
			return nil, &FieldError{Field: "body", Msg: "the body is not application/x-www-form-urlencoded: " + err.Error()}
		}
		for _, text := range []string{key, v} {
			if !utf8.ValidString(text) || strings.IndexByte(text, 0) >= 0 {
				return nil, &FieldError{Field: "body", Msg: fmt.Sprintf("form field %s: names and values must be UTF-8 text without NUL once decoded", strconv.QuoteToASCII(clip(key, 60)))}
			}
		}
		if _, seen := values[key]; !seen {
			order = append(order, key)
		}
		values[key] = append(values[key], v)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, key := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, key)
		b.WriteByte(':')
		if vs := values[key]; len(vs) == 1 {
			writeJSON(&b, vs[0])
		} else {
			writeJSON(&b, vs)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// RawView wraps any body in a JSON object: {"content_type": the request's
// Content-Type as sent, "text": the body} when it is UTF-8 without NUL,
// else {"content_type": ..., "base64": the body in standard base64}.
func RawView(contentType string, raw []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"content_type":`)
	writeJSON(&b, strings.ToValidUTF8(contentType, "\uFFFD"))
	if utf8.Valid(raw) && bytes.IndexByte(raw, 0) < 0 {
		b.WriteString(`,"text":`)
		writeJSON(&b, string(raw))
	} else {
		b.WriteString(`,"base64":`)
		writeJSON(&b, base64.StdEncoding.EncodeToString(raw))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// writeJSON writes v as JSON without escaping <, > and & (the view is data,
// not HTML).
func writeJSON(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)       // strings and lists of strings always encode
	b.Truncate(b.Len() - 1) // Encode's newline
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
