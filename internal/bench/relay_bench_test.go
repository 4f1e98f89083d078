package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/cluster"
	"github.com/hookflow/hookflow/internal/cluster/clustertest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// TestBenchRelayHandover measures, on the cluster, how fast the relays hand
// a backlog of recorded events over to Temporal with one and with two API
// replicas relaying, and how long a surviving replica takes to hold the
// shards of one killed with SIGKILL. Run with `make bench
// BENCH_TARGET=cluster` (or both).
func TestBenchRelayHandover(t *testing.T) {
	benchOnly(t, "load benchmark: run with `make bench BENCH_TARGET=cluster`")
	if !slices.Contains(benchTargets(t), "cluster") {
		t.Skip("the hand-over is measured on the cluster: BENCH_TARGET=cluster or both")
	}
	const (
		printers = 200
		shards   = 8 // RELAY_SHARDS' default, which the cluster runs with
	)
	backlog := int64(40000) // events per measurement
	if v, err := strconv.ParseInt(os.Getenv("BENCH_BACKLOG"), 10, 64); err == nil && v > 0 {
		backlog = v
	}
	c := clustertest.Start(t, cluster.Options{})
	ctx := context.Background()
	st, err := store.Open(ctx, c.DatabaseURL(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	apis := []*cluster.Process{c.Process("api-1"), c.Process("api-2")}
	var seq atomic.Int64 // one sequence for the whole run: every request is a new event
	body := printerEvent(printers)
	outbox := func() int64 {
		var n int64
		if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM relay_outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// measure fills the outbox through the API with the relays held off
	// (the bench holds every shard), then lets them go and times the drain.
	measure := func(relays int, backlog int64) (rate float64) {
		for _, p := range apis {
			p.Stop()
		}
		release, err := st.HoldRelayShards(ctx, shards)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		var urls []string
		for i, p := range apis[:relays] {
			if err := p.Start(ctx); err != nil {
				t.Fatal(err)
			}
			urls = append(urls, c.APIURLs()[i]+"/api/v1/simpleprint/webhook/")
		}
		for sent := int64(0); sent < backlog; {
			r := load(urls, 32, 500*time.Millisecond, &seq, body)
			sent += r.acks
		}
		pending := outbox()
		released := time.Now()
		release()
		// The rate counts from the moment the shards are free: it includes
		// the relays' wait to take them (at most a rebalance period and a
		// poll interval), which a large backlog makes small.
		var first time.Time // the first round's commit
		deadline := time.Now().Add(5 * time.Minute)
		for {
			n := outbox()
			now := time.Now()
			if first.IsZero() && n < pending {
				first = now
			}
			if n == 0 {
				rate = float64(pending) / now.Sub(released).Seconds()
				break
			}
			if now.After(deadline) {
				t.Fatalf("%d of %d events still in the outbox after 5 minutes", n, pending)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Let processing finish, so it does not weigh on the next measurement.
		testenv.Eventually(t, 5*time.Minute, func() error {
			var left int64
			if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM inbound_events WHERE NOT processed`).Scan(&left); err != nil || left > 0 {
				return fmt.Errorf("%d events unprocessed (%v)", left, err)
			}
			return nil
		})
		fmt.Printf("  %d relay(s): %d events handed over at %.0f events/s (first round committed %s after the shards were free)\n",
			relays, pending, rate, first.Sub(released).Round(time.Millisecond))
		return rate
	}

	fmt.Printf("\nRelay hand-over on the cluster: a backlog of %d events over %d printers, RELAY_SHARDS=%d, relay defaults\n", backlog, printers, shards)
	fmt.Println("  warm-up (every printer's workflow started; not counted):")
	measure(2, backlog/4)
	var one, two []float64
	for range 2 { // interleaved, as the machine's speed drifts
		one = append(one, measure(1, backlog))
		two = append(two, measure(2, backlog))
	}
	best := func(xs []float64) float64 { return slices.Max(xs) }
	fmt.Printf("  HAND-OVER 1 relay %.0f events/s, 2 relays %.0f events/s (best of %d each), ratio %.2f\n",
		best(one), best(two), len(one), best(two)/best(one))

	// Takeover: both replicas relay (4 shards each); kill one, time until
	// the other holds all 8.
	hc := &http.Client{Timeout: 2 * time.Second}
	var takeovers []time.Duration
	for i := range 3 {
		victim, survivor := apis[i%2], c.APIURLs()[(i+1)%2]
		if victim.PID() == 0 {
			if err := victim.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
		testenv.Eventually(t, 30*time.Second, func() error {
			if n := clustertest.HeldShards(hc, survivor); n != shards/2 {
				return fmt.Errorf("the survivor-to-be holds %d shards, want %d", n, shards/2)
			}
			return nil
		})
		victim.Kill()
		killed := time.Now()
		for clustertest.HeldShards(hc, survivor) != shards {
			if time.Since(killed) > 30*time.Second {
				t.Fatalf("the survivor did not take the shards over within 30s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		takeovers = append(takeovers, time.Since(killed))
		if err := victim.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(takeovers)
	fmt.Printf("  TAKEOVER after SIGKILL of a relaying replica: %s median (runs: %v)\n\n", takeovers[1].Round(time.Millisecond), takeovers)
}
