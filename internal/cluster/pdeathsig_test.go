package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/devenv"
)

// TestChildrenDieWithTheParent starts this test binary as a parent that
// starts children the way the cluster and `hookflow dev` do, makes the Go
// runtime end OS threads (goroutines that lock their thread and return),
// then kills the parent with SIGKILL: no child may be left.
func TestChildrenDieWithTheParent(t *testing.T) {
	if os.Getenv("HOOKFLOW_PDEATHSIG_PARENT") == "1" {
		parent()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildrenDieWithTheParent$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HOOKFLOW_PDEATHSIG_PARENT=1", "HOOKFLOW_PDEATHSIG_DIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // on failure paths
	var pids []int
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "children: "); ok {
			for _, f := range strings.Fields(rest) {
				pid, _ := strconv.Atoi(f)
				pids = append(pids, pid)
			}
			break
		}
	}
	if len(pids) != 2 {
		t.Fatalf("the parent did not report its two children (got %v)", pids)
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("child %d died while its parent lived: the thread that started it ended", pid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("child %d outlived its parent by 10s", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// parent starts two children (one with the default death signal, one with
// SIGINT as the private Postgres has), prints their pids and waits to be
// killed. The first child is started from a goroutine that locks its OS
// thread and returns, which makes the runtime end that thread; so does
// every goroutine of the churn afterwards. Without the spawner's own thread
// Pdeathsig would fire on those thread exits and kill the children early.
func parent() {
	dir := os.Getenv("HOOKFLOW_PDEATHSIG_DIR")
	var procs []*devenv.Process
	for i, sig := range []syscall.Signal{0, syscall.SIGINT} {
		p := &devenv.Process{Name: fmt.Sprintf("sleep-%d", i), Path: "/bin/sleep", Args: []string{"600"},
			LogPath: filepath.Join(dir, fmt.Sprintf("sleep-%d.log", i)), DeathSignal: sig}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // never unlocked: this thread ends with the goroutine
			if err := p.Start(context.Background()); err != nil {
				fmt.Println("start:", err)
				os.Exit(1)
			}
		}()
		wg.Wait()
		procs = append(procs, p)
	}
	for range 50 {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
		}()
		wg.Wait()
	}
	time.Sleep(200 * time.Millisecond) // let a wrongly sent death signal land
	fmt.Printf("children: %d %d\n", procs[0].PID(), procs[1].PID())
	select {}
}

// alive tells whether pid runs (a zombie, waiting for init to reap it,
// does not).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
