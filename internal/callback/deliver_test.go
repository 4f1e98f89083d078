package callback_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/internal/callback"
	"github.com/hookflow/hookflow/internal/callback/callbacktest"
	"github.com/hookflow/hookflow/internal/netguard"
)

const secret = "your-shared-secret-key"

func body(t *testing.T, webhookURL string) []byte {
	t.Helper()
	b, err := callback.NewPayload("365a09ce-5416-49b5-8471-d6aad042761c", time.Now(), 3, 2, 1, webhookURL).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func request(t *testing.T, rcv *callbacktest.Receiver) callback.Request {
	return callback.Request{
		URL:       rcv.URL(),
		Body:      body(t, rcv.URL()),
		Secret:    secret,
		WebhookID: "msg_callback-42",
		UserAgent: callback.UserAgent("1.2.3"),
	}
}

func TestDeliverSendsBothSignatures(t *testing.T) {
	rcv := callbacktest.New(secret)
	defer rcv.Close()
	req := request(t, rcv)

	a := callback.Deliver(context.Background(), rcv.Client(), req)
	if a.Outcome != callback.OutcomeDelivered || a.StatusCode != 200 || a.Err != "" {
		t.Fatalf("Deliver = %+v, want delivered 200", a)
	}
	if a.ResponseSnippet != `{"success":true}` {
		t.Errorf("ResponseSnippet = %q", a.ResponseSnippet)
	}
	if a.Latency <= 0 {
		t.Errorf("Latency = %v, want > 0", a.Latency)
	}
	ds := rcv.Deliveries()
	if len(ds) != 1 {
		t.Fatalf("receiver got %d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if !d.SignatureOK {
		t.Error("X-Signature did not verify")
	}
	if !d.StandardOK {
		t.Errorf("webhook-signature did not verify: %s", d.StandardErr)
	}
	if d.PayloadErr != "" {
		t.Errorf("payload: %s", d.PayloadErr)
	}
	if string(d.Body) != string(req.Body) {
		t.Errorf("body sent %s, want %s", d.Body, req.Body)
	}
	for h, want := range map[string]string{
		"Content-Type": "application/json",
		"User-Agent":   "hookflow/1.2.3",
		"Webhook-Id":   "msg_callback-42",
	} {
		if got := d.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if d.Payload.Status != callback.StatusPartiallyCompleted || d.Payload.WebhookURL != rcv.URL() {
		t.Errorf("payload as received = %+v", d.Payload)
	}
}

func TestDeliverSeparateStandardSecret(t *testing.T) {
	const whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for _, tt := range []struct {
		name     string
		std      string
		verified bool
	}{
		{"same secret", "", false},
		{"whsec secret", whsec, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rcv := callbacktest.New(secret, callbacktest.WithStandardSecret(whsec), callbacktest.AcceptInvalid())
			defer rcv.Close()
			req := request(t, rcv)
			req.StandardSecret = tt.std
			callback.Deliver(context.Background(), rcv.Client(), req)
			d := rcv.Deliveries()[0]
			if !d.SignatureOK {
				t.Error("X-Signature must use the shared secret either way")
			}
			if d.StandardOK != tt.verified {
				t.Errorf("StandardOK = %v, want %v (%s)", d.StandardOK, tt.verified, d.StandardErr)
			}
		})
	}
}

// TestDeliverDuringRotation: with a previous secret, webhook-signature
// carries two "v1," signatures, the current secret's first, so a receiver
// still on the previous secret and one already on the new verify alike;
// X-Signature uses the current secret only. Without it, one signature.
func TestDeliverDuringRotation(t *testing.T) {
	const previous = "the-previous-secret"
	newRcv := callbacktest.New(secret, callbacktest.AcceptInvalid())
	defer newRcv.Close()
	oldRcv := callbacktest.New(previous, callbacktest.AcceptInvalid())
	defer oldRcv.Close()
	ts := time.Now()
	for _, rcv := range []*callbacktest.Receiver{newRcv, oldRcv} {
		req := request(t, rcv)
		req.PreviousSecret, req.Timestamp = previous, ts
		if a := callback.Deliver(context.Background(), rcv.Client(), req); a.Outcome != callback.OutcomeDelivered {
			t.Fatalf("Deliver = %+v", a)
		}
		d := rcv.Deliveries()[0]
		sigs := strings.Fields(d.Header.Get(callback.HeaderWebhookSignature))
		want := []string{
			callback.SignStandard(secret, req.WebhookID, ts, req.Body),
			callback.SignStandard(previous, req.WebhookID, ts, req.Body),
		}
		if strings.Join(sigs, " ") != strings.Join(want, " ") {
			t.Errorf("webhook-signature %q, want the current secret's then the previous one's %q", sigs, want)
		}
		if !d.StandardOK {
			t.Errorf("webhook-signature did not verify with one of the two secrets: %s", d.StandardErr)
		}
		if got := d.Header.Get(callback.HeaderSignature); got != callback.Sign(secret, req.Body) {
			t.Errorf("X-Signature %q is not the current secret's", got)
		}
	}
	if !newRcv.Deliveries()[0].SignatureOK || oldRcv.Deliveries()[0].SignatureOK {
		t.Error("X-Signature must verify with the current secret only")
	}

	// After the overlap (no PreviousSecret): one signature, which the
	// previous secret no longer verifies.
	req := request(t, oldRcv)
	callback.Deliver(context.Background(), oldRcv.Client(), req)
	d := oldRcv.Deliveries()[1]
	if n := len(strings.Fields(d.Header.Get(callback.HeaderWebhookSignature))); n != 1 || d.StandardOK {
		t.Errorf("after the overlap: %d signatures, verified with the previous secret: %v", n, d.StandardOK)
	}
}

func TestDeliverClassifiesStatuses(t *testing.T) {
	httpDate := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		resp          callbacktest.Response
		outcome       callback.Outcome
		minRA, maxRA  time.Duration
		wantErrSubstr string
	}{
		{callbacktest.Response{Status: 200}, callback.OutcomeDelivered, 0, 0, ""},
		{callbacktest.Response{Status: 202}, callback.OutcomeDelivered, 0, 0, ""},
		{callbacktest.Response{Status: 204}, callback.OutcomeDelivered, 0, 0, ""},
		{callbacktest.Response{Status: 302}, callback.OutcomePermanent, 0, 0, "redirects are not followed"},
		{callbacktest.Response{Status: 400}, callback.OutcomePermanent, 0, 0, "receiver answered 400 Bad Request"},
		{callbacktest.Response{Status: 401}, callback.OutcomePermanent, 0, 0, "401"},
		{callbacktest.Response{Status: 403}, callback.OutcomePermanent, 0, 0, "403"},
		{callbacktest.Response{Status: 404}, callback.OutcomePermanent, 0, 0, "404"},
		{callbacktest.Response{Status: 422}, callback.OutcomePermanent, 0, 0, "422"},
		{callbacktest.Response{Status: 410}, callback.OutcomeGone, 0, 0, "410 Gone"},
		{callbacktest.Response{Status: 408}, callback.OutcomeRetryable, 0, 0, "408"},
		{callbacktest.Response{Status: 429, RetryAfter: "2"}, callback.OutcomeRetryable, 2 * time.Second, 2 * time.Second, "429"},
		{callbacktest.Response{Status: 429}, callback.OutcomeRetryable, 0, 0, "429"},
		{callbacktest.Response{Status: 500}, callback.OutcomeRetryable, 0, 0, "500 Internal Server Error"},
		{callbacktest.Response{Status: 502}, callback.OutcomeRetryable, 0, 0, "502"},
		{callbacktest.Response{Status: 503, RetryAfter: httpDate}, callback.OutcomeRetryable, 80 * time.Second, 90 * time.Second, "503"},
		{callbacktest.Response{Status: 503, RetryAfter: "soon"}, callback.OutcomeRetryable, 0, 0, "503"},
		{callbacktest.Response{Status: 504}, callback.OutcomeRetryable, 0, 0, "504"},
	}
	rcv := callbacktest.New(secret)
	defer rcv.Close()
	for _, tt := range tests {
		rcv.Script(tt.resp)
		a := callback.Deliver(context.Background(), rcv.Client(), request(t, rcv))
		if a.StatusCode != tt.resp.Status || a.Outcome != tt.outcome {
			t.Errorf("answer %d: Deliver = status %d outcome %q, want %d %q", tt.resp.Status, a.StatusCode, a.Outcome, tt.resp.Status, tt.outcome)
		}
		if a.RetryAfter < tt.minRA || a.RetryAfter > tt.maxRA {
			t.Errorf("answer %d Retry-After %q: RetryAfter = %v, want in [%v, %v]", tt.resp.Status, tt.resp.RetryAfter, a.RetryAfter, tt.minRA, tt.maxRA)
		}
		if tt.wantErrSubstr == "" && a.Err != "" || !strings.Contains(a.Err, tt.wantErrSubstr) {
			t.Errorf("answer %d: Err = %q, want it to contain %q", tt.resp.Status, a.Err, tt.wantErrSubstr)
		}
		if a.Outcome.Final() == (a.Outcome == callback.OutcomeRetryable) {
			t.Errorf("Outcome(%q).Final() = %v", a.Outcome, a.Outcome.Final())
		}
	}
	if n := len(rcv.Deliveries()); n != len(tests) {
		t.Errorf("receiver got %d requests, want %d (redirects must not be followed)", n, len(tests))
	}
}

// TestDeliverRetrySequence plays the seed's story: 500, then 503 asking for 2
// seconds, then 200, with the same webhook-id every time.
func TestDeliverRetrySequence(t *testing.T) {
	rcv := callbacktest.New(secret)
	defer rcv.Close()
	rcv.Script(
		callbacktest.Response{Status: 500},
		callbacktest.Response{Status: 503, RetryAfter: "2"},
		callbacktest.Response{Status: 200},
	)
	sched := callback.DefaultSchedule()
	req := request(t, rcv)
	var delays []time.Duration
	var last callback.Attempt
	for attempt := 1; ; attempt++ {
		req.Timestamp = time.Now()
		last = callback.Deliver(context.Background(), rcv.Client(), req)
		if last.Outcome.Final() {
			break
		}
		d, ok := sched.NextDelay(attempt, last.RetryAfter)
		if !ok {
			t.Fatalf("schedule gave up after attempt %d", attempt)
		}
		delays = append(delays, d)
	}
	if last.Outcome != callback.OutcomeDelivered {
		t.Fatalf("final outcome %q, want delivered", last.Outcome)
	}
	if want := []time.Duration{time.Minute, 2 * time.Minute}; len(delays) != 2 || delays[0] != want[0] || delays[1] != want[1] {
		t.Errorf("delays = %v, want %v (Retry-After 2 s is shorter than the schedule)", delays, want)
	}
	ds := rcv.Deliveries()
	if len(ds) != 3 {
		t.Fatalf("deliveries = %d, want 3", len(ds))
	}
	for i, d := range ds {
		if !d.Verified() {
			t.Errorf("delivery %d not verified: X-Signature %v, standard %q", i, d.SignatureOK, d.StandardErr)
		}
		if got := d.Header.Get("webhook-id"); got != req.WebhookID {
			t.Errorf("delivery %d webhook-id %q, want %q on every retry", i, got, req.WebhookID)
		}
		if string(d.Body) != string(req.Body) {
			t.Errorf("delivery %d body changed between retries", i)
		}
	}
}

func TestDeliverTimeout(t *testing.T) {
	rcv := callbacktest.New(secret)
	defer rcv.Close()
	rcv.StallNext(1)
	req := request(t, rcv)
	req.Timeout = 100 * time.Millisecond
	a := callback.Deliver(context.Background(), rcv.Client(), req)
	if a.Outcome != callback.OutcomeRetryable || a.StatusCode != 0 {
		t.Fatalf("Deliver to a stalled receiver = %+v, want retryable without status", a)
	}
	if !strings.Contains(a.Err, "timeout") || !strings.Contains(a.Err, "100ms") {
		t.Errorf("Err = %q, want it to say timeout after 100ms", a.Err)
	}
	if ds := rcv.Deliveries(); len(ds) != 1 || !ds[0].Stalled {
		t.Errorf("receiver deliveries = %+v, want one stalled", ds)
	}
	// The next attempt gets through.
	if a := callback.Deliver(context.Background(), rcv.Client(), req); a.Outcome != callback.OutcomeDelivered {
		t.Errorf("attempt after the stall = %+v", a)
	}
}

func TestDeliverConnectionErrors(t *testing.T) {
	// A port nobody listens on: take one and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/hook?token=receiver-token-123"
	ln.Close()

	rcv := callbacktest.New(secret)
	defer rcv.Close()

	tests := []struct {
		name    string
		client  *http.Client
		url     string
		outcome callback.Outcome
		errHas  string
	}{
		{"connection refused", http.DefaultClient, closedURL, callback.OutcomeRetryable, "refused"},
		{"netguard refuses loopback", netguard.Client(false), rcv.URL(), callback.OutcomePermanent, "loopback"},
		{"netguard allowPrivate delivers", netguard.Client(true), rcv.URL(), callback.OutcomeDelivered, ""},
		{"unsupported scheme", http.DefaultClient, "ftp://x.example/hook", callback.OutcomePermanent, "unsupported protocol scheme"},
		{"unparsable URL", http.DefaultClient, "http://[::1/hook", callback.OutcomePermanent, "invalid callback request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(t, rcv)
			req.URL = tt.url
			a := callback.Deliver(context.Background(), tt.client, req)
			if a.Outcome != tt.outcome {
				t.Fatalf("Deliver = %+v, want outcome %q", a, tt.outcome)
			}
			if !strings.Contains(a.Err, tt.errHas) {
				t.Errorf("Err = %q, want it to contain %q", a.Err, tt.errHas)
			}
			if strings.Contains(a.Err, "receiver-token-123") {
				t.Errorf("Err leaks the URL's query: %q", a.Err)
			}
		})
	}
}

