-- +goose Up
-- Issue ratings (docs/ratings.md): Okdesk issues as the per-issue workflow
-- saw them, one rating request per resolution, the ratings, and the
-- Telegram side (chats linked to Okdesk contacts, deep-link tokens).

-- Last known state of an Okdesk issue; resolutions counts the transitions
-- into a RATING_STATUSES status (the n of okdesk-rating-<issue>-<n>).
CREATE TABLE okdesk_issues (
    issue_id      bigint PRIMARY KEY,
    title         text        NOT NULL DEFAULT '',
    status        text        NOT NULL DEFAULT '',
    contact_id    bigint,
    company_id    bigint,
    assignee_id   bigint,
    resolutions   integer     NOT NULL DEFAULT 0,
    last_event_id bigint,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One request per resolution of an issue; state is where it ended (or
-- pending/waiting while it runs).
CREATE TABLE rating_requests (
    id                  bigserial PRIMARY KEY,
    issue_id            bigint      NOT NULL,
    resolution          integer     NOT NULL,
    workflow_id         text        NOT NULL UNIQUE,
    title               text        NOT NULL DEFAULT '',
    status              text        NOT NULL DEFAULT '',   -- the status that asked for the rating
    contact_id          bigint,
    company_id          bigint,
    assignee_id         bigint,
    chat_id             bigint,
    message_id          integer,
    reminder_message_id integer,
    state               text        NOT NULL DEFAULT 'pending', -- pending waiting rated expired cancelled no_chat blocked failed
    error               text,
    event_id            bigint,                              -- inbound_events.id of the resolution
    requested_at        timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    reminded_at         timestamptz,
    closed_at           timestamptz,
    UNIQUE (issue_id, resolution)
);
CREATE INDEX rating_requests_by_chat ON rating_requests (chat_id, issue_id, resolution);
CREATE INDEX rating_requests_by_time ON rating_requests (requested_at);

-- The customer's answer: at most one per request (the first press wins).
CREATE TABLE ratings (
    request_id       bigint PRIMARY KEY REFERENCES rating_requests (id),
    issue_id         bigint      NOT NULL,
    contact_id       bigint,
    chat_id          bigint      NOT NULL,
    telegram_user_id bigint,
    score            smallint    NOT NULL CHECK (score BETWEEN 1 AND 5),
    assignee_id      bigint,
    rated_at         timestamptz NOT NULL,
    comment_state    text        NOT NULL DEFAULT 'pending', -- pending posted failed
    comment_id       bigint,
    comment_error    text,
    commented_at     timestamptz
);

-- Telegram chats the bot talks to, and the Okdesk contact each is linked to.
CREATE TABLE telegram_chats (
    chat_id    bigint PRIMARY KEY,
    user_id    bigint,
    contact_id bigint,
    linked_via text,                                -- deep_link, phone
    linked_at  timestamptz,
    phone      text,
    state      text        NOT NULL DEFAULT '',     -- '' or awaiting_description
    blocked_at timestamptz,                         -- Telegram answered 403 (bot blocked)
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX telegram_chats_by_contact ON telegram_chats (contact_id, linked_at DESC);

-- Issues created through the bot belong to the chat that created them.
CREATE TABLE okdesk_issue_chats (
    issue_id   bigint PRIMARY KEY,
    chat_id    bigint      NOT NULL,
    contact_id bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Deep-link tokens (only their SHA-256 is stored): single use, expiring.
CREATE TABLE okdesk_link_tokens (
    token_hash   text PRIMARY KEY,
    contact_id   bigint      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    used_by_chat bigint
);

-- What the per-issue and per-chat workflows still have to do, written in
-- the same transaction that processed the event: a result lost between the
-- commit and the workflow is found again by the next activity call.
CREATE TABLE rating_actions (
    id         bigserial PRIMARY KEY,
    owner      text        NOT NULL,               -- workflow id that carries it out
    kind       text        NOT NULL,
    payload    jsonb       NOT NULL DEFAULT '{}',
    result     jsonb,
    error      text,
    event_id   bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    done_at    timestamptz
);
CREATE INDEX rating_actions_pending ON rating_actions (owner, id) WHERE done_at IS NULL;

-- +goose Down
DROP TABLE rating_actions;
DROP TABLE okdesk_link_tokens;
DROP TABLE okdesk_issue_chats;
DROP TABLE telegram_chats;
DROP TABLE ratings;
DROP TABLE rating_requests;
DROP TABLE okdesk_issues;
