package sources

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what some senders sign with (verify.algorithm sha1)
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Why a request was refused.
const (
	Unsigned = "unsigned" // no signature or token at all
	Forged   = "forged"   // a signature or token that no secret produces
	Stale    = "stale"    // a valid signature over a timestamp outside the tolerance
)

// VerifyError says why a request is not from the sender (answered 401).
type VerifyError struct {
	Reason string // Unsigned, Forged or Stale
	Field  string // the header or query parameter at fault
	Detail string
}

func (e *VerifyError) Error() string { return e.Reason + ": " + e.Detail }

func unsigned(field, format string, args ...any) error {
	return &VerifyError{Reason: Unsigned, Field: field, Detail: fmt.Sprintf(format, args...)}
}

func forged(field, format string, args ...any) error {
	return &VerifyError{Reason: Forged, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// secretKey turns a secret's text into the key the mode uses:
// standard-webhooks secrets are "whsec_" + base64 of the key.
func secretKey(mode, secret string) ([]byte, error) {
	if mode != VerifyStandardWebhooks {
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, errors.New("not a standard-webhooks secret (whsec_ followed by base64)")
	}
	return key, nil
}

// Check verifies a request against the source's secrets (any one of them).
// now is the clock for timestamped signatures.
func (v *Verify) Check(h http.Header, q url.Values, body []byte, now time.Time) error {
	switch v.Mode {
	case VerifyNone:
		return nil
	case VerifyToken:
		return v.checkToken(h, q)
	case VerifyHMAC:
		return v.checkHMAC(h, body)
	case VerifyStripe:
		return v.checkStripe(h, body, now)
	case VerifyStandardWebhooks:
		return v.checkStandard(h, body, now)
	}
	return fmt.Errorf("verify mode %q", v.Mode)
}

func (v *Verify) checkToken(h http.Header, q url.Values) error {
	var got, where, field string
	if v.Header != "" {
		got, where, field = h.Get(v.Header), "header "+v.Header, v.Header
	} else {
		got, where, field = q.Get(v.Query), "query parameter "+v.Query, v.Query
	}
	if got == "" {
		return unsigned(field, "no token in %s", where)
	}
	ok := 0
	for _, k := range v.keys {
		ok |= subtle.ConstantTimeCompare([]byte(got), k)
	}
	if ok == 0 {
		return forged(field, "the token in %s is not the source's", where)
	}
	return nil
}

func (v *Verify) checkHMAC(h http.Header, body []byte) error {
	got := h.Get(v.Header)
	if got == "" {
		return unsigned(v.Header, "no signature in header %s", v.Header)
	}
	sig, ok := strings.CutPrefix(got, v.Prefix)
	if !ok {
		return forged(v.Header, "the signature in header %s does not start with %q", v.Header, v.Prefix)
	}
	var mac []byte
	var err error
	if v.Encoding == "base64" {
		mac, err = base64.StdEncoding.DecodeString(sig)
	} else {
		mac, err = hex.DecodeString(sig)
	}
	if err != nil {
		return forged(v.Header, "the signature in header %s is not %s", v.Header, v.Encoding)
	}
	newHash := sha256.New
	if v.Algorithm == "sha1" {
		newHash = sha1.New
	}
	for _, k := range v.keys {
		if hmac.Equal(mac, sign(newHash, k, body)) {
			return nil
		}
	}
	return forged(v.Header, "the signature in header %s matches no secret (HMAC-%s of the raw body)", v.Header, strings.ToUpper(v.Algorithm))
}

func sign(newHash func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// checkTime refuses a validly signed timestamp outside the tolerance
// (either way: a clock far ahead is as suspect as a replay).
func (v *Verify) checkTime(field string, ts int64, now time.Time) error {
	at := time.Unix(ts, 0)
	if d := now.Sub(at); d > v.Tolerance || -d > v.Tolerance {
		return &VerifyError{Reason: Stale, Field: field, Detail: fmt.Sprintf("the signed timestamp %s is %s from now, more than the tolerance of %s",
			at.UTC().Format(time.RFC3339), d.Abs().Round(time.Second), v.Tolerance)}
	}
	return nil
}

// checkStripe: Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]; the signed
// text is "<t>.<body>", HMAC-SHA256 with the endpoint secret as is.
func (v *Verify) checkStripe(h http.Header, body []byte, now time.Time) error {
	header := h.Get("Stripe-Signature")
	if header == "" {
		return unsigned("Stripe-Signature", "no Stripe-Signature header")
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = val
		case "v1":
			if b, err := hex.DecodeString(val); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return forged("Stripe-Signature", "Stripe-Signature has no timestamp t=")
	}
	if len(sigs) == 0 {
		return forged("Stripe-Signature", "Stripe-Signature has no v1 signature")
	}
	for _, k := range v.keys {
		want := sign(sha256.New, k, []byte(ts), []byte("."), body)
		for _, s := range sigs {
			if hmac.Equal(s, want) {
				return v.checkTime("Stripe-Signature", t, now)
			}
		}
	}
	return forged("Stripe-Signature", "no v1 signature in Stripe-Signature matches a secret")
}

// checkStandard: Standard Webhooks (webhook-id, webhook-timestamp,
// webhook-signature "v1,<base64> ..."); the signed text is
// "<id>.<timestamp>.<body>", HMAC-SHA256 with the decoded whsec_ key.
func (v *Verify) checkStandard(h http.Header, body []byte, now time.Time) error {
	id, ts, header := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if header == "" {
		return unsigned("webhook-signature", "no webhook-signature header")
	}
	if id == "" || ts == "" {
		return forged("webhook-signature", "webhook-signature comes without webhook-id or webhook-timestamp")
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return forged("webhook-timestamp", "webhook-timestamp %q is not a Unix time", ts)
	}
	var sigs [][]byte
	for _, part := range strings.Fields(header) {
		if s, ok := strings.CutPrefix(part, "v1,"); ok {
			if b, err := base64.StdEncoding.DecodeString(s); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if len(sigs) == 0 {
		return forged("webhook-signature", "webhook-signature has no v1 signature")
	}
	for _, k := range v.keys {
		want := sign(sha256.New, k, []byte(id), []byte("."), []byte(ts), []byte("."), body)
		for _, s := range sigs {
			if hmac.Equal(s, want) {
				return v.checkTime("webhook-timestamp", t, now)
			}
		}
	}
	return forged("webhook-signature", "no v1 signature in webhook-signature matches a secret")
}
