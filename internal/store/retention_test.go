package store_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/retention"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// TestRetentionPurge: a purge with the archive on removes, in batches, what
// is past its period and nothing else (unprocessed events, events the relay
// still holds, a source kept for ever, attempts of a pending delivery,
// pending rating actions, read models); the counters still equal a full
// count; the archive holds exactly the purged rows; and a repeat of a purged
// event is recorded as new.
func TestRetentionPurge(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	typ := func(i int) string { return []string{"job_started", "job_completed"}[i%2] }
	for _, batch := range [][]*store.InboundEvent{
		sourceEvents("simplyprint", 0, 2600, typ), // 0..2499 old processed, the rest below
		sourceEvents("okdesk", 0, 40, typ),        // old processed, but okdesk is kept for ever
	} {
		if _, err := st.RecordEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE inbound_events SET processed = true, processed_at = now(), outcome = CASE WHEN id % 3 = 0 THEN 'stale' ELSE 'applied' END
		WHERE NOT (source = 'simplyprint' AND dedup_key IN ('k2500', 'k2501', 'k2502'))`)
	exec(`UPDATE inbound_events SET received_at = now() - interval '40 days'
		WHERE source = 'okdesk' OR (source = 'simplyprint' AND substr(dedup_key, 2)::int < 2510)`)
	// The relay has handed over everything but two old processed events.
	exec(`DELETE FROM relay_outbox WHERE event_id NOT IN (SELECT id FROM inbound_events
		WHERE source = 'simplyprint' AND dedup_key IN ('k2503', 'k2504'))`)
	// So: simplyprint k0..k2509 are old; of them k2500..k2502 are unprocessed
	// and k2503..k2504 still in the outbox; 2505 old events go.

	old := time.Now().Add(-40 * 24 * time.Hour)
	oldFailed := finishedDelivery(t, st, 400, store.DeliveryFailed, old)
	oldPending := finishedDelivery(t, st, 503, store.DeliveryPending, old)
	newFailed := finishedDelivery(t, st, 400, store.DeliveryFailed, time.Now())
	for i := range 30 {
		if err := store.LogSync(ctx, st.Pool, store.SyncLogEntry{Direction: "inbound", EntityID: fmt.Sprint(i), Action: "create",
			Status: []string{"success", "error"}[i%2]}); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE sync_log SET at = now() - interval '40 days' WHERE entity_id::int < 20`)
	exec(`INSERT INTO rating_actions (owner, kind, done_at) VALUES
		('okdesk-rating-1', 'send', now() - interval '40 days'), ('okdesk-rating-1', 'send', now() - interval '35 days'),
		('okdesk-rating-2', 'send', NULL), ('okdesk-rating-3', 'send', now())`)
	exec(`UPDATE rating_actions SET created_at = now() - interval '41 days'`)

	cfg := config.RetentionConfig{Events: config.Period(30 * 24 * time.Hour), EventsSources: "okdesk=0",
		Attempts: config.Period(30 * 24 * time.Hour), SyncLog: config.Period(30 * 24 * time.Hour), RatingActions: config.Period(30 * 24 * time.Hour)}
	// A callback counter split over two slots in a past hour, as
	// concurrent writers leave them: the purge compacts it.
	exec(`INSERT INTO delivery_counts (hour, status, attempts, slot, n)
		VALUES (date_trunc('hour', now() - interval '3 hours'), 'delivered', 1, 1, 1), (date_trunc('hour', now() - interval '3 hours'), 'delivered', 1, 2, -1)`)
	dir := t.TempDir()
	var progress []int64
	res, err := retention.Purge(ctx, st, cfg, retention.Options{BatchSize: 1000, Archive: &retention.Archive{Dir: dir},
		Progress: func(c retention.Counts) { progress = append(progress, c.Total()) }})
	if err != nil {
		t.Fatal(err)
	}
	want := retention.Counts{"events/simplyprint": 2505, "events/jobs": 0, store.PurgeCallbackAttempts: 1, store.PurgeSyncLog: 20, store.PurgeRatingActions: 2}
	for k, n := range want {
		if res.Purged[k] != n {
			t.Errorf("purged %s: %d, want %d (all: %v)", k, res.Purged[k], n, res.Purged)
		}
	}
	if res.Compacted < 1 {
		t.Errorf("compacted %d callback counter rows, want the split one", res.Compacted)
	}
	if res.More || len(progress) < 3 {
		t.Errorf("more %v, progress reports %v: want batches of 1000 (three for the events)", res.More, progress)
	}

	count := func(sql string) int {
		t.Helper()
		var n int
		if err := st.Pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for sql, n := range map[string]int{
		`SELECT count(*) FROM inbound_events WHERE source = 'simplyprint'`:                                             95,
		`SELECT count(*) FROM inbound_events WHERE source = 'okdesk'`:                                                  40,
		`SELECT count(*) FROM inbound_events WHERE source = 'jobs'`:                                                    3,
		fmt.Sprintf(`SELECT count(*) FROM callback_attempts WHERE delivery_id = '%s'`, oldFailed):                      0,
		fmt.Sprintf(`SELECT count(*) FROM callback_attempts WHERE delivery_id IN ('%s', '%s')`, oldPending, newFailed): 2,
		`SELECT count(*) FROM callback_deliveries`:                                                                     3,
		`SELECT count(*) FROM jobs`:                                 3,
		`SELECT count(*) FROM sync_log`:                             10,
		`SELECT count(*) FROM rating_actions`:                       2,
		`SELECT count(*) FROM rating_actions WHERE done_at IS NULL`: 1,
	} {
		if got := count(sql); got != n {
			t.Errorf("%s: %d, want %d", sql, got, n)
		}
	}
	if diff := countsMismatch(t, st); diff != "" {
		t.Errorf("event counters after the purge: %s", diff)
	}
	var syncDiff int
	if err := st.Pool.QueryRow(ctx, `SELECT (SELECT coalesce(sum(n), 0) FROM sync_log_counts) - (SELECT count(*) FROM sync_log)`).Scan(&syncDiff); err != nil || syncDiff != 0 {
		t.Errorf("sync_log counters off by %d (%v)", syncDiff, err)
	}

	// The archive: one file per group and day, each line a whole row.
	archived := map[string]int{}
	var sample map[string]any
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f) // reads every member, one per batch
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			archived[filepath.Dir(rel)]++
			if strings.HasPrefix(rel, "simplyprint/") && sample == nil {
				if err := json.Unmarshal(sc.Bytes(), &sample); err != nil {
					return fmt.Errorf("%s: %w", rel, err)
				}
			}
		}
		if !strings.HasSuffix(rel, old.UTC().Format("2006-01-02")+".jsonl.gz") && !strings.HasSuffix(rel, old.Add(5*24*time.Hour).UTC().Format("2006-01-02")+".jsonl.gz") {
			return fmt.Errorf("archive file %s is not named by its rows' day", rel)
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"simplyprint": 2505, "callback_attempts": 1, "sync_log": 20, "rating_actions": 2}; fmt.Sprint(archived) != fmt.Sprint(want) {
		t.Errorf("archived rows per group %v, want %v", archived, want)
	}
	if sample["source"] != "simplyprint" || sample["payload"] == nil || sample["dedup_key"] == nil {
		t.Errorf("an archived event lacks its columns: %v", sample)
	}

	// Deduplication lasts as long as the event: a repeat of a purged one is
	// new, a repeat of a kept one is a duplicate.
	rec, err := st.RecordEvents(ctx, sourceEvents("simplyprint", 5, 6, typ))
	if err != nil || rec[0].Duplicate {
		t.Errorf("a repeat of a purged event: %+v, %v; want it recorded as new", rec, err)
	}
	rec, err = st.RecordEvents(ctx, sourceEvents("simplyprint", 2550, 2551, typ))
	if err != nil || !rec[0].Duplicate {
		t.Errorf("a repeat of a kept event: %+v, %v; want a duplicate", rec, err)
	}

	// A second purge finds nothing more.
	res, err = retention.Purge(ctx, st, cfg, retention.Options{BatchSize: 1000})
	if err != nil || res.Purged.Total() != 0 {
		t.Errorf("second purge: %v, %v; want nothing", res.Purged, err)
	}
}

// TestRetentionPurgeBudget: a purge stops when its budget is spent and says
// there is more; the next call goes on.
func TestRetentionPurgeBudget(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	if _, err := st.RecordEvents(ctx, sourceEvents("simplyprint", 0, 50, func(int) string { return "job_started" })); err != nil {
		t.Fatal(err)
	}
	exec(`UPDATE inbound_events SET processed = true, outcome = 'applied', received_at = now() - interval '2 hours'`)
	exec(`DELETE FROM relay_outbox`)
	cfg := config.RetentionConfig{Events: config.Period(time.Hour)}
	res, err := retention.Purge(ctx, st, cfg, retention.Options{BatchSize: 10, Budget: time.Nanosecond})
	if err != nil || !res.More || res.Purged.Total() != 0 {
		t.Fatalf("spent budget: %+v, %v; want nothing done and more", res, err)
	}
	res, err = retention.Purge(ctx, st, cfg, retention.Options{BatchSize: 10})
	if err != nil || res.More || res.Purged["events/simplyprint"] != 50 {
		t.Fatalf("full purge: %+v, %v", res, err)
	}
}
