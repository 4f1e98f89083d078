-- +goose Up
-- Reads whose cost does not grow with inbound_events (issue 11).
--
-- event_counts holds how many events there are per source, type, state
-- (processed, outcome, whether an error was recorded: what stats report).
-- Statement-level triggers keep it in the transaction of every change to
-- inbound_events, whoever makes it: the ack's multi-row insert adds, the
-- processing update moves counts from pending to the outcome, a delete
-- (retention) subtracts. Stats then sum a few hundred rows however many
-- events there are; there is no hour in the key because no read needs one
-- and every hour would add rows that stats have to sum.
--
-- slot spreads each count over a few rows: concurrent ack transactions
-- recording the same type would otherwise queue on one row's lock until
-- each commits. A slot's n may go negative (an event counted as pending in
-- one slot is moved to its outcome from another); only the sum means
-- anything.
CREATE TABLE event_counts (
    source     text    NOT NULL,
    event_type text    NOT NULL,
    processed  boolean NOT NULL,
    outcome    text    NOT NULL,  -- coalesce(inbound_events.outcome, '')
    errored    boolean NOT NULL,  -- inbound_events.error IS NOT NULL
    slot       integer NOT NULL,
    n          bigint  NOT NULL,
    PRIMARY KEY (source, event_type, processed, outcome, errored, slot)
);

-- +goose StatementBegin
CREATE FUNCTION event_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    my_slot integer := pg_backend_pid() % 8;
BEGIN
    -- One aggregated upsert per statement whatever its row count, sorted so
    -- two transactions lock the counter rows they share in the same order.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO event_counts AS c (source, event_type, processed, outcome, errored, slot, n)
        SELECT source, event_type, processed, coalesce(outcome, ''), error IS NOT NULL, my_slot, count(*)
        FROM added GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (source, event_type, processed, outcome, errored, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO event_counts AS c (source, event_type, processed, outcome, errored, slot, n)
        SELECT source, event_type, processed, outcome, errored, my_slot, sum(d)
        FROM (SELECT source, event_type, processed, coalesce(outcome, '') AS outcome, error IS NOT NULL AS errored, 1 AS d FROM added
              UNION ALL
              SELECT source, event_type, processed, coalesce(outcome, ''), error IS NOT NULL, -1 FROM removed) AS delta
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (source, event_type, processed, outcome, errored, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        INSERT INTO event_counts AS c (source, event_type, processed, outcome, errored, slot, n)
        SELECT source, event_type, processed, coalesce(outcome, ''), error IS NOT NULL, my_slot, -count(*)
        FROM removed GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (source, event_type, processed, outcome, errored, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Transition tables hold only the rows a statement changed: an ON CONFLICT
-- DO NOTHING duplicate is not in "added", and an update that finds an event
-- processed already (a redelivered batch) changes no row.
CREATE TRIGGER inbound_events_count_insert AFTER INSERT ON inbound_events
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION event_counts_apply();
CREATE TRIGGER inbound_events_count_update AFTER UPDATE ON inbound_events
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION event_counts_apply();
CREATE TRIGGER inbound_events_count_delete AFTER DELETE ON inbound_events
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION event_counts_apply();

-- +goose StatementBegin
CREATE FUNCTION event_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_counts;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER inbound_events_count_truncate AFTER TRUNCATE ON inbound_events
    FOR EACH STATEMENT EXECUTE FUNCTION event_counts_truncate();

-- The triggers above hold a lock that keeps writers out until this
-- migration commits, so the backfill counts every row exactly once.
INSERT INTO event_counts (source, event_type, processed, outcome, errored, slot, n)
SELECT source, event_type, processed, coalesce(outcome, ''), error IS NOT NULL, 0, count(*)
FROM inbound_events GROUP BY 1, 2, 3, 4, 5;

-- One index per list filter, each ending in id so that a filtered list
-- pages newest first (ORDER BY id DESC, before_id) by walking the index and
-- stopping at its limit. Entity has inbound_events_by_entity already; the
-- unfiltered list walks the primary key. Each index costs the ack an index
-- insert per event, so there is no index for combinations: they use the
-- most selective of these and filter.
CREATE INDEX inbound_events_by_type ON inbound_events (source, event_type, id);
-- Unprocessed events have a NULL outcome: the same index finds the backlog
-- (outcome=pending, the Bitrix sync backlog), which stays small.
CREATE INDEX inbound_events_by_outcome ON inbound_events (source, outcome, id);
-- since/until, and the newest received_at of stats.
CREATE INDEX inbound_events_by_received ON inbound_events (source, received_at);

-- +goose Down
DROP INDEX inbound_events_by_received;
DROP INDEX inbound_events_by_outcome;
DROP INDEX inbound_events_by_type;
DROP TRIGGER inbound_events_count_truncate ON inbound_events;
DROP FUNCTION event_counts_truncate();
DROP TRIGGER inbound_events_count_delete ON inbound_events;
DROP TRIGGER inbound_events_count_update ON inbound_events;
DROP TRIGGER inbound_events_count_insert ON inbound_events;
DROP FUNCTION event_counts_apply();
DROP TABLE event_counts;
