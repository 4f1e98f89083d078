-- +goose Up
-- /api/sync/status and /crm/sync report how many sync operations there were
-- per direction and status, and how many orders are in each sync state.
-- They used to count sync_log and orders whole at every call; these counters
-- are kept in the transaction of every change instead (statement-level
-- triggers, as event_counts in 00004: one aggregated upsert per statement,
-- spread over 8 slots by backend so concurrent writers do not queue on one
-- row; only the sum of a key's slots means anything). A delete (retention)
-- subtracts, so they stay exact.
CREATE TABLE sync_log_counts (
    direction text    NOT NULL,
    status    text    NOT NULL,
    slot      integer NOT NULL,
    n         bigint  NOT NULL,
    PRIMARY KEY (direction, status, slot)
);
CREATE TABLE order_state_counts (
    sync_state text    NOT NULL,
    slot       integer NOT NULL,
    n          bigint  NOT NULL,
    PRIMARY KEY (sync_state, slot)
);

-- +goose StatementBegin
CREATE FUNCTION sync_log_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO sync_log_counts AS c (direction, status, slot, n)
        SELECT direction, status, pg_backend_pid() % 8, count(*) FROM added GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (direction, status, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO sync_log_counts AS c (direction, status, slot, n)
        SELECT direction, status, pg_backend_pid() % 8, sum(d)
        FROM (SELECT direction, status, 1 AS d FROM added UNION ALL SELECT direction, status, -1 FROM removed) AS delta
        GROUP BY 1, 2 HAVING sum(d) <> 0 ORDER BY 1, 2
        ON CONFLICT (direction, status, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        INSERT INTO sync_log_counts AS c (direction, status, slot, n)
        SELECT direction, status, pg_backend_pid() % 8, -count(*) FROM removed GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (direction, status, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION order_state_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO order_state_counts AS c (sync_state, slot, n)
        SELECT sync_state, pg_backend_pid() % 8, count(*) FROM added GROUP BY 1 ORDER BY 1
        ON CONFLICT (sync_state, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO order_state_counts AS c (sync_state, slot, n)
        SELECT sync_state, pg_backend_pid() % 8, sum(d)
        FROM (SELECT sync_state, 1 AS d FROM added UNION ALL SELECT sync_state, -1 FROM removed) AS delta
        GROUP BY 1 HAVING sum(d) <> 0 ORDER BY 1
        ON CONFLICT (sync_state, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        INSERT INTO order_state_counts AS c (sync_state, slot, n)
        SELECT sync_state, pg_backend_pid() % 8, -count(*) FROM removed GROUP BY 1 ORDER BY 1
        ON CONFLICT (sync_state, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION sync_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'sync_log' THEN
        DELETE FROM sync_log_counts;
    ELSE
        DELETE FROM order_state_counts;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER sync_log_count_insert AFTER INSERT ON sync_log
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION sync_log_counts_apply();
CREATE TRIGGER sync_log_count_update AFTER UPDATE ON sync_log
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION sync_log_counts_apply();
CREATE TRIGGER sync_log_count_delete AFTER DELETE ON sync_log
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION sync_log_counts_apply();
CREATE TRIGGER sync_log_count_truncate AFTER TRUNCATE ON sync_log
    FOR EACH STATEMENT EXECUTE FUNCTION sync_counts_truncate();

CREATE TRIGGER orders_count_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION order_state_counts_apply();
CREATE TRIGGER orders_count_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION order_state_counts_apply();
CREATE TRIGGER orders_count_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION order_state_counts_apply();
CREATE TRIGGER orders_count_truncate AFTER TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION sync_counts_truncate();

-- The triggers above keep writers out until this migration commits, so the
-- backfill counts every row once.
INSERT INTO sync_log_counts (direction, status, slot, n)
SELECT direction, status, 0, count(*) FROM sync_log GROUP BY 1, 2;
INSERT INTO order_state_counts (sync_state, slot, n)
SELECT sync_state, 0, count(*) FROM orders GROUP BY 1;

-- +goose Down
DROP TRIGGER orders_count_truncate ON orders;
DROP TRIGGER orders_count_delete ON orders;
DROP TRIGGER orders_count_update ON orders;
DROP TRIGGER orders_count_insert ON orders;
DROP TRIGGER sync_log_count_truncate ON sync_log;
DROP TRIGGER sync_log_count_delete ON sync_log;
DROP TRIGGER sync_log_count_update ON sync_log;
DROP TRIGGER sync_log_count_insert ON sync_log;
DROP FUNCTION sync_counts_truncate();
DROP FUNCTION order_state_counts_apply();
DROP FUNCTION sync_log_counts_apply();
DROP TABLE order_state_counts;
DROP TABLE sync_log_counts;
