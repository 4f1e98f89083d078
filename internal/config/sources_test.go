package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SOURCES_FILE is read and checked at load: a bad file stops the start
// with every problem; secrets come from the same variables.
func TestSourcesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sources.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`sources:
  - name: shop
    path: shopify
    verify: {mode: hmac, header: X-Shopify-Hmac-Sha256, encoding: base64, secrets: [SHOP_SECRET]}
    target: {workflow: Orders, task_queue: shop}
`)
	if _, err := LoadFrom(map[string]string{"SOURCES_FILE": path}); err == nil ||
		!strings.Contains(err.Error(), `source "shop": verify.secrets: environment variable SHOP_SECRET is not set`) {
		t.Fatalf("unset secret: %v", err)
	}
	cfg, err := LoadFrom(map[string]string{"SOURCES_FILE": path, "SHOP_SECRET": "s"})
	if err != nil || len(cfg.Sources) != 1 || cfg.Sources[0].Name != "shop" {
		t.Fatalf("load: %v %+v", err, cfg.Sources)
	}
	// A declared source has a retention of its own when
	// EVENT_RETENTION_SOURCES names it; without the file it is unknown.
	cfg, err = LoadFrom(map[string]string{"SOURCES_FILE": path, "SHOP_SECRET": "s", "EVENT_RETENTION_SOURCES": "shop=7d,telegram=2d"})
	if err != nil || cfg.Retention.EventRetention("shop") != 7*24*time.Hour || cfg.Retention.EventRetention("simplyprint") != 30*24*time.Hour {
		t.Fatalf("retention of a declared source: %v, %s", err, cfg.Retention.EventRetention("shop"))
	}
	if _, err := LoadFrom(map[string]string{"EVENT_RETENTION_SOURCES": "shop=7d"}); err == nil ||
		!strings.Contains(err.Error(), `names source "shop"`) || !strings.Contains(err.Error(), "SOURCES_FILE") {
		t.Fatalf("a source of no SOURCES_FILE: %v", err)
	}
	write("sources:\n  - name: shop\n    pth: x\n")
	if _, err := LoadFrom(map[string]string{"SOURCES_FILE": path}); err == nil || !strings.Contains(err.Error(), "field pth not found") {
		t.Fatalf("typo: %v", err)
	}
	if _, err := LoadFrom(map[string]string{"SOURCES_FILE": path + ".missing"}); err == nil || !strings.Contains(err.Error(), "SOURCES_FILE") {
		t.Fatalf("missing file: %v", err)
	}
}
