// Package callbacktest is a fake job-callback receiver: an httptest server
// that checks both signatures a hookflow callback carries, records every
// delivery and answers a scripted sequence of statuses.
//
// The signature checks are written here from the specs (the seed's receivers
// and Standard Webhooks), deliberately not by calling package callback's
// signers, so a mistake in the signer cannot hide behind the same mistake in
// the verifier.
package callbacktest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookflow/hookflow/internal/callback"
)

// Path is the path of URL(); the receiver answers on any path.
const Path = "/webhook-handler"

// Tolerance is the Standard Webhooks timestamp window (±5 minutes).
const Tolerance = 5 * time.Minute

// Response is one scripted answer.
type Response struct {
	Status     int    // 0 means 200
	RetryAfter string // Retry-After header value, sent when not empty
	Body       string // default: {"success":true} for 2xx, {"error":"..."} otherwise
	// Stall holds the request without answering until the client gives up
	// (its timeout closes the connection) or the receiver is closed.
	Stall bool
}

// Delivery is one request the receiver got.
type Delivery struct {
	Method      string
	Path        string
	Header      http.Header
	Body        []byte
	Payload     callback.Payload // Body decoded; zero when it is not a payload
	PayloadErr  string           // why Body did not decode
	SignatureOK bool             // X-Signature matched the shared secret
	StandardOK  bool             // webhook-signature verified, timestamp within Tolerance
	StandardErr string           // why the Standard Webhooks check failed
	Status      int              // status answered; 0 when the request stalled
	Stalled     bool
	ReceivedAt  time.Time
}

// Verified reports whether both signatures verified.
func (d Delivery) Verified() bool { return d.SignatureOK && d.StandardOK }

// Option configures a Receiver.
type Option func(*Receiver)

// WithStandardSecret verifies webhook-signature with a separate secret
// ("whsec_<base64>" or raw) instead of the shared one.
func WithStandardSecret(secret string) Option { return func(r *Receiver) { r.stdSecret = secret } }

// WithClock sets the clock the timestamp window is checked against.
func WithClock(now func() time.Time) Option { return func(r *Receiver) { r.now = now } }

// AcceptInvalid answers requests with bad signatures from the script like any
// other; by default they get 403 like the seed's receivers answer (and do not
// consume the script).
func AcceptInvalid() Option { return func(r *Receiver) { r.acceptInvalid = true } }

// Receiver is the fake. It is safe for concurrent use.
type Receiver struct {
	srv           *httptest.Server
	secret        string
	stdSecret     string
	now           func() time.Time
	acceptInvalid bool

	closing   chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	script     []Response
	deliveries []Delivery
	changed    chan struct{} // closed and replaced on every recorded delivery
}

// New starts a receiver verifying with secret. Close it when done.
func New(secret string, opts ...Option) *Receiver {
	r := &Receiver{
		secret:  secret,
		now:     time.Now,
		closing: make(chan struct{}),
		changed: make(chan struct{}),
	}
	for _, o := range opts {
		o(r)
	}
	if r.stdSecret == "" {
		r.stdSecret = secret
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

// URL is the webhook_url to hand to hookflow.
func (r *Receiver) URL() string { return r.srv.URL + Path }

// Client returns a client for the receiver's server (plain http.Client; the
// receiver listens on 127.0.0.1, so a netguard client needs allowPrivate).
func (r *Receiver) Client() *http.Client { return r.srv.Client() }

// Close releases stalled requests and shuts the server down.
func (r *Receiver) Close() {
	r.closeOnce.Do(func() { close(r.closing) })
	r.srv.Close()
}

// Script queues answers for the next requests, in order. When the queue is
// empty the receiver answers 200.
func (r *Receiver) Script(resps ...Response) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script = append(r.script, resps...)
}

// FailNext answers the next n requests with status.
func (r *Receiver) FailNext(n, status int) {
	for range n {
		r.Script(Response{Status: status})
	}
}

// StallNext holds the next n requests until the client gives up.
func (r *Receiver) StallNext(n int) {
	for range n {
		r.Script(Response{Stall: true})
	}
}

// Deliveries returns a copy of what was received so far, in arrival order.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Delivery, len(r.deliveries))
	copy(out, r.deliveries)
	return out
}

