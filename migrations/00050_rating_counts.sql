-- +goose Up
-- Rating stats whose cost does not grow with the ratings (issue 11).
--
-- RatingStats used to aggregate every request of its period (and its
-- rating) on each call. These counters hold the same aggregates per period
-- of rating_requests.requested_at, kept in the transaction of every change
-- by statement-level triggers (the design of event_counts, 00004), so
-- stats sum counter rows and read raw rows only for the partial hours at
-- the edges of a period.
--
-- Each change is counted at three levels: the hour (level 0), the day
-- (1) and the month (2) of requested_at, in UTC. A period is cut into
-- whole months, then whole days and whole hours at its two ends, then the
-- partial hours at its edges (raw rows through rating_requests_by_time):
-- a read sums at most (its months + 2 * 30 days + 2 * 23 hours) counter
-- periods whatever the number of ratings, and "all time" sums the months.
--
-- In rating_request_counts, slot spreads a count over a few rows so that
-- concurrent writers do not queue on one counter row until each commits
-- (requests are inserted by the event-processing transactions, in batches);
-- a slot's n may go negative, only the sum over slots means anything. The
-- ratings' counters have no slot: they are written by a customer's press
-- (RecordRating: one short transaction) and by a comment's outcome (one
-- autocommitted statement), at human pace, and a slot would multiply the
-- rows that a read sums (by 8 for every month of a period).

-- Requests: per state and whether the message was sent (sent_at IS NOT NULL).
CREATE TABLE rating_request_counts (
    level smallint    NOT NULL,  -- 0 hour, 1 day, 2 month (UTC)
    at    timestamptz NOT NULL,  -- start of the hour, day or month
    state text        NOT NULL,
    sent  boolean     NOT NULL,
    slot  smallint    NOT NULL,
    n     bigint      NOT NULL,
    PRIMARY KEY (level, at, state, sent, slot)
);

-- Ratings, counted under their request's requested_at: per score and
-- comment state, and apart per assignee (ratings.assignee_id, 0 for NULL:
-- Okdesk ids are positive and the store never writes 0) with the sum of
-- their scores. Apart, because together the rows would multiply (scores x
-- comment states x assignees in every period).
CREATE TABLE rating_score_counts (
    level         smallint    NOT NULL,
    at            timestamptz NOT NULL,
    score         smallint    NOT NULL,
    comment_state text        NOT NULL,
    n             bigint      NOT NULL,
    PRIMARY KEY (level, at, score, comment_state)
);
CREATE TABLE rating_assignee_counts (
    level       smallint    NOT NULL,
    at          timestamptz NOT NULL,
    assignee_id bigint      NOT NULL,
    n           bigint      NOT NULL,
    score_sum   bigint      NOT NULL,
    PRIMARY KEY (level, at, assignee_id)
);

-- Ratings of sent requests, per bucket of the time to rate (rated_at -
-- sent_at, rating_rate_bucket): the median is read from these.
CREATE TABLE rating_rate_counts (
    level  smallint    NOT NULL,
    at     timestamptz NOT NULL,
    bucket integer     NOT NULL,
    n      bigint      NOT NULL,
    PRIMARY KEY (level, at, bucket)
);

-- The current hour's, day's and month's rows are updated by every write:
-- free space keeps those updates HOT, vacuum reclaims the dead versions
-- often (as for event_counts, 00040).
ALTER TABLE rating_request_counts SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE rating_score_counts SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE rating_assignee_counts SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE rating_rate_counts SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);

-- The bucket of a time to rate in seconds: bucket b >= 1 holds
-- [2^((b-1)/16), 2^(b/16)), -b the same negative range (a press recorded
-- before the send was), 0 holds (-1, 1). store.rateBucketValue is the
-- inverse: any value of a bucket is within 2.2% (2^(1/32) - 1) of the
-- bucket's geometric middle, or within 1 second for bucket 0.
-- +goose StatementBegin
CREATE FUNCTION rating_rate_bucket(s double precision) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN s >= 1 THEN 1 + floor(16 * ln(s) / ln(2))::integer
                WHEN s <= -1 THEN -1 - floor(16 * ln(-s) / ln(2))::integer
                ELSE 0 END
