package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/demo"
	"github.com/hookflow/hookflow/internal/testenv"
)

// The demo's variables win over the environment's (the fakes accept only
// their own credentials); every other variable is read as usual.
func TestDemoConfig(t *testing.T) {
	t.Setenv("OKDESK_API_URL", "https://acme.okdesk.ru/api/v1/")
	t.Setenv("CALLBACK_ALLOW_PRIVATE_NETWORKS", "false")
	t.Setenv("LOG_LEVEL", "warn")
	t.Setenv("JOBS_CLIENTS", "")
	fakes := demo.Start()
	defer fakes.Close()
	cfg, err := demoConfig(fakes)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Ratings.OkdeskAPIURL != fakes.Okdesk.APIURL() || cfg.Ratings.TelegramAPIURL != fakes.Telegram.URL() ||
		cfg.Orders.RESTURL != fakes.Bitrix.URL() || cfg.Jobs.GeneratorURL != fakes.Generator.URL() {
		t.Fatalf("not wired to the fakes: okdesk %q telegram %q bitrix %q generator %q",
			cfg.Ratings.OkdeskAPIURL, cfg.Ratings.TelegramAPIURL, cfg.Orders.RESTURL, cfg.Jobs.GeneratorURL)
	}
	if !cfg.Jobs.CallbackAllowPrivate || cfg.LogLevel != "warn" {
		t.Fatalf("allow private %t, log level %q", cfg.Jobs.CallbackAllowPrivate, cfg.LogLevel)
	}
	if ids := cfg.Jobs.ClientIDs(); len(ids) != 1 || ids[0] != demo.JobsClient {
		t.Fatalf("job clients %v", ids)
	}
}

