package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	npmOnce sync.Once
	npmErr  error
)

// RequireNode finds node and npm and installs the npm packages of the test's
// folder once per test process: `npm ci` (with npmArgs) when node_modules is
// missing or older than package-lock.json. Without node or npm the test is
// skipped (what names what is skipped), or fails under CI=true, where they
// must be there (make tools installs them).
func RequireNode(t *testing.T, what string, npmArgs ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = exec.LookPath("npm")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node and npm are required under CI: %v", err)
		}
		t.Skipf("node or npm not installed (%v): skipping %s", err, what)
	}
	npmOnce.Do(func() {
		lock, err := os.Stat("package-lock.json")
		if err != nil {
			npmErr = err
			return
		}
		if stamp, err := os.Stat(filepath.Join("node_modules", ".package-lock.json")); err == nil && !stamp.ModTime().Before(lock.ModTime()) {
			return
		}
		args := append([]string{"ci", "--no-audit", "--no-fund"}, npmArgs...)
		if out, err := exec.Command("npm", args...).CombinedOutput(); err != nil {
			npmErr = fmt.Errorf("npm ci: %v\n%s", err, out)
		}
	})
	if npmErr != nil {
		t.Fatal(npmErr)
	}
	return node
}
