-- +goose NO TRANSACTION
-- GET /api/v1/dead-letters (issue 12) pages what ended in failure newest
-- first: inbound events processed with outcome failed, split into back
-- syncs given up (source bitrix-backsync) and every other flow's events.
-- Failures are rare, so these partial indexes stay small however many
-- events inbound_events holds, and each kind's page is a walk of its own
-- index from the cursor down (callbacks use callback_deliveries_failed).
--
-- CONCURRENTLY: building them must not hold the acks' inserts up; a run cut
-- short leaves an invalid index, dropped and rebuilt by the next.

-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS inbound_events_failed;
CREATE INDEX CONCURRENTLY inbound_events_failed ON inbound_events (processed_at DESC, id DESC)
    WHERE outcome = 'failed' AND source <> 'bitrix-backsync';
DROP INDEX CONCURRENTLY IF EXISTS inbound_events_backsync_failed;
CREATE INDEX CONCURRENTLY inbound_events_backsync_failed ON inbound_events (processed_at DESC, id DESC)
    WHERE outcome = 'failed' AND source = 'bitrix-backsync';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS inbound_events_backsync_failed;
DROP INDEX CONCURRENTLY IF EXISTS inbound_events_failed;
