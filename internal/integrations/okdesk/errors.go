package okdesk

import (
	"errors"
	"net/http"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
)

// Error codes carried in APIError.Code.
const (
	// CodeTransport: no HTTP response (connection refused, reset, timeout).
	CodeTransport = apierr.CodeTransport
	// CodeHTTP: a non-2xx HTTP status; Message holds Okdesk's "errors"
	// flattened to text when the body had them.
	CodeHTTP = apierr.CodeHTTP
	// CodeBadResponse: a 2xx response whose body could not be decoded.
	CodeBadResponse = apierr.CodeBadResponse
	// CodeInvalidRequest: refused before anything was sent (bad API URL,
	// empty token, missing required argument).
	CodeInvalidRequest = apierr.CodeInvalidRequest
)

// ErrNotFound is matched (errors.Is) by every 404 APIError and is returned
// as is by FindContactByPhone when no contact has the phone.
var ErrNotFound = errors.New("okdesk: not found")

// APIError is the only error type the client returns (besides ErrNotFound
// from FindContactByPhone). Retryable says whether repeating the same call
// may succeed: 429, 5xx (except 501), 408, transport errors and timeouts.
// Everything else is permanent, in particular 401/403/404/422 (Okdesk does
// not retry 425, unlike SimplyPrint). Op is the method and endpoint, e.g.
// "POST issues/153/comments". Retries belong to the caller (Temporal
// activities). Error strings never contain the api_token.
type APIError = apierr.Error

var vendor = apierr.Vendor{
	Name:              "okdesk",
	RetryStatuses:     []int{http.StatusRequestTimeout, http.StatusTooManyRequests},
	PermanentStatuses: []int{http.StatusNotImplemented},
	NotFound:          ErrNotFound,
}

// IsRetryable reports whether err is an *APIError classified as retryable.
// Errors of other types report false.
func IsRetryable(err error) bool { return vendor.IsRetryable(err) }

// RetryAfter returns the vendor's retry hint carried by err, 0 if none.
func RetryAfter(err error) time.Duration { return vendor.RetryAfterOf(err) }
