package callback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
	"github.com/hookflow/hookflow/internal/netguard"
)

// DefaultTimeout bounds one attempt, response included (the seed: 30 s).
const DefaultTimeout = 30 * time.Second

// SnippetLimit is how much of a receiver's response an Attempt keeps.
const SnippetLimit = 1024

// DefaultUserAgent is sent when Request.UserAgent is empty.
const DefaultUserAgent = "hookflow/dev"

// UserAgent returns "hookflow/<version>".
func UserAgent(version string) string { return "hookflow/" + version }

// Outcome says what a delivery attempt means for the next one.
type Outcome string

const (
	// OutcomeDelivered: the receiver answered 2xx; done.
	OutcomeDelivered Outcome = "delivered"
	// OutcomeRetryable: 408, 429, 5xx, timeout or connection error; try again
	// after Schedule.NextDelay.
	OutcomeRetryable Outcome = "retryable"
	// OutcomePermanent: any other 4xx (and 3xx: redirects are not followed),
	// a refused destination or a malformed request; retrying cannot help.
	OutcomePermanent Outcome = "permanent"
	// OutcomeGone: 410 Gone; per Standard Webhooks the endpoint should be
	// disabled, not just this delivery dropped.
	OutcomeGone Outcome = "gone"
)

// Final reports whether no further attempt should follow.
func (o Outcome) Final() bool { return o != OutcomeRetryable }

// Request is one callback attempt.
type Request struct {
	URL  string
	Body []byte // the exact bytes to send and sign (Payload.Marshal), identical on every retry
	// Secret is the shared secret for X-Signature; it also signs
	// webhook-signature unless StandardSecret is set (see StandardKey).
	Secret         string
	StandardSecret string // optional separate Standard Webhooks secret ("whsec_...")
	// PreviousSecret, during a secret rotation's overlap, is the secret being
	// replaced: webhook-signature then carries a second signature made with
	// it, after the current one, so receivers verify with either secret
	// (Standard Webhooks). X-Signature never uses it.
	PreviousSecret string
	WebhookID      string    // webhook-id: the same on every retry of one callback
	Timestamp      time.Time // webhook-timestamp; zero means now. Set it per attempt: receivers allow ±5 min
	UserAgent      string    // "hookflow/<version>" (UserAgent); empty means DefaultUserAgent
	Timeout        time.Duration
}

// Attempt is what one delivery attempt did. It is plain data (durations in
// nanoseconds when JSON-encoded) so it can be an activity result and a row.
type Attempt struct {
	StatusCode      int           `json:"status_code,omitempty"` // 0 when no response arrived
	Latency         time.Duration `json:"latency"`
	Err             string        `json:"error,omitempty"` // why it was not delivered; no URL, no secrets
	ResponseSnippet string        `json:"response_snippet,omitempty"`
	Outcome         Outcome       `json:"outcome"`
	RetryAfter      time.Duration `json:"retry_after,omitempty"` // from Retry-After of a retryable answer
}

