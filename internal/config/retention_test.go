package config

import (
	"strings"
	"testing"
	"time"
)

func TestRetentionConfig(t *testing.T) {
	cfg := mustLoad(t, map[string]string{})
	r := cfg.Retention
	if r.EventRetention("simplyprint") != 30*24*time.Hour || r.Every != time.Hour || r.BatchSize != 2000 || r.ArchiveDir != "" {
		t.Fatalf("defaults: %+v", r)
	}
	cfg = mustLoad(t, map[string]string{"EVENT_RETENTION": "0", "EVENT_RETENTION_SOURCES": " simplyprint=90d, telegram=36h ,okdesk=0",
		"SYNC_LOG_RETENTION": "7d"})
	r = cfg.Retention
	for source, want := range map[string]time.Duration{"simplyprint": 90 * 24 * time.Hour, "telegram": 36 * time.Hour, "okdesk": 0, "bitrix": 0} {
		if got := r.EventRetention(source); got != want {
			t.Errorf("%s: %s, want %s", source, got, want)
		}
	}
	if d := r.Describe(); d != "events for ever, okdesk events for ever, simplyprint events 90d, telegram events 36h, callback attempts 30d, sync_log 7d, rating actions 30d" {
		t.Errorf("describe: %s", d)
	}

	for vars, want := range map[string]string{
		"EVENT_RETENTION=soon":                    `EVENT_RETENTION: cannot read "soon" as a period`,
		"EVENT_RETENTION=-3d":                     `EVENT_RETENTION: cannot read "-3d" as a period`,
		"EVENT_RETENTION_SOURCES=printers=3d":     `names source "printers"`,
		"EVENT_RETENTION_SOURCES=simplyprint":     `entry 1 ("simplyprint") is not source=period`,
		"EVENT_RETENTION_SOURCES=okdesk=1w":       `entry 1: "1w" is not a period`,
		"EVENT_RETENTION_SOURCES=jobs=1d,jobs=2d": `source "jobs" is named twice`,
		"RETENTION_EVERY=0s":                      "RETENTION_EVERY: must be positive",
		"RETENTION_BATCH_SIZE=0":                  "RETENTION_BATCH_SIZE: must be between 1 and 100000",
		"RETENTION_BATCH_PAUSE=-1s":               "RETENTION_BATCH_PAUSE: must be between 0 and 1m",
		"RETENTION_BATCH_PAUSE=5m":                "RETENTION_BATCH_PAUSE: must be between 0 and 1m",
	} {
		k, v, _ := strings.Cut(vars, "=")
		loadFails(t, map[string]string{k: v}, want)
	}
}
