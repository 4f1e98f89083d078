package apierr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
)

var (
	errGone = errors.New("test: not found")
	// The three vendors' policies as their packages declare them.
	simplyprint = apierr.Vendor{Name: "simplyprint",
		RetryStatuses:     []int{http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests},
		PermanentStatuses: []int{http.StatusNotImplemented}}
	okdesk = apierr.Vendor{Name: "okdesk",
		RetryStatuses:     []int{http.StatusRequestTimeout, http.StatusTooManyRequests},
		PermanentStatuses: []int{http.StatusNotImplemented}, NotFound: errGone}
)

func TestRetryableStatus(t *testing.T) {
	for _, tt := range []struct {
		status          int
		simplyprint, ok bool
	}{
		{200, false, false}, {400, false, false}, {401, false, false}, {403, false, false},
		{404, false, false}, {408, true, true}, {409, false, false}, {422, false, false},
		{425, true, false}, // SimplyPrint retries Too Early, Okdesk does not
		{429, true, true}, {500, true, true}, {501, false, false}, {502, true, true},
		{503, true, true}, {504, true, true}, {599, true, true},
	} {
		if got := simplyprint.RetryableStatus(tt.status); got != tt.simplyprint {
			t.Errorf("simplyprint %d: retryable = %v", tt.status, got)
		}
		if got := okdesk.RetryableStatus(tt.status); got != tt.ok {
			t.Errorf("okdesk %d: retryable = %v", tt.status, got)
		}
	}
	if !(apierr.Vendor{}).RetryableStatus(501) || (apierr.Vendor{}).RetryableStatus(429) {
		t.Error("a vendor without lists retries every 5xx and nothing else")
	}
}

func TestMessageFormat(t *testing.T) {
	for _, tt := range []struct {
		err  *apierr.Error
		want string
	}{
		{&apierr.Error{Vendor: "simplyprint", Op: "webhooks/Create", Status: 502, Code: apierr.CodeHTTP, Message: "Bad Gateway", Retryable: true, RetryAfter: 3 * time.Second},
			"simplyprint webhooks/Create: HTTP 502: http_status: Bad Gateway (retryable, retry after 3s)"},
		{&apierr.Error{Vendor: "okdesk", Op: "POST issues/1/comments", Status: 422, Code: apierr.CodeHTTP, Message: "author_id: required"},
			"okdesk POST issues/1/comments: HTTP 422: http_status: author_id: required (permanent)"},
		{okdesk.Transport("GET issues/1", errors.New("connection refused")),
			"okdesk GET issues/1: transport: request failed: connection refused (retryable)"},
		{&apierr.Error{Vendor: "bitrix", Code: apierr.CodeBadResponse, Retryable: true},
			"bitrix: bad_response (retryable)"},
		{okdesk.Invalid("GET issues/0", "issue id must be positive, got %d", 0),
			"okdesk GET issues/0: invalid_request: issue id must be positive, got 0 (permanent)"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant      %q", got, tt.want)
		}
	}
}

func TestStatusAndSentinel(t *testing.T) {
	e := okdesk.Status("GET issues/9", 404, "Not found", 0)
	if e.Code != apierr.CodeHTTP || e.Retryable || !errors.Is(e, errGone) {
		t.Fatalf("404: %+v, errors.Is(sentinel) = %v", e, errors.Is(e, errGone))
	}
	wrapped := fmt.Errorf("find: %w", e)
	if !errors.Is(wrapped, errGone) {
		t.Error("the sentinel is lost through wrapping")
	}
	if e := okdesk.Status("GET issues/9", 410, "Gone", 0); errors.Is(e, errGone) {
		t.Error("410 matches the 404 sentinel")
	}
	if e := simplyprint.Status("x", 404, "", 0); errors.Is(e, errGone) || e.NotFound != nil {
		t.Error("a vendor without a sentinel matches one")
	}
	e = okdesk.Status("GET issues", 429, "slow down", 2*time.Second)
	if !e.Retryable || e.RetryAfter != 2*time.Second {
		t.Errorf("429: %+v", e)
	}
}

