package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/integrations/bitrix/bitrixtest"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// Replay: a printer's read model lost its state (here: overwritten by
// hand); replaying the printer's newest event re-applies it, through the
// printer's workflow, and the read model is right again. A filter replays
// a printer's events in id order (the older ones come out stale, the
// newest applied); a dry run counts. A redelivery of a replayed event is
// still a duplicate. Each replay is audited with its count.
func TestReplayReappliesEvents(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	a, st, _ := startSimplyPrint(t, map[string]string{"ADMIN_TOKEN": adminToken})
	sp := simplyprinttest.NewServer(t)
	ctx := context.Background()
	p := simplyprinttest.Printer{ID: 7, Name: "Prusa MK4"}
	job := func(state string, pct int, ended int64) any {
		return simplyprinttest.JobData(simplyprinttest.Job{ID: 1, UID: "pj_1", Printer: p, State: state, File: "part.gcode",
			Percentage: pct, Started: 1705320000, Ended: ended})
	}
	payloads := [][]byte{
		simplyprinttest.Payload("job.started", 42, 1705320000, job("printing", 0, 0)),
		simplyprinttest.Payload("job.progress", 43, 1705320050, job("printing", 50, 0)),
		simplyprinttest.Payload("job.done", 44, 1705320100, job("completed", 100, 1705320100)),
	}
	for _, body := range payloads {
		resp, err := sp.Send(ctx, a.URL()+spPath, "", "", body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	events := waitProcessed(t, a, 3)
	outboxDrained(t, st)
	newest := events[0].ID
	printerState := func() (state string, lastID int64) {
		t.Helper()
		if err := st.Pool.QueryRow(ctx, `SELECT state, coalesce(last_event_id, 0) FROM printers WHERE id = 7`).Scan(&state, &lastID); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, _ := printerState()
	if _, err := st.Pool.Exec(ctx, `UPDATE printers SET state = 'lost', last_event_id = NULL WHERE id = 7`); err != nil {
		t.Fatal(err)
	}

	admin := map[string]string{"Authorization": "Bearer " + adminToken}
	var ans api.ReplayAnswer
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/events/%d/replay", a.URL(), newest), nil, admin, &ans); code != 202 ||
		len(ans.Replayed) != 1 || ans.Replayed[0] != newest {
		t.Fatalf("replay of event %d: %d %+v", newest, code, ans)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if state, last := printerState(); state != want || last != newest {
			return fmt.Errorf("printer state %q after event %d, want %q after %d", state, last, want, newest)
		}
		return nil
	})
	waitProcessed(t, a, 3)
	outboxDrained(t, st)

	// By filter: the dry run counts, the replay hands the three over in id
	// order; the older two are stale now, the newest applied again.
	url := a.URL() + "/api/v1/events/replay"
	if code := call(t, "POST", url, []byte(`{"source": "simplyprint", "entity_id": "7", "dry_run": true}`), admin, &ans); code != 200 ||
		!ans.DryRun || ans.Matched != 3 || len(ans.Replayed) != 0 {
		t.Fatalf("dry run: %d %+v", code, ans)
	}
	if code := call(t, "POST", url, []byte(`{"source": "simplyprint", "entity_id": "7", "max": 2}`), admin, &ans); code != 200 ||
		ans.Matched != 2 || !ans.More || len(ans.Replayed) != 2 || ans.NextBeforeID != events[1].ID {
		t.Fatalf("replay of the newest two: %d %+v", code, ans)
	}
	got := waitProcessed(t, a, 3)
	outcomes := map[int64]string{}
	for _, e := range got {
		outcomes[e.ID] = *e.Outcome
	}
	if outcomes[events[0].ID] != "applied" || outcomes[events[1].ID] != "stale" {
		t.Fatalf("outcomes after the replay: %v", outcomes)
	}
	if state, last := printerState(); state != want || last != newest {
		t.Fatalf("printer %q after %d, want %q after %d", state, last, want, newest)
	}
	var bad map[string]any
	for body, field := range map[string]string{`{"source": "jobs"}`: "source", `{"source": "simplyprint", "outcome": "pending"}`: "outcome",
		`{"source": "simplyprint", "max": 5000}`: "max"} {
		if code := call(t, "POST", url, []byte(body), admin, &bad); code != 400 || bad["field"] != field {
			t.Fatalf("%s: %d %v", body, code, bad)
		}
	}
	if code := call(t, "POST", a.URL()+"/api/v1/events/999999/replay", nil, admin, &bad); code != 404 {
		t.Fatalf("replay of an unknown event: %d %v", code, bad)
	}

	// Dedup holds: the provider's redelivery of a replayed event is a duplicate.
	resp, err := sp.Send(ctx, a.URL()+spPath, "", "", payloads[2])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var n int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM inbound_events WHERE source = 'simplyprint'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d events after a redelivery, want 3 (%v)", n, err)
	}

	var audit string
	if err := st.Pool.QueryRow(ctx, `SELECT string_agg(target || ':' || count || ':' || result, ',' ORDER BY id)
		FROM audit_log WHERE action = 'events.replay'`).Scan(&audit); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d:1:ok,simplyprint:0:ok,simplyprint:2:ok", newest); audit[:len(want)] != want {
		t.Fatalf("audit %s, want it to start %s", audit, want)
	}
}

