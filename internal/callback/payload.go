// Package callback holds the primitives of outgoing job callbacks: the payload
// the seed (job-callbacks.md) promises, its two signatures (the seed's
// X-Signature and Standard Webhooks), one delivery attempt with its outcome
// classified, and the retry schedule. Retrying itself is the workflow's job:
// Deliver makes exactly one attempt and says what should happen next.
package callback

import (
	"bytes"
	"encoding/json"
	"time"
)

// Job statuses a callback reports.
const (
	StatusCompleted          = "completed"
	StatusFailed             = "failed"
	StatusPartiallyCompleted = "partially_completed"
)

// Payload is the callback body, field for field and in the order of the seed.
type Payload struct {
	JobID            string `json:"job_id"`
	Status           string `json:"status"`    // StatusCompleted, StatusFailed or StatusPartiallyCompleted
	Timestamp        string `json:"timestamp"` // RFC 3339 in UTC, see FormatTimestamp
	TotalLots        int    `json:"total_lots"`
	CompletedLots    int    `json:"completed_lots"`
	FailedLots       int    `json:"failed_lots"`
	WebhookURL       string `json:"webhook_url"`
	ResultsAvailable bool   `json:"results_available"`
}

// NewPayload builds the payload of a finished job: the status follows from the
// counts (StatusFor) and results are available when at least one lot completed.
func NewPayload(jobID string, finishedAt time.Time, total, completed, failed int, webhookURL string) Payload {
	return Payload{
		JobID:            jobID,
		Status:           StatusFor(total, completed),
		Timestamp:        FormatTimestamp(finishedAt),
		TotalLots:        total,
		CompletedLots:    completed,
		FailedLots:       failed,
		WebhookURL:       webhookURL,
		ResultsAvailable: completed > 0,
	}
}

// StatusFor is "completed" when every lot completed, "failed" when none did and
// "partially_completed" otherwise.
func StatusFor(total, completed int) string {
	switch {
	case completed >= total:
		return StatusCompleted
	case completed <= 0:
		return StatusFailed
	default:
		return StatusPartiallyCompleted
	}
}

// FormatTimestamp renders t as the seed does: RFC 3339, UTC, whole seconds
// ("2025-08-06T11:30:00Z").
func FormatTimestamp(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// Marshal encodes the payload once; the bytes it returns are what is signed
// and sent, on every retry. HTML escaping is off so a webhook_url with "&"
// reads as sent ("\u0026" would be valid JSON but surprises receivers).
func (p Payload) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
