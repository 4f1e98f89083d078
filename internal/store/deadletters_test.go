package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// failedEvent records an event of source processed with outcome (failed
// or not) at at; returns its id.
func failedEvent(t *testing.T, st *store.Store, source, key, outcome string, at time.Time) string {
	t.Helper()
	var id int64
	if err := st.Pool.QueryRow(context.Background(), `INSERT INTO inbound_events (source, dedup_key, workflow_id, event, event_type, entity_id, payload,
		processed, processed_at, outcome, error) VALUES ($1, $2, 'wf-' || $2, 'e', 'type', 'ent-' || $2, '{}', true, $3, $4, 'boom ' || $2) RETURNING id`,
		source, key, at, outcome).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(id)
}

// One list across kinds, newest first; at equal times an event before a
// callback before a back sync, and within a kind the higher id first;
// every page size walks every item once, in that order.
func TestDeadLettersMergeAndPageAcrossKinds(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

	var want []string // kind:label, in the expected order
	ev := map[string]string{}
	add := func(kind, source, key, outcome string, min int) string {
		id := failedEvent(t, st, source, key, outcome, at(min))
		ev[id] = key
		return id
	}
	// Not dead letters: other outcomes, and a pending callback.
	add("", "simplyprint", "applied", "applied", 50)
	add("", "bitrix-backsync", "synced", "synced", 50)
	finishedDelivery(t, st, 0, store.DeliveryPending, at(50))
	finishedDelivery(t, st, 200, store.DeliveryDelivered, at(50))

	// Failures; minute 10 is shared by all three kinds, two of each.
	add(store.DeadEvent, "simplyprint", "e10a", "failed", 10)
	add(store.DeadEvent, "telegram", "e10b", "failed", 10)
	add(store.DeadEvent, "bitrix", "e20", "failed", 20)
	add(store.DeadEvent, "okdesk", "e5", "failed", 5)
	add(store.DeadBackSync, "bitrix-backsync", "b10a", "failed", 10)
	add(store.DeadBackSync, "bitrix-backsync", "b10b", "failed", 10)
	add(store.DeadBackSync, "bitrix-backsync", "b30", "failed", 30)
	cb := map[string]string{}
	for _, c := range []struct {
		label  string
		status string
		min    int
	}{{"c10a", store.DeliveryFailed, 10}, {"c10b", store.DeliveryGone, 10}, {"c25", store.DeliveryFailed, 25}, {"c1", store.DeliveryFailed, 1}} {
		id := finishedDelivery(t, st, 500, c.status, at(c.min))
		exec(`UPDATE callback_deliveries SET finished_at = $2 WHERE id = $1`, id, at(c.min))
		cb[id] = c.label
	}
	// Expected: by minute desc; at 10, events (higher id first: e10b was
	// recorded after e10a), callbacks (higher uuid first), back syncs.
	c10 := []string{}
	for id, l := range cb {
		if strings.HasPrefix(l, "c10") {
			c10 = append(c10, id)
		}
	}
	if c10[0] < c10[1] {
		c10[0], c10[1] = c10[1], c10[0]
	}
	want = []string{"backsync:b30", "callback:c25", "event:e20", "event:e10b", "event:e10a",
		"callback:" + cb[c10[0]], "callback:" + cb[c10[1]], "backsync:b10b", "backsync:b10a", "event:e5", "callback:c1"}

	label := func(d store.DeadLetter) string {
		if d.Kind == store.DeadCallback {
			return d.Kind + ":" + cb[d.ID]
		}
		return d.Kind + ":" + ev[d.ID]
	}
	all, more, err := st.DeadLetters(ctx, store.DeadLetterFilter{Limit: 100})
	if err != nil || more {
		t.Fatalf("all: %v, more %v", err, more)
	}
	var got []string
	for _, d := range all {
		got = append(got, label(d))
		switch d.Kind {
		case store.DeadCallback:
			if d.Action != store.DeadActionRetry || d.WorkflowID != "callback-"+d.ID || d.Source != "acme" || d.Error == "" {
				t.Errorf("callback %+v", d)
			}
		default:
			key := ev[d.ID]
			if d.Action != store.DeadActionReplay || d.WorkflowID != "wf-"+key || d.Entity != "ent-"+key || d.Error != "boom "+key {
				t.Errorf("%s %+v", d.Kind, d)
			}
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("order:\n got %s\nwant %s", strings.Join(got, " "), strings.Join(want, " "))
	}
	for limit := 1; limit <= len(want); limit++ {
		var walked []string
		f := store.DeadLetterFilter{Limit: limit}
		for pages := 0; pages <= len(want); pages++ {
			page, more, err := st.DeadLetters(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit || more && len(page) != limit {
				t.Fatalf("limit %d: a page of %d, more %v", limit, len(page), more)
			}
			for _, d := range page {
				walked = append(walked, label(d))
			}
			if !more {
				break
			}
			c := page[len(page)-1].Cursor()
			f.After = &c
		}
		if strings.Join(walked, " ") != strings.Join(want, " ") {
			t.Errorf("pages of %d:\n got %s\nwant %s", limit, strings.Join(walked, " "), strings.Join(want, " "))
		}
	}
	if _, _, err := st.DeadLetters(ctx, store.DeadLetterFilter{After: &store.DeadLetterCursor{At: t0, Kind: "nope", ID: "1"}}); err == nil {
		t.Error("a cursor of no kind was taken")
	}
}

// Each kind's page walks its partial index, from the newest and from a
// cursor of every kind, at a size where a scan would be chosen otherwise.
func TestDeadLettersUseTheirIndexes(t *testing.T) {
	_, st := testenv.Database(t)
	exec := execer(t, st)
	// 60,000 events, 1 in 200 failed, a few of them back syncs (without
	// these indexes, a page walks inbound_events_by_received or scans).
	exec(`INSERT INTO inbound_events (source, dedup_key, workflow_id, event, event_type, entity_id, payload, received_at,
			processed, processed_at, outcome, error)
		SELECT CASE WHEN i % 1000 = 0 THEN 'bitrix-backsync' WHEN i % 3 = 0 THEN 'bitrix' ELSE 'simplyprint' END, 'k' || i, 'w', 'e', 't', (i % 50)::text, '{}',
			now() - interval '40 days' + i * interval '58 seconds', true, now() - interval '40 days' + i * interval '58 seconds',
			CASE WHEN i % 200 = 0 THEN 'failed' ELSE 'applied' END, CASE WHEN i % 200 = 0 THEN 'boom' END
		FROM generate_series(1, 60000) i`)
	// 20,000 callbacks, 1 in 50 failed for good.
	exec(`WITH j AS (
			INSERT INTO jobs (id, client_id, languages, webhook_url, total_lots, request_hash, status)
			SELECT gen_random_uuid(), 'acme', '{en}', 'http://r.invalid/', 1, 'h', 'completed' FROM generate_series(1, 20000)
			RETURNING id)
		INSERT INTO callback_deliveries (id, job_id, client_id, url, webhook_id, body, status, attempts, finished_at)
		SELECT gen_random_uuid(), id, 'acme', 'http://r.invalid/', 'msg', '{}', CASE WHEN random() < 0.02 THEN 'failed' ELSE 'delivered' END, 1,
			now() - random() * interval '40 days'
		FROM j`)
	exec(`VACUUM ANALYZE inbound_events, callback_deliveries`)
	index := map[string]string{store.DeadEvent: "inbound_events_failed", store.DeadBackSync: "inbound_events_backsync_failed",
		store.DeadCallback: "callback_deliveries_failed"}
	at := time.Now().Add(-20 * 24 * time.Hour)
	cursors := []*store.DeadLetterCursor{nil,
		{At: at, Kind: store.DeadEvent, ID: "30000"},
		{At: at, Kind: store.DeadBackSync, ID: "30000"},
		{At: at, Kind: store.DeadCallback, ID: "3f1c2d4e-0000-4000-8000-000000000000"}}
	for kind, idx := range index {
		for _, c := range cursors {
			q, args, err := store.DeadLettersQuery(kind, c)
			if err != nil {
				t.Fatal(err)
			}
			plan := explain(t, st.Pool, q, append([]any{51}, args...)...)
			name := kind + " after " + fmt.Sprint(c)
			if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "Index Scan using "+idx) || strings.Contains(plan, "Sort") {
				t.Errorf("%s: not a walk of %s:\n%s", name, idx, plan)
			} else {
				t.Logf("%s:\n%s", name, plan)
			}
		}
	}
}
