package callback

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Header names of a callback request.
const (
	HeaderSignature          = "X-Signature"
	HeaderWebhookID          = "webhook-id"
	HeaderWebhookTimestamp   = "webhook-timestamp"
	HeaderWebhookSignature   = "webhook-signature"
	StandardSecretPrefix     = "whsec_"
	standardSignatureVersion = "v1,"
)

// Sign returns the seed's X-Signature: hex HMAC-SHA256 of the raw body keyed
// with the shared secret's UTF-8 bytes (what the seed's Python and Node
// receivers compute).
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// StandardKey returns the HMAC key Standard Webhooks signing uses for secret.
// A "whsec_"-prefixed secret is the spec's form: the rest is base64 and the
// decoded bytes are the key. Any other secret (for instance the same shared
// secret X-Signature uses) is used as its raw UTF-8 bytes, so one secret can
// serve both schemes; receivers using the reference libraries then verify with
// their "raw secret" constructor (Go: NewWebhookRaw). A "whsec_" secret whose
// rest is not valid base64 is also used raw, whole, rather than failing a
// delivery; check secrets at startup with ValidStandardSecret.
func StandardKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, StandardSecretPrefix); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil && len(key) > 0 {
			return key
		}
	}
	return []byte(secret)
}

// ValidStandardSecret reports whether secret is usable as is: either not
// "whsec_"-prefixed (used raw) or "whsec_" followed by non-empty base64.
func ValidStandardSecret(secret string) bool {
	rest, ok := strings.CutPrefix(secret, StandardSecretPrefix)
	if !ok {
		return secret != ""
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	return err == nil && len(key) > 0
}

// SignStandard returns the Standard Webhooks webhook-signature value
// "v1,<base64 HMAC-SHA256(key, "{msgID}.{unix ts}.{body}")>" with the key from
// StandardKey(secret).
func SignStandard(secret, msgID string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, StandardKey(secret))
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return standardSignatureVersion + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
