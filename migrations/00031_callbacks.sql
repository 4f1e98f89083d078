-- +goose Up
-- One callback delivery per job with a webhook_url, and every attempt made
-- for it. The schedule lives in the callback-<id> workflow (durable timers);
-- these rows are what people query.
CREATE TABLE callback_deliveries (
    id               uuid        PRIMARY KEY,     -- also names its workflows (callback-<id>): unique beyond this database
    job_id           uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    client_id        text        NOT NULL,
    url              text        NOT NULL,
    webhook_id       text        NOT NULL,            -- webhook-id header (msg_<id>), the same on every attempt and series
    body             text        NOT NULL,            -- the exact bytes sent and signed on every attempt
    status           text        NOT NULL DEFAULT 'pending', -- pending, delivered, failed, gone
    series           integer     NOT NULL DEFAULT 1,  -- 1 = the job's own; each manual retry adds one
    attempts         integer     NOT NULL DEFAULT 0,  -- over all series
    last_status_code integer,
    last_error       text,
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CONSTRAINT callback_deliveries_job UNIQUE (job_id)
);
CREATE INDEX callback_deliveries_pending ON callback_deliveries (created_at) WHERE status = 'pending';
CREATE INDEX callback_deliveries_created ON callback_deliveries (created_at);

CREATE TABLE callback_attempts (
    delivery_id      uuid        NOT NULL REFERENCES callback_deliveries (id) ON DELETE CASCADE,
    attempt          integer     NOT NULL,            -- 1, 2, ... over all series
    series           integer     NOT NULL,
    attempted_at     timestamptz NOT NULL,
    status_code      integer,                         -- NULL when no answer arrived
    latency_ms       double precision NOT NULL,
    outcome          text        NOT NULL,            -- delivered, retryable, permanent, gone
    error            text,
    response_snippet text,                            -- first 1 KiB of the answer
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX callback_attempts_time ON callback_attempts (attempted_at);

-- +goose Down
DROP TABLE callback_attempts;
DROP TABLE callback_deliveries;
