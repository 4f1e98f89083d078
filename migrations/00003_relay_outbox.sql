-- +goose Up
-- The relay's work queue (a transactional outbox): a row per recorded event
-- not yet handed to Temporal. A trigger fills it in the statement that
-- records the event, whichever code does that, and the relay deletes the
-- rows whose signal went through. inbound_events rows, which carry the
-- payload, are then written by the ack and by processing only: the relay
-- used to rewrite every row (a full copy and index entries, as
-- dispatched_at was in an index predicate) and to scan the table to do so.
CREATE TABLE relay_outbox (
    event_id    bigint      PRIMARY KEY,  -- inbound_events.id
    source      text        NOT NULL,
    workflow_id text        NOT NULL,
    entity_id   text        NOT NULL,
    traceparent text,
    received_at timestamptz NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0  -- hand-overs Temporal refused
);

-- +goose StatementBegin
CREATE FUNCTION relay_outbox_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO relay_outbox (event_id, source, workflow_id, entity_id, traceparent, received_at)
    SELECT id, source, workflow_id, entity_id, traceparent, received_at FROM recorded;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- One INSERT per recording statement (the ack path records many events in
-- one), not one per row. ON CONFLICT DO NOTHING leaves duplicates out of
-- the transition table.
CREATE TRIGGER inbound_events_enqueue AFTER INSERT ON inbound_events
    REFERENCING NEW TABLE AS recorded
    FOR EACH STATEMENT EXECUTE FUNCTION relay_outbox_enqueue();

INSERT INTO relay_outbox (event_id, source, workflow_id, entity_id, traceparent, received_at, attempts)
SELECT id, source, workflow_id, entity_id, traceparent, received_at, dispatch_attempts
FROM inbound_events WHERE dispatched_at IS NULL;

DROP INDEX inbound_events_undispatched;
ALTER TABLE inbound_events DROP COLUMN dispatched_at, DROP COLUMN dispatch_attempts;

-- +goose Down
ALTER TABLE inbound_events ADD COLUMN dispatched_at timestamptz, ADD COLUMN dispatch_attempts integer NOT NULL DEFAULT 0;
UPDATE inbound_events e SET dispatched_at = now()
WHERE NOT EXISTS (SELECT 1 FROM relay_outbox o WHERE o.event_id = e.id);
UPDATE inbound_events e SET dispatch_attempts = o.attempts FROM relay_outbox o WHERE o.event_id = e.id;
CREATE INDEX inbound_events_undispatched ON inbound_events (id) WHERE dispatched_at IS NULL;
DROP TRIGGER inbound_events_enqueue ON inbound_events;
DROP FUNCTION relay_outbox_enqueue();
DROP TABLE relay_outbox;
