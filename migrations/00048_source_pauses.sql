-- +goose Up
-- Paused sources (issue 12): POST /api/v1/sources/{source}/pause adds a
-- row, /resume deletes it, each in the transaction of its audit entry. A
-- paused source still records and acks its events (the ack path never reads
-- this table); the relay leaves their relay_outbox rows where they are
-- until the row is gone, then hands them over in id order. Being a table,
-- a pause survives restarts of every process.
CREATE TABLE source_pauses (
    source    text        PRIMARY KEY,
    paused_at timestamptz NOT NULL DEFAULT now(),
    paused_by text        NOT NULL,  -- the token's name
    reason    text        NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE source_pauses;
