-- +goose Up
-- Read models kept by the per-printer workflow.
CREATE TABLE printers (
    id             bigint PRIMARY KEY,
    name           text        NOT NULL DEFAULT '',
    state          text        NOT NULL DEFAULT '',
    current_job_id text,
    progress       integer,
    last_event_at  timestamptz,             -- the provider's timestamp of the newest applied event
    last_event_id  bigint,                  -- inbound_events.id of that event
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE print_jobs (
    id               text PRIMARY KEY,      -- SimplyPrint job id (or uid when no id)
    printer_id       bigint,
    file             text        NOT NULL DEFAULT '',
    state            text        NOT NULL DEFAULT '',
    percentage       integer,
    started          timestamptz,
    ended            timestamptz,
    duration_seconds integer,
    last_event_at    timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX print_jobs_by_printer ON print_jobs (printer_id);

-- +goose Down
DROP TABLE print_jobs;
DROP TABLE printers;
