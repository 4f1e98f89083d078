package callback_test

import (
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/callback"
)

func TestDefaultScheduleIsTheSeeds(t *testing.T) {
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute}
	for name, s := range map[string]callback.Schedule{"DefaultSchedule": callback.DefaultSchedule(), "zero value": {}} {
		if got := s.Delays(); !slices.Equal(got, want) {
			t.Errorf("%s.Delays() = %v, want %v", name, got, want)
		}
		// Attempts 1..5 fail and get the next delay; attempt 6 is the last.
		for attempt := 1; attempt <= 6; attempt++ {
			d, ok := s.NextDelay(attempt, 0)
			if attempt == 6 {
				if ok {
					t.Errorf("%s.NextDelay(6) = %v, true; want no 7th attempt", name, d)
				}
				continue
			}
			if !ok || d != want[attempt-1] {
				t.Errorf("%s.NextDelay(%d) = %v, %v; want %v, true", name, attempt, d, ok, want[attempt-1])
			}
		}
	}
}

func TestNextDelay(t *testing.T) {
	custom := callback.Schedule{Base: 10 * time.Second, Factor: 3, MaxAttempts: 4, MaxRetryAfter: 5 * time.Minute}
	tests := []struct {
		name       string
		s          callback.Schedule
		attempt    int
		retryAfter time.Duration
		want       time.Duration
		wantOK     bool
	}{
		{"retry-after shorter than schedule is ignored", callback.Schedule{}, 3, 2 * time.Second, 4 * time.Minute, true},
		{"retry-after longer than schedule wins", callback.Schedule{}, 1, 5 * time.Minute, 5 * time.Minute, true},
		{"retry-after capped at MaxRetryAfter", callback.Schedule{}, 1, 48 * time.Hour, time.Hour, true},
		{"cap never shortens the schedule", callback.Schedule{MaxRetryAfter: time.Second}, 5, time.Hour, 16 * time.Minute, true},
		{"custom first", custom, 1, 0, 10 * time.Second, true},
		{"custom third", custom, 3, 0, 90 * time.Second, true},
		{"custom last", custom, 4, 0, 0, false},
		{"custom retry-after cap", custom, 1, time.Hour, 5 * time.Minute, true},
		{"attempt 0 is invalid", callback.Schedule{}, 0, 0, 0, false},
		{"negative attempt", callback.Schedule{}, -1, 0, 0, false},
		{"huge factor saturates", callback.Schedule{Base: time.Hour, Factor: 1e12, MaxAttempts: 10}, 9, 0, time.Duration(1<<63 - 1), true},
		{"factor 1 is constant", callback.Schedule{Base: 30 * time.Second, Factor: 1, MaxAttempts: 3}, 2, 0, 30 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.s.NextDelay(tt.attempt, tt.retryAfter)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("NextDelay(%d, %v) = %v, %v; want %v, %v", tt.attempt, tt.retryAfter, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
