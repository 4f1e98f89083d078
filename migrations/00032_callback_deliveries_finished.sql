-- +goose Up
-- GET /api/v1/webhook-failures pages failed deliveries newest first by
-- (finished_at, id), optionally between since and until; the health check
-- counts deliveries finished within the last hour. Both walked or scanned
-- the whole table, which keeps every delivery.
CREATE INDEX callback_deliveries_failed ON callback_deliveries (finished_at DESC, id DESC) WHERE status IN ('failed', 'gone');
CREATE INDEX callback_deliveries_finished ON callback_deliveries (finished_at);

-- +goose Down
DROP INDEX callback_deliveries_finished;
DROP INDEX callback_deliveries_failed;
