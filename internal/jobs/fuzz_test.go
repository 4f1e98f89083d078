package jobs_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/jobs"
)

// FuzzVerifySignature: X-Signature verification agrees with HMAC-SHA256
// computed here as the reference, for a client whose secret is rotating: a
// header made with the current secret is accepted; one made with the previous
// secret only during the overlap (and reported as such); anything else is
// refused with ErrBadSignature, never accepted by accident.
func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte(`{"lots":[]}`), "new-secret", "old-secret", "", uint8(0), true)
	f.Add([]byte(`{}`), "s", "", "sha256=00", uint8(2), false)
	f.Add([]byte{}, "a", "b", "zz", uint8(1), true)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, secret, previous, header string, mode uint8, overlap bool) {
		if secret == "" || previous == secret {
			return // refused by configuration (ParseClientsWithPrevious)
		}
		until := now.Add(-time.Minute)
		if overlap {
			until = now.Add(time.Minute)
		}
		client := jobs.Client{ID: "acme", Secret: secret, Previous: previous, PreviousUntil: until}
		ref := func(key string) string {
			m := hmac.New(sha256.New, []byte(key))
			m.Write(body)
			return hex.EncodeToString(m.Sum(nil))
		}
		switch mode % 3 {
		case 0:
			header = "sha256=" + ref(secret)
		case 1:
			if previous != "" {
				header = ref(previous)
			}
		}
		id, withPrevious, err := jobs.VerifySignatureAt(jobs.Submission{}, body, header, jobs.ClientSet{client}, now)
		sig, err2 := hex.DecodeString(trimSig(header))
		matchesCurrent := err2 == nil && hmac.Equal(sig, mustHex(ref(secret)))
		matchesPrevious := err2 == nil && previous != "" && overlap && hmac.Equal(sig, mustHex(ref(previous)))
		switch {
		case matchesCurrent:
			if err != nil || id != "acme" || withPrevious {
				t.Fatalf("current-secret signature: %q %v %v", id, withPrevious, err)
			}
		case matchesPrevious:
			if err != nil || id != "acme" || !withPrevious {
				t.Fatalf("previous-secret signature in the overlap: %q %v %v", id, withPrevious, err)
			}
		default:
			if err == nil || id != "" {
				t.Fatalf("header %q accepted as %q (secret %q, previous %q, overlap %v)", header, id, secret, previous, overlap)
			}
			if trimSig(header) != "" && !errors.Is(err, jobs.ErrBadSignature) {
				t.Fatalf("refusal %v is not ErrBadSignature", err)
			}
		}
	})
}

func trimSig(h string) string {
	return strings.TrimPrefix(strings.TrimSpace(h), "sha256=")
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}
