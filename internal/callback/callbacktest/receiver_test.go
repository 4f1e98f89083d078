package callbacktest_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/callback/callbacktest"
)

// The Standard Webhooks reference vector (libraries/go TestWebhookSign).
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = "1614265330"
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	// hex HMAC-SHA256("shared", vecBody), computed with Python.
	vecHex = "a41e46bd639dd3acd96a72a32d8fce3f1c779bd5d9440308e9a46fae8b33a34d"
)

var vecTime = time.Unix(1614265330, 0)

func post(t *testing.T, r *callbacktest.Receiver, method string, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, r.URL(), strings.NewReader(vecBody))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := r.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func validHeaders() map[string]string {
	return map[string]string{
		"X-Signature":       vecHex,
		"webhook-id":        vecID,
		"webhook-timestamp": vecTS,
		"webhook-signature": vecSig,
	}
}

func TestReceiverVerifies(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		mutate    func(h map[string]string)
		clock     time.Time
		status    int
		sigOK     bool
		stdOK     bool
		stdErrHas string
	}{
		{"valid", "POST", nil, vecTime, 200, true, true, ""},
		{"4m59s later still valid", "POST", nil, vecTime.Add(299 * time.Second), 200, true, true, ""},
		{"clock 4m behind still valid", "POST", nil, vecTime.Add(-4 * time.Minute), 200, true, true, ""},
		{"6 min old", "POST", nil, vecTime.Add(6 * time.Minute), 403, true, false, "outside ±5m0s"},
		{"6 min in the future", "POST", nil, vecTime.Add(-6 * time.Minute), 403, true, false, "outside"},
		{"bad X-Signature", "POST", func(h map[string]string) { h["X-Signature"] = strings.Repeat("0", 64) }, vecTime, 403, false, true, ""},
		{"missing X-Signature", "POST", func(h map[string]string) { delete(h, "X-Signature") }, vecTime, 403, false, true, ""},
		{"rotated signatures, one valid", "POST", func(h map[string]string) {
			h["webhook-signature"] = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + vecSig
		}, vecTime, 200, true, true, ""},
		{"valid bytes under another version", "POST", func(h map[string]string) {
			h["webhook-signature"] = "v2," + strings.TrimPrefix(vecSig, "v1,")
		}, vecTime, 403, true, false, "no webhook-signature matches"},
		{"wrong id", "POST", func(h map[string]string) { h["webhook-id"] = "msg_other" }, vecTime, 403, true, false, "no webhook-signature matches"},
		{"missing id", "POST", func(h map[string]string) { delete(h, "webhook-id") }, vecTime, 403, true, false, "missing"},
		{"timestamp not a number", "POST", func(h map[string]string) { h["webhook-timestamp"] = "2021-02-25" }, vecTime, 403, true, false, "not unix seconds"},
		{"GET", "GET", nil, vecTime, 405, true, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := callbacktest.New("shared", callbacktest.WithStandardSecret(vecSecret), callbacktest.WithClock(func() time.Time { return tt.clock }))
			defer r.Close()
			h := validHeaders()
			if tt.mutate != nil {
				tt.mutate(h)
			}
			if got := post(t, r, tt.method, h); got != tt.status {
				t.Errorf("status = %d, want %d", got, tt.status)
			}
			d := r.Deliveries()[0]
			if d.SignatureOK != tt.sigOK || d.StandardOK != tt.stdOK {
				t.Errorf("SignatureOK %v StandardOK %v (%s), want %v %v", d.SignatureOK, d.StandardOK, d.StandardErr, tt.sigOK, tt.stdOK)
			}
			if !strings.Contains(d.StandardErr, tt.stdErrHas) {
				t.Errorf("StandardErr = %q, want it to contain %q", d.StandardErr, tt.stdErrHas)
			}
			if d.Method != tt.method || string(d.Body) != vecBody || d.Status != tt.status {
				t.Errorf("recorded %s %q answered %d", d.Method, d.Body, d.Status)
			}
			// {"test": ...} is not a callback payload; the receiver says so.
			if d.PayloadErr == "" {
				t.Error("PayloadErr is empty for a body that is not a callback payload")
			}
		})
	}
}

func TestReceiverScript(t *testing.T) {
	r := callbacktest.New("shared", callbacktest.WithStandardSecret(vecSecret), callbacktest.WithClock(func() time.Time { return vecTime }))
	defer r.Close()
	r.Script(callbacktest.Response{Status: 500}, callbacktest.Response{Status: 503, RetryAfter: "2"})
	r.FailNext(1, 429)

	// An unverified request is refused without using up the script.
	bad := validHeaders()
	bad["X-Signature"] = "nope"
	if got := post(t, r, "POST", bad); got != 403 {
		t.Fatalf("unsigned request: %d, want 403", got)
	}
	var got []int
	for range 4 {
		got = append(got, post(t, r, "POST", validHeaders()))
	}
	if want := []int{500, 503, 429, 200}; !slices.Equal(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
	ds, err := r.Wait(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 5 || ds[2].Status != 503 {
		t.Errorf("deliveries = %d, third answered %d", len(ds), ds[2].Status)
	}
}

func TestReceiverRetryAfterHeader(t *testing.T) {
	r := callbacktest.New("shared", callbacktest.WithStandardSecret(vecSecret), callbacktest.WithClock(func() time.Time { return vecTime }))
	defer r.Close()
	r.Script(callbacktest.Response{Status: 503, RetryAfter: "2", Body: "busy"})
	req, _ := http.NewRequest("POST", r.URL(), strings.NewReader(vecBody))
	for k, v := range validHeaders() {
		req.Header.Set(k, v)
	}
	resp, err := r.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || string(b) != "busy" {
		t.Errorf("answer %d Retry-After %q body %q", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}

func TestReceiverAcceptInvalid(t *testing.T) {
	r := callbacktest.New("other", callbacktest.AcceptInvalid())
	defer r.Close()
	r.FailNext(1, 500)
	if got := post(t, r, "POST", validHeaders()); got != 500 {
		t.Errorf("status = %d, want the scripted 500", got)
	}
	if d := r.Deliveries()[0]; d.Verified() {
		t.Error("a request signed with another secret counted as verified")
	}
}

func TestReceiverStall(t *testing.T) {
	r := callbacktest.New("shared", callbacktest.WithStandardSecret(vecSecret), callbacktest.WithClock(func() time.Time { return vecTime }))
	r.StallNext(1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", r.URL(), strings.NewReader(vecBody))
	for k, v := range validHeaders() {
		req.Header.Set(k, v)
	}
	if resp, err := r.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("stalled request answered %d", resp.StatusCode)
	}
	if d := r.Deliveries(); len(d) != 1 || !d[0].Stalled || d[0].Status != 0 {
		t.Errorf("deliveries = %+v, want one stalled", d)
	}

	// Close must not hang on a stalled request whose client is still waiting.
	r.StallNext(1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest("POST", r.URL(), strings.NewReader(vecBody))
		for k, v := range validHeaders() {
			req.Header.Set(k, v)
		}
		if resp, err := r.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	if _, err := r.Wait(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	r.Close()
	<-done
}

func TestReceiverWaitTimesOut(t *testing.T) {
	r := callbacktest.New("shared")
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Wait(ctx, 1); err == nil || !strings.Contains(err.Error(), "0 of 1 deliveries") {
		t.Errorf("Wait on an idle receiver = %v", err)
	}
}