// Wait blocks until at least n deliveries arrived or ctx ends.
func (r *Receiver) Wait(ctx context.Context, n int) ([]Delivery, error) {
	for {
		r.mu.Lock()
		got, ch := len(r.deliveries), r.changed
		r.mu.Unlock()
		if got >= n {
			return r.Deliveries(), nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return r.Deliveries(), fmt.Errorf("callbacktest: %d of %d deliveries arrived: %w", got, n, ctx.Err())
		}
	}
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	d := Delivery{
		Method:     req.Method,
		Path:       req.URL.Path,
		Header:     req.Header.Clone(),
		Body:       body,
		ReceivedAt: r.now(),
	}
	d.SignatureOK = verifyHex(r.secret, body, req.Header.Get(callback.HeaderSignature))
	if err := verifyStandard(r.stdSecret, req.Header, body, d.ReceivedAt); err != nil {
		d.StandardErr = err.Error()
	} else {
		d.StandardOK = true
	}
	if err := decodePayload(body, &d.Payload); err != nil {
		d.PayloadErr = err.Error()
	}

	var resp Response
	switch {
	case req.Method != http.MethodPost:
		resp = Response{Status: http.StatusMethodNotAllowed, Body: `{"error":"POST only"}`}
	case !d.Verified() && !r.acceptInvalid:
		resp = Response{Status: http.StatusForbidden, Body: `{"error":"Invalid signature"}`}
	default:
		resp = r.next()
	}

	if resp.Stall {
		d.Stalled = true
		r.record(d)
		select {
		case <-req.Context().Done():
		case <-r.closing:
		}
		return
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
	}
	d.Status = resp.Status
	r.record(d)

	if resp.RetryAfter != "" {
		w.Header().Set("Retry-After", resp.RetryAfter)
	}
	if resp.Body == "" {
		if resp.Status < 300 {
			resp.Body = `{"success":true}`
		} else {
			resp.Body = fmt.Sprintf(`{"error":%q}`, http.StatusText(resp.Status))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.Status)
	io.WriteString(w, resp.Body)
}

func (r *Receiver) next() Response {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.script) == 0 {
		return Response{}
	}
	resp := r.script[0]
	r.script = r.script[1:]
	return resp
}

func (r *Receiver) record(d Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries = append(r.deliveries, d)
	close(r.changed)
	r.changed = make(chan struct{})
}

// decodePayload insists on exactly the seed's fields.
func decodePayload(body []byte, p *callback.Payload) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		*p = callback.Payload{}
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return err
	}
	for _, f := range []string{"job_id", "status", "timestamp", "total_lots", "completed_lots", "failed_lots", "webhook_url", "results_available"} {
		if _, ok := fields[f]; !ok {
			return fmt.Errorf("field %q missing", f)
		}
	}
	if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
		return fmt.Errorf("timestamp %q is not RFC 3339: %w", p.Timestamp, err)
	}
	return nil
}

// verifyHex is the seed receivers' check: hex HMAC-SHA256(secret, raw body).
func verifyHex(secret string, body []byte, got string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	want := hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(got), []byte(want))
}

// verifyStandard checks webhook-id/-timestamp/-signature as the Standard
// Webhooks reference verifiers do: the timestamp within Tolerance of now and
// any of the space-separated "v1,<base64>" signatures matching.
func verifyStandard(secret string, h http.Header, body []byte, now time.Time) error {
	id, tsRaw, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || tsRaw == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not unix seconds", tsRaw)
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > Tolerance || skew < -Tolerance {
		return fmt.Errorf("webhook-timestamp %s is %s away from now, outside ±%s", tsRaw, skew.Round(time.Second), Tolerance)
	}
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if k, err := base64.StdEncoding.DecodeString(rest); err == nil && len(k) > 0 {
			key = k
		}
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if ok && version == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no webhook-signature matches")
}
