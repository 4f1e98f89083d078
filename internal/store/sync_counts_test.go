package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// /api/sync/status reads trigger-kept counters (migration 00021): after
// inserts, updates and deletes of sync_log and orders, in batches and one
// by one, SyncStatus reports what a full count gives.
func TestSyncStatusCountersEqualAFullCount(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	exec(`INSERT INTO orders (bitrix_id, number, status, bitrix_status, sync_state)
		SELECT i, 'N' || i, 'new', 'N', (ARRAY['synced', 'pending', 'failed', 'skipped'])[1 + i % 4] FROM generate_series(1, 200) i`)
	exec(`INSERT INTO sync_log (direction, entity, entity_id, action, status)
		SELECT (ARRAY['inbound', 'outbound', 'crm'])[1 + i % 3], 'order', i::text, 'update',
			(ARRAY['success', 'skipped', 'retry', 'error'])[1 + i % 4] FROM generate_series(1, 500) i`)
	for i := range 20 { // one by one, as the flow writes them
		exec(`INSERT INTO sync_log (direction, entity, entity_id, action, status) VALUES ('inbound', 'order', $1, 'create', 'success')`, fmt.Sprint(i))
	}
	exec(`UPDATE orders SET sync_state = 'synced' WHERE sync_state = 'pending' AND id % 2 = 0`)
	exec(`UPDATE orders SET status = 'paid' WHERE id % 3 = 0`) // no sync_state change: counters stay
	exec(`UPDATE sync_log SET status = 'success' WHERE status = 'retry' AND id % 5 = 0`)
	exec(`DELETE FROM sync_log WHERE id % 7 = 0`)
	exec(`DELETE FROM orders WHERE id % 11 = 0`)

	got, err := st.SyncStatus(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := store.SyncStatus{Totals: map[string]map[string]int64{}, OrdersBySyncState: map[string]int64{}}
	rows, err := st.Pool.Query(ctx, `SELECT direction, status, count(*) FROM sync_log GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var dir, status string
		var n int64
		if err := rows.Scan(&dir, &status, &n); err != nil {
			t.Fatal(err)
		}
		if want.Totals[dir] == nil {
			want.Totals[dir] = map[string]int64{}
		}
		want.Totals[dir][status] = n
	}
	rows, err = st.Pool.Query(ctx, `SELECT sync_state, count(*) FROM orders GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			t.Fatal(err)
		}
		want.OrdersBySyncState[state] = n
		want.Orders += n
	}
	for dir, byStatus := range want.Totals {
		for status, n := range byStatus {
			if got.Totals[dir][status] != n {
				t.Errorf("sync_log %s/%s: counters %d, full count %d", dir, status, got.Totals[dir][status], n)
			}
		}
	}
	for state, n := range want.OrdersBySyncState {
		if got.OrdersBySyncState[state] != n {
			t.Errorf("orders %s: counters %d, full count %d", state, got.OrdersBySyncState[state], n)
		}
	}
	if len(got.OrdersBySyncState) != len(want.OrdersBySyncState) || got.Orders != want.Orders {
		t.Errorf("orders by state %v (total %d), full count %v (total %d)", got.OrdersBySyncState, got.Orders, want.OrdersBySyncState, want.Orders)
	}
}
