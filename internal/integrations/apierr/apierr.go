// Package apierr is the error type shared by the third-party API clients
// (SimplyPrint, Okdesk, Bitrix24, Telegram): one shape for "what failed,
// may it be retried, and when", Retry-After parsing, and the status
// classification with each vendor's retryable statuses as data. Checks
// that only one vendor makes (Telegram's "bot was blocked", Bitrix's
// order-not-found codes) stay in the vendor's package.
package apierr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Codes carried in Error.Code for failures that have no vendor code.
const (
	// CodeTransport: no HTTP response (connection refused, reset, timeout).
	CodeTransport = "transport"
	// CodeHTTP: a non-2xx HTTP status; Message holds the vendor's text when
	// the body had it.
	CodeHTTP = "http_status"
	// CodeBadResponse: a response that is not the vendor's expected shape.
	CodeBadResponse = "bad_response"
	// CodeInvalidRequest: refused before anything was sent (bad base URL,
	// empty token, missing argument, ...).
	CodeInvalidRequest = "invalid_request"
)

// Error is the error of a third-party API call. Retryable says whether
// repeating the same call may succeed; retries themselves belong to the
// caller (Temporal activities). Whoever builds an Error scrubs secrets out
// of Message and Err first: Error() prints them as they are.
type Error struct {
	// Vendor names the API in messages: "okdesk", "bitrix", ...
	Vendor string
	// Op is the endpoint or method, e.g. "POST issues/153/comments".
	Op string
	// Status is the HTTP status, 0 when no response was received.
	Status int
	// Code is the vendor's error code or one of the Code* constants.
	Code string
	// Message is the vendor's error text or a description of the failure.
	Message string
	// Retryable classifies the failure.
	Retryable bool
	// RetryAfter is the vendor's retry hint, 0 when absent.
	RetryAfter time.Duration
	// Err is the underlying transport or decoding error, if any.
	Err error
	// NotFound, when set, is a sentinel errors.Is matches on this error
	// (okdesk.ErrNotFound on a 404, bitrix.ErrNotFound on its codes).
	NotFound error
}

// Error renders "<vendor> <op>: HTTP <status>: <code>: <message>: <err>
// (retryable, retry after <d>)", leaving out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Vendor)
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
	b.WriteString(Suffix(e.Retryable, e.RetryAfter))
	return b.String()
}

// Suffix is the " (retryable, retry after 3s)" / " (permanent)" ending of
// every vendor error message.
func Suffix(retryable bool, retryAfter time.Duration) string {
	switch {
	case !retryable:
		return " (permanent)"
	case retryAfter > 0:
		return " (retryable, retry after " + retryAfter.String() + ")"
	}
	return " (retryable)"
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the NotFound sentinel, when the error has one.
func (e *Error) Is(target error) bool {
	return e.NotFound != nil && target == e.NotFound
}

// RetryInfo implements Classified.
func (e *Error) RetryInfo() (retryable bool, retryAfter time.Duration) {
	return e.Retryable, e.RetryAfter
}

// Classified is an error that knows whether a retry may succeed and when:
// *Error and the vendor types that do not fit it (telegram.APIError).
type Classified interface {
	error
	RetryInfo() (retryable bool, retryAfter time.Duration)
}

// As finds the first Classified error in err's chain.
func As(err error) (Classified, bool) {
	var c Classified
	if errors.As(err, &c) {
		return c, true
	}
	return nil, false
}

// IsRetryable reports whether err carries a Classified error that says it
// is retryable. Errors of other types report false.
func IsRetryable(err error) bool {
	c, ok := As(err)
	if !ok {
		return false
	}
	r, _ := c.RetryInfo()
	return r
}

// RetryAfterOf returns the retry hint carried by err, 0 if none.
func RetryAfterOf(err error) time.Duration {
	c, ok := As(err)
	if !ok {
		return 0
	}
	_, d := c.RetryInfo()
	return d
}

// TransportRetryable classifies an error of http.Client.Do: a cancelled
// context is permanent (the caller gave up); a deadline or any network
// failure is retryable.
func TransportRetryable(err error) bool {
	return !errors.Is(err, context.Canceled)
}

// Vendor is what the shared code needs to know about one API.
type Vendor struct {
	// Name starts every message.
	Name string
	// RetryStatuses are the statuses below 500 worth another try (408,
	// 429, and 425 for some vendors).
	RetryStatuses []int
	// PermanentStatuses are the 5xx statuses not worth another try (501).
	PermanentStatuses []int
	// NotFound, when set, is matched by errors.Is on every 404 this
	// Vendor's Status builds.
	NotFound error
}

// RetryableStatus classifies an HTTP status: the vendor's RetryStatuses
// and every 5xx but its PermanentStatuses.
func (v Vendor) RetryableStatus(status int) bool {
	if slices.Contains(v.RetryStatuses, status) {
		return true
	}
	return status >= 500 && !slices.Contains(v.PermanentStatuses, status)
}

// Of returns the first *Error in err's chain if it is this vendor's.
func (v Vendor) Of(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) && e.Vendor == v.Name {
		return e, true
	}
	return nil, false
}

// IsRetryable reports whether err carries this vendor's *Error classified
// as retryable; other errors, other vendors' too, report false.
func (v Vendor) IsRetryable(err error) bool {
	e, ok := v.Of(err)
	return ok && e.Retryable
}

// RetryAfterOf returns the retry hint of this vendor's *Error in err's
// chain, 0 if none.
func (v Vendor) RetryAfterOf(err error) time.Duration {
	if e, ok := v.Of(err); ok {
		return e.RetryAfter
	}
	return 0
}

// Transport is the error of an http.Client.Do (or body read) failure.
func (v Vendor) Transport(op string, err error) *Error {
	return &Error{
		Vendor: v.Name, Op: op, Code: CodeTransport, Message: "request failed", Err: err,
		Retryable: TransportRetryable(err),
	}
}

// Status is the error of a non-2xx answer: Code CodeHTTP, Retryable by
// RetryableStatus, and the NotFound sentinel on a 404.
func (v Vendor) Status(op string, status int, message string, retryAfter time.Duration) *Error {
	e := &Error{
		Vendor: v.Name, Op: op, Status: status, Code: CodeHTTP, Message: message,
		Retryable: v.RetryableStatus(status), RetryAfter: retryAfter,
	}
	if status == http.StatusNotFound {
		e.NotFound = v.NotFound
	}
	return e
}

// Invalid is the error of a call refused before anything was sent.
func (v Vendor) Invalid(op, format string, args ...any) *Error {
	return &Error{Vendor: v.Name, Op: op, Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// ParseRetryAfter reads a Retry-After value (RFC 9110): delay-seconds,
// capped where a Duration ends, or an HTTP date relative to now (a date in
// the past means 0). ok is false when v is empty or malformed ("+5",
// "-1", "1.5", "soon").
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		const maxSeconds = uint64(1<<63-1) / uint64(time.Second)
		if n > maxSeconds {
			n = maxSeconds
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// RetryAfter is ParseRetryAfter for a response: the hint, 0 when absent or
// malformed.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	d, _ := ParseRetryAfter(h.Get("Retry-After"), now)
	return d
}

// Scrub returns err with its text passed through redact (which masks the
// secrets); the result unwraps to err, so errors.Is(err,
// context.DeadlineExceeded) still holds. err itself when nothing changed.
func Scrub(err error, redact func(string) string) error {
	if err == nil {
		return nil
	}
	msg := redact(err.Error())
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }
