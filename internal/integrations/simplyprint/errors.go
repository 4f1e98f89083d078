package simplyprint

import (
	"net/http"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
)

// Error codes carried in APIError.Code.
const (
	// CodeTransport: no HTTP response (connection refused, reset, timeout).
	CodeTransport = apierr.CodeTransport
	// CodeHTTP: a non-2xx HTTP status. Message holds the vendor's message
	// when the body was the usual envelope.
	CodeHTTP = apierr.CodeHTTP
	// CodeStatusFalse: a 2xx response whose envelope says "status": false.
	CodeStatusFalse = "status_false"
	// CodeBadResponse: a 2xx response that is not the vendor's envelope.
	CodeBadResponse = apierr.CodeBadResponse
	// CodeInvalidRequest: the call was refused before anything was sent
	// (bad base URL, missing URL or name, secret too long, ...).
	CodeInvalidRequest = apierr.CodeInvalidRequest
)

// APIError is the only error type the client returns. Retryable says
// whether repeating the same call may succeed (5xx but 501, 408, 425, 429,
// transport errors and timeouts, garbled 2xx bodies); everything else, and
// in particular every "status": false answered with a 2xx code, is
// permanent. Retries themselves belong to the caller (Temporal activities).
// Op is the endpoint, e.g. "webhooks/Create".
type APIError = apierr.Error

// vendor: SimplyPrint retries 425 Too Early, unlike Okdesk.
var vendor = apierr.Vendor{
	Name:              "simplyprint",
	RetryStatuses:     []int{http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests},
	PermanentStatuses: []int{http.StatusNotImplemented},
}

// IsRetryable reports whether err is an *APIError classified as retryable.
// Errors of other types report false.
func IsRetryable(err error) bool { return vendor.IsRetryable(err) }
