// Package jobs parses, authenticates and validates description-job submissions
// (POST /api/v1/generate-descriptions, seed job-callbacks.md).
//
// The order for a handler: ParseSubmission (shape), VerifySignature (who),
// Submission.Validate (content), RequestHash (Idempotency-Key comparison).
// Every error a client can fix is a *ValidationError listing each field.
package jobs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Lot is one item to describe.
type Lot struct {
	LotID  string   `json:"lot_id"`
	Images []string `json:"images"`
}

// Submission is a parsed job submission.
type Submission struct {
	Signature  string   // hex HMAC-SHA256 over RawLots; may be empty when X-Signature is used
	Version    string   // client's API version ("1.0.0"); informational
	Languages  []string // ISO 639-1 codes, one description per language per lot
	WebhookURL string   // where the callback goes; empty means poll only
	Lots       []Lot
	// RawLots is the "lots" value exactly as the client sent it (never
	// re-encoded): the body signature is computed over these bytes.
	RawLots json.RawMessage
}

// FieldError is one problem with one field, e.g.
// {"field":"lots[2].lot_id","message":"duplicate \"car_001\""}.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) String() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// ValidationError lists everything wrong with a submission; the API answers
// it with 400 and the list.
type ValidationError struct {
	Errors []FieldError `json:"errors"`
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.String()
	}
	return "invalid submission: " + strings.Join(parts, "; ")
}

// maxFieldErrors bounds the list: a 10,000-lot body with the same mistake in
// every lot gets the first ones and a count, not a megabyte of errors.
const maxFieldErrors = 50

type errorList struct {
	errs    []FieldError
	dropped int
}

func (l *errorList) add(field, format string, args ...any) {
	if len(l.errs) >= maxFieldErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	errs := l.errs
	if l.dropped > 0 {
		errs = append(errs, FieldError{Message: fmt.Sprintf("and %d more errors", l.dropped)})
	}
	return &ValidationError{Errors: errs}
}

// ParseSubmission decodes the body's shape: a JSON object whose known fields
// have the right JSON types. Keys match exactly (unlike encoding/json's
// case-insensitive struct matching); unknown keys are ignored; for a repeated
// key the last one counts, as in Python. Content rules are Validate's.
func ParseSubmission(raw []byte) (Submission, error) {
	var sub Submission
	var errs errorList
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		errs.add("body", "%s", describeJSONError(raw, err))
		return sub, errs.err()
	}
	if top == nil {
		errs.add("body", "must be a JSON object, got null")
		return sub, errs.err()
	}

	decodeString(top, "signature", &sub.Signature, &errs)
	decodeString(top, "version", &sub.Version, &errs)
	decodeString(top, "webhook_url", &sub.WebhookURL, &errs)
	if v, ok := present(top, "languages"); ok {
		if err := json.Unmarshal(v, &sub.Languages); err != nil {
			errs.add("languages", "must be an array of strings")
			sub.Languages = nil
		}
	}
	if v, ok := present(top, "lots"); ok {
		sub.RawLots = v
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			errs.add("lots", "must be an array of lots")
		} else {
			sub.Lots = make([]Lot, len(items))
			for i, item := range items {
				sub.Lots[i] = decodeLot(item, fmt.Sprintf("lots[%d]", i), &errs)
			}
		}
	}
	return sub, errs.err()
}

// present returns a key's value unless the key is absent or null.
func present(obj map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	v, ok := obj[key]
	if !ok || bytes.Equal(v, []byte("null")) {
		return nil, false
	}
	return v, true
}

func decodeString(obj map[string]json.RawMessage, key string, dst *string, errs *errorList) {
	decodeStringAt(obj, key, key, dst, errs)
}

func decodeStringAt(obj map[string]json.RawMessage, key, field string, dst *string, errs *errorList) {
	v, ok := present(obj, key)
	if !ok {
		return
	}
	if err := json.Unmarshal(v, dst); err != nil {
		errs.add(field, "must be a string, got %s", jsonKind(v))
	}
}

func decodeLot(raw json.RawMessage, field string, errs *errorList) Lot {
	var lot Lot
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		errs.add(field, "must be an object with lot_id and images, got %s", jsonKind(raw))
		return lot
	}
	decodeStringAt(obj, "lot_id", field+".lot_id", &lot.LotID, errs)
	if v, ok := present(obj, "images"); ok {
		if err := json.Unmarshal(v, &lot.Images); err != nil {
			errs.add(field+".images", "must be an array of URL strings")
			lot.Images = nil
		}
	}
	return lot
}

func jsonKind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func describeJSONError(raw []byte, err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Error())
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("must be a JSON object, got %s", jsonKind(raw))
	default:
		return "invalid JSON: " + err.Error()
	}
}

// RequestHash identifies a request body for Idempotency-Key handling: a
// repeated key with a different hash is a conflict, not a replay. It is the
// hex SHA-256 of the raw bytes; a client retrying sends the same bytes.
func RequestHash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}
