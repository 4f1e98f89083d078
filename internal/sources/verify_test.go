package sources

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

var (
	body = []byte(`{"action":"opened","issue":{"number":7}}`)
	now  = time.Unix(1_800_000_000, 0)
)

// source parses one source's YAML and resolves its secrets from env.
func source(t *testing.T, yaml string, env map[string]string) *Source {
	t.Helper()
	srcs, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := Resolve(srcs, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	return srcs[0]
}

func hmacOf(alg string, key string, parts ...string) []byte {
	h := sha256.New
	if alg == "sha1" {
		m := hmac.New(sha1.New, []byte(key))
		for _, p := range parts {
			m.Write([]byte(p))
		}
		return m.Sum(nil)
	}
	m := hmac.New(h, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// reason is the VerifyError reason of err ("" for nil).
func reason(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("not a VerifyError: %v", err)
	}
	return ve.Reason
}

type verifyCase struct {
	name   string
	header http.Header
	query  url.Values
	body   []byte
	want   string // "" accepted, or Unsigned/Forged/Stale
}

func runCases(t *testing.T, s *Source, cases []verifyCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.body
			if b == nil {
				b = body
			}
			h := c.header
			if h == nil {
				h = http.Header{}
			}
			err := s.Verify.Check(h, c.query, b, now)
			if got := reason(t, err); got != c.want {
				t.Fatalf("got %q (%v), want %q", got, err, c.want)
			}
		})
	}
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

const target = `
    target: {workflow: W, task_queue: q}`

func TestVerifyNone(t *testing.T) {
	s := source(t, `sources:
  - name: open
    path: open
    verify: {mode: none}`+target, nil)
	runCases(t, s, []verifyCase{{name: "anything", want: ""}})
}

func TestVerifyToken(t *testing.T) {
	env := map[string]string{"TOK": "s3cret", "TOK_OLD": "older"}
	s := source(t, `sources:
  - name: tok
    path: tok
    verify: {mode: token, header: X-Token, secrets: [TOK, TOK_OLD]}`+target, env)
	runCases(t, s, []verifyCase{
		{name: "good", header: hdr("X-Token", "s3cret")},
		{name: "rotated", header: hdr("X-Token", "older")},
		{name: "forged", header: hdr("X-Token", "s3cres"), want: Forged},
		{name: "prefix of secret", header: hdr("X-Token", "s3c"), want: Forged},
		{name: "unsigned", want: Unsigned},
	})
	q := source(t, `sources:
  - name: tok
    path: tok
    verify: {mode: token, query: token, secrets: [TOK]}`+target, env)
	runCases(t, q, []verifyCase{
		{name: "query good", query: url.Values{"token": {"s3cret"}}},
		{name: "query forged", query: url.Values{"token": {"nope"}}, want: Forged},
		{name: "query unsigned", query: url.Values{}, want: Unsigned},
		{name: "header does not count", header: hdr("token", "s3cret"), want: Unsigned},
	})
}