func TestIsRetryableAndAsThroughWrapping(t *testing.T) {
	base := errors.New("reset by peer")
	e := okdesk.Transport("GET x", base)
	wrapped := fmt.Errorf("activity: %w", fmt.Errorf("call: %w", e))
	if !apierr.IsRetryable(wrapped) {
		t.Error("IsRetryable through wrapping")
	}
	var ae *apierr.Error
	if !errors.As(wrapped, &ae) || ae != e {
		t.Error("errors.As through wrapping")
	}
	if !errors.Is(wrapped, base) {
		t.Error("Unwrap reaches the transport error")
	}
	if c, ok := apierr.As(wrapped); !ok || c != apierr.Classified(e) {
		t.Error("apierr.As through wrapping")
	}
	if apierr.IsRetryable(base) || apierr.RetryAfterOf(base) != 0 || apierr.IsRetryable(nil) {
		t.Error("a plain error is classified")
	}
	if _, ok := apierr.As(base); ok {
		t.Error("apierr.As on a plain error")
	}
	if d := apierr.RetryAfterOf(fmt.Errorf("w: %w", &apierr.Error{Retryable: true, RetryAfter: time.Minute})); d != time.Minute {
		t.Errorf("RetryAfterOf = %v", d)
	}
	// A cancelled context is permanent, a deadline retryable.
	if okdesk.Transport("x", fmt.Errorf("do: %w", context.Canceled)).Retryable {
		t.Error("context.Canceled is retryable")
	}
	if !okdesk.Transport("x", context.DeadlineExceeded).Retryable {
		t.Error("context.DeadlineExceeded is permanent")
	}
}

// other is a vendor type that does not fit Error (as telegram.APIError).
type other struct{ after time.Duration }

func (o *other) Error() string                    { return "other" }
func (o *other) RetryInfo() (bool, time.Duration) { return o.after > 0, o.after }

func TestClassifiedVendorType(t *testing.T) {
	err := fmt.Errorf("w: %w", &other{after: 5 * time.Second})
	if !apierr.IsRetryable(err) || apierr.RetryAfterOf(err) != 5*time.Second {
		t.Error("a Classified vendor type is not read")
	}
	if apierr.IsRetryable(&other{}) {
		t.Error("permanent vendor type reads retryable")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 7 ", 7 * time.Second, true},
		{"0", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0, true}, // past date
		{"Sunday, 06-Nov-94 08:49:37 GMT", 0, true},
		{"Tuesday, 01-Dec-26 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Tue Dec  1 12:00:10 2026", 10 * time.Second, true},   // asctime
		{"99999999999999999999", time.Duration(1<<63-1) / time.Second * time.Second, true},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
		{"   ", 0, false},
	} {
		d, ok := apierr.ParseRetryAfter(tt.v, now)
		if d != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.v, d, ok, tt.want, tt.ok)
		}
	}
	h := http.Header{}
	if apierr.RetryAfter(h, now) != 0 {
		t.Error("no header: not 0")
	}
	h.Set("Retry-After", "3")
	if apierr.RetryAfter(h, now) != 3*time.Second {
		t.Error("header 3: not 3s")
	}
	h.Set("Retry-After", "garbage")
	if apierr.RetryAfter(h, now) != 0 {
		t.Error("garbage: not 0")
	}
}

func TestScrub(t *testing.T) {
	redact := func(s string) string { return strings.ReplaceAll(s, "s3cret", "***") }
	if apierr.Scrub(nil, redact) != nil {
		t.Error("Scrub(nil) != nil")
	}
	clean := errors.New("no secret here")
	if apierr.Scrub(clean, redact) != clean {
		t.Error("a clean error is rewrapped")
	}
	err := fmt.Errorf("GET https://x/?token=s3cret: %w", context.DeadlineExceeded)
	s := apierr.Scrub(err, redact)
	if strings.Contains(s.Error(), "s3cret") || !strings.Contains(s.Error(), "token=***") {
		t.Errorf("scrubbed text %q", s)
	}
	if !errors.Is(s, context.DeadlineExceeded) {
		t.Error("the chain is lost")
	}
	e := okdesk.Transport("GET x", s)
	if strings.Contains(e.Error(), "s3cret") || !e.Retryable {
		t.Errorf("transport error %q", e)
	}
}

func TestVendorOf(t *testing.T) {
	mine := fmt.Errorf("w: %w", okdesk.Status("GET x", 503, "", 4*time.Second))
	theirs := simplyprint.Status("x", 503, "", 4*time.Second)
	if !okdesk.IsRetryable(mine) || okdesk.RetryAfterOf(mine) != 4*time.Second {
		t.Error("the vendor's own error is not read")
	}
	if okdesk.IsRetryable(theirs) || okdesk.RetryAfterOf(theirs) != 0 {
		t.Error("another vendor's error is read as okdesk's")
	}
	if !apierr.IsRetryable(theirs) {
		t.Error("apierr.IsRetryable reads every vendor")
	}
	if _, ok := okdesk.Of(errors.New("plain")); ok {
		t.Error("Of on a plain error")
	}
}