func TestLocalURL(t *testing.T) {
	for addr, want := range map[string]string{
		"[::]:8080":      "http://127.0.0.1:8080",
		"0.0.0.0:8080":   "http://127.0.0.1:8080",
		"127.0.0.1:9000": "http://127.0.0.1:9000",
		"10.0.0.5:8080":  "http://10.0.0.5:8080",
	} {
		if got := localURL(addr); got != want {
			t.Errorf("localURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

// syncBuffer is what dev prints to, read while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var demoPageLine = regexp.MustCompile(`demo page +(http://\S+)/ops/demo`)

// TestDevDemo runs `hookflow dev --demo` as make demo does, from an
// environment with only a database, addresses and a token: it starts its
// own Temporal dev server, migrates, serves, wires the fakes, and prints
// the demo page; a rating then goes all the way through (Okdesk webhook,
// the bot's request, a star pressed on the console, the Okdesk comment).
// Cancelling stops everything.
func TestDevDemo(t *testing.T) {
	cli, err := testenv.TemporalCLI()
	if err != nil {
		t.Fatal(err)
	}
	temporalAddr, err := testenv.FreeHostPort()
	if err != nil {
		t.Fatal(err)
	}
	uiAddr, err := testenv.FreeHostPort()
	if err != nil {
		t.Fatal(err)
	}
	_, uiPort, _ := net.SplitHostPort(uiAddr)
	const admin = "dev-demo-admin-token-0123"
	t.Setenv("TEMPORAL_CLI", cli)
	t.Setenv("TEMPORAL_ADDRESS", temporalAddr)
	t.Setenv("DATABASE_URL", testenv.EmptyDatabase(t))
	t.Setenv("HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("ADMIN_TOKEN", admin)
	t.Setenv("LOG_LEVEL", "error")
	// A real account's settings: demo mode points hookflow at the fakes instead.
	t.Setenv("OKDESK_API_URL", "https://must-not-be-called.example/api/v1/")
	t.Setenv("OKDESK_API_TOKEN", "a-real-token")
	t.Setenv("OKDESK_COMMENT_AUTHOR_ID", "99")

	bin := buildHookflow(t) // for the tour, a second terminal
	dir := t.TempDir()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "dev", []string{"--demo", "--data", filepath.Join(dir, devDataDir), "--ui-port", uiPort}, out)
	}()
	var base string
	testenv.Eventually(t, 3*time.Minute, func() error {
		select {
		case err := <-done:
			t.Fatalf("dev --demo ended early: %v\n%s", err, out.String())
		default:
		}
		m := demoPageLine.FindStringSubmatch(out.String())
		if m == nil {
			return fmt.Errorf("no demo page printed yet: %q", out.String())
		}
		base = m[1]
		return nil
	})
	if !strings.Contains(out.String(), "DEMO MODE") || strings.Contains(out.String(), admin) {
		t.Fatalf("the banner is missing, or the given token was printed:\n%s", out.String())
	}

	act := func(form url.Values) string {
		t.Helper()
		resp, _ := testenv.SendBy(t, testenv.NoRedirect, testenv.Request(t, "POST", base+"/ops/demo/act", []byte(form.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer " + admin}))
		loc, _ := url.QueryUnescape(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "done=") {
			t.Fatalf("%v: %d %s", form, resp.StatusCode, loc)
		}
		return loc
	}
	page := func() string {
		t.Helper()
		_, b := testenv.Send(t, testenv.Request(t, "GET", base+"/ops/demo", nil, map[string]string{"Authorization": "Bearer " + admin}))
		return string(b)
	}
	act(url.Values{"action": {"resolve"}, "issue": {"153"}})
	button := regexp.MustCompile(`name="message" value="(\d+)"><input type="hidden" name="data" value="rate:153:5"`)
	var msgID string
	testenv.Eventually(t, 30*time.Second, func() error {
		m := button.FindStringSubmatch(page())
		if m == nil {
			return errors.New("no rating button for issue 153 on the demo page yet")
		}
		msgID = m[1]
		return nil
	})
	act(url.Values{"action": {"press"}, "chat": {fmt.Sprint(demo.ChatID)}, "message": {msgID}, "data": {"rate:153:5"}})
	testenv.Eventually(t, 30*time.Second, func() error {
		// Written as the demo's author (1), not the environment's (99).
		if p := page(); !strings.Contains(p, "Оценка клиента: ⭐⭐⭐⭐⭐ (5/5)</td><td>employee 1</td>") {
			return errors.New("the Okdesk comment is not on the demo page yet")
		}
		return nil
	})

	// `hookflow demo tour` in a second process, in the directory dev
	// writes its dev file under, with nothing exported: it finds the demo
	// and every flow goes through.
	tourOut, tourErr, err := runTour(t, bin, dir, bareEnv())
	if err != nil {
		t.Fatalf("demo tour: %v\nstdout:\n%s\nstderr:\n%s", err, tourOut, tourErr)
	}
	for i, step := range []string{"SimplyPrint job.done", "Okdesk issue resolved, rated 5 stars in Telegram",
		"Bitrix24 order saved", "description job and its signed callback"} {
		if want := fmt.Sprintf("✓ step %d done: %s", i+1, step); !strings.Contains(tourOut, want) {
			t.Errorf("the tour's output lacks %q:\n%s", want, tourOut)
		}
	}
	for _, want := range []string{"/ops/simplyprint", "/ops/ratings", "/crm/sync", "/ops/jobs",
		"Temporal UI  http://localhost:" + uiPort + "/namespaces/default/workflows/", "bitrix-order-", "okdesk-issue-154", "callback-",
		"hookflow posted to Okdesk issue 154", "signatures verified", "all 4 flows ran end to end"} {
		if !strings.Contains(tourOut, want) {
			t.Errorf("the tour's output lacks %q:\n%s", want, tourOut)
		}
	}
	if strings.Contains(tourOut+tourErr, admin) {
		t.Error("the tour printed the admin token")
	}
	t.Logf("demo tour:\n%s", tourOut)

	// A step whose flow does not finish in time says what did not happen
	// and where to look, the tour goes on, and it exits 1.
	tourOut, tourErr, err = runTour(t, bin, dir, bareEnv(), "--timeout", "1ms")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("demo tour --timeout 1ms: %v\nstdout:\n%s\nstderr:\n%s", err, tourOut, tourErr)
	}
	for _, want := range []string{
		"✗ step 1 failed: the job.done event recorded and processed did not happen within 1ms; look at http://",
		"/ops/simplyprint and the hookflow log",
		"✗ step 2 failed: the rating request for issue 155 in the demo chat did not happen within 1ms",
		"✗ step 3 failed: Bitrix24 order ", "/crm/sync (sync log)",
		"✗ step 4 failed: the callback of job ",
		"demo tour: 4 of 4 steps failed",
	} {
		if !strings.Contains(tourOut+tourErr, want) {
			t.Errorf("the failed tour's output lacks %q:\nstdout:\n%s\nstderr:\n%s", want, tourOut, tourErr)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev --demo: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("dev --demo did not stop within a minute of the cancel")
	}
	if testenvAnswers(temporalAddr) {
		t.Fatalf("the Temporal dev server on %s still answers after the stop", temporalAddr)
	}
}

// runTour runs `hookflow demo tour` in dir with env.
func runTour(t *testing.T, bin, dir string, env []string, args ...string) (string, string, error) {
	t.Helper()
	return runFor(t, 5*time.Minute, bin, dir, env, append([]string{"demo", "tour"}, args...)...)
}

// The tour refuses, clearly and with a non-zero exit, a hookflow that is
// not in demo mode: its GET /api/v1/demo answers 404.
func TestDemoTourRefusesWithoutDemoMode(t *testing.T) {
	const admin = "tour-admin-token-0123456789"
	cfg, err := config.LoadFrom(map[string]string{"ADMIN_TOKEN": admin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&api.Server{Config: cfg, Log: slog.New(slog.DiscardHandler)}).Handler())
	defer srv.Close()

	resp, body := testenv.Send(t, testenv.Request(t, "GET", srv.URL+"/api/v1/demo", nil, map[string]string{"Authorization": "Bearer " + admin}))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"error":"demo mode is off`) {
		t.Fatalf("GET /api/v1/demo without demo mode: %d %s", resp.StatusCode, body)
	}

	bin := buildHookflow(t)
	stdout, stderr, err := runTour(t, bin, t.TempDir(), bareEnv("HOOKFLOW_URL="+srv.URL, "ADMIN_TOKEN="+admin))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("demo tour against a hookflow without demo mode: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, "is not in demo mode") || !strings.Contains(stderr, "make demo") || strings.Contains(stdout, "step 1") {
		t.Fatalf("the refusal does not say why:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

func testenvAnswers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}
