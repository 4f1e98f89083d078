-- +goose Up
-- GET /api/orders filters by status and by sync_state and pages newest
-- first by (updated_at, id): an index per filter in that order serves a page
-- by walking it from the cursor, whatever the number of orders.
CREATE INDEX orders_by_status ON orders (status, updated_at DESC, id DESC);
CREATE INDEX orders_by_sync_state ON orders (sync_state, updated_at DESC, id DESC);

-- +goose Down
DROP INDEX orders_by_sync_state;
DROP INDEX orders_by_status;
