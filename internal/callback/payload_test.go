package callback_test

import (
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/callback"
)

func TestPayloadMarshal(t *testing.T) {
	finished := time.Date(2025, 8, 6, 14, 30, 0, 123456789, time.FixedZone("MSK", 3*3600))
	for _, tc := range []struct {
		name string
		p    callback.Payload
		want string
	}{
		// The seed's example, compacted: same fields, same order, UTC whole seconds.
		{"matches the seed", callback.NewPayload("365a09ce-5416-49b5-8471-d6aad042761c", finished, 10, 10, 0, "https://your-domain.com/webhook-handler"),
			`{"job_id":"365a09ce-5416-49b5-8471-d6aad042761c","status":"completed","timestamp":"2025-08-06T11:30:00Z","total_lots":10,"completed_lots":10,"failed_lots":0,"webhook_url":"https://your-domain.com/webhook-handler","results_available":true}`},
		{"keeps the URL readable", callback.Payload{WebhookURL: "https://x.example/h?a=1&b=<2>"},
			`{"job_id":"","status":"","timestamp":"","total_lots":0,"completed_lots":0,"failed_lots":0,"webhook_url":"https://x.example/h?a=1&b=<2>","results_available":false}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("Marshal =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestNewPayloadStatus(t *testing.T) {
	tests := []struct {
		total, completed, failed int
		status                   string
		results                  bool
	}{
		{10, 10, 0, callback.StatusCompleted, true},
		{10, 0, 10, callback.StatusFailed, false},
		{10, 7, 3, callback.StatusPartiallyCompleted, true},
		{1, 1, 0, callback.StatusCompleted, true},
		{1, 0, 1, callback.StatusFailed, false},
	}
	for _, tt := range tests {
		p := callback.NewPayload("j", time.Unix(0, 0), tt.total, tt.completed, tt.failed, "https://x.example/")
		if p.Status != tt.status || p.ResultsAvailable != tt.results {
			t.Errorf("NewPayload(total=%d, completed=%d): status %q results_available %v, want %q %v",
				tt.total, tt.completed, p.Status, p.ResultsAvailable, tt.status, tt.results)
		}
		if p.TotalLots != tt.total || p.CompletedLots != tt.completed || p.FailedLots != tt.failed {
			t.Errorf("counts = %d/%d/%d, want %d/%d/%d", p.TotalLots, p.CompletedLots, p.FailedLots, tt.total, tt.completed, tt.failed)
		}
	}
}