func TestDeliverRejectsIncompleteRequest(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*callback.Request)
		errHas string
	}{
		{"no secret", func(r *callback.Request) { r.Secret = "" }, "empty Secret"},
		{"no webhook id", func(r *callback.Request) { r.WebhookID = "" }, "empty WebhookID"},
		{"no url", func(r *callback.Request) { r.URL = "" }, "empty URL"},
	}
	rcv := callbacktest.New(secret)
	defer rcv.Close()
	for _, tt := range tests {
		req := request(t, rcv)
		tt.mutate(&req)
		a := callback.Deliver(context.Background(), rcv.Client(), req)
		if a.Outcome != callback.OutcomePermanent || !strings.Contains(a.Err, tt.errHas) {
			t.Errorf("%s: Deliver = %+v, want permanent with %q", tt.name, a, tt.errHas)
		}
	}
	if n := len(rcv.Deliveries()); n != 0 {
		t.Errorf("incomplete requests reached the receiver %d times", n)
	}
}

func TestDeliverStaleTimestampIsRejectedByReceiver(t *testing.T) {
	rcv := callbacktest.New(secret)
	defer rcv.Close()
	req := request(t, rcv)
	req.Timestamp = time.Now().Add(-6 * time.Minute)
	a := callback.Deliver(context.Background(), rcv.Client(), req)
	if a.StatusCode != http.StatusForbidden || a.Outcome != callback.OutcomePermanent {
		t.Fatalf("Deliver with a 6 min old timestamp = %+v, want 403 permanent", a)
	}
	d := rcv.Deliveries()[0]
	if !d.SignatureOK || d.StandardOK || !strings.Contains(d.StandardErr, "outside") {
		t.Errorf("receiver: X-Signature %v, standard %v %q", d.SignatureOK, d.StandardOK, d.StandardErr)
	}
}