$$;
-- +goose StatementEnd

-- The counter periods (level, start) of an instant.
-- +goose StatementBegin
CREATE FUNCTION rating_count_periods(t timestamptz) RETURNS TABLE (level smallint, at timestamptz)
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    VALUES (0::smallint, date_trunc('hour', t, 'UTC')), (1::smallint, date_trunc('day', t, 'UTC')),
           (2::smallint, date_trunc('month', t, 'UTC'))
$$;
-- +goose StatementEnd

-- Changes to rating_requests. Besides its own counts, a request carries its
-- rating's: the rating is counted under the request's requested_at, and its
-- time to rate under the request's sent_at. Neither changes once a rating
-- exists in what the store does today (requested_at is never updated,
-- SetRequestSent keeps a sent_at already set), but a press can be recorded
-- before the send is (the callback arrives before SetRequestSent runs):
-- then sent_at goes from NULL to a time with the rating there already, and
-- the rating's counters move here. The ratings trigger locks the request
-- rows it reads, so the two cannot miss each other's change.
--
-- Counter tables are always written in the same order (score, assignee,
-- rate, request counts), each statement's keys sorted, so that transactions lock
-- the counter rows they share in one order.
-- +goose StatementBegin
CREATE FUNCTION rating_request_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    my_slot smallint := pg_backend_pid() % 8;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- Most updates (state, sent_at of an unrated request) move no
        -- rating: one look instead of three upserts that find nothing.
        IF EXISTS (SELECT 1 FROM removed o JOIN added a ON a.id = o.id JOIN ratings r ON r.request_id = a.id
                   WHERE (o.requested_at, o.sent_at) IS DISTINCT FROM (a.requested_at, a.sent_at)) THEN
            INSERT INTO rating_score_counts AS c (level, at, score, comment_state, n)
            SELECT p.level, p.at, r.score, r.comment_state, sum(m.d)
            FROM (SELECT o.id, o.requested_at, -1 AS d FROM removed o JOIN added a ON a.id = o.id
                  WHERE o.requested_at IS DISTINCT FROM a.requested_at
                  UNION ALL
                  SELECT a.id, a.requested_at, 1 FROM removed o JOIN added a ON a.id = o.id
                  WHERE o.requested_at IS DISTINCT FROM a.requested_at) m
            JOIN ratings r ON r.request_id = m.id
            CROSS JOIN LATERAL rating_count_periods(m.requested_at) p
            GROUP BY 1, 2, 3, 4 HAVING sum(m.d) <> 0 ORDER BY 1, 2, 3, 4
            ON CONFLICT (level, at, score, comment_state) DO UPDATE SET n = c.n + excluded.n;

            INSERT INTO rating_assignee_counts AS c (level, at, assignee_id, n, score_sum)
            SELECT p.level, p.at, coalesce(r.assignee_id, 0), sum(m.d), sum(m.d * r.score)
            FROM (SELECT o.id, o.requested_at, -1 AS d FROM removed o JOIN added a ON a.id = o.id
                  WHERE o.requested_at IS DISTINCT FROM a.requested_at
                  UNION ALL
                  SELECT a.id, a.requested_at, 1 FROM removed o JOIN added a ON a.id = o.id
                  WHERE o.requested_at IS DISTINCT FROM a.requested_at) m
            JOIN ratings r ON r.request_id = m.id
            CROSS JOIN LATERAL rating_count_periods(m.requested_at) p
            GROUP BY 1, 2, 3 HAVING sum(m.d) <> 0 OR sum(m.d * r.score) <> 0 ORDER BY 1, 2, 3
            ON CONFLICT (level, at, assignee_id) DO UPDATE SET n = c.n + excluded.n, score_sum = c.score_sum + excluded.score_sum;

            INSERT INTO rating_rate_counts AS c (level, at, bucket, n)
            SELECT p.level, p.at, rating_rate_bucket(extract(epoch FROM r.rated_at - m.sent_at)::float8), sum(m.d)
            FROM (SELECT o.id, o.requested_at, o.sent_at, -1 AS d FROM removed o JOIN added a ON a.id = o.id
                  WHERE (o.requested_at, o.sent_at) IS DISTINCT FROM (a.requested_at, a.sent_at)
                  UNION ALL
                  SELECT a.id, a.requested_at, a.sent_at, 1 FROM removed o JOIN added a ON a.id = o.id
                  WHERE (o.requested_at, o.sent_at) IS DISTINCT FROM (a.requested_at, a.sent_at)) m
            JOIN ratings r ON r.request_id = m.id
            CROSS JOIN LATERAL rating_count_periods(m.requested_at) p
            WHERE m.sent_at IS NOT NULL
            GROUP BY 1, 2, 3 HAVING sum(m.d) <> 0 ORDER BY 1, 2, 3
            ON CONFLICT (level, at, bucket) DO UPDATE SET n = c.n + excluded.n;
        END IF;

        INSERT INTO rating_request_counts AS c (level, at, state, sent, slot, n)
        SELECT p.level, p.at, d.state, d.sent, my_slot, sum(d.d)
        FROM (SELECT requested_at, state, sent_at IS NOT NULL AS sent, 1 AS d FROM added
              UNION ALL
              SELECT requested_at, state, sent_at IS NOT NULL, -1 FROM removed) d
        CROSS JOIN LATERAL rating_count_periods(d.requested_at) p
        GROUP BY 1, 2, 3, 4 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (level, at, state, sent, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'INSERT' THEN
        -- A new request has no rating yet (ratings references it).
        INSERT INTO rating_request_counts AS c (level, at, state, sent, slot, n)
        SELECT p.level, p.at, d.state, d.sent_at IS NOT NULL, my_slot, count(*)
        FROM added d CROSS JOIN LATERAL rating_count_periods(d.requested_at) p
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (level, at, state, sent, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        -- A request with a rating cannot be deleted (ratings references it).
        INSERT INTO rating_request_counts AS c (level, at, state, sent, slot, n)
        SELECT p.level, p.at, d.state, d.sent_at IS NOT NULL, my_slot, -count(*)
        FROM removed d CROSS JOIN LATERAL rating_count_periods(d.requested_at) p
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (level, at, state, sent, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Changes to ratings, counted under their request's requested_at and
-- sent_at. The request rows are locked first (in id order): a concurrent
-- update of a request's sent_at either committed before (the lock returns
-- its new row, and the next statement's snapshot sees it) or waits until
-- this transaction commits (its trigger then sees this rating and moves it).
-- +goose StatementBegin
CREATE FUNCTION rating_score_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The same upserts in each branch: a transition table exists only for
    -- the operations that have it.
    IF TG_OP = 'INSERT' THEN
        PERFORM 1 FROM rating_requests q WHERE q.id IN (SELECT request_id FROM added) ORDER BY q.id FOR NO KEY UPDATE;
        INSERT INTO rating_score_counts AS c (level, at, score, comment_state, n)
        SELECT p.level, p.at, d.score, d.comment_state, sum(d.d)
        FROM (SELECT request_id, score, comment_state, assignee_id, rated_at, 1 AS d FROM added) d
        JOIN rating_requests q ON q.id = d.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
        GROUP BY 1, 2, 3, 4 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (level, at, score, comment_state) DO UPDATE SET n = c.n + excluded.n;
        INSERT INTO rating_assignee_counts AS c (level, at, assignee_id, n, score_sum)
        SELECT p.level, p.at, coalesce(d.assignee_id, 0), sum(d.d), sum(d.d * d.score)
        FROM (SELECT request_id, score, comment_state, assignee_id, rated_at, 1 AS d FROM added) d
        JOIN rating_requests q ON q.id = d.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
        GROUP BY 1, 2, 3 HAVING sum(d.d) <> 0 OR sum(d.d * d.score) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (level, at, assignee_id) DO UPDATE SET n = c.n + excluded.n, score_sum = c.score_sum + excluded.score_sum;
        INSERT INTO rating_rate_counts AS c (level, at, bucket, n)
        SELECT p.level, p.at, rating_rate_bucket(extract(epoch FROM d.rated_at - q.sent_at)::float8), sum(d.d)
        FROM (SELECT request_id, score, comment_state, assignee_id, rated_at, 1 AS d FROM added) d
        JOIN rating_requests q ON q.id = d.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
        WHERE q.sent_at IS NOT NULL
        GROUP BY 1, 2, 3 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (level, at, bucket) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM 1 FROM rating_requests q WHERE q.id IN (SELECT request_id FROM added UNION SELECT request_id FROM removed)
            ORDER BY q.id FOR NO KEY UPDATE;
        INSERT INTO rating_score_counts AS c (level, at, score, comment_state, n)
        SELECT p.level, p.at, d.score, d.comment_state, sum(d.d)
        FROM (SELECT request_id, score, comment_state, assignee_id, rated_at, 1 AS d FROM added
              UNION ALL SELECT request_id, score, comment_state, assignee_id, rated_at, -1 FROM removed) d
        JOIN rating_requests q ON q.id = d.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
        GROUP BY 1, 2, 3, 4 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (level, at, score, comment_state) DO UPDATE SET n = c.n + excluded.n;
        INSERT INTO rating_assignee_counts AS c (level, at, assignee_id, n, score_sum)
        SELECT p.level, p.at, coalesce(d.assignee_id, 0), sum(d.d), sum(d.d * d.score)
        FROM (SELECT request_id, score, comment_state, assignee_id, rated_at, 1 AS d FROM added
              UNION ALL SELECT request_id, score, comment_state, assignee_id, rated_at, -1 FROM removed) d
        JOIN rating_requests q ON q.id = d.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
        GROUP BY 1, 2, 3 HAVING sum(d.d) <> 0 OR sum(d.d * d.score) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (level, at, assignee_id) DO UPDATE SET n = c.n + excluded.n, score_sum = c.score_sum + excluded.score_sum;
        INSERT INTO rating_rate_counts AS c (level, at, bucket, n)
        SELECT p.level, p.at, rating_rate_bucket(extract(epoch FROM d.rated_at - q.sent_at)::float8), sum(d.d)
        FROM (SELECT request_id, score, comment_state, assignee_id, rated_at, 1 AS d FROM added
              UNION ALL SELECT request_id, score, comment_state, assignee_id, rated_at, -1 FROM removed) d
        JOIN rating_requests q ON q.id = d.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
        WHERE q.sent_at IS NOT NULL
        GROUP BY 1, 2, 3 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (level, at, bucket) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        PERFORM 1 FROM rating_requests q WHERE q.id IN (SELECT request_id FROM removed) ORDER BY q.id FOR NO KEY UPDATE;
        INSERT INTO rating_score_counts AS c (level, at, score, comment_state, n)
        SELECT p.level, p.at, d.score, d.comment_state, sum(d.d)
        FROM (SELECT request_id, score, comment_state, assignee_id, rated_at, -1 AS d FROM removed) d
        JOIN rating_requests q ON q.id = d.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
        GROUP BY 1, 2, 3, 4 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (level, at, score, comment_state) DO UPDATE SET n = c.n + excluded.n;
        INSERT INTO rating_assignee_counts AS c (level, at, assignee_id, n, score_sum)
        SELECT p.level, p.at, coalesce(d.assignee_id, 0), sum(d.d), sum(d.d * d.score)
        FROM (SELECT request_id, score, comment_state, assignee_id, rated_at, -1 AS d FROM removed) d
        JOIN rating_requests q ON q.id = d.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
        GROUP BY 1, 2, 3 HAVING sum(d.d) <> 0 OR sum(d.d * d.score) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (level, at, assignee_id) DO UPDATE SET n = c.n + excluded.n, score_sum = c.score_sum + excluded.score_sum;
        INSERT INTO rating_rate_counts AS c (level, at, bucket, n)
        SELECT p.level, p.at, rating_rate_bucket(extract(epoch FROM d.rated_at - q.sent_at)::float8), sum(d.d)
        FROM (SELECT request_id, score, comment_state, assignee_id, rated_at, -1 AS d FROM removed) d
        JOIN rating_requests q ON q.id = d.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
        WHERE q.sent_at IS NOT NULL
        GROUP BY 1, 2, 3 HAVING sum(d.d) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (level, at, bucket) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Transition tables hold only the rows a statement changed: the ON CONFLICT
-- DO NOTHING of a second press adds no rating, and InsertRatingRequest's
-- ON CONFLICT DO UPDATE of an existing request is an update that changes
-- no counted column (it nets to nothing).
CREATE TRIGGER rating_requests_count_insert AFTER INSERT ON rating_requests
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION rating_request_counts_apply();
CREATE TRIGGER rating_requests_count_update AFTER UPDATE ON rating_requests
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION rating_request_counts_apply();
CREATE TRIGGER rating_requests_count_delete AFTER DELETE ON rating_requests
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION rating_request_counts_apply();
CREATE TRIGGER ratings_count_insert AFTER INSERT ON ratings
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION rating_score_counts_apply();
CREATE TRIGGER ratings_count_update AFTER UPDATE ON ratings
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION rating_score_counts_apply();
CREATE TRIGGER ratings_count_delete AFTER DELETE ON ratings
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION rating_score_counts_apply();

-- +goose StatementBegin
CREATE FUNCTION rating_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rating_score_counts;
    DELETE FROM rating_assignee_counts;
    DELETE FROM rating_rate_counts;
    IF TG_TABLE_NAME = 'rating_requests' THEN
        DELETE FROM rating_request_counts;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER rating_requests_count_truncate AFTER TRUNCATE ON rating_requests
    FOR EACH STATEMENT EXECUTE FUNCTION rating_counts_truncate();
CREATE TRIGGER ratings_count_truncate AFTER TRUNCATE ON ratings
    FOR EACH STATEMENT EXECUTE FUNCTION rating_counts_truncate();

-- The triggers above hold locks that keep writers out until this migration
-- commits, so the backfill counts every row exactly once.
INSERT INTO rating_request_counts (level, at, state, sent, slot, n)
SELECT p.level, p.at, q.state, q.sent_at IS NOT NULL, 0, count(*)
FROM rating_requests q CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
GROUP BY 1, 2, 3, 4;
INSERT INTO rating_score_counts (level, at, score, comment_state, n)
SELECT p.level, p.at, r.score, r.comment_state, count(*)
FROM ratings r JOIN rating_requests q ON q.id = r.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
GROUP BY 1, 2, 3, 4;
INSERT INTO rating_assignee_counts (level, at, assignee_id, n, score_sum)
SELECT p.level, p.at, coalesce(r.assignee_id, 0), count(*), sum(r.score)
FROM ratings r JOIN rating_requests q ON q.id = r.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
GROUP BY 1, 2, 3;
INSERT INTO rating_rate_counts (level, at, bucket, n)
SELECT p.level, p.at, rating_rate_bucket(extract(epoch FROM r.rated_at - q.sent_at)::float8), count(*)
FROM ratings r JOIN rating_requests q ON q.id = r.request_id CROSS JOIN LATERAL rating_count_periods(q.requested_at) p
WHERE q.sent_at IS NOT NULL
GROUP BY 1, 2, 3;

-- +goose Down
DROP TRIGGER ratings_count_truncate ON ratings;
DROP TRIGGER rating_requests_count_truncate ON rating_requests;
DROP FUNCTION rating_counts_truncate();
DROP TRIGGER ratings_count_delete ON ratings;
DROP TRIGGER ratings_count_update ON ratings;
DROP TRIGGER ratings_count_insert ON ratings;
DROP TRIGGER rating_requests_count_delete ON rating_requests;
DROP TRIGGER rating_requests_count_update ON rating_requests;
DROP TRIGGER rating_requests_count_insert ON rating_requests;
DROP FUNCTION rating_score_counts_apply();
DROP FUNCTION rating_request_counts_apply();
DROP FUNCTION rating_count_periods(timestamptz);
DROP FUNCTION rating_rate_bucket(double precision);
DROP TABLE rating_rate_counts;
DROP TABLE rating_assignee_counts;
DROP TABLE rating_score_counts;
DROP TABLE rating_request_counts;
