package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/cluster/clustertest"
)

// profiler takes CPU profiles during measured phases when
// BENCH_PROFILE_DIR names a directory (issue 17: profile the ack path and
// the worker under load before changing anything): Go's pprof CPU profile
// of each hookflow process (through its PPROF_ADDR), and `perf record` of
// the Postgres backends and the Temporal dev server, whose own profilers
// the bench cannot reach. Profiling costs CPU itself (pprof a few percent,
// perf at 499 Hz about as much), so a profiled run's rates are not the
// figures to quote: take those from a run without it.
type profiler struct {
	t     *testing.T
	dir   string
	pprof map[string]string // process name → PPROF_ADDR
	perf  bool              // perf is on PATH
	wg    sync.WaitGroup
}

// newProfiler is nil unless BENCH_PROFILE_DIR is set.
func newProfiler(t *testing.T, names ...string) *profiler {
	dir := os.Getenv("BENCH_PROFILE_DIR")
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("BENCH_PROFILE_DIR: %v", err)
	}
	p := &profiler{t: t, dir: dir, pprof: map[string]string{}}
	for i, port := range clustertest.FreePorts(t, len(names)) {
		p.pprof[names[i]] = "127.0.0.1:" + strconv.Itoa(port)
	}
	if _, err := exec.LookPath("perf"); err == nil {
		p.perf = true
	} else {
		fmt.Printf("  profiles: perf is not on PATH, so Postgres and the Temporal server are not profiled (apt-get install linux-perf)\n")
	}
	return p
}

// env is the environment entry that opens name's pprof listener (none
// when not profiling).
func (p *profiler) env(name string) []string {
	if p == nil {
		return nil
	}
	return []string{"PPROF_ADDR=" + p.pprof[name]}
}

// capture profiles d from now, in the background, into files named after
// label: <label>-<process>.pprof for each of the hookflow processes named
// and <label>-<part>.perf.data for each perf target (part → its pids).
// wait joins every capture.
func (p *profiler) capture(label string, d time.Duration, processes []string, perfTargets map[string][]int) {
	if p == nil {
		return
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	for _, name := range processes {
		// The CPU profile, and what was allocated over the same window
		// (<label>-<process>.allocs.pprof: `go tool pprof -sample_index=alloc_space`).
		for kind, suffix := range map[string]string{"profile": ".pprof", "allocs": ".allocs.pprof"} {
			url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", p.pprof[name], kind, secs)
			file := filepath.Join(p.dir, label+"-"+name+suffix)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				if err := fetchTo(url, file, d+30*time.Second); err != nil {
					fmt.Printf("  profiles: %s %s: %v\n", name, kind, err)
				}
			}()
		}
	}
	if !p.perf {
		return
	}
	for part, pids := range perfTargets {
		if len(pids) == 0 {
			continue
		}
		list := make([]string, len(pids))
		for i, pid := range pids {
			list[i] = strconv.Itoa(pid)
		}
		file := filepath.Join(p.dir, label+"-"+part+".perf.data")
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			cmd := exec.Command("perf", "record", "-q", "-F", "499", "-g", "-o", file, "-p", strings.Join(list, ","), "--", "sleep", strconv.Itoa(secs))
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Printf("  profiles: perf record of %s: %v: %s\n", part, err, strings.TrimSpace(string(out)))
			}
		}()
	}
}

// wait joins the captures started so far.
func (p *profiler) wait() {
	if p != nil {
		p.wg.Wait()
	}
}

// done says where the profiles are and how to read them.
func (p *profiler) done() {
	if p == nil {
		return
	}
	p.wait()
	fmt.Printf("\n  profiles in %s: `go tool pprof -top -nodecount=40 FILE.pprof`, `perf report -i FILE.perf.data --no-children --sort dso,sym`\n", p.dir)
}

func fetchTo(url, file string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
