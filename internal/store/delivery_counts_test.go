package store_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// referenceMetrics is DeliveryMetrics as it was before the counters of
// migration 00051: a full scan of the window (the reference the counters
// must equal).
func referenceMetrics(t *testing.T, st *store.Store, since time.Time) store.DeliveryMetrics {
	t.Helper()
	ctx := context.Background()
	m := store.DeliveryMetrics{AttemptsHisto: map[string]int64{}, StatusCodeCounts: map[string]int64{}}
	rows, err := st.Pool.Query(ctx, `SELECT status, attempts, count(*) FROM callback_deliveries WHERE created_at >= $1 GROUP BY 1, 2`, since)
	if err != nil {
		t.Fatal(err)
	}
	type group struct {
		status   string
		attempts int
		n        int64
	}
	groups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (group, error) {
		var g group
		return g, r.Scan(&g.status, &g.attempts, &g.n)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		m.Total += g.n
		switch g.status {
		case store.DeliveryDelivered:
			m.Delivered += g.n
		case store.DeliveryFailed:
			m.Failed += g.n
		case store.DeliveryGone:
			m.Failed += g.n
			m.Gone += g.n
		default:
			m.Pending += g.n
		}
		if g.attempts > 0 {
			m.AttemptsHisto[fmt.Sprint(g.attempts)] += g.n
		}
	}
	if done := m.Delivered + m.Failed; done > 0 {
		r := float64(m.Delivered) / float64(done)
		m.SuccessRate = &r
	}
	if err := st.Pool.QueryRow(ctx, `SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),
		percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FROM callback_attempts WHERE attempted_at >= $1`, since).Scan(
		&m.Attempts, &m.LatencyP50MS, &m.LatencyP95MS); err != nil {
		t.Fatal(err)
	}
	rows, err = st.Pool.Query(ctx, `SELECT coalesce(status_code::text, 'none'), count(*) FROM callback_attempts WHERE attempted_at >= $1 GROUP BY 1`, since)
	if err != nil {
		t.Fatal(err)
	}
	type code struct {
		code string
		n    int64
	}
	codes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (code, error) {
		var c code
		return c, r.Scan(&c.code, &c.n)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		m.StatusCodeCounts[c.code] = c.n
	}
	return m
}

