package testenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is the browser page tests drive: Debian's chromium package.
// HOOKFLOW_CHROMIUM overrides it.
var ChromiumPath = "/usr/bin/chromium"

// Browser is a headless Chromium for page tests, one per test, with a fresh
// profile. Every method fails the test on error and is bounded by Timeout.
type Browser struct {
	t   testing.TB
	ctx context.Context
	// Timeout bounds each call (navigation, wait, read, click, screenshot).
	Timeout time.Duration
}

// NewBrowser starts headless Chromium for t and stops it when t ends. When
// the browser is missing the test is skipped, except in CI (CI set and not
// "false"), where it fails.
func NewBrowser(t testing.TB) *Browser {
	t.Helper()
	path := ChromiumPath
	if p := os.Getenv("HOOKFLOW_CHROMIUM"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		msg := "headless Chromium is missing at " + path + " (apt-get install chromium): " + err.Error()
		if inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a tiny /dev/shm
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // kills the browser and waits for it, before TempDir is removed
	})
	b := &Browser{t: t, ctx: ctx, Timeout: 30 * time.Second}
	// Start it now, so a broken install fails here, clearly. The first call
	// must use the context itself: the browser lives as long as that call's
	// context, so a timeout context would end it.
	b.check("start Chromium", chromedp.Do(ctx))
	return b
}

func inCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "false" && v != "0"
}

// Do performs chromedp steps in order within Timeout; what names them in a
// failure.
func (b *Browser) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	b.check(what, chromedp.Do(ctx, steps...))
}

// Get runs one chromedp action that returns a value, within b.Timeout.
func Get[T any](b *Browser, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	b.check(what, err)
	return v
}

func (b *Browser) check(what string, err error) {
	b.t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		b.t.Fatalf("browser: %s: not done within %s", what, b.Timeout)
	default:
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// Open navigates to url and waits for the page to load.
func (b *Browser) Open(url string) {
	b.t.Helper()
	b.Do("open "+url, chromedp.Navigate(url))
}

// Location is the current URL (after redirects).
func (b *Browser) Location() string {
	b.t.Helper()
	return Get(b, "read the location", chromedp.Location())
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (b *Browser) WaitVisible(selector string) {
	b.t.Helper()
	b.Do("wait for "+selector, chromedp.WaitVisible(chromedp.CSS(selector)))
}

// Text returns the visible text of the first element matching selector.
func (b *Browser) Text(selector string) string {
	b.t.Helper()
	return Get(b, "read the text of "+selector, chromedp.Text(chromedp.CSS(selector)))
}

// Click clicks the first element matching selector (after it is visible).
func (b *Browser) Click(selector string) {
	b.t.Helper()
	b.Do("click "+selector, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves a full-page PNG as <repo>/artifacts/screenshots/<name>.png
// (the directory is git-ignored; CI keeps it as an artifact) and returns its
// path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	png := Get(b, "take a screenshot", chromedp.FullScreenshot(100)) // quality 100: PNG
	root, err := RepoRoot()
	if err != nil {
		b.t.Fatal(err)
	}
	dir := filepath.Join(root, "artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	name = strings.TrimSuffix(unsafeName.ReplaceAllString(name, "-"), ".png")
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

// RepoRoot is the directory holding go.mod, found from the working
// directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod) not found")
		}
		dir = parent
	}
}
