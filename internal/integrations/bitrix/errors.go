package bitrix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Codes in APIError.Code for failures that carry no Bitrix error code.
const (
	// CodeTransport: no HTTP response (connection refused, reset, timeout).
	CodeTransport = "transport"
	// CodeHTTP: a non-2xx status whose body is not a Bitrix error.
	CodeHTTP = "http_status"
	// CodeBadResponse: a 2xx answer that is not the expected JSON shape.
	CodeBadResponse = "bad_response"
	// CodeInvalidRequest: refused before anything was sent (bad argument).
	CodeInvalidRequest = "invalid_request"
)

// Bitrix24 REST error codes the classification knows (APIError.Code carries
// the vendor's "error" verbatim; numeric codes such as 200540400001 as
// their decimal text).
const (
	CodeQueryLimitExceeded  = "QUERY_LIMIT_EXCEEDED"  // 503: request rate limit
	CodeOperationTimeLimit  = "OPERATION_TIME_LIMIT"  // 429: method time budget used up
	CodeInternalServerError = "INTERNAL_SERVER_ERROR" // 500
	CodeUnexpectedAnswer    = "ERROR_UNEXPECTED_ANSWER"
	CodeInvalidCredentials  = "INVALID_CREDENTIALS" // 401/403
	CodeNoAuthFound         = "NO_AUTH_FOUND"       // 401
	CodeMethodNotFound      = "ERROR_METHOD_NOT_FOUND"
	CodePortalDeleted       = "PORTAL_DELETED" // 500, but permanent
	// CodeOrderNotFound is sale.order.get/update's "order does not exist"
	// (also 201240400001 in Bitrix's docs, matched by ErrNotFound too).
	CodeOrderNotFound = "200540400001"
)

// ErrNotFound is matched (errors.Is) by an APIError saying the order does
// not exist.
var ErrNotFound = errors.New("bitrix: not found")

var notFoundCodes = map[string]bool{
	CodeOrderNotFound: true, "201240400001": true, "order_not_found": true,
}

// APIError is the error type of every client call. Retryable says whether
// repeating the same call may succeed: 5xx (except 501 and PORTAL_DELETED),
// 408, 425, 429, QUERY_LIMIT_EXCEEDED and OPERATION_TIME_LIMIT whatever the
// status, transport errors and timeouts, and garbled 2xx bodies. Everything
// else (most 4xx) is permanent. Retries belong to the caller (Temporal
// activities). Messages never contain the webhook code or the token.
type APIError struct {
	// Op is the REST method ("sale.order.get") or the site endpoint
	// ("hookflow_order_update.php").
	Op string
	// Status is the HTTP status, 0 when no response was received.
	Status int
	// Code is the vendor's error code or one of the Code* constants.
	Code string
	// Message is the vendor's error_description / error text, or a
	// description of the failure.
	Message string
	// Retryable classifies the failure, see the type comment.
	Retryable bool
	// RetryAfter is the Retry-After hint of the response, 0 when absent.
	RetryAfter time.Duration
	// Err is the underlying transport or decoding error, secrets scrubbed.
	Err error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("bitrix")
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

// Is makes errors.Is(err, ErrNotFound) true for Bitrix's order-not-found
// codes and the back-sync endpoint's "order_not_found" (not for any 404: a
// bare 404 usually means a wrong URL).
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && notFoundCodes[e.Code]
}

// IsRetryable reports whether err is an *APIError classified as retryable.
func IsRetryable(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Retryable
}

// RetryAfter returns the retry hint carried by err, 0 if none.
func RetryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}

// retryable classifies an answer by HTTP status and vendor code.
func retryable(status int, code string) bool {
	switch code {
	case CodeQueryLimitExceeded, CodeOperationTimeLimit, CodeInternalServerError, CodeUnexpectedAnswer:
		return true
	case CodePortalDeleted:
		return false
	}
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented:
		return false
	}
	return status >= 500
}

// transportError classifies an error of http.Client.Do. A cancelled context
// is permanent (the caller gave up); deadlines and network failures are
// retryable.
func transportError(op string, err error) *APIError {
	return &APIError{
		Op: op, Code: CodeTransport, Message: "request failed", Err: err,
		Retryable: !errors.Is(err, context.Canceled),
	}
}

func invalidRequest(op, format string, args ...any) *APIError {
	return &APIError{Op: op, Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
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

// redactURLError rebuilds the *url.Error of http.Client.Do with the secret
// masked in its URL, so neither its text nor errors.As exposes it.
func redactURLError(err error, secrets ...string) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return scrub(err, secrets...)
	}
	return &url.Error{Op: ue.Op, URL: scrubString(ue.URL, secrets...), Err: scrub(ue.Err, secrets...)}
}

// scrubbed is an error whose text has secrets replaced; it unwraps to the
// original so errors.Is(err, context.DeadlineExceeded) still works.
type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

// scrub replaces every secret in err's text with "***".
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := scrubString(err.Error(), secrets...)
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

func scrubString(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// snippet is the start of a non-JSON body for error messages.
func snippet(body []byte, secrets ...string) string {
	s := strings.TrimSpace(string(body))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return scrubString(s, secrets...)
}