// Deliver makes ONE attempt: POST req.Body to req.URL with both signatures,
// waiting at most req.Timeout (DefaultTimeout when zero), and classifies the
// result. Pass a client from netguard (no redirects, connect-time SSRF check);
// Deliver never follows redirects itself either way.
func Deliver(ctx context.Context, client *http.Client, req Request) Attempt {
	if a, bad := checkRequest(req); bad {
		return a
	}
	if client == nil {
		client = http.DefaultClient
	}
	if client.CheckRedirect == nil {
		c := *client
		c.CheckRedirect = netguard.NoRedirect
		client = &c
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ts := req.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	ua := req.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	stdSecret := req.StandardSecret
	if stdSecret == "" {
		stdSecret = req.Secret
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return Attempt{Outcome: OutcomePermanent, Err: "invalid callback request: " + describeErr(err, timeout)}
	}
	h := hreq.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", ua)
	h.Set(HeaderSignature, Sign(req.Secret, req.Body))
	h[HeaderWebhookID] = []string{req.WebhookID} // lower-case as the spec writes them
	h[HeaderWebhookTimestamp] = []string{strconv.FormatInt(ts.Unix(), 10)}
	sig := SignStandard(stdSecret, req.WebhookID, ts, req.Body)
	if req.PreviousSecret != "" {
		sig += " " + SignStandard(req.PreviousSecret, req.WebhookID, ts, req.Body)
	}
	h[HeaderWebhookSignature] = []string{sig}

	start := time.Now()
	resp, err := client.Do(hreq)
	if err != nil {
		return Attempt{Latency: time.Since(start), Outcome: classifyErr(err), Err: describeErr(err, timeout)}
	}
	snippet, readErr := readSnippet(resp.Body)
	resp.Body.Close()
	a := Attempt{
		StatusCode:      resp.StatusCode,
		Latency:         time.Since(start),
		ResponseSnippet: snippet,
		Outcome:         ClassifyStatus(resp.StatusCode),
	}
	switch a.Outcome {
	case OutcomeDelivered:
		// The receiver said 2xx; a body cut short by our timeout does not undo that.
		return a
	case OutcomeRetryable:
		if d, ok := apierr.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			a.RetryAfter = d
		}
	}
	a.Err = "receiver answered " + strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	if a.StatusCode >= 300 && a.StatusCode < 400 {
		a.Err += " (redirects are not followed; point webhook_url at the final address)"
	}
	if readErr != nil {
		a.Err += "; reading response: " + describeErr(readErr, timeout)
	}
	return a
}

func checkRequest(req Request) (Attempt, bool) {
	var missing []string
	if req.URL == "" {
		missing = append(missing, "URL")
	}
	if req.Secret == "" {
		missing = append(missing, "Secret")
	}
	if req.WebhookID == "" {
		missing = append(missing, "WebhookID")
	}
	if len(missing) > 0 {
		return Attempt{Outcome: OutcomePermanent, Err: "invalid callback request: empty " + strings.Join(missing, ", ")}, true
	}
	return Attempt{}, false
}

// ClassifyStatus maps a response status to an outcome: 2xx delivered; 410
// gone; 408 and 429 retryable; other 4xx and 3xx permanent; everything else
// (5xx, odd codes) retryable.
func ClassifyStatus(status int) Outcome {
	switch {
	case status >= 200 && status < 300:
		return OutcomeDelivered
	case status == http.StatusGone:
		return OutcomeGone
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return OutcomeRetryable
	case status >= 300 && status < 500:
		return OutcomePermanent
	default:
		return OutcomeRetryable
	}
}

// classifyErr: a destination netguard refuses or a URL the transport cannot
// use stays wrong on retry; timeouts, refused connections, resets, DNS and TLS
// failures may heal.
func classifyErr(err error) Outcome {
	if errors.Is(err, netguard.ErrBlocked) {
		return OutcomePermanent
	}
	var uerr *url.Error
	if errors.As(err, &uerr) && strings.Contains(uerr.Err.Error(), "unsupported protocol scheme") {
		return OutcomePermanent
	}
	return OutcomeRetryable
}

// describeErr renders a transport error without the URL (its query may carry
// the receiver's token).
func describeErr(err error, timeout time.Duration) string {
	var nerr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()) {
		return fmt.Sprintf("timeout: no complete answer within %s", timeout)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Op + ": " + uerr.Err.Error()
	}
	return err.Error()
}

// readSnippet keeps the first SnippetLimit bytes and drains (a bounded amount
// of) the rest so the connection can be reused. The snippet is valid UTF-8
// without NULs so it can go into Postgres text and JSON as is.
func readSnippet(r io.Reader) (string, error) {
	buf, err := io.ReadAll(io.LimitReader(r, SnippetLimit))
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	}
	s := string(buf)
	if len(buf) == SnippetLimit {
		// A rune cut by the limit is not the receiver's fault: drop it.
		for i := len(s) - 1; i >= 0 && i >= len(s)-utf8.UTFMax; i-- {
			if utf8.RuneStart(s[i]) {
				if !utf8.FullRuneInString(s[i:]) {
					s = s[:i]
				}
				break
			}
		}
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD"), err
}
