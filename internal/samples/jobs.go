package samples

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/hookflow/hookflow/internal/jobs"
)

// HMACHex is hex(HMAC-SHA256(secret, data)), the signature of job
// submissions and callbacks.
func HMACHex(secret string, data []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

// JobSubmission builds a submission the seed's way: "signature" is the
// HMAC of the lots value exactly as it appears in the body.
func JobSubmission(secret, webhookURL string, languages []string, lots ...jobs.Lot) []byte {
	rawLots := mustJSON("JobSubmission", lots)
	langs := mustJSON("JobSubmission", languages)
	hook := mustJSON("JobSubmission", webhookURL)
	return []byte(fmt.Sprintf(`{"signature": %q, "version": "1.0.0", "languages": %s, "webhook_url": %s, "lots": %s}`,
		HMACHex(secret, rawLots), langs, hook, rawLots))
}

// JobLot is lot id with n image URLs under base (e.g. https://img.example).
func JobLot(base, id string, n int) jobs.Lot {
	l := jobs.Lot{LotID: id}
	for i := range n {
		l.Images = append(l.Images, fmt.Sprintf("%s/%s/%d.jpg", base, id, i))
	}
	return l
}
