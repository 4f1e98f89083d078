-- +goose Up
-- One row per deployment (name 'generator') when GENERATOR_MAX_RPS is set:
-- every worker process takes its next send time from next_slot, spaced
-- 1/GENERATOR_MAX_RPS apart, and none sends before hold_until, which a 429
-- with Retry-After pushes forward. Times are Postgres's clock, so workers on
-- other hosts agree (docs/jobs.md).
CREATE TABLE generator_pacer (
    name       text PRIMARY KEY,
    next_slot  timestamptz NOT NULL DEFAULT 'epoch',
    hold_until timestamptz NOT NULL DEFAULT 'epoch'
);

-- +goose Down
DROP TABLE generator_pacer;
