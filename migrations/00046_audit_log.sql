-- +goose Up
-- Every admin action (issue 12): who (the token's name, never the token),
-- what, on what, with which filter, how many it touched, and how it ended,
-- refusals included. Written in the action's own transaction where the
-- action is one (a callback retry), else right after it. Read newest first
-- by GET /api/v1/audit and /ops/audit, keyset-paged on (at, id).
CREATE TABLE audit_log (
    id     bigserial   PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text        NOT NULL,            -- the token's name (ADMIN_TOKEN is "admin")
    action text        NOT NULL,            -- delivery.retry, order.update, ... (later events.replay, source.pause)
    target text        NOT NULL DEFAULT '', -- what it acted on: a delivery id, an order id, a source
    filter jsonb,                           -- a bulk action's filter, as given
    count  bigint      NOT NULL DEFAULT 0,  -- how many things it touched (0 when refused)
    result text        NOT NULL,            -- ok, or why not: not_found, conflict, error, http_4xx ...
    detail jsonb                            -- what else is worth keeping: series, workflow id, error text
);
CREATE INDEX audit_log_newest ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_by_action ON audit_log (action, at DESC, id DESC);
CREATE INDEX audit_log_by_actor ON audit_log (actor, at DESC, id DESC);

-- +goose Down
DROP TABLE audit_log;
