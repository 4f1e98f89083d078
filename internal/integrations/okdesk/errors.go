package okdesk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error codes carried in APIError.Code.
const (
	// CodeTransport: no HTTP response (connection refused, reset, timeout).
	CodeTransport = "transport"
	// CodeHTTP: a non-2xx HTTP status; Message holds Okdesk's "errors"
	// flattened to text when the body had them.
	CodeHTTP = "http_status"
	// CodeBadResponse: a 2xx response whose body could not be decoded.
	CodeBadResponse = "bad_response"
	// CodeInvalidRequest: refused before anything was sent (bad API URL,
	// empty token, missing required argument).
	CodeInvalidRequest = "invalid_request"
)

// ErrNotFound is matched (errors.Is) by every 404 APIError and is returned
// as is by FindContactByPhone when no contact has the phone.
var ErrNotFound = errors.New("okdesk: not found")

// APIError is the only error type the client returns (besides ErrNotFound
// from FindContactByPhone). Retryable says whether repeating the same call
// may succeed: 429, 5xx (except 501), 408, transport errors and timeouts.
// Everything else is permanent, in particular 401/403/404/422. Retries
// belong to the caller (Temporal activities). Error strings never contain
// the api_token.
type APIError struct {
	// Op is the method and endpoint, e.g. "POST issues/153/comments".
	Op string
	// Status is the HTTP status code, 0 when no response was received.
	Status int
	// Code is one of the Code* constants.
	Code string
	// Message is Okdesk's error text ("author_id: не может быть пустым")
	// or a description of the failure.
	Message string
	// Retryable classifies the failure, see the type comment.
	Retryable bool
	// RetryAfter is the Retry-After hint of a 429/503, 0 when absent.
	RetryAfter time.Duration
	// Err is the underlying transport or decoding error, token scrubbed.
	Err error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("okdesk")
	if e.Op != "" {
		b.WriteString(" " + e.Op)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	b.WriteString(": " + e.Code)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Retryable {
		b.WriteString(" (retryable")
		if e.RetryAfter > 0 {
			b.WriteString(", retry after " + e.RetryAfter.String())
		}
		b.WriteString(")")
	} else {
		b.WriteString(" (permanent)")
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) true for 404 answers.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// IsRetryable reports whether err is an *APIError classified as retryable.
// Errors of other types report false.
func IsRetryable(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Retryable
}

// RetryAfter returns the vendor's retry hint carried by err, 0 if none.
func RetryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	}
	return code >= 500 && code != http.StatusNotImplemented
}

// transportError classifies an error from http.Client.Do. A cancelled
// context is permanent (the caller gave up); a deadline or any network
// failure is retryable.
func transportError(op string, err error) *APIError {
	return &APIError{
		Op: op, Code: CodeTransport, Message: "request failed", Err: err,
		Retryable: !errors.Is(err, context.Canceled),
	}
}

// parseRetryAfter reads a Retry-After header: delta seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
