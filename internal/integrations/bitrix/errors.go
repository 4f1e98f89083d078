package bitrix

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
)

// Codes in APIError.Code for failures that carry no Bitrix error code.
const (
	// CodeTransport: no HTTP response (connection refused, reset, timeout).
	CodeTransport = apierr.CodeTransport
	// CodeHTTP: a non-2xx status whose body is not a Bitrix error.
	CodeHTTP = apierr.CodeHTTP
	// CodeBadResponse: a 2xx answer that is not the expected JSON shape.
	CodeBadResponse = apierr.CodeBadResponse
	// CodeInvalidRequest: refused before anything was sent (bad argument).
	CodeInvalidRequest = apierr.CodeInvalidRequest
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
// else (most 4xx) is permanent. Op is the REST method ("sale.order.get") or
// the site endpoint ("hookflow_order_update.php"); Code the vendor's error
// code or one of the Code* constants. Retries belong to the caller
// (Temporal activities). Messages never contain the webhook code or the
// token. An APIError whose Code says the order does not exist matches
// ErrNotFound (not any 404: a bare 404 usually means a wrong URL).
type APIError = apierr.Error

var vendor = apierr.Vendor{
	Name:              "bitrix",
	RetryStatuses:     []int{http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests},
	PermanentStatuses: []int{http.StatusNotImplemented},
}

// answerError is the error of an answer carrying Bitrix error code code
// (or CodeHTTP): the NotFound sentinel set for the order-not-found codes.
func answerError(op string, status int, code, message string, retryable bool, retryAfter time.Duration) *APIError {
	e := &APIError{
		Vendor: vendor.Name, Op: op, Status: status, Code: code, Message: message,
		Retryable: retryable, RetryAfter: retryAfter,
	}
	if notFoundCodes[code] {
		e.NotFound = ErrNotFound
	}
	return e
}

// IsRetryable reports whether err is an *APIError classified as retryable.
func IsRetryable(err error) bool { return vendor.IsRetryable(err) }

// RetryAfter returns the retry hint carried by err, 0 if none.
func RetryAfter(err error) time.Duration { return vendor.RetryAfterOf(err) }

// retryable classifies an answer by HTTP status and vendor code.
func retryable(status int, code string) bool {
	switch code {
	case CodeQueryLimitExceeded, CodeOperationTimeLimit, CodeInternalServerError, CodeUnexpectedAnswer:
		return true
	case CodePortalDeleted:
		return false
	}
	return vendor.RetryableStatus(status)
}

// InvalidRequest is the error of a call refused before anything was sent.
func InvalidRequest(op, format string, args ...any) *APIError {
	return vendor.Invalid(op, format, args...)
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

// scrub replaces every secret in err's text with "***"; the result
// unwraps to err.
func scrub(err error, secrets ...string) error {
	return apierr.Scrub(err, func(s string) string { return scrubString(s, secrets...) })
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
