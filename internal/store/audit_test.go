package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// Entries come back as written, newest first, filtered by action and
// actor, and paged by (at, id) without a gap or a repeat, ties on at (one
// transaction's entries) included.
func TestAuditRoundTripAndPaging(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	first := store.AuditEntry{Actor: "ops-alice", Action: store.AuditDeliveryRetry, Target: "d-1", Count: 1, Result: store.AuditOK,
		Filter: json.RawMessage(`{"client":"acme"}`), Detail: json.RawMessage(`{"series":2}`)}
	if err := st.RecordAudit(ctx, first); err != nil {
		t.Fatal(err)
	}
	got, err := st.ListAudit(ctx, store.AuditFilter{Limit: 10})
	if err != nil || len(got) != 1 {
		t.Fatalf("list: %v, %+v", err, got)
	}
	e := got[0]
	if e.ID == 0 || time.Since(e.At) > time.Minute || e.Actor != first.Actor || e.Action != first.Action || e.Target != first.Target ||
		e.Count != 1 || e.Result != store.AuditOK || !jsonEqual(e.Filter, first.Filter) || !jsonEqual(e.Detail, first.Detail) {
		t.Fatalf("round trip: wrote %+v, read %+v", first, e)
	}
	if err := st.RecordAudit(ctx, store.AuditEntry{Actor: "x", Action: "y"}); err == nil {
		t.Fatal("an entry without a result was recorded")
	}

	// 3 more one by one, then 6 in one transaction (one now() for all).
	for i := 2; i <= 4; i++ {
		actor := "ops-bob"
		if i%2 == 0 {
			actor = "ops-alice"
		}
		if err := st.RecordAudit(ctx, store.AuditEntry{Actor: actor, Action: store.AuditOrderUpdate, Target: fmt.Sprint(i), Result: store.AuditOK}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pgx.BeginFunc(ctx, st.Pool, func(tx pgx.Tx) error {
		for i := 5; i <= 10; i++ {
			if err := store.RecordAudit(ctx, tx, store.AuditEntry{Actor: "ops-bob", Action: store.AuditDeliveryRetry, Target: fmt.Sprint(i),
				Result: store.AuditConflict}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A rolled-back action leaves no entry.
	_ = pgx.BeginFunc(ctx, st.Pool, func(tx pgx.Tx) error {
		if err := store.RecordAudit(ctx, tx, store.AuditEntry{Actor: "ops-bob", Action: "rolled.back", Result: store.AuditOK}); err != nil {
			t.Fatal(err)
		}
		return errors.New("the action failed")
	})

	walk := func(f store.AuditFilter) []string {
		var targets []string
		for pages := 0; ; pages++ {
			page, err := st.ListAudit(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range page {
				if i > 0 && (e.At.After(page[i-1].At) || e.At.Equal(page[i-1].At) && e.ID > page[i-1].ID) {
					t.Fatalf("not newest first: %+v after %+v", e, page[i-1])
				}
				targets = append(targets, e.Target)
			}
			if len(page) < f.Limit || pages > 20 {
				return targets
			}
			last := page[len(page)-1]
			f.Before = &store.AuditCursor{At: last.At, ID: last.ID}
		}
	}
	if got := strings.Join(walk(store.AuditFilter{Limit: 3}), ","); got != "10,9,8,7,6,5,4,3,2,d-1" {
		t.Errorf("all, pages of 3: %s", got)
	}
	if got := strings.Join(walk(store.AuditFilter{Limit: 2, Action: store.AuditDeliveryRetry}), ","); got != "10,9,8,7,6,5,d-1" {
		t.Errorf("delivery.retry, pages of 2: %s", got)
	}
	if got := strings.Join(walk(store.AuditFilter{Limit: 1, Actor: "ops-alice"}), ","); got != "4,2,d-1" {
		t.Errorf("ops-alice, pages of 1: %s", got)
	}
	if got := strings.Join(walk(store.AuditFilter{Limit: 5, Actor: "ops-bob", Action: store.AuditOrderUpdate}), ","); got != "3" {
		t.Errorf("ops-bob's order updates: %s", got)
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// A retry that starts is audited in its own transaction (ok, series); one
// whose start fails leaves its delivery as it was and an error entry, not
// an ok one; a pending delivery's refusal and an unknown id are audited
// with their result; no actor, no entry.
func TestRetryDeliveryAsAudits(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	never := func(store.Delivery) bool { return false }
	id := finishedDelivery(t, st, 500, store.DeliveryFailed, time.Now())

	// The start fails: rolled back, entry "error".
	if _, err := st.RetryDeliveryAs(ctx, "ops-alice", id, never, func(store.Delivery) error {
		var n int
		// The ok entry is written in the retry's transaction: not
		// visible outside it before the commit.
		if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil || n != 0 {
			t.Errorf("the entry is visible before the commit: %d, %v", n, err)
		}
		return errors.New("temporal is down")
	}); err == nil {
		t.Fatal("the failed start was not reported")
	}
	// Then it starts.
	d, err := st.RetryDeliveryAs(ctx, "ops-alice", id, never, func(store.Delivery) error { return nil })
	if err != nil || d == nil || d.Series != 2 {
		t.Fatalf("retry: %v, %+v", err, d)
	}
	// Now pending: refused.
	if _, err := st.RetryDeliveryAs(ctx, "ops-bob", id, never, func(store.Delivery) error { return nil }); !errors.Is(err, store.ErrDeliveryPending) {
		t.Fatalf("retry of a pending delivery: %v", err)
	}
	unknown := "00000000-0000-4000-8000-000000000000"
	if d, err := st.RetryDeliveryAs(ctx, "ops-bob", unknown, never, func(store.Delivery) error { return nil }); err != nil || d != nil {
		t.Fatalf("retry of an unknown delivery: %v, %+v", err, d)
	}
	// Unaudited (the old entry point).
	if _, err := st.RetryDelivery(ctx, unknown, never, func(store.Delivery) error { return nil }); err != nil {
		t.Fatal(err)
	}

	got, err := st.ListAudit(ctx, store.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range got {
		lines = append(lines, fmt.Sprintf("%s %s %s %s %d", e.Actor, e.Action, e.Target, e.Result, e.Count))
	}
	want := []string{
		"ops-bob delivery.retry " + unknown + " not_found 0",
		"ops-bob delivery.retry " + id + " conflict 0",
		"ops-alice delivery.retry " + id + " ok 1",
		"ops-alice delivery.retry " + id + " error 0",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	var series int
	if err := json.Unmarshal(got[2].Detail, &struct {
		Series *int `json:"series"`
	}{&series}); err != nil || series != 2 {
		t.Errorf("the ok entry's detail %s: want series 2", got[2].Detail)
	}
	if !strings.Contains(string(got[3].Detail), "temporal is down") {
		t.Errorf("the error entry's detail %s lacks the error", got[3].Detail)
	}
}
