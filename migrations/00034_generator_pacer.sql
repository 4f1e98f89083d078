-- +goose Up
-- One row per deployment (name 'generator') when GENERATOR_MAX_RPS is set:
-- every worker process asks it for a turn before each generator request.
-- sends holds the times of the last turns given (at most GENERATOR_MAX_RPS
-- in any second); none is given before hold_until, which a 429 with
-- Retry-After pushes forward. Times are Postgres's clock, so workers on
-- other hosts agree (docs/jobs.md).
CREATE TABLE generator_pacer (
    name       text PRIMARY KEY,
    sends      timestamptz[] NOT NULL DEFAULT '{}',
    hold_until timestamptz NOT NULL DEFAULT 'epoch'
);

-- +goose Down
DROP TABLE generator_pacer;
