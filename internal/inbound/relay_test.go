package inbound

import (
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/config"
)

func TestRelaySpacingSpendsTheSignalBudget(t *testing.T) {
	for _, c := range []struct {
		rate    int
		poll    time.Duration
		signals int
		want    time.Duration
	}{
		{rate: 50, poll: time.Second, signals: 0, want: 0},                     // nothing sent: no wait
		{rate: 50, poll: time.Second, signals: 1, want: 20 * time.Millisecond}, // a trickle is handed over at once
		{rate: 50, poll: time.Second, signals: 25, want: 500 * time.Millisecond},
		{rate: 50, poll: time.Second, signals: 50, want: time.Second},
		{rate: 50, poll: time.Second, signals: 5000, want: time.Second}, // never longer than the poll interval
		{rate: 50, poll: 200 * time.Millisecond, signals: 50, want: 200 * time.Millisecond},
		{rate: 0, poll: time.Second, signals: 50, want: 0}, // spacing off
	} {
		r := &Relay{cfg: config.RelayConfig{SignalRate: c.rate, PollInterval: c.poll}}
		if got := r.spacing(c.signals); got != c.want {
			t.Errorf("rate %d, poll %s, %d signals: spacing %s, want %s", c.rate, c.poll, c.signals, got, c.want)
		}
	}
}