// Replay of an order's events: the order and its sync state went back to
// before the update (restored from an old backup, say: the read model and
// sync_mapping at the first version, its content hash lost); replaying the
// order's events by filter hands them to its workflow in id order: the
// first applies again (same version, different content from the unknown
// hash), then the update, and the order is paid once more.
func TestReplayReappliesAnOrderUpdate(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	a, st := startOrders(t, nil)
	ctx := context.Background()
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", IsNew: true, Order: siteOrder(236, "N", 1)})
	paid := siteOrder(236, "P", 2)
	paid["PAYED"] = "Y"
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", Order: paid, OldValues: map[string]any{"STATUS_ID": "N"}})
	waitEvents(t, st, store.BitrixSource, 2)
	outboxDrained(t, st)
	o := listOrders(t, a)[0]
	if o.Status != "paid" || !o.Paid {
		t.Fatalf("before the damage: %+v", o)
	}
	if _, err := st.Pool.Exec(ctx, `WITH o AS (UPDATE orders SET status = 'new', bitrix_status = 'N', paid = false, bitrix_updated_at = $1
			WHERE bitrix_id = 236 RETURNING id)
		UPDATE sync_mapping SET applied_version = $1, applied_hash = '' WHERE crm_id = (SELECT id FROM o)`,
		bitrixtest.SampleTime.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var ans api.ReplayAnswer
	if code := call(t, "POST", a.URL()+"/api/v1/events/replay", []byte(`{"source": "bitrix", "entity_id": "236"}`), admin, &ans); code != 200 ||
		ans.Matched != 2 || len(ans.Replayed) != 2 || ans.Replayed[0] > ans.Replayed[1] {
		t.Fatalf("replay: %d %+v", code, ans)
	}
	testenv.Eventually(t, 45*time.Second, func() error {
		d := getOrder(t, a, o.ID)
		if d.Status != "paid" || d.BitrixStatus != "P" || !d.Paid {
			return fmt.Errorf("order after the replay: status %s (%s), paid %t", d.Status, d.BitrixStatus, d.Paid)
		}
		return nil
	})
	events := waitEvents(t, st, store.BitrixSource, 2)
	if events[0].Outcome != "applied" || events[1].Outcome != "applied" {
		t.Fatalf("the replays: %+v", events)
	}
}

// outboxDrained waits until the relay has finished every hand-over (its
// last step, deleting the outbox row, comes after the workflow may have
// processed the event already): an event still in the outbox is not
// replayed.
func outboxDrained(t *testing.T, st *store.Store) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		var n int
		if err := st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM relay_outbox`).Scan(&n); err != nil || n != 0 {
			return fmt.Errorf("%d events in the outbox (%v)", n, err)
		}
		return nil
	})
}
