-- +goose Up
-- Every accepted inbound event of every source, recorded before the 2xx.
-- The relay hands rows with dispatched_at IS NULL to Temporal; the flow's
-- activity sets processed/outcome exactly once.
CREATE TABLE inbound_events (
    id                bigserial PRIMARY KEY,
    source            text        NOT NULL,
    dedup_key         text        NOT NULL,
    workflow_id       text        NOT NULL,
    event             text        NOT NULL,  -- the provider's own event name
    event_type        text        NOT NULL,  -- hookflow's mapped type
    entity_id         text        NOT NULL DEFAULT '',
    attrs             jsonb       NOT NULL DEFAULT '{}',
    payload           json        NOT NULL,  -- raw body as received (json keeps it byte for byte)
    received_at       timestamptz NOT NULL DEFAULT now(),
    dispatched_at     timestamptz,
    dispatch_attempts integer     NOT NULL DEFAULT 0,
    processed         boolean     NOT NULL DEFAULT false,
    processed_at      timestamptz,
    outcome           text,                  -- applied, stale, ignored, failed
    error             text,
    traceparent       text,                  -- W3C trace context of the request that recorded it
    CONSTRAINT inbound_events_dedup UNIQUE (source, dedup_key)
);
CREATE INDEX inbound_events_undispatched ON inbound_events (id) WHERE dispatched_at IS NULL;
CREATE INDEX inbound_events_by_entity ON inbound_events (source, entity_id, id);

-- +goose Down
DROP TABLE inbound_events;
