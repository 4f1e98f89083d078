-- +goose NO TRANSACTION
-- The entity index carries event_type (issue 11): a list filtered by entity
-- and type (printer 7's failed jobs) walks the entity's index entries and
-- checks the type in the index itself, fetching only the rows it returns,
-- where it fetched every one of the entity's rows to read its type (4.5x
-- slower at 10 million events than at 10 thousand). Same number of
-- indexes, so the ack costs what it did.
--
-- CONCURRENTLY: on a database with years of events, building the index
-- must not hold the acks' inserts up. Each statement runs on its own, so a
-- run cut short is completed by the next (an invalid index left by a
-- failed build is dropped first).

-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS inbound_events_by_entity_type;
CREATE INDEX CONCURRENTLY inbound_events_by_entity_type ON inbound_events (source, entity_id, id) INCLUDE (event_type);
DROP INDEX CONCURRENTLY IF EXISTS inbound_events_by_entity;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS inbound_events_by_entity;
CREATE INDEX CONCURRENTLY inbound_events_by_entity ON inbound_events (source, entity_id, id);
DROP INDEX CONCURRENTLY IF EXISTS inbound_events_by_entity_type;
