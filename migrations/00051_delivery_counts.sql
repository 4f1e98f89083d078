-- +goose Up
-- Callback metrics whose cost does not grow with traffic (issue 11).
--
-- GET /api/v1/webhook-metrics, GET /api/v1/webhook-health and the ops jobs
-- page aggregated every delivery and attempt of their window. These tables
-- count them per hour instead, kept by statement-level triggers in the
-- transaction of every change, whoever makes it (FinishJob's insert,
-- RecordAttempt's and RetryDelivery's updates, retention's deletes of
-- attempts, a cascade). A read sums the counter rows of the window's whole
-- hours and counts the raw rows of the part-hour at its start through the
-- time indexes, so it stays exact for any since.
--
-- hour is the UTC hour (date_trunc of the time at UTC, whatever the
-- session's TimeZone) of the time the read filters by. slot spreads a count
-- over a few rows as in event_counts (00004): concurrent writers of the same
-- hour and key would otherwise queue on one row's lock. A slot's n may go
-- negative; only the sum means anything.

-- Deliveries by the hour they were created, status and attempts: the
-- totals and the attempts histogram of webhook-metrics.
CREATE TABLE delivery_counts (
    hour     timestamptz NOT NULL,  -- UTC hour of created_at
    status   text        NOT NULL,
    attempts integer     NOT NULL,
    slot     integer     NOT NULL,
    n        bigint      NOT NULL,
    PRIMARY KEY (hour, status, attempts, slot)
);

-- Finished deliveries by the hour they finished and status: the health
-- check's recent delivered and failed. A retry sets finished_at back to
-- NULL, which takes the delivery out again.
CREATE TABLE delivery_finished_counts (
    hour   timestamptz NOT NULL,  -- UTC hour of finished_at
    status text        NOT NULL,
    slot   integer     NOT NULL,
    n      bigint      NOT NULL,
    PRIMARY KEY (hour, status, slot)
);

-- Attempts by the hour they were made and status code ('none' when no
-- answer arrived).
CREATE TABLE attempt_counts (
    hour        timestamptz NOT NULL,  -- UTC hour of attempted_at
    status_code text        NOT NULL,
    slot        integer     NOT NULL,
    n           bigint      NOT NULL,
    PRIMARY KEY (hour, status_code, slot)
);

-- Attempts by the hour they were made and latency bucket: the latency
-- percentiles. Kept apart from the status codes so that an hour has at most
-- (buckets in use x slots) rows, not that times the codes.
CREATE TABLE attempt_latency_counts (
    hour   timestamptz NOT NULL,  -- UTC hour of attempted_at
    bucket smallint    NOT NULL,  -- callback_latency_bucket(latency_ms)
    slot   integer     NOT NULL,
    n      bigint      NOT NULL,
    PRIMARY KEY (hour, bucket, slot)
);

-- Latency buckets: 0 holds 0 ms; bucket b >= 1 holds
-- [0.001 * 1.05^(b-1), 0.001 * 1.05^b) ms, each 5% wide (latencies under
-- 1 µs go to bucket 1). A read takes the geometric middle of a bucket,
-- 0.001 * 1.05^(b-0.5), for each latency in it: within 2.5% of the latency
-- (1.05^0.5 - 1 = 2.47%), or 1.03 µs under 1 µs. Go's
-- store.LatencyBucketValue must match. Neither function is STRICT, so the
-- planner inlines them into the triggers' and the reads' queries.
-- +goose StatementBegin
CREATE FUNCTION callback_latency_bucket(ms double precision) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN ms <= 0 THEN 0
                 ELSE least(greatest(floor(ln(ms / 0.001) / ln(1.05)) + 1, 1), 32767) END)::smallint
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION callback_hour(t timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('hour', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION delivery_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    my_slot integer := pg_backend_pid() % 8;
BEGIN
    -- One aggregated upsert per table and statement whatever its row count,
    -- the tables always in the same order and the keys sorted, so two
    -- transactions lock the counter rows they share in the same order. An
    -- update that changes none of the counted columns (next_attempt_at,
    -- updated_at, a superseded attempt's no-op) upserts nothing.
    INSERT INTO delivery_counts AS c (hour, status, attempts, slot, n)
    SELECT hour, status, attempts, my_slot, sum(d)
    FROM (SELECT callback_hour(created_at) AS hour, status, attempts, 1 AS d FROM added
          UNION ALL
          SELECT callback_hour(created_at), status, attempts, -1 FROM removed) AS delta
    GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (hour, status, attempts, slot) DO UPDATE SET n = c.n + excluded.n;

    INSERT INTO delivery_finished_counts AS c (hour, status, slot, n)
    SELECT hour, status, my_slot, sum(d)
    FROM (SELECT callback_hour(finished_at) AS hour, status, 1 AS d FROM added WHERE finished_at IS NOT NULL
          UNION ALL
          SELECT callback_hour(finished_at), status, -1 FROM removed WHERE finished_at IS NOT NULL) AS delta
    GROUP BY 1, 2 HAVING sum(d) <> 0 ORDER BY 1, 2
    ON CONFLICT (hour, status, slot) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION attempt_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    my_slot integer := pg_backend_pid() % 8;
BEGIN
    INSERT INTO attempt_counts AS c (hour, status_code, slot, n)
    SELECT hour, status_code, my_slot, sum(d)
    FROM (SELECT callback_hour(attempted_at) AS hour, coalesce(status_code::text, 'none') AS status_code, 1 AS d FROM added
          UNION ALL
          SELECT callback_hour(attempted_at), coalesce(status_code::text, 'none'), -1 FROM removed) AS delta
    GROUP BY 1, 2 HAVING sum(d) <> 0 ORDER BY 1, 2
    ON CONFLICT (hour, status_code, slot) DO UPDATE SET n = c.n + excluded.n;

    INSERT INTO attempt_latency_counts AS c (hour, bucket, slot, n)
    SELECT hour, bucket, my_slot, sum(d)
    FROM (SELECT callback_hour(attempted_at) AS hour, callback_latency_bucket(latency_ms) AS bucket, 1 AS d FROM added
          UNION ALL
          SELECT callback_hour(attempted_at), callback_latency_bucket(latency_ms), -1 FROM removed) AS delta
    GROUP BY 1, 2 HAVING sum(d) <> 0 ORDER BY 1, 2
    ON CONFLICT (hour, bucket, slot) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- An insert has only new rows and a delete only old ones: each gets a
-- function that reads the one transition table it has (the *_apply
-- functions above, for updates, read both).

-- +goose StatementBegin
CREATE FUNCTION delivery_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    my_slot integer := pg_backend_pid() % 8;
BEGIN
    INSERT INTO delivery_counts AS c (hour, status, attempts, slot, n)
    SELECT callback_hour(created_at), status, attempts, my_slot, count(*)
    FROM added GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (hour, status, attempts, slot) DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO delivery_finished_counts AS c (hour, status, slot, n)
    SELECT callback_hour(finished_at), status, my_slot, count(*)
    FROM added WHERE finished_at IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (hour, status, slot) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION delivery_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    my_slot integer := pg_backend_pid() % 8;
BEGIN
    INSERT INTO delivery_counts AS c (hour, status, attempts, slot, n)
    SELECT callback_hour(created_at), status, attempts, my_slot, -count(*)
    FROM removed GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (hour, status, attempts, slot) DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO delivery_finished_counts AS c (hour, status, slot, n)
    SELECT callback_hour(finished_at), status, my_slot, -count(*)
    FROM removed WHERE finished_at IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (hour, status, slot) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION attempt_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    my_slot integer := pg_backend_pid() % 8;
BEGIN
    INSERT INTO attempt_counts AS c (hour, status_code, slot, n)
    SELECT callback_hour(attempted_at), coalesce(status_code::text, 'none'), my_slot, count(*)
    FROM added GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (hour, status_code, slot) DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO attempt_latency_counts AS c (hour, bucket, slot, n)
    SELECT callback_hour(attempted_at), callback_latency_bucket(latency_ms), my_slot, count(*)
    FROM added GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (hour, bucket, slot) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION attempt_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    my_slot integer := pg_backend_pid() % 8;
BEGIN
    INSERT INTO attempt_counts AS c (hour, status_code, slot, n)
    SELECT callback_hour(attempted_at), coalesce(status_code::text, 'none'), my_slot, -count(*)
    FROM removed GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (hour, status_code, slot) DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO attempt_latency_counts AS c (hour, bucket, slot, n)
    SELECT callback_hour(attempted_at), callback_latency_bucket(latency_ms), my_slot, -count(*)
    FROM removed GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (hour, bucket, slot) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Transition tables hold only the rows a statement changed: FinishJob's
-- ON CONFLICT DO NOTHING and RecordAttempt's repeated attempt add nothing.
CREATE TRIGGER callback_deliveries_count_insert AFTER INSERT ON callback_deliveries
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_insert();
CREATE TRIGGER callback_deliveries_count_update AFTER UPDATE ON callback_deliveries
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_apply();
CREATE TRIGGER callback_deliveries_count_delete AFTER DELETE ON callback_deliveries
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_delete();

CREATE TRIGGER callback_attempts_count_insert AFTER INSERT ON callback_attempts
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION attempt_counts_insert();
CREATE TRIGGER callback_attempts_count_update AFTER UPDATE ON callback_attempts
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION attempt_counts_apply();
CREATE TRIGGER callback_attempts_count_delete AFTER DELETE ON callback_attempts
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION attempt_counts_delete();

-- +goose StatementBegin
CREATE FUNCTION delivery_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'callback_deliveries' THEN
        -- TRUNCATE callback_deliveries must cascade to callback_attempts,
        -- whose own trigger clears the attempt counters.
        DELETE FROM delivery_counts;
        DELETE FROM delivery_finished_counts;
    ELSE
        DELETE FROM attempt_counts;
        DELETE FROM attempt_latency_counts;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER callback_deliveries_count_truncate AFTER TRUNCATE ON callback_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_truncate();
CREATE TRIGGER callback_attempts_count_truncate AFTER TRUNCATE ON callback_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_truncate();

-- The triggers above hold a lock that keeps writers out until this
-- migration commits, so the backfill counts every row exactly once.
INSERT INTO delivery_counts (hour, status, attempts, slot, n)
SELECT callback_hour(created_at), status, attempts, 0, count(*) FROM callback_deliveries GROUP BY 1, 2, 3;
INSERT INTO delivery_finished_counts (hour, status, slot, n)
SELECT callback_hour(finished_at), status, 0, count(*) FROM callback_deliveries WHERE finished_at IS NOT NULL GROUP BY 1, 2;
INSERT INTO attempt_counts (hour, status_code, slot, n)
SELECT callback_hour(attempted_at), coalesce(status_code::text, 'none'), 0, count(*) FROM callback_attempts GROUP BY 1, 2;
INSERT INTO attempt_latency_counts (hour, bucket, slot, n)
SELECT callback_hour(attempted_at), callback_latency_bucket(latency_ms), 0, count(*) FROM callback_attempts GROUP BY 1, 2;

-- Counters: every callback write updates a few rows of the current hour.
-- Free space keeps those updates HOT; vacuum reclaims the dead versions
-- often (as for event_counts in 00040).
ALTER TABLE delivery_counts SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE delivery_finished_counts SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE attempt_counts SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE attempt_latency_counts SET (fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);

-- +goose Down
DROP TRIGGER callback_attempts_count_truncate ON callback_attempts;
DROP TRIGGER callback_deliveries_count_truncate ON callback_deliveries;
DROP FUNCTION delivery_counts_truncate();
DROP TRIGGER callback_attempts_count_delete ON callback_attempts;
DROP TRIGGER callback_attempts_count_update ON callback_attempts;
DROP TRIGGER callback_attempts_count_insert ON callback_attempts;
DROP TRIGGER callback_deliveries_count_delete ON callback_deliveries;
DROP TRIGGER callback_deliveries_count_update ON callback_deliveries;
DROP TRIGGER callback_deliveries_count_insert ON callback_deliveries;
DROP FUNCTION attempt_counts_delete();
DROP FUNCTION attempt_counts_insert();
DROP FUNCTION delivery_counts_delete();
DROP FUNCTION delivery_counts_insert();
DROP FUNCTION attempt_counts_apply();
DROP FUNCTION delivery_counts_apply();
DROP FUNCTION callback_hour(timestamptz);
DROP FUNCTION callback_latency_bucket(double precision);
DROP TABLE attempt_latency_counts;
DROP TABLE attempt_counts;
DROP TABLE delivery_finished_counts;
DROP TABLE delivery_counts;
