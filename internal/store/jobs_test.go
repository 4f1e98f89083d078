package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// TestRetrySeriesSeesItsOwnCommit: RetryDelivery starts the new series'
// workflow before it commits, so that series' first attempt can load the
// delivery while the retry is still open. It must wait and read the new
// series, not the old one (which would make it end as superseded and leave
// the delivery pending for ever; TestOpsConsoleJobsRetry hit that in CI).
func TestRetrySeriesSeesItsOwnCommit(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	id := finishedDelivery(t, st, 400, store.DeliveryFailed, time.Now())

	seen := make(chan *store.Delivery, 1)
	d, err := st.RetryDelivery(ctx, id, func(store.Delivery) bool { return false }, func(store.Delivery) error {
		// The new series' first attempt, as a worker runs it right after
		// the workflow starts, and before this transaction commits.
		go func() {
			got, err := st.DeliveryForAttempt(ctx, id)
			if err != nil {
				t.Error(err)
			}
			seen <- got
		}()
		time.Sleep(200 * time.Millisecond) // the attempt's query is waiting now
		return nil
	})
	if err != nil || d == nil || d.Series != 2 {
		t.Fatalf("retry: %v, %+v", err, d)
	}
	got := <-seen
	if got == nil || got.Series != 2 || got.Status != store.DeliveryPending {
		t.Fatalf("the new series' attempt read %+v, want series 2 pending (what the retry committed)", got)
	}
}

// finishedDelivery creates a job with a callback delivery and records one
// attempt (its code and the delivery status it leads to) at the given time.
func finishedDelivery(t *testing.T, st *store.Store, code int, status string, at time.Time) string {
	t.Helper()
	ctx := context.Background()
	id := newDelivery(t, st)
	rec := store.AttemptRecord{DeliveryID: id, Series: 1, Attempt: 1, AttemptedAt: at,
		StatusCode: code, Outcome: "permanent", DeliveryStatus: status}
	if status == store.DeliveryPending {
		next := time.Now().Add(time.Minute)
		rec.Outcome, rec.NextAttemptAt = "retryable", &next
	}
	if err := st.RecordAttempt(ctx, rec); err != nil {
		t.Fatal(err)
	}
	return id
}
