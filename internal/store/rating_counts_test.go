package store_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// referenceRatingStats is RatingStats as it was before the counters: the
// period's rows aggregated in full. The counters must give the same.
func referenceRatingStats(t *testing.T, st *store.Store, f store.RatingStatsFilter) store.RatingStats {
	t.Helper()
	ctx := context.Background()
	out := store.RatingStats{Distribution: map[string]int64{"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
		Outcomes: map[string]int64{}, Comments: map[string]int64{}, PerAssignee: []store.AssigneeStats{}}
	var from, to any
	if !f.From.IsZero() {
		from = f.From
	}
	if !f.To.IsZero() {
		to = f.To
	}
	const period = `($1::timestamptz IS NULL OR q.requested_at >= $1) AND ($2::timestamptz IS NULL OR q.requested_at < $2)`
	rows, err := st.Pool.Query(ctx, `SELECT q.state, count(*), count(q.sent_at) FROM rating_requests q WHERE `+period+` GROUP BY 1`, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var state string
	var n, sent int64
	if _, err := pgx.ForEachRow(rows, []any{&state, &n, &sent}, func() error {
		out.Outcomes[state] = n
		out.Requests += n
		out.Asked += sent
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Pool.QueryRow(ctx, `SELECT count(*), avg(r.score)::float8,
		percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.rated_at - q.sent_at))::float8
		FROM ratings r JOIN rating_requests q ON q.id = r.request_id WHERE `+period, from, to).Scan(&out.Count, &out.Average, &out.MedianSecondsToRate); err != nil {
		t.Fatal(err)
	}
	if out.Asked > 0 {
		rate := float64(out.Count) / float64(out.Asked)
		out.ResponseRate = &rate
	}
	rows, err = st.Pool.Query(ctx, `SELECT r.score, r.comment_state, count(*) FROM ratings r JOIN rating_requests q ON q.id = r.request_id
		WHERE `+period+` GROUP BY 1, 2`, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var score int
	var commentState string
	if _, err := pgx.ForEachRow(rows, []any{&score, &commentState, &n}, func() error {
		out.Distribution[fmt.Sprint(score)] += n
		out.Comments[commentState] += n
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rows, err = st.Pool.Query(ctx, `SELECT r.assignee_id, count(*), avg(r.score)::float8 FROM ratings r JOIN rating_requests q ON q.id = r.request_id
		WHERE `+period+` GROUP BY 1 ORDER BY 1 NULLS LAST`, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var a store.AssigneeStats
	if _, err := pgx.ForEachRow(rows, []any{&a.AssigneeID, &a.Count, &a.Average}, func() error {
		out.PerAssignee = append(out.PerAssignee, a)
		a = store.AssigneeStats{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func closeEnough(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func optClose(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return closeEnough(*a, *b)
}

func fmtOpt(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// ratingStatsMismatch describes how got differs from want, the median
// allowed medianTol(want) ("" when equal).
func ratingStatsMismatch(got, want store.RatingStats, medianTol func(float64) float64) string {
	var d string
	if got.Requests != want.Requests || got.Asked != want.Asked || got.Count != want.Count {
		d += fmt.Sprintf(" requests/asked/count %d/%d/%d, want %d/%d/%d;", got.Requests, got.Asked, got.Count, want.Requests, want.Asked, want.Count)
	}
	if !optClose(got.Average, want.Average) || !optClose(got.ResponseRate, want.ResponseRate) {
		d += fmt.Sprintf(" average %s rate %s, want %s %s;", fmtOpt(got.Average), fmtOpt(got.ResponseRate), fmtOpt(want.Average), fmtOpt(want.ResponseRate))
	}
	for name, m := range map[string][2]map[string]int64{"distribution": {got.Distribution, want.Distribution},
		"outcomes": {got.Outcomes, want.Outcomes}, "comments": {got.Comments, want.Comments}} {
		if !reflect.DeepEqual(m[0], m[1]) {
			d += fmt.Sprintf(" %s %v, want %v;", name, m[0], m[1])
		}
	}
	same := len(got.PerAssignee) == len(want.PerAssignee)
	for i := 0; same && i < len(got.PerAssignee); i++ {
		g, w := got.PerAssignee[i], want.PerAssignee[i]
		same = reflect.DeepEqual(g.AssigneeID, w.AssigneeID) && g.Count == w.Count && closeEnough(g.Average, w.Average)
	}
	if !same {
		d += fmt.Sprintf(" per assignee %s, want %s;", assigneesString(got.PerAssignee), assigneesString(want.PerAssignee))
	}
	switch {
	case got.MedianSecondsToRate == nil || want.MedianSecondsToRate == nil:
		if got.MedianSecondsToRate != nil || want.MedianSecondsToRate != nil {
			d += fmt.Sprintf(" median %s, want %s;", fmtOpt(got.MedianSecondsToRate), fmtOpt(want.MedianSecondsToRate))
		}
	case math.Abs(*got.MedianSecondsToRate-*want.MedianSecondsToRate) > medianTol(*want.MedianSecondsToRate):
		d += fmt.Sprintf(" median %v, want %v (± %v);", *got.MedianSecondsToRate, *want.MedianSecondsToRate, medianTol(*want.MedianSecondsToRate))
	}
	return d
}

func assigneesString(as []store.AssigneeStats) string {
	var s string
	for _, a := range as {
		id := "null"
		if a.AssigneeID != nil {
			id = fmt.Sprint(*a.AssigneeID)
		}
		s += fmt.Sprintf("[%s %d %v]", id, a.Count, a.Average)
	}
	return s
}

// ratingCountsMismatch compares the three counter tables, level by level,
// with a full count of the rows ("" when equal).
func ratingCountsMismatch(t *testing.T, st *store.Store) string {
	t.Helper()
	var diff string
	err := st.Pool.QueryRow(context.Background(), `
		WITH periods AS (
			SELECT q.*, p.level, p.at FROM rating_requests q CROSS JOIN LATERAL rating_count_periods(q.requested_at) p),
		req_c AS (SELECT level, at, state, sent, sum(n)::bigint AS n FROM rating_request_counts GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0),
		req_f AS (SELECT level, at, state, sent_at IS NOT NULL AS sent, count(*) AS n FROM periods GROUP BY 1, 2, 3, 4),
		score_c AS (SELECT level, at, score, comment_state, sum(n)::bigint AS n FROM rating_score_counts
			GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0),
		score_f AS (SELECT level, at, r.score, r.comment_state, count(*) AS n
			FROM periods q JOIN ratings r ON r.request_id = q.id GROUP BY 1, 2, 3, 4),
		assignee_c AS (SELECT level, at, assignee_id, sum(n)::bigint AS n, sum(score_sum)::bigint AS score_sum FROM rating_assignee_counts
			GROUP BY 1, 2, 3 HAVING sum(n) <> 0 OR sum(score_sum) <> 0),
		assignee_f AS (SELECT level, at, coalesce(r.assignee_id, 0) AS assignee_id, count(*) AS n, sum(r.score) AS score_sum
			FROM periods q JOIN ratings r ON r.request_id = q.id GROUP BY 1, 2, 3),
		rate_c AS (SELECT level, at, bucket, sum(n)::bigint AS n FROM rating_rate_counts GROUP BY 1, 2, 3 HAVING sum(n) <> 0),
		rate_f AS (SELECT level, at, rating_rate_bucket(extract(epoch FROM r.rated_at - q.sent_at)::float8) AS bucket, count(*) AS n
			FROM periods q JOIN ratings r ON r.request_id = q.id WHERE q.sent_at IS NOT NULL GROUP BY 1, 2, 3)
		SELECT coalesce(string_agg(d, '; '), '') FROM (
			SELECT format('requests %s/%s/%s/%s: counters %s, full count %s', level, at, state, sent, c.n, f.n) AS d
			FROM req_c c FULL JOIN req_f f USING (level, at, state, sent) WHERE c.n IS DISTINCT FROM f.n
			UNION ALL
			SELECT format('scores %s/%s/%s/%s: counters %s, full count %s', level, at, score, comment_state, c.n, f.n)
			FROM score_c c FULL JOIN score_f f USING (level, at, score, comment_state) WHERE c.n IS DISTINCT FROM f.n
			UNION ALL
			SELECT format('assignee %s/%s/%s: counters %s (sum %s), full count %s (sum %s)', level, at, assignee_id, c.n, c.score_sum, f.n, f.score_sum)
			FROM assignee_c c FULL JOIN assignee_f f USING (level, at, assignee_id)
			WHERE (c.n, c.score_sum) IS DISTINCT FROM (f.n, f.score_sum)
			UNION ALL
			SELECT format('rate %s/%s/%s: counters %s, full count %s', level, at, bucket, c.n, f.n)
			FROM rate_c c FULL JOIN rate_f f USING (level, at, bucket) WHERE c.n IS DISTINCT FROM f.n) x`).Scan(&diff)
	if err != nil {
		t.Fatal(err)
	}
	return diff
}

// ratingWorkload writes requests over three months (hours, days and month
// ends included), through the store's own calls and by direct statements:
// sent and unsent, closed in every state, rated (with scores, assignees,
// comments posted and failed), a press recorded before its send, concurrent
// presses and sends, updates that move requests across hours and change
// ratings, and deletes.
func ratingWorkload(t *testing.T, st *store.Store, base time.Time) {
	t.Helper()
	ctx := context.Background()
	exec := execer(t, st)
	check := func(when string) {
		t.Helper()
		if d := ratingCountsMismatch(t, st); d != "" {
			t.Fatalf("%s: %s", when, d)
		}
	}

	// 600 requests spread over ~90 days at irregular minutes, in batches.
	exec(`INSERT INTO rating_requests (issue_id, resolution, workflow_id, assignee_id, requested_at)
		SELECT g, 1, 'wf-' || g, CASE WHEN g % 7 <> 0 THEN 1 + g % 4 END,
			$1::timestamptz + (g * 217 % 129600) * interval '1 minute' + (g % 60) * interval '1 second'
		FROM generate_series(1, 300) g`, base)
	exec(`INSERT INTO rating_requests (issue_id, resolution, workflow_id, assignee_id, requested_at)
		SELECT g, 1, 'wf-' || g, CASE WHEN g % 7 <> 0 THEN 1 + g % 4 END,
			$1::timestamptz + (g * 217 % 129600) * interval '1 minute' + (g % 60) * interval '1 second'
		FROM generate_series(301, 600) g`, base)
	check("after inserting")

	// Through the store: a request now, redelivered (ON CONFLICT: no change).
	for i := 0; i < 2; i++ {
		if err := pgx.BeginFunc(ctx, st.Pool, func(tx pgx.Tx) error {
			_, err := store.InsertRatingRequest(ctx, tx, store.RatingRequest{IssueID: 9001, Resolution: 1, WorkflowID: "wf-9001", AssigneeID: 3})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []int64
	rows, err := st.Pool.Query(ctx, `SELECT id FROM rating_requests ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	if ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		t.Fatal(err)
	}

	// Sends, targets, closes and presses through the store, some
	// concurrently: a press and the send of the same request race.
	if err := inParallel(4, func(w int) error {
		for i, id := range ids {
			if i%4 != w {
				continue
			}
			if err := ratingLifecycle(ctx, st, i, id); err != nil {
				return fmt.Errorf("request %d: %w", id, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check("after the store's calls")

	// Races of a press with its send (the press recorded first, then the
	// send: its time to rate moves; or the other way round).
	for i, id := range ids[:40] {
		if i%3 != 0 {
			continue
		}
		exec(`UPDATE rating_requests SET sent_at = NULL, state = 'pending' WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ratings WHERE request_id = $1)`, id)
		var wg sync.WaitGroup
		var errPress, errSend error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, errPress = st.RecordRating(ctx, store.Rating{RequestID: id, ChatID: 1, Score: 1 + i%5, RatedAt: time.Now()})
		}()
		go func() { defer wg.Done(); errSend = st.SetRequestSent(ctx, id, 77) }()
		wg.Wait()
		if errPress != nil || errSend != nil {
			t.Fatal(errPress, errSend)
		}
	}
	check("after presses racing sends")

	// Direct statements: requests moved across hours and days (with their
	// ratings), a sent_at changed under a rating, ratings changed and
	// deleted, unrated requests deleted, an update changing nothing counted.
	exec(`UPDATE rating_requests SET requested_at = requested_at + interval '37 minutes' WHERE id % 11 = 0`)
	exec(`UPDATE rating_requests SET requested_at = requested_at - interval '1 day 5 hours' WHERE id % 13 = 0`)
	exec(`UPDATE rating_requests SET sent_at = sent_at - interval '90 minutes' WHERE id % 17 = 0 AND sent_at IS NOT NULL`)
	exec(`UPDATE ratings SET score = 6 - score, assignee_id = CASE WHEN assignee_id IS NULL THEN 9 END WHERE request_id % 5 = 0`)
	exec(`UPDATE ratings SET rated_at = rated_at + interval '3 hours' WHERE request_id % 19 = 0`)
	exec(`DELETE FROM ratings WHERE request_id % 23 = 0`)
	exec(`UPDATE rating_requests SET state = 'expired' WHERE id IN (SELECT request_id FROM ratings WHERE request_id % 29 = 0)`)
	exec(`DELETE FROM rating_requests q WHERE id % 31 = 0 AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.request_id = q.id)`)
	exec(`UPDATE rating_requests SET title = 'touched' WHERE id % 3 = 0`)
	check("after direct statements")
}

// ratingLifecycle takes request id through the store as the workflow
// would, ending in one of several outcomes chosen by i.
func ratingLifecycle(ctx context.Context, st *store.Store, i int, id int64) error {
	if i%9 == 0 {
		_, err := st.CloseRequest(ctx, id, store.RatingNoChat, "no chat")
		return err // never sent
	}
	if err := st.UpdateRequestTarget(ctx, id, 100+int64(i), 200, int64(1+i%3), "Issue"); err != nil {
		return err
	}
	if i%10 == 1 {
		return nil // pending: not sent yet
	}
	if i%13 == 2 {
		_, err := st.CloseRequest(ctx, id, store.RatingBlocked, "403")
		return err
	}
	if err := st.SetRequestSent(ctx, id, i); err != nil {
		return err
	}
	var sentAt time.Time
	if err := st.Pool.QueryRow(ctx, `SELECT sent_at FROM rating_requests WHERE id = $1`, id).Scan(&sentAt); err != nil {
		return err
	}
	switch {
	case i%5 == 3:
		_, err := st.CloseRequest(ctx, id, store.RatingExpired, "")
		return err
	case i%5 == 4:
		return nil // waiting
	}
	// Rated, seconds to days after the send (a spread of buckets).
	rated := sentAt.Add(time.Duration(1+(i*i*37)%200000) * time.Second / 3)
	if _, err := st.RecordRating(ctx, store.Rating{RequestID: id, ChatID: 100 + int64(i), Score: 1 + (i*7)%5, RatedAt: rated}); err != nil {
		return err
	}
	if i%3 == 0 {
		// A second press keeps the first answer.
		if _, err := st.RecordRating(ctx, store.Rating{RequestID: id, ChatID: 100 + int64(i), Score: 1, RatedAt: rated.Add(time.Minute)}); err != nil {
			return err
		}
	}
	switch i % 4 {
	case 0:
		return st.SetCommentPosted(ctx, id, int64(i))
	case 1:
		if err := st.SetCommentFailed(ctx, id, "refused"); err != nil {
			return err
		}
		return st.SetCommentPosted(ctx, id, int64(i)) // a retry succeeds
	case 2:
		return st.SetCommentFailed(ctx, id, "refused")
	}
	return nil
}

// ratingPeriods are the periods compared: all time, open at one end, whole
// days (as the API's dates give), months, and instants off every hour.
func ratingPeriods(base time.Time) map[string]store.RatingStatsFilter {
	day := func(d int) time.Time { return base.AddDate(0, 0, d) }
	at := func(d int, h, m, s int) time.Time {
		return day(d).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	msk := time.FixedZone("MSK", 3*3600)
	ist := time.FixedZone("IST", 5*3600+1800)
	return map[string]store.RatingStatsFilter{
		"all time":              {},
		"from a day":            {From: day(20)},
		"to a day":              {To: day(45)},
		"one day":               {From: day(10), To: day(11)},
		"a week":                {From: day(3), To: day(10)},
		"a month and more":      {From: day(5), To: day(70)},
		"instants":              {From: at(2, 5, 17, 43), To: at(61, 19, 3, 7)},
		"instants, other zones": {From: at(8, 1, 40, 0).In(msk), To: at(40, 13, 12, 9).In(ist)},
		"within one hour":       {From: at(30, 7, 5, 0), To: at(30, 7, 55, 0)},
		"across one hour":       {From: at(30, 7, 5, 0), To: at(30, 8, 55, 0)},
		"hours":                 {From: at(12, 3, 0, 0), To: at(12, 21, 0, 0)},
		"from an instant":       {From: at(33, 11, 11, 11)},
		"to an instant":         {To: at(50, 23, 59, 59)},
		"microseconds":          {From: at(14, 0, 0, 0).Add(time.Microsecond), To: at(44, 0, 0, 0).Add(-time.Microsecond)},
		"empty future":          {From: time.Now().AddDate(1, 0, 0)},
	}
}

// After a mixed workload the counters equal a full count, and RatingStats
// (from the counters and the edges) answers what the full-scan queries it
// replaced did, for every period; the median read from buckets is within
// its documented bound.
func TestRatingCountsStayEqualToAFullComputation(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	base := time.Now().UTC().AddDate(0, 0, -80).Truncate(24 * time.Hour).Add(-7 * time.Hour)
	ratingWorkload(t, st, base)

	periods := ratingPeriods(base)
	// Bounds on a request's requested_at (off the hour): it is in a period
	// that starts there, not in one that ends there.
	var on time.Time
	if err := st.Pool.QueryRow(ctx, `SELECT requested_at FROM rating_requests WHERE extract(second FROM requested_at) > 0
		ORDER BY id OFFSET 100 LIMIT 1`).Scan(&on); err != nil {
		t.Fatal(err)
	}
	periods["from a request's instant"] = store.RatingStatsFilter{From: on, To: on.Add(20 * time.Minute)}
	periods["to a request's instant"] = store.RatingStatsFilter{From: on.Add(-20 * time.Minute), To: on}
	periods["days to a request's instant"] = store.RatingStatsFilter{From: on.AddDate(0, 0, -3), To: on}
	names := make([]string, 0, len(periods))
	for name := range periods {
		names = append(names, name)
	}
	sort.Strings(names)
	exact := func(float64) float64 { return 1e-9 }
	bound := func(want float64) float64 { return 0.022*math.Abs(want) + 1 }
	saved := store.ExactMedianRequests
	t.Cleanup(func() { store.ExactMedianRequests = saved })
	var ratedSomewhere bool
	for _, name := range names {
		f := periods[name]
		want := referenceRatingStats(t, st, f)
		ratedSomewhere = ratedSomewhere || want.Count > 10
		store.ExactMedianRequests = 1 << 40
		got, err := st.RatingStats(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if d := ratingStatsMismatch(got, want, exact); d != "" {
			t.Errorf("%s (exact median):%s", name, d)
		}
		store.ExactMedianRequests = 0
		got, err = st.RatingStats(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if d := ratingStatsMismatch(got, want, bound); d != "" {
			t.Errorf("%s (median from buckets):%s", name, d)
		}
	}
	if !ratedSomewhere {
		t.Fatal("the workload rated nothing")
	}
	all := referenceRatingStats(t, st, store.RatingStatsFilter{})
	for _, s := range []string{store.RatingPending, store.RatingWaiting, store.RatingRated, store.RatingExpired, store.RatingNoChat, store.RatingBlocked} {
		if all.Outcomes[s] == 0 {
			t.Errorf("the workload left no request %s: %v", s, all.Outcomes)
		}
	}
	if all.Comments[store.CommentPosted] == 0 || all.Comments[store.CommentFailed] == 0 || all.Comments[store.CommentPending] == 0 {
		t.Errorf("the workload left comments %v", all.Comments)
	}
}

// The counters are what RatingStats reads: a counter changed behind the
// triggers' back shows in the stats (the test above cannot pass by
// scanning the rows).
func TestRatingStatsReadTheCounters(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	exec(`INSERT INTO rating_requests (issue_id, resolution, workflow_id, requested_at, sent_at, state)
		VALUES (1, 1, 'a', $1, $1, 'waiting'), (2, 1, 'b', $1::timestamptz + interval '40 days', NULL, 'pending')`, base)
	exec(`UPDATE rating_request_counts SET n = n + 5 WHERE level = 2 AND state = 'waiting'`)
	got, err := st.RatingStats(ctx, store.RatingStatsFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != 7 || got.Outcomes["waiting"] != 6 {
		t.Fatalf("all time %+v: the month counters were not read", got)
	}
	got, err = st.RatingStats(ctx, store.RatingStatsFilter{From: base.Add(-time.Hour), To: base.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != 1 {
		t.Fatalf("two hours %+v: month counters were read for hours", got)
	}
}

// An installation upgraded with ratings already recorded starts with exact
// counters (the migration backfills them), keeps them exact after, and
// going back removes them.
func TestRatingCountsMigrationBackfills(t *testing.T) {
	st, migrate := databaseAt(t, 45)
	ctx := context.Background()
	exec := execer(t, st)
	base := time.Now().UTC().AddDate(0, 0, -50)
	exec(`INSERT INTO rating_requests (issue_id, resolution, workflow_id, assignee_id, requested_at, sent_at, state)
		SELECT g, 1, 'wf-' || g, nullif(g % 3, 0), $1::timestamptz + g * interval '97 minutes',
			CASE WHEN g % 4 <> 0 THEN $1::timestamptz + g * interval '97 minutes' + interval '5 seconds' END,
			CASE WHEN g % 4 = 0 THEN 'no_chat' WHEN g % 2 = 0 THEN 'rated' ELSE 'expired' END
		FROM generate_series(1, 200) g`, base)
	exec(`INSERT INTO ratings (request_id, issue_id, chat_id, score, assignee_id, rated_at, comment_state)
		SELECT id, issue_id, 1, 1 + id % 5, assignee_id, sent_at + (id * 91 % 5000) * interval '1 second',
			CASE WHEN id % 3 = 0 THEN 'posted' ELSE 'pending' END
		FROM rating_requests WHERE state = 'rated'`)
	migrate.upTo(50)
	if d := ratingCountsMismatch(t, st); d != "" {
		t.Fatalf("after the upgrade: %s", d)
	}
	if err := st.SetRequestSent(ctx, 4, 1); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCommentPosted(ctx, 2, 5); err != nil {
		t.Fatal(err)
	}
	if d := ratingCountsMismatch(t, st); d != "" {
		t.Fatalf("writing after the upgrade: %s", d)
	}
	f := store.RatingStatsFilter{From: base.Add(3 * time.Hour), To: base.AddDate(0, 0, 10)}
	got, err := st.RatingStats(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if d := ratingStatsMismatch(got, referenceRatingStats(t, st, f), func(float64) float64 { return 1e-9 }); d != "" {
		t.Fatalf("stats after the upgrade:%s", d)
	}
	migrate.downTo(45)
	var left bool
	if err := st.Pool.QueryRow(ctx, `SELECT to_regclass('rating_request_counts') IS NOT NULL OR to_regclass('rating_score_counts') IS NOT NULL
		OR to_regclass('rating_rate_counts') IS NOT NULL OR to_regclass('rating_assignee_counts') IS NOT NULL
		OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgname LIKE 'rating%count%')`).Scan(&left); err != nil || left {
		t.Fatalf("after going back the counters or their triggers remain: %v (%v)", left, err)
	}
	migrate.up()
	if d := ratingCountsMismatch(t, st); d != "" {
		t.Fatalf("after upgrading again: %s", d)
	}
}

// ExportRatings gives every request of the period, oldest first (ties by
// id), each with its rating: what the LEFT JOIN it replaced gave.
func TestExportRatingsMatchesAFullJoin(t *testing.T) {
	_, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	base := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	exec(`INSERT INTO rating_requests (issue_id, resolution, workflow_id, requested_at, sent_at, state)
		SELECT g, 1, 'wf-' || g, $1::timestamptz + (g / 3) * interval '17 minutes', $1::timestamptz + (g / 3) * interval '17 minutes',
			CASE WHEN g % 2 = 0 THEN 'rated' ELSE 'expired' END
		FROM generate_series(1, 300) g ORDER BY g DESC`, base)
	exec(`INSERT INTO ratings (request_id, issue_id, chat_id, score, rated_at, comment_state)
		SELECT id, issue_id, 1, 1 + id % 5, requested_at + interval '1 minute', 'posted' FROM rating_requests WHERE state = 'rated'`)
	for _, f := range []store.RatingStatsFilter{{}, {From: base.Add(5 * time.Hour)}, {To: base.Add(20 * time.Hour)},
		{From: base.Add(3*time.Hour + 7*time.Minute), To: base.Add(9*time.Hour + 51*time.Minute)}} {
		var from, to any
		if !f.From.IsZero() {
			from = f.From
		}
		if !f.To.IsZero() {
			to = f.To
		}
		rows, err := st.Pool.Query(ctx, `SELECT q.id::text || ':' || coalesce(r.score::text, '-') FROM rating_requests q LEFT JOIN ratings r ON r.request_id = q.id
			WHERE ($1::timestamptz IS NULL OR q.requested_at >= $1) AND ($2::timestamptz IS NULL OR q.requested_at < $2)
			ORDER BY q.requested_at, q.id`, from, to)
		if err != nil {
			t.Fatal(err)
		}
		want, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := st.ExportRatings(ctx, f, func(r store.RatingExportRow) error {
			s := fmt.Sprintf("%d:-", r.Request.ID)
			if r.Rating != nil {
				s = fmt.Sprintf("%d:%d", r.Request.ID, r.Rating.Score)
			}
			got = append(got, s)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Fatalf("period %v-%v: export %v, want %v", f.From, f.To, got, want)
		}
	}
}

// queryCapture records the statements a pool runs.
type queryCapture struct {
	mu sync.Mutex
	qs []pgx.TraceQueryStartData
}

func (c *queryCapture) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.qs = append(c.qs, d)
	return ctx
}

func (c *queryCapture) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *queryCapture) take() []pgx.TraceQueryStartData {
	c.mu.Lock()
	defer c.mu.Unlock()
	qs := c.qs
	c.qs = nil
	return qs
}

// At a realistic size, with statistics, RatingStats reads counter rows and
// the raw rows of the edge hours only (never a whole table), and the
// export reads the period through the index, each rating by its key.
func TestRatingReadsUseTheCountersAndIndexes(t *testing.T) {
	dbURL, st := testenv.Database(t)
	ctx := context.Background()
	exec := execer(t, st)
	// 20,000 requests over 400 days (about two an hour), half rated.
	exec(`INSERT INTO rating_requests (issue_id, resolution, workflow_id, assignee_id, requested_at, sent_at, state)
		SELECT g, 1, 'wf-' || g, 1 + g % 20, now() - interval '400 days' + g * interval '1728 seconds',
			now() - interval '400 days' + g * interval '1728 seconds' + interval '5 seconds',
			CASE WHEN g % 2 = 0 THEN 'rated' ELSE 'expired' END
		FROM generate_series(1, 20000) g`)
	exec(`INSERT INTO ratings (request_id, issue_id, chat_id, score, assignee_id, rated_at, comment_state)
		SELECT id, issue_id, 1, 1 + id % 5, assignee_id, sent_at + (id % 900) * interval '1 minute', 'posted'
		FROM rating_requests WHERE state = 'rated'`)
	exec(`ANALYZE`)
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	capture := &queryCapture{}
	cfg.ConnConfig.Tracer = capture
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	traced := &store.Store{Pool: pool}
	saved := store.ExactMedianRequests
	store.ExactMedianRequests = 0 // the exact median reads the period's rows (up to that many)
	t.Cleanup(func() { store.ExactMedianRequests = saved })

	now := time.Now()
	plans := func(name string) []string {
		t.Helper()
		var out []string
		for _, q := range capture.take() {
			rows, err := st.Pool.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) "+q.SQL, q.Args...)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, strings.Join(lines, "\n"))
		}
		if len(out) == 0 {
			t.Fatalf("%s: no statement captured", name)
		}
		return out
	}
	rowsRead := regexp.MustCompile(`Scan using rating_requests_by_time on rating_requests \w+ \(actual rows=(\d+) loops=(\d+)\)`)
	for name, f := range map[string]store.RatingStatsFilter{
		"all time": {},
		"30 days":  {From: now.AddDate(0, 0, -30)},
		"a day":    {From: now.AddDate(0, 0, -9).Truncate(24 * time.Hour), To: now.AddDate(0, 0, -8).Truncate(24 * time.Hour)},
		"instants": {From: now.AddDate(0, -11, 0).Add(17 * time.Minute), To: now.AddDate(0, -1, 0).Add(-29 * time.Minute)},
	} {
		if _, err := traced.RatingStats(ctx, f); err != nil {
			t.Fatal(err)
		}
		for _, plan := range plans(name) {
			if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Hash Join") {
				t.Errorf("%s: stats scan a table:\n%s", name, plan)
			}
			for _, m := range rowsRead.FindAllStringSubmatch(plan, -1) {
				var n, loops int
				fmt.Sscan(m[1], &n)
				fmt.Sscan(m[2], &loops)
				if n*loops > 10 { // two partial hours of about two requests
					t.Errorf("%s: stats read %d requests:\n%s", name, n*loops, plan)
				}
			}
			t.Logf("%s:\n%s", name, plan)
		}
	}
	if err := traced.ExportRatings(ctx, store.RatingStatsFilter{From: now.AddDate(0, 0, -30)}, func(store.RatingExportRow) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, plan := range plans("export") {
		if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Hash") || !strings.Contains(plan, "rating_requests_by_time") {
			t.Errorf("export does not read the period through the index:\n%s", plan)
		}
		t.Logf("export:\n%s", plan)
	}
}
