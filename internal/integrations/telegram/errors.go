package telegram

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-telegram/bot"
	"github.com/hookflow/hookflow/internal/integrations/apierr"
)

// APIError is the only error type the client's calls return. Retryable
// says whether repeating the same call may succeed: 429 (RetryAfter carries
// parameters.retry_after), 5xx, transport errors and timeouts. Everything
// else is permanent: 400 (bad request, message not found, ...), 401 (bad
// token), 403 (blocked, see Blocked), 404, 409. A cancelled context is
// permanent too (the caller gave up). Error strings never contain the bot
// token.
//
// It is not apierr.Error: the Bot API's numeric error_code, the method and
// MigrateToChatID have no place there, and its text ("telegram
// sendMessage: error 403: Forbidden: ...") is another format. It shares
// the rest: apierr.Classified (RetryInfo), the message suffix, transport
// classification and scrubbing.
type APIError struct {
	// Method is the Bot API method, e.g. "sendMessage".
	Method string
	// Status is the HTTP status, 0 when no response was received.
	Status int
	// Code is the Bot API error_code (equal to Status on real answers), 0
	// when the answer had none.
	Code int
	// Message is the Bot API description ("Forbidden: bot was blocked by
	// the user") or a description of the failure.
	Message string
	// Retryable classifies the failure, see the type comment.
	Retryable bool
	// RetryAfter is parameters.retry_after of a 429, 0 when absent.
	RetryAfter time.Duration
	// MigrateToChatID is set when a group was upgraded to a supergroup.
	MigrateToChatID int64
	// Err is the underlying library or transport error, token scrubbed.
	Err error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("telegram")
	if e.Method != "" {
		b.WriteString(" " + e.Method)
	}
	switch {
	case e.Code != 0:
		fmt.Fprintf(&b, ": error %d", e.Code)
	case e.Status != 0:
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil && (e.Message == "" || e.Code == 0) {
		b.WriteString(": " + e.Err.Error())
	}
	b.WriteString(apierr.Suffix(e.Retryable, e.RetryAfter))
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// RetryInfo implements apierr.Classified, so apierr.IsRetryable,
// apierr.RetryAfterOf and the activities' error mapping read Telegram's
// errors as they read the other vendors'.
func (e *APIError) RetryInfo() (retryable bool, retryAfter time.Duration) {
	return e.Retryable, e.RetryAfter
}

// Blocked reports a 403: the bot cannot write to this chat any more ("bot
// was blocked by the user", "user is deactivated", "bot was kicked", "bot
// can't initiate conversation with a user"). Stop messaging the chat.
func (e *APIError) Blocked() bool {
	return e.Code == http.StatusForbidden || e.Status == http.StatusForbidden
}

// IsBlocked reports whether err is a 403 APIError, see APIError.Blocked.
func IsBlocked(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Blocked()
}

// IsRetryable reports whether err is an *APIError classified as retryable.
// Errors of other types report false.
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

// IsCallbackQueryExpired reports the 400 Telegram gives when a callback
// query is answered too late (or twice): harmless, the user just saw the
// spinner stop.
func IsCallbackQueryExpired(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == http.StatusBadRequest &&
		(strings.Contains(ae.Message, "query is too old") || strings.Contains(ae.Message, "QUERY_ID_INVALID"))
}

func isNotModified(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == http.StatusBadRequest &&
		strings.Contains(ae.Message, "message is not modified")
}

// callRecord is what the recording HTTP client saw of one call: the
// library reports errors as strings and drops the HTTP status, so the
// client keeps both to classify precisely.
type callRecord struct {
	status int
	body   []byte // only for non-2xx answers
}

type apiEnvelope struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// classify turns a library error into an *APIError.
func (c *Client) classify(method string, err error, rec *callRecord) *APIError {
	ae := &APIError{Method: method, Status: rec.status, Err: c.scrubErr(err)}

	var env apiEnvelope
	if len(rec.body) > 0 && json.Unmarshal(rec.body, &env) == nil && !env.OK && env.ErrorCode != 0 {
		ae.Code = env.ErrorCode
		ae.Message = c.scrub(env.Description)
		ae.RetryAfter = time.Duration(env.Parameters.RetryAfter) * time.Second
		ae.MigrateToChatID = env.Parameters.MigrateToChatID
	}
	// The library's typed errors, for answers the body did not explain.
	var tmr *bot.TooManyRequestsError
	var me *bot.MigrateError
	switch {
	case ae.Code != 0:
	case errors.As(err, &tmr):
		ae.Code, ae.RetryAfter = http.StatusTooManyRequests, time.Duration(tmr.RetryAfter)*time.Second
	case errors.As(err, &me):
		ae.Code, ae.MigrateToChatID = http.StatusBadRequest, int64(me.MigrateToChatID)
	case errors.Is(err, bot.ErrorForbidden):
		ae.Code = http.StatusForbidden
	case errors.Is(err, bot.ErrorBadRequest):
		ae.Code = http.StatusBadRequest
	case errors.Is(err, bot.ErrorUnauthorized):
		ae.Code = http.StatusUnauthorized
	case errors.Is(err, bot.ErrorNotFound):
		ae.Code = http.StatusNotFound
	case errors.Is(err, bot.ErrorConflict):
		ae.Code = http.StatusConflict
	}
	if ae.Code != 0 && ae.Message == "" {
		ae.Message = c.scrub(err.Error())
	}

	effective := ae.Code
	if effective == 0 {
		effective = ae.Status
	}
	switch {
	case effective == 0:
		// No answer: connection refused, reset, timeout. The caller's own
		// cancellation is permanent.
		ae.Message = "request failed"
		ae.Retryable = apierr.TransportRetryable(err)
	case effective == http.StatusTooManyRequests || effective >= 500:
		ae.Retryable = true
	case effective >= 200 && effective < 300:
		// Telegram answered OK but the result did not decode: the call
		// (a send) happened, so repeating it would duplicate it.
		ae.Message = "undecodable response"
	}
	return ae
}

// scrubErr hides the token in a wrapped error's text while keeping the
// chain for errors.Is (context.DeadlineExceeded, ...).
func (c *Client) scrubErr(err error) error { return apierr.Scrub(err, c.scrub) }

func (c *Client) scrub(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "<token>")
}
