package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/internal/cluster"
	"github.com/hookflow/hookflow/internal/cluster/clustertest"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/testenv"
)

const spPath = "/api/v1/simpleprint/webhook/"

// startCluster starts a cluster on free ports with its own data dir and
// its own databases, all removed after the test.
func startCluster(t *testing.T) *cluster.Cluster {
	return clustertest.Start(t, cluster.Options{
		// Fast relay polling, as the other integration tests use.
		Env: []string{"RELAY_POLL_INTERVAL=200ms", "RELAY_MAX_BACKOFF=1s", "LOG_LEVEL=info"},
	})
}

type ack struct {
	Status    string `json:"status"`
	ID        int64  `json:"id"`
	Duplicate bool   `json:"duplicate"`
}

// post sends one body and decodes the ack; err for no answer or non-200.
func post(hc *http.Client, url string, body []byte) (ack, error) {
	var a ack
	resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("%s: %s", resp.Status, raw)
	}
	return a, json.Unmarshal(raw, &a)
}

type eventCounts struct{ total, processed, failed, dupKeys int }

func countEvents(ctx context.Context, db *pgxpool.Pool) (eventCounts, error) {
	var n eventCounts
	err := db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE processed), count(*) FILTER (WHERE outcome = 'failed'),
		count(*) - count(DISTINCT dedup_key) FROM inbound_events`).Scan(&n.total, &n.processed, &n.failed, &n.dupKeys)
	return n, err
}

// TestClusterFailover runs the production topology, checks the seed's curl
// on both API replicas and that Temporal keeps its state in Postgres, then
// kills worker-1 and api-1 with SIGKILL while SimplyPrint events for many
// printers keep coming (retried with the same bytes until acked, as real
// senders do): every acked event must be stored once and processed once.
func TestClusterFailover(t *testing.T) {
	started := time.Now()
	c := startCluster(t)
	t.Logf("cluster up in %s", time.Since(started).Round(100*time.Millisecond))
	ctx := context.Background()
	db, err := pgxpool.New(ctx, c.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hc := &http.Client{Timeout: 5 * time.Second}
	apis := c.APIURLs()

	// The seed's check, on both replicas: one event (the second POST is the
	// same delivery, acknowledged as a duplicate), processed once.
	seed := []byte(`{"test": true}`)
	first, err := post(hc, apis[0]+spPath, seed)
	if err != nil || first.Status != "received" || first.Duplicate {
		t.Fatalf("seed curl on api-1: %+v %v", first, err)
	}
	second, err := post(hc, apis[1]+spPath, seed)
	if err != nil || second.Status != "received" || !second.Duplicate || second.ID != first.ID {
		t.Fatalf("seed curl on api-2: %+v %v (api-1 answered %+v)", second, err, first)
	}
	testenv.Eventually(t, 2*time.Minute, func() error {
		n, err := countEvents(ctx, db)
		if err == nil && (n.total != 1 || n.processed != 1) {
			err = fmt.Errorf("%d events, %d processed, want 1 and 1", n.total, n.processed)
		}
		return err
	})

	// Temporal's own state is in Postgres: the run above has rows there.
	tdb, err := pgx.Connect(ctx, c.TemporalDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	var executions int
	err = tdb.QueryRow(ctx, `SELECT count(*) FROM executions`).Scan(&executions)
	tdb.Close(ctx)
	if err != nil || executions == 0 {
		t.Fatalf("Temporal's executions table has %d rows (%v)", executions, err)
	}

	// The run shows in the Temporal UI server (its HTTP API, which the
	// UI's pages call), so the UI is wired to this cluster's frontend.
	resp, err := hc.Get(c.UIURL() + "/api/v1/namespaces/" + cluster.Namespace + "/workflows")
	if err != nil {
		t.Fatal(err)
	}
	listed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(listed, []byte(`"simplyprint-company"`)) {
		t.Fatalf("the UI server lists %s: %.300s", resp.Status, listed)
	}
	// So does the retention schedule the workers keep (Temporal UI's
	// Schedules page).
	testenv.Eventually(t, 30*time.Second, func() error {
		resp, err := hc.Get(c.UIURL() + "/api/v1/namespaces/" + cluster.Namespace + "/schedules")
		if err != nil {
			return err
		}
		listed, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(listed, []byte(`"hookflow-retention"`)) {
			return fmt.Errorf("the UI server's schedules: %s %.300s", resp.Status, listed)
		}
		return nil
	})

	// Failover under load.
	const senders, printers = 4, 40
	var (
		seq, acked, retries atomic.Int64
		stop                = make(chan struct{})
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		sendErr             error
	)
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond): // paced: ~200 events/s in all
				}
				i := seq.Add(1)
				p := simplyprinttest.Printer{ID: 1 + i%printers, Name: fmt.Sprintf("printer %d", 1+i%printers)}
				body := simplyprinttest.Payload("job.progress", 42, 1705320000+i, simplyprinttest.JobData(simplyprinttest.Job{
					ID: 1000 + i%printers, Printer: p, State: "printing", File: "part.gcode", Percentage: int(i % 100)}))
				target := (s + int(i)) % len(apis)
				deadline := time.Now().Add(30 * time.Second)
				for {
					if _, err := post(hc, apis[target]+spPath, body); err == nil {
						acked.Add(1)
						break
					} else if time.Now().After(deadline) {
						mu.Lock()
						sendErr = fmt.Errorf("event %d not acked within 30s: %v", i, err)
						mu.Unlock()
						return
					}
					retries.Add(1)
					target = 1 - target // the same bytes to the other replica
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	// The two relays share the outbox's shards evenly.
	testenv.Eventually(t, time.Minute, func() error {
		a, b := clustertest.HeldShards(hc, apis[0]), clustertest.HeldShards(hc, apis[1])
		if a != 4 || b != 4 {
			return fmt.Errorf("api-1 holds %d shards, api-2 %d: want 4 each", a, b)
		}
		return nil
	})
	time.Sleep(time.Second)
	w1 := c.Process("worker-1")
	t.Logf("SIGKILL worker-1 (pid %d) after %d acks", w1.PID(), acked.Load())
	w1.Kill()
	time.Sleep(3 * time.Second)
	a1 := c.Process("api-1")
	t.Logf("SIGKILL api-1 (pid %d) after %d acks", a1.PID(), acked.Load())
	a1.Kill() // senders find out as a load balancer would: by failed requests
	killed := time.Now()
	// The survivor takes the dead replica's shards over.
	testenv.Eventually(t, time.Minute, func() error {
		if n := clustertest.HeldShards(hc, apis[1]); n != 8 {
			return fmt.Errorf("api-2 holds %d shards after api-1 died, want 8", n)
		}
		return nil
	})
	t.Logf("api-2 held every shard %s after api-1 was killed", time.Since(killed).Round(10*time.Millisecond))
	time.Sleep(6 * time.Second)
	close(stop)
	wg.Wait()
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	want := int(acked.Load()) + 1 // and the seed's test event
	t.Logf("%d events acked (%d retries after failed sends)", want-1, retries.Load())

	drainStart := time.Now()
	// A bound against hanging only: a quiet machine drains in seconds.
	testenv.Eventually(t, 3*time.Minute, func() error {
		n, err := countEvents(ctx, db)
		if err == nil && n.processed < want {
			err = fmt.Errorf("%d of %d acked events processed (%d stored)", n.processed, want, n.total)
		}
		return err
	})
	n, err := countEvents(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if n.total != want || n.processed != want || n.dupKeys != 0 || n.failed != 0 {
		t.Fatalf("acked %d: stored %d, processed %d, duplicate keys %d, failed %d", want, n.total, n.processed, n.dupKeys, n.failed)
	}
	t.Logf("all processed %s after the last ack", time.Since(drainStart).Round(100*time.Millisecond))

	// The printers' workflows finished their batches: none failed or was
	// terminated, and every printer's read model was written.
	tc, err := client.Dial(client.Options{HostPort: c.TemporalAddress(), Namespace: cluster.Namespace, Logger: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	bad, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: cluster.Namespace,
		Query:     "ExecutionStatus = 'Failed' OR ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut'",
	})
	if err != nil || bad.GetCount() != 0 {
		t.Fatalf("%d workflows failed, were terminated or timed out (%v)", bad.GetCount(), err)
	}
	var withState int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM printers`).Scan(&withState); err != nil || withState != printers {
		t.Fatalf("%d printers in the read model, want %d (%v)", withState, printers, err)
	}
}

type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}
