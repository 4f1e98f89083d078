// Package clustertest starts the production topology (internal/cluster) for
// tests and benchmarks: free ports, its own data dir and its own databases
// on the machine's Postgres, all removed afterwards.
package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/internal/cluster"
	"github.com/hookflow/hookflow/internal/testenv"
)

// Start starts a cluster. Fields of o left zero get test values: free ports,
// a data dir kept only when the test fails, databases under a unique prefix
// on the machine's Postgres (TEST_DATABASE_URL), the hookflow binary built
// from this checkout, bin/ for the Temporal binaries. It skips under -short,
// and when bin/ lacks a Temporal binary (fails in CI, where `make test` has
// built them).
func Start(t testing.TB, o cluster.Options) *cluster.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server, the UI server and hookflow processes")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if o.BinDir == "" {
		o.BinDir = filepath.Join(root, "bin")
	}
	for _, name := range []string{"temporal-server", "temporal-sql-tool", "temporal-ui-server"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, name)); err != nil {
			msg := fmt.Sprintf("%s is missing: run `make bin/%s` (`make test` builds it)", filepath.Join(o.BinDir, name), name)
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	if o.Hookflow == "" {
		o.Hookflow = Hookflow(t)
	}
	if o.Postgres != "private" && o.AdminDatabaseURL == "" {
		o.AdminDatabaseURL = testenv.AdminDatabaseURL()
		if o.DatabasePrefix == "" {
			o.DatabasePrefix = fmt.Sprintf("hookflow_cluster_%d_", time.Now().UnixNano()%1e9)
		}
		prefix := o.DatabasePrefix
		t.Cleanup(func() { dropDatabases(t, prefix) })
	}
	if o.APIs == 0 {
		o.APIs = 2
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	if len(o.Ports.APIs) == 0 {
		free := FreePorts(t, o.APIs+o.Workers+7)
		o.Ports.APIs, free = free[:o.APIs], free[o.APIs:]
		o.Ports.WorkerMetrics, free = free[:o.Workers], free[o.Workers:]
		o.Ports.Frontend, o.Ports.FrontendHTTP, o.Ports.History, o.Ports.Matching, o.Ports.Worker, o.Ports.UI, o.Ports.Postgres =
			free[0], free[1], free[2], free[3], free[4], free[5], free[6]
		low := FreeLowPorts(t, 4)
		o.Ports.FrontendMembership, o.Ports.HistoryMembership, o.Ports.MatchingMembership, o.Ports.WorkerMembership = low[0], low[1], low[2], low[3]
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		if os.Getenv("HOOKFLOW_TEST_LOG") == "1" {
			o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		}
	}
	if o.AdminToken == "" {
		o.AdminToken = "test-admin-token"
	}
	if o.DataDir == "" {
		// Configs and logs are kept when the test fails.
		dataDir, err := os.MkdirTemp("", "hookflow-cluster-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("cluster logs kept in %s", filepath.Join(dataDir, "logs"))
				return
			}
			_ = os.RemoveAll(dataDir)
		})
		o.DataDir = dataDir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop) // before the databases are dropped
	return c
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// Hookflow builds the hookflow binary from this checkout, once per test
// binary, and returns its path.
func Hookflow(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := testenv.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "hookflow-bin-")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "hookflow")
		cmd := exec.Command("go", "build", "-o", built, "./cmd/hookflow")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/hookflow: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// FreePorts returns n ports nobody listens on now (held together, so they
// differ).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// FreeLowPorts returns n free ports below 32768, for Temporal's membership
// ports: Temporal stores them as smallint, and the kernel hands out
// ephemeral ports above 32768.
func FreeLowPorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for port := 20000 + rand.IntN(10000); len(ports) < n && port < 32768; port++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, port)
	}
	for _, l := range ls {
		l.Close()
	}
	if len(ports) < n {
		t.Fatalf("found %d free ports below 32768, want %d", len(ports), n)
	}
	return ports
}

func dropDatabases(t testing.TB, prefix string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.AdminDatabaseURL())
	if err != nil {
		t.Logf("drop test databases: %v", err)
		return
	}
	defer conn.Close(ctx)
	for _, name := range []string{"hookflow", "temporal", "temporal_visibility"} {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{prefix + name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("drop %s%s: %v", prefix, name, err)
		}
	}
}

// HeldShards is the number of relay shards an API replica says it holds
// in /readyz (-1 when it does not answer).
func HeldShards(hc *http.Client, api string) int {
	var ready struct {
		Checks struct {
			Shards struct {
				Held []int `json:"held"`
			} `json:"relay_shards"`
		} `json:"checks"`
	}
	resp, err := hc.Get(api + "/readyz")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	if json.NewDecoder(resp.Body).Decode(&ready) != nil {
		return -1
	}
	return len(ready.Checks.Shards.Held)
}
