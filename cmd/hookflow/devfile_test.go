package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/testenv"
)

// buildHookflow builds this command into a temporary directory.
func buildHookflow(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hookflow")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// bareEnv is a second terminal's environment with nothing exported: only
// PATH and HOME, plus extra.
func bareEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

// runIn runs the binary in dir with env and returns its stdout, stderr and
// error.
func runIn(t *testing.T, bin, dir string, env []string, args ...string) (string, string, error) {
	t.Helper()
	return runFor(t, time.Minute, bin, dir, env, args...)
}

// runFor is runIn with the time the run may take.
func runFor(t *testing.T, timeout time.Duration, bin, dir string, env []string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// A `hookflow dev` writes what it chose to .data/hookflow-dev.json (0600);
// a second process in the same directory with an empty environment finds
// the database and the API through it; an explicit variable wins; the file
// is gone when dev stops, and one left by a killed dev is not trusted.
func TestDevFileLetsASecondTerminalFindTheRunningSystem(t *testing.T) {
	bin := buildHookflow(t)
	dbURL, st := testenv.Database(t)
	tmp := testenv.Temporal(t)
	addr, err := testenv.FreeHostPort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	// hookflow dev, as `make run` starts it: the database and Temporal are
	// the tests' (dev reuses a Temporal that answers), no ADMIN_TOKEN (dev
	// makes one) and no inbound secrets.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dev := exec.CommandContext(ctx, bin, "dev", "--ui-port", "18299")
	dev.Dir = dir
	dev.Env = bareEnv("DATABASE_URL="+dbURL, "TEMPORAL_ADDRESS="+tmp.HostPort, "HTTP_ADDR="+addr,
		"TEMPORAL_TASK_QUEUE=devfile-test", "TELEGRAM_BOT_USERNAME=hookflow_test_bot", "LOG_LEVEL=warn",
		"CALLBACK_ALLOW_PRIVATE_NETWORKS=true")
	var devOut, devErr testenv.SyncBuffer
	dev.Stdout, dev.Stderr = &devOut, &devErr
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- dev.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = dev.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = dev.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)

	path := filepath.Join(dir, ".data", devFileName)
	testenv.Eventually(t, 90*time.Second, func() error {
		_, err := os.Stat(path)
		return err
	})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	f, err := readDevFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token := f.Env["ADMIN_TOKEN"]
	if f.PID != dev.Process.Pid || f.Env["DATABASE_URL"] != dbURL || f.Env["HOOKFLOW_URL"] != "http://"+addr ||
		f.Env["TEMPORAL_ADDRESS"] != tmp.HostPort || f.Env["TEMPORAL_UI_URL"] != "http://localhost:18299" || len(token) < 16 || f.Env["TELEGRAM_WEBHOOK_SECRET"] == "" ||
		f.Env["BITRIX_WEBHOOK_TOKEN"] == "" || f.Env["JOBS_SHARED_SECRET"] == "" {
		t.Fatalf("dev file %+v (pid %d)", f, dev.Process.Pid)
	}
	// The generated secrets are only in the file, never in dev's output.
	for _, k := range []string{"TELEGRAM_WEBHOOK_SECRET", "BITRIX_WEBHOOK_TOKEN", "JOBS_SHARED_SECRET"} {
		if v := f.Env[k]; strings.Contains(devOut.String()+devErr.String(), v) {
			t.Fatalf("dev printed %s", k)
		}
	}

	// The database: link-contact writes a link token into the dev database.
	out, errOut, err := runIn(t, bin, dir, bareEnv(), "okdesk", "link-contact", "21")
	if err != nil {
		t.Fatalf("link-contact with an empty environment: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, "https://t.me/hookflow_test_bot?start=") || !strings.Contains(errOut, "DATABASE_URL") {
		t.Fatalf("link-contact printed %q, %q", out, errOut)
	}
	var n int
	if err := st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM okdesk_link_tokens WHERE contact_id = 21`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("link tokens of contact 21 in the dev database: %d %v", n, err)
	}
	// The API, with the admin token dev made.
	out, errOut, err = runIn(t, bin, dir, bareEnv(), "sources", "list")
	if err != nil || !strings.Contains(out, "simplyprint") || !strings.Contains(out, "running") {
		t.Fatalf("sources list with an empty environment: %v\n%s%s", err, out, errOut)
	}
	if strings.Contains(out+errOut, token) {
		t.Fatal("the CLI printed the admin token")
	}
	// hookflow trigger signs with the secrets dev made for the run, which
	// only the file holds: the API accepts each event. (Entities of their
	// own: the runs stay on dev's task queue of the shared dev server after
	// dev stops, and TestTriggerEveryKind's must not be signalled there.)
	for _, args := range [][]string{
		{"trigger", "telegram", "rating", "--chat", "990042", "--stars", "4"},
		{"trigger", "bitrix", "order-saved", "--order", "990236"},
		{"trigger", "job", "--lots", "2", "--image-base", "http://127.0.0.1:9/img"},
		{"trigger", "simplyprint", "job.started", "--printer", "99005"},
	} {
		out, errOut, err := runIn(t, bin, dir, bareEnv(), args...)
		if err != nil || !strings.Contains(out, "→ 20") || !strings.Contains(out, "/namespaces/default/workflows/") {
			t.Fatalf("%v with an empty environment: %v\n%s%s", args, err, out, errOut)
		}
	}

	// An explicit variable wins over the file.
	_, errOut, err = runIn(t, bin, dir, bareEnv("DATABASE_URL=postgres://postgres@127.0.0.1:1/nowhere?connect_timeout=2"),
		"okdesk", "link-contact", "21")
	if err == nil || !strings.Contains(errOut, "127.0.0.1:1") || !strings.Contains(errOut, "using the running hookflow dev") ||
		strings.Contains(strings.SplitN(errOut, "\n", 2)[0], "DATABASE_URL") {
		t.Fatalf("an explicit DATABASE_URL must be used: %v %q", err, errOut)
	}
	_, errOut, err = runIn(t, bin, dir, bareEnv("ADMIN_TOKEN=wrong-token-0123456789"), "sources", "list")
	if err == nil || !strings.Contains(errOut, "401") {
		t.Fatalf("an explicit ADMIN_TOKEN must be used: %v %q", err, errOut)
	}

	// dev stops: the file goes with it.
	stop()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("after dev stopped, %s: %v", path, err)
	}

	// A file left by a dev that was killed (its pid is gone) is not trusted.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	f.PID = gone.Process.Pid
	raw, _ := json.Marshal(f)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, err = runIn(t, bin, dir, bareEnv(), "okdesk", "link-contact", "21")
	if err == nil || !strings.Contains(errOut, "is gone") || !strings.Contains(errOut, "DATABASE_URL is not set") {
		t.Fatalf("a stale dev file: %v %q", err, errOut)
	}
}