func TestDeliverResponseSnippet(t *testing.T) {
	tests := []struct {
		name, body string
		wantLen    int
	}{
		{"long ascii is cut at 1 KiB", strings.Repeat("x", 5000), 1024},
		{"rune cut by the limit is dropped", "a" + strings.Repeat("ж", 1000), 1023},
		{"NUL and invalid bytes are replaced", "ok\x00\xff", len("ok\uFFFD\uFFFD")},
	}
	rcv := callbacktest.New(secret)
	defer rcv.Close()
	for _, tt := range tests {
		rcv.Script(callbacktest.Response{Status: 500, Body: tt.body})
		a := callback.Deliver(context.Background(), rcv.Client(), request(t, rcv))
		if len(a.ResponseSnippet) != tt.wantLen || !utf8.ValidString(a.ResponseSnippet) || strings.Contains(a.ResponseSnippet, "\x00") {
			t.Errorf("%s: snippet of %d bytes (valid UTF-8 %v), want %d", tt.name, len(a.ResponseSnippet), utf8.ValidString(a.ResponseSnippet), tt.wantLen)
		}
		if !strings.HasPrefix(tt.body, a.ResponseSnippet[:2]) {
			t.Errorf("%s: snippet %q does not start like the body", tt.name, a.ResponseSnippet[:10])
		}
	}
}
