package simplyprint

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
	// CodeHTTP: a non-2xx HTTP status. Message holds the vendor's message
	// when the body was the usual envelope.
	CodeHTTP = "http_status"
	// CodeStatusFalse: a 2xx response whose envelope says "status": false.
	CodeStatusFalse = "status_false"
	// CodeBadResponse: a 2xx response that is not the vendor's envelope.
	CodeBadResponse = "bad_response"
	// CodeInvalidRequest: the call was refused before anything was sent
	// (bad base URL, missing URL or name, secret too long, ...).
	CodeInvalidRequest = "invalid_request"
)

// APIError is the only error type the client returns. Retryable says
// whether repeating the same call may succeed (5xx, 408, 425, 429,
// transport errors and timeouts, garbled 2xx bodies); everything else, and
// in particular every "status": false answered with a 2xx code, is
// permanent. Retries themselves belong to the caller (Temporal activities).
type APIError struct {
	// Op is the endpoint, e.g. "webhooks/Create".
	Op string
	// Status is the HTTP status code, 0 when no response was received.
	Status int
	// Code is one of the Code* constants.
	Code string
	// Message is the vendor's "message" or a description of the failure.
	Message string
	// Retryable classifies the failure, see the type comment.
	Retryable bool
	// RetryAfter is the vendor's Retry-After hint, 0 when absent.
	RetryAfter time.Duration
	// Err is the underlying transport or decoding error, if any.
	Err error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("simplyprint")
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

// IsRetryable reports whether err is an *APIError classified as retryable.
// Errors of other types report false.
func IsRetryable(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Retryable
}

// retryableStatus classifies an HTTP status code.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
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