// referenceHealth is DeliveryHealth's count of finished deliveries as it
// was before the counters: a scan of finished_at.
func referenceHealth(t *testing.T, st *store.Store, since time.Time) (delivered, failed int64) {
	t.Helper()
	if err := st.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status IN ('failed', 'gone'))
		FROM callback_deliveries WHERE finished_at >= $1`, since).Scan(&delivered, &failed); err != nil {
		t.Fatal(err)
	}
	return delivered, failed
}

// compareMetrics describes how got differs from the full scan ("" when the
// counts are equal and the percentiles within the documented bound).
func compareMetrics(got, want store.DeliveryMetrics) string {
	var diff string
	add := func(format string, a ...any) { diff += fmt.Sprintf(format, a...) + "; " }
	if got.Total != want.Total || got.Delivered != want.Delivered || got.Failed != want.Failed || got.Gone != want.Gone ||
		got.Pending != want.Pending || got.Attempts != want.Attempts {
		add("totals %d/%d/%d/%d/%d attempts %d, full scan %d/%d/%d/%d/%d attempts %d",
			got.Total, got.Delivered, got.Failed, got.Gone, got.Pending, got.Attempts,
			want.Total, want.Delivered, want.Failed, want.Gone, want.Pending, want.Attempts)
	}
	if fmt.Sprint(got.AttemptsHisto) != fmt.Sprint(want.AttemptsHisto) {
		add("attempts histogram %v, full scan %v", got.AttemptsHisto, want.AttemptsHisto)
	}
	if fmt.Sprint(got.StatusCodeCounts) != fmt.Sprint(want.StatusCodeCounts) {
		add("status codes %v, full scan %v", got.StatusCodeCounts, want.StatusCodeCounts)
	}
	if (got.SuccessRate == nil) != (want.SuccessRate == nil) || got.SuccessRate != nil && *got.SuccessRate != *want.SuccessRate {
		add("success rate %v, full scan %v", fptr(got.SuccessRate), fptr(want.SuccessRate))
	}
	for _, p := range []struct {
		name      string
		got, want *float64
	}{{"p50", got.LatencyP50MS, want.LatencyP50MS}, {"p95", got.LatencyP95MS, want.LatencyP95MS}} {
		if (p.got == nil) != (p.want == nil) {
			add("%s %v, full scan %v", p.name, fptr(p.got), fptr(p.want))
			continue
		}
		if p.got != nil && math.Abs(*p.got-*p.want) > store.LatencyBound**p.want {
			add("%s %.4f ms, full scan %.4f ms: off by more than %.1f%%", p.name, *p.got, *p.want, store.LatencyBound*100)
		}
	}
	return diff
}

func fptr(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

// deliveryCountsMismatch compares the counter tables with a full count of
// the rows they count ("" when equal).
func deliveryCountsMismatch(t *testing.T, st *store.Store) string {
	t.Helper()
	var diff string
	err := st.Pool.QueryRow(context.Background(), `
		WITH counted AS (
			SELECT 'created' AS kind, hour, status || '/' || attempts AS k, sum(n)::bigint AS n FROM delivery_counts GROUP BY 1, 2, 3 HAVING sum(n) <> 0
			UNION ALL SELECT 'finished', hour, status, sum(n)::bigint FROM delivery_finished_counts GROUP BY 1, 2, 3 HAVING sum(n) <> 0
			UNION ALL SELECT 'code', hour, status_code, sum(n)::bigint FROM attempt_counts GROUP BY 1, 2, 3 HAVING sum(n) <> 0
			UNION ALL SELECT 'latency', hour, bucket::text, sum(n)::bigint FROM attempt_latency_counts GROUP BY 1, 2, 3 HAVING sum(n) <> 0),
		full_count AS (
			SELECT 'created' AS kind, date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, status || '/' || attempts AS k, count(*) AS n
			FROM callback_deliveries GROUP BY 1, 2, 3
			UNION ALL SELECT 'finished', date_trunc('hour', finished_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', status, count(*)
			FROM callback_deliveries WHERE finished_at IS NOT NULL GROUP BY 1, 2, 3
			UNION ALL SELECT 'code', date_trunc('hour', attempted_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', coalesce(status_code::text, 'none'), count(*)
			FROM callback_attempts GROUP BY 1, 2, 3
			UNION ALL SELECT 'latency', date_trunc('hour', attempted_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', callback_latency_bucket(latency_ms)::text, count(*)
			FROM callback_attempts GROUP BY 1, 2, 3)
		SELECT coalesce(string_agg(format('%s %s %s: counters %s, full count %s', kind, hour, k, c.n, f.n), '; '), '')
		FROM counted c FULL JOIN full_count f USING (kind, hour, k)
		WHERE c.n IS DISTINCT FROM f.n`).Scan(&diff)
	if err != nil {
		t.Fatal(err)
	}
	return diff
}

// newDelivery creates a job and finishes it: a pending callback delivery.
func newDelivery(t *testing.T, st *store.Store) string {
	t.Helper()
	ctx := context.Background()
	jobID := uuid.NewString()
	if _, _, err := st.CreateJob(ctx, store.NewJob{ID: jobID, ClientID: "acme", Version: "v1", Languages: []string{"en"},
		WebhookURL: "http://receiver.invalid/cb", RequestHash: "h"},
		&store.InboundEvent{Source: store.JobsSource, DedupKey: jobID, WorkflowID: store.JobWorkflowID(jobID), Event: "submitted",
			EventType: "submitted", EntityID: jobID, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	j, err := st.FinishJob(ctx, jobID, func(id string) string { return "msg_" + id })
	if err != nil || j.Delivery == nil {
		t.Fatalf("finish job: %v, delivery %v", err, j.Delivery)
	}
	return j.Delivery.ID
}

// After a mixed workload (deliveries created over 30 hours, attempts made
// concurrently with several codes, no answer and latencies from 0 to
// seconds, deliveries delivered, failed, gone or left pending, retries that
// reset finished deliveries, attempts repeated, retention purging attempts,
// a job deleted with its delivery), DeliveryMetrics and DeliveryHealth
// answer what the full scans they replaced answer, for windows that start
// on and off the hour, and the counters equal a full count.
func TestDeliveryCountsEqualAFullScan(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	now := time.Now()

	const n = 60
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newDelivery(t, st)
	}
	// Spread their creation over the last 30 hours (one multi-row update
	// that moves counts between hours), one of them an hour ahead.
	exec(`UPDATE callback_deliveries d SET created_at = now() - (x.i * interval '29 minutes') + interval '1 hour'
		FROM (SELECT id, row_number() OVER (ORDER BY id) AS i FROM callback_deliveries) x WHERE x.id = d.id`)
	created := map[string]time.Time{}
	rows, err := st.Pool.Query(ctx, `SELECT id::text, created_at FROM callback_deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			t.Fatal(err)
		}
		created[id] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	// Attempts, four writers at once. Delivery i gets i%4 attempts; the
	// last one decides its status.
	codes := []int{500, 0, 503, 200, 410, 400}
	if err := inParallel(4, func(w int) error {
		for i := w; i < n; i += 4 {
			id := ids[i]
			count := i % 4
			for a := 1; a <= count; a++ {
				rec := store.AttemptRecord{DeliveryID: id, Series: 1, Attempt: a,
					AttemptedAt: created[id].Add(time.Duration(a*17) * time.Minute),
					Latency:     time.Duration(float64(time.Millisecond) * 0.7 * math.Pow(1.37, float64((i*3+a)%25))),
					Outcome:     "retryable", DeliveryStatus: store.DeliveryPending}
				if i%13 == 0 {
					rec.Latency = 0
				}
				rec.StatusCode = codes[(i+a)%2]
				if a == count {
					switch i % 5 {
					case 0:
						rec.StatusCode, rec.Outcome, rec.DeliveryStatus = 200, "delivered", store.DeliveryDelivered
					case 1:
						rec.StatusCode, rec.Outcome, rec.DeliveryStatus = 400, "permanent", store.DeliveryFailed
					case 2:
						rec.StatusCode, rec.Outcome, rec.DeliveryStatus = 410, "gone", store.DeliveryGone
					case 3:
						rec.StatusCode, rec.Outcome, rec.DeliveryStatus = 0, "permanent", store.DeliveryFailed
					}
				}
				if rec.DeliveryStatus == store.DeliveryPending {
					next := now.Add(time.Minute)
					rec.NextAttemptAt = &next
				}
				if err := st.RecordAttempt(ctx, rec); err != nil {
					return err
				}
				// A repeat of the same attempt changes nothing.
				if err := st.RecordAttempt(ctx, rec); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Finished at some time after their creation, not all within the hour.
	exec(`UPDATE callback_deliveries SET finished_at = created_at + (attempts * interval '23 minutes')
		WHERE finished_at IS NOT NULL`)
	if d := deliveryCountsMismatch(t, st); d != "" {
		t.Fatalf("after the attempts: %s", d)
	}

	// Retries reset finished deliveries; one of them is delivered by its
	// new series.
	retried := 0
	for i := 0; i < n && retried < 4; i++ {
		var status string
		if err := st.Pool.QueryRow(ctx, `SELECT status FROM callback_deliveries WHERE id = $1`, ids[i]).Scan(&status); err != nil {
			t.Fatal(err)
		}
		if status == store.DeliveryPending {
			continue
		}
		d, err := st.RetryDelivery(ctx, ids[i], func(store.Delivery) bool { return false }, func(store.Delivery) error { return nil })
		if err != nil || d == nil || d.Series != 2 {
			t.Fatalf("retry: %v, %+v", err, d)
		}
		if retried == 0 {
			var attempts int
			if err := st.Pool.QueryRow(ctx, `SELECT attempts FROM callback_deliveries WHERE id = $1`, ids[i]).Scan(&attempts); err != nil {
				t.Fatal(err)
			}
			if err := st.RecordAttempt(ctx, store.AttemptRecord{DeliveryID: ids[i], Series: 2, Attempt: attempts + 1, AttemptedAt: time.Now(),
				StatusCode: 200, Latency: 42 * time.Millisecond, Outcome: "delivered", DeliveryStatus: store.DeliveryDelivered}); err != nil {
				t.Fatal(err)
			}
		}
		retried++
	}
	if d := deliveryCountsMismatch(t, st); d != "" {
		t.Fatalf("after the retries: %s", d)
	}

	// Retention purges attempts of finished deliveries made before 10 hours
	// ago, in batches; a job deleted takes its delivery and attempts along.
	purged := 0
	for {
		k, err := st.PurgeBatch(ctx, store.PurgeCallbackAttempts, "", now.Add(-10*time.Hour), 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			break
		}
		purged += k
	}
	if purged == 0 {
		t.Fatal("retention purged no attempt: the workload should leave some to purge")
	}
	exec(`DELETE FROM jobs WHERE id = (SELECT job_id FROM callback_deliveries WHERE attempts = 3 ORDER BY id LIMIT 1)`)
	if d := deliveryCountsMismatch(t, st); d != "" {
		t.Fatalf("after retention: %s", d)
	}

	var pending, finished, attempts int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE finished_at IS NOT NULL),
		(SELECT count(*) FROM callback_attempts) FROM callback_deliveries`).Scan(&pending, &finished, &attempts); err != nil {
		t.Fatal(err)
	}
	if pending == 0 || finished == 0 || attempts == 0 {
		t.Fatalf("the workload left %d pending, %d finished, %d attempts: every kind should be there", pending, finished, attempts)
	}

	hour := now.Truncate(time.Hour)
	for _, since := range []time.Time{
		now.Add(-24 * time.Hour), now.Add(-3 * time.Hour), now.Add(-97 * time.Minute), now.Add(-10 * time.Minute),
		hour.Add(-5 * time.Hour), hour, now.Add(-2160 * time.Hour), now.Add(30 * time.Minute), now.Add(3 * time.Hour),
	} {
		got, err := st.DeliveryMetrics(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		want := referenceMetrics(t, st, since)
		if d := compareMetrics(got, want); d != "" {
			t.Errorf("metrics since %v: %s", since.Sub(now), d)
		}
		h, err := st.DeliveryHealth(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		delivered, failed := referenceHealth(t, st, since)
		if h.RecentDelivered != delivered || h.RecentFailed != failed || h.Pending != int64(pending) {
			t.Errorf("health since %v: %+v, full scan delivered %d failed %d pending %d", since.Sub(now), h, delivered, failed, pending)
		}
	}
	m, err := st.DeliveryMetrics(ctx, now.Add(-2160*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if m.Delivered == 0 || m.Failed == 0 || m.Gone == 0 || m.Pending == 0 || m.StatusCodeCounts["none"] == 0 || m.LatencyP95MS == nil {
		t.Fatalf("the workload should produce every status and code: %+v", m)
	}

	// Compaction folds the slots of past hours into one row per key and
	// changes no sum. Each table gets a count split over two slots for
	// sure (the writers' slots depend on their backends' pids).
	for _, q := range []string{
		`WITH one AS (SELECT hour, status, attempts, slot FROM delivery_counts WHERE n > 0 ORDER BY hour LIMIT 1),
			dec AS (UPDATE delivery_counts c SET n = c.n - 1 FROM one WHERE (c.hour, c.status, c.attempts, c.slot) = (one.hour, one.status, one.attempts, one.slot))
		INSERT INTO delivery_counts (hour, status, attempts, slot, n) SELECT hour, status, attempts, (slot + 1) % 8, 1 FROM one
		ON CONFLICT (hour, status, attempts, slot) DO UPDATE SET n = delivery_counts.n + 1`,
		`WITH one AS (SELECT hour, bucket, slot FROM attempt_latency_counts WHERE n > 0 ORDER BY hour LIMIT 1),
			dec AS (UPDATE attempt_latency_counts c SET n = c.n - 1 FROM one WHERE (c.hour, c.bucket, c.slot) = (one.hour, one.bucket, one.slot))
		INSERT INTO attempt_latency_counts (hour, bucket, slot, n) SELECT hour, bucket, (slot + 1) % 8, 1 FROM one
		ON CONFLICT (hour, bucket, slot) DO UPDATE SET n = attempt_latency_counts.n + 1`,
	} {
		exec(q)
	}
	if d := deliveryCountsMismatch(t, st); d != "" {
		t.Fatalf("before compacting: %s", d)
	}
	gone, err := st.CompactCallbackCounts(ctx, now.Add(-2160*time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if gone < 2 {
		t.Fatalf("compaction removed %d rows, want at least the 2 split ones", gone)
	}
	if d := deliveryCountsMismatch(t, st); d != "" {
		t.Fatalf("after compacting: %s", d)
	}
	var split int
	if err := st.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM (SELECT 1 FROM delivery_counts GROUP BY hour, status, attempts HAVING count(*) > 1) x)
		+ (SELECT count(*) FROM (SELECT 1 FROM delivery_finished_counts GROUP BY hour, status HAVING count(*) > 1) x)
		+ (SELECT count(*) FROM (SELECT 1 FROM attempt_counts GROUP BY hour, status_code HAVING count(*) > 1) x)
		+ (SELECT count(*) FROM (SELECT 1 FROM attempt_latency_counts GROUP BY hour, bucket HAVING count(*) > 1) x)`).Scan(&split); err != nil || split != 0 {
		t.Fatalf("after compacting %d keys still have more than one row (%v)", split, err)
	}
	since := now.Add(-97 * time.Minute)
	got, err := st.DeliveryMetrics(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if d := compareMetrics(got, referenceMetrics(t, st, since)); d != "" {
		t.Fatalf("after compacting: %s", d)
	}
}

// An installation upgraded with callbacks already recorded starts with
// exact counters (the migration backfills them); going back removes them.
func TestDeliveryCountsMigrationBackfills(t *testing.T) {
	st, migrate := databaseAt(t, 45)
	ctx := context.Background()
	exec := execer(t, st)
	finishedDelivery(t, st, 200, store.DeliveryDelivered, time.Now().Add(-3*time.Hour))
	finishedDelivery(t, st, 0, store.DeliveryPending, time.Now())
	finishedDelivery(t, st, 410, store.DeliveryGone, time.Now().Add(-30*time.Minute))
	migrate.upTo(51)
	if d := deliveryCountsMismatch(t, st); d != "" {
		t.Fatalf("after the upgrade: %s", d)
	}
	since := time.Now().Add(-24 * time.Hour)
	got, err := st.DeliveryMetrics(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if d := compareMetrics(got, referenceMetrics(t, st, since)); d != "" || got.Total != 3 {
		t.Fatalf("after the upgrade: %+v: %s", got, d)
	}
	migrate.downTo(45)
	var left bool
	if err := st.Pool.QueryRow(ctx, `SELECT to_regclass('delivery_counts') IS NOT NULL OR to_regclass('attempt_latency_counts') IS NOT NULL
		OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgname LIKE 'callback_%_count_%')`).Scan(&left); err != nil || left {
		t.Fatalf("after going back the counters or their triggers remain: %v (%v)", left, err)
	}
	migrate.up()
	if d := deliveryCountsMismatch(t, st); d != "" {
		t.Fatalf("after upgrading again: %s", d)
	}
	// TRUNCATE (cascading to the attempts) empties the counters too.
	exec(`TRUNCATE callback_deliveries CASCADE`)
	var rowsLeft int
	if err := st.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM delivery_counts) + (SELECT count(*) FROM delivery_finished_counts)
		+ (SELECT count(*) FROM attempt_counts) + (SELECT count(*) FROM attempt_latency_counts)`).Scan(&rowsLeft); err != nil || rowsLeft != 0 {
		t.Fatalf("after TRUNCATE %d counter rows are left (%v)", rowsLeft, err)
	}
}

// Compaction running while attempts are recorded (both touching the same
// hours and keys, from several backends and so slots) neither deadlocks
// nor loses a count.
func TestDeliveryCountsCompactWhileWriting(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = newDelivery(t, st)
	}
	exec(`UPDATE callback_deliveries SET created_at = now() - (hashtext(id::text) & 3) * interval '1 hour'`)
	done := make(chan struct{})
	compacted := make(chan error, 1)
	go func() {
		var err error
		rounds := 0
		for {
			select {
			case <-done:
				if rounds == 0 {
					err = fmt.Errorf("compaction never ran")
				}
				compacted <- err
				return
			default:
			}
			if _, err = st.CompactCallbackCounts(ctx, time.Now().Add(-10*time.Hour), time.Now().Add(2*time.Hour)); err != nil {
				compacted <- err
				return
			}
			rounds++
		}
	}()
	err := inParallel(4, func(w int) error {
		for a := 1; a <= 3; a++ {
			for i := w; i < len(ids); i += 4 {
				status := store.DeliveryPending
				if a == 3 {
					status = []string{store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryGone}[i%3]
				}
				if err := st.RecordAttempt(ctx, store.AttemptRecord{DeliveryID: ids[i], Series: 1, Attempt: a,
					AttemptedAt: time.Now().Add(-time.Duration(i%3) * time.Hour), StatusCode: 500 + a,
					Latency: time.Duration(i+a) * time.Millisecond, Outcome: "x", DeliveryStatus: status}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-compacted; err != nil {
		t.Fatal(err)
	}
	if d := deliveryCountsMismatch(t, st); d != "" {
		t.Fatalf("after compacting while writing: %s", d)
	}
}

// The reads of webhook-metrics and webhook-health touch counter rows and,
// of callback_deliveries and callback_attempts, only the rows of the
// part-hour at the start of the window, through the time indexes: 30 days
// of callbacks are there, 24 hours are asked for.
func TestDeliveryMetricsReadOnlyTheEdgeHour(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	for _, q := range []string{
		`INSERT INTO jobs (id, client_id, languages, total_lots, request_hash, webhook_url)
			SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(i), 12, '0'))::uuid, 'acme', '{en}', 1, 'h', 'http://x' FROM generate_series(1, 20000) i`,
		`INSERT INTO callback_deliveries (id, job_id, client_id, url, webhook_id, body, status, attempts, created_at, finished_at)
			SELECT ('10000000-0000-0000-0000-' || lpad(to_hex(i), 12, '0'))::uuid, ('00000000-0000-0000-0000-' || lpad(to_hex(i), 12, '0'))::uuid,
			 'acme', 'http://x', 'msg', '{}', (ARRAY['delivered', 'delivered', 'failed', 'gone', 'pending'])[1 + i % 5], 1 + i % 2,
			 now() - (20000 - i) * interval '130 seconds',
			 CASE WHEN i % 5 = 4 THEN NULL ELSE now() - (20000 - i) * interval '130 seconds' + interval '5 minutes' END
			FROM generate_series(1, 20000) i`,
		`INSERT INTO callback_attempts (delivery_id, attempt, series, attempted_at, status_code, latency_ms, outcome)
			SELECT d.id, a, 1, d.created_at + a * interval '1 minute', (ARRAY[200, 500, NULL])[1 + a % 3], 1 + a * 10, 'x'
			FROM callback_deliveries d, generate_series(1, d.attempts) a`,
		`ANALYZE`,
	} {
		exec(q)
	}
	since := time.Now().Add(-24 * time.Hour)
	edge := since.Truncate(time.Hour).Add(time.Hour)
	var edgeDeliveries, edgeAttempts, edgeFinished int64
	if err := st.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM callback_deliveries WHERE created_at >= $1 AND created_at < $2),
		(SELECT count(*) FROM callback_attempts WHERE attempted_at >= $1 AND attempted_at < $2),
		(SELECT count(*) FROM callback_deliveries WHERE finished_at >= $1 AND finished_at < $2)`, since, edge).Scan(
		&edgeDeliveries, &edgeAttempts, &edgeFinished); err != nil {
		t.Fatal(err)
	}
	limits := map[string]int64{"deliveries": edgeDeliveries, "codes": edgeAttempts, "latency": edgeAttempts, "finished": edgeFinished}
	for name, q := range store.DeliveryMetricsQueries {
		var plan []map[string]any
		if err := st.Pool.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+q, since, edge).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		var raw float64
		var walk func(node map[string]any)
		walk = func(node map[string]any) {
			if rel, _ := node["Relation Name"].(string); rel == "callback_deliveries" || rel == "callback_attempts" {
				if node["Node Type"] == "Seq Scan" {
					t.Errorf("%s: a sequential scan of %s", name, rel)
				}
				raw += node["Actual Rows"].(float64)
			}
			children, _ := node["Plans"].([]any)
			for _, c := range children {
				walk(c.(map[string]any))
			}
		}
		walk(plan[0]["Plan"].(map[string]any))
		if int64(raw) > limits[name] {
			t.Errorf("%s: read %.0f raw rows, the part-hour at the window's start has %d", name, raw, limits[name])
		}
	}
}