func TestVerifyHMAC(t *testing.T) {
	env := map[string]string{"GH": "It's a Secret to Everybody", "GH_NEXT": "next"}
	gh := source(t, `sources:
  - name: github
    path: github
    verify: {mode: hmac, header: X-Hub-Signature-256, prefix: "sha256=", secrets: [GH, GH_NEXT]}`+target, env)
	good := "sha256=" + hex.EncodeToString(hmacOf("sha256", env["GH"], string(body)))
	runCases(t, gh, []verifyCase{
		{name: "good", header: hdr("X-Hub-Signature-256", good)},
		{name: "second secret", header: hdr("X-Hub-Signature-256", "sha256="+hex.EncodeToString(hmacOf("sha256", "next", string(body))))},
		{name: "body changed", header: hdr("X-Hub-Signature-256", good), body: []byte(`{"action":"closed"}`), want: Forged},
		{name: "other secret", header: hdr("X-Hub-Signature-256", "sha256="+hex.EncodeToString(hmacOf("sha256", "guess", string(body)))), want: Forged},
		{name: "no prefix", header: hdr("X-Hub-Signature-256", good[7:]), want: Forged},
		{name: "not hex", header: hdr("X-Hub-Signature-256", "sha256=zz"), want: Forged},
		{name: "unsigned", want: Unsigned},
	})
	// GitHub's documented example: secret "It's a Secret to Everybody",
	// payload "Hello, World!".
	ex := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if err := gh.Verify.Check(hdr("X-Hub-Signature-256", ex), nil, []byte("Hello, World!"), now); err != nil {
		t.Fatalf("GitHub's documented example: %v", err)
	}

	shop := source(t, `sources:
  - name: shopify
    path: shopify
    verify: {mode: hmac, header: X-Shopify-Hmac-Sha256, encoding: base64, secrets: [SHOP]}`+target, map[string]string{"SHOP": "k"})
	runCases(t, shop, []verifyCase{
		{name: "base64 good", header: hdr("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(hmacOf("sha256", "k", string(body))))},
		{name: "hex is not base64", header: hdr("X-Shopify-Hmac-Sha256", hex.EncodeToString(hmacOf("sha256", "k", string(body)))), want: Forged},
	})

	sha1src := source(t, `sources:
  - name: legacy
    path: legacy
    verify: {mode: hmac, algorithm: sha1, header: X-Hub-Signature, prefix: "sha1=", secrets: [S]}`+target, map[string]string{"S": "k"})
	runCases(t, sha1src, []verifyCase{
		{name: "sha1 good", header: hdr("X-Hub-Signature", "sha1="+hex.EncodeToString(hmacOf("sha1", "k", string(body))))},
		{name: "sha256 under sha1", header: hdr("X-Hub-Signature", "sha1="+hex.EncodeToString(hmacOf("sha256", "k", string(body)))), want: Forged},
	})
}

func TestVerifyStripe(t *testing.T) {
	secret := "whsec_test_secret"
	s := source(t, `sources:
  - name: stripe
    path: stripe
    verify: {mode: stripe, secrets: [STRIPE], tolerance: 5m}`+target, map[string]string{"STRIPE": secret})
	sig := func(ts time.Time, key string) string {
		t := fmt.Sprint(ts.Unix())
		return "t=" + t + ",v1=" + hex.EncodeToString(hmacOf("sha256", key, t, ".", string(body)))
	}
	runCases(t, s, []verifyCase{
		{name: "good", header: hdr("Stripe-Signature", sig(now.Add(-time.Minute), secret))},
		{name: "several v1, one good", header: hdr("Stripe-Signature", sig(now, "old")+",v1="+hex.EncodeToString(hmacOf("sha256", secret, fmt.Sprint(now.Unix()), ".", string(body))))},
		{name: "stale", header: hdr("Stripe-Signature", sig(now.Add(-6*time.Minute), secret)), want: Stale},
		{name: "future", header: hdr("Stripe-Signature", sig(now.Add(6*time.Minute), secret)), want: Stale},
		{name: "forged", header: hdr("Stripe-Signature", sig(now, "whsec_other")), want: Forged},
		{name: "forged and stale is forged", header: hdr("Stripe-Signature", sig(now.Add(-time.Hour), "x")), want: Forged},
		{name: "timestamp moved", header: hdr("Stripe-Signature", "t=2"+sig(now, secret)[3:]), want: Forged},
		{name: "no timestamp", header: hdr("Stripe-Signature", "v1=00"), want: Forged},
		{name: "unsigned", want: Unsigned},
	})
}

func TestVerifyStandardWebhooks(t *testing.T) {
	key := []byte("a 24-byte standard key!!")
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	s := source(t, `sources:
  - name: sw
    path: sw
    verify: {mode: standard-webhooks, secrets: [SW]}`+target, map[string]string{"SW": secret})
	signed := func(id string, ts time.Time, k []byte) http.Header {
		t := fmt.Sprint(ts.Unix())
		return hdr("webhook-id", id, "webhook-timestamp", t,
			"webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(hmacOf("sha256", string(k), id, ".", t, ".", string(body))))
	}
	h := signed("msg_1", now, key)
	h.Set("webhook-signature", "v1,bm90IGl0 "+h.Get("webhook-signature"))
	moved := signed("msg_1", now, key)
	moved.Set("webhook-id", "msg_2")
	runCases(t, s, []verifyCase{
		{name: "good", header: signed("msg_1", now.Add(-time.Minute), key)},
		{name: "several signatures", header: h},
		{name: "stale", header: signed("msg_1", now.Add(-10*time.Minute), key), want: Stale},
		{name: "forged", header: signed("msg_1", now, []byte("other")), want: Forged},
		{name: "id changed", header: moved, want: Forged},
		{name: "unsigned", want: Unsigned},
	})
	// The Standard Webhooks specification's test vector.
	spec := source(t, `sources:
  - name: sw
    path: sw
    verify: {mode: standard-webhooks, secrets: [SW], tolerance: 876000h}`+target, map[string]string{"SW": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	err := spec.Verify.Check(hdr("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp", "1614265330",
		"webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), nil,
		[]byte(`{"test": 2432232314}`), time.Unix(1614265330, 0))
	if err != nil {
		t.Fatalf("specification's test vector: %v", err)
	}
	if err := Resolve([]*Source{spec}, func(string) string { return "whsec_not base64!" }); err == nil {
		t.Fatal("a whsec_ secret that is not base64 was accepted")
	}
}
