-- +goose Up
-- Description jobs (POST /api/v1/generate-descriptions) and their lots. The
-- job workflow (job-<id>) fills in per-lot results as they finish, so the
-- status endpoint is live; the counters on jobs follow job_lots.
CREATE TABLE jobs (
    id              uuid PRIMARY KEY,
    client_id       text        NOT NULL,             -- JOBS_CLIENTS id whose secret signed it (and signs its callback)
    status          text        NOT NULL DEFAULT 'queued', -- queued, processing, completed, partially_completed, failed
    version         text        NOT NULL DEFAULT '',  -- the client's "version" field
    languages       text[]      NOT NULL,
    webhook_url     text        NOT NULL DEFAULT '',  -- '' = no callback
    total_lots      integer     NOT NULL,
    completed_lots  integer     NOT NULL DEFAULT 0,
    failed_lots     integer     NOT NULL DEFAULT 0,
    idempotency_key text,                             -- Idempotency-Key header, unique per client
    request_hash    text        NOT NULL,             -- sha256 of the raw body, to tell a replay from a conflict
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    CONSTRAINT jobs_idempotency UNIQUE (client_id, idempotency_key)
);
CREATE INDEX jobs_created ON jobs (created_at);

CREATE TABLE job_lots (
    job_id       uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position     integer     NOT NULL,               -- index in the submitted lots array
    lot_id       text        NOT NULL,
    images       text[]      NOT NULL,
    status       text        NOT NULL DEFAULT 'pending', -- pending, completed, failed
    descriptions jsonb,                              -- {"en": "...", "ru": "..."} when completed
    error        text,                               -- why it failed
    attempts     integer     NOT NULL DEFAULT 0,     -- generator calls made
    finished_at  timestamptz,
    PRIMARY KEY (job_id, position),
    CONSTRAINT job_lots_lot_id UNIQUE (job_id, lot_id)
);

-- +goose Down
DROP TABLE job_lots;
DROP TABLE jobs;
