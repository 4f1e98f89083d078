-- +goose Up
-- Paused callback clients (issue 12): POST /api/v1/clients/{client}/pause
-- adds a row, /resume deletes it, each in the transaction of its audit
-- entry. While a client is paused, its deliveries wait before each attempt
-- instead of sending it (CallbackDelivery polls CALLBACK_PAUSE_POLL); an
-- attempt that waits is not spent, so the retry schedule is intact on
-- resume. A table: the pause survives restarts of every process.
CREATE TABLE client_pauses (
    client_id text        PRIMARY KEY,
    paused_at timestamptz NOT NULL DEFAULT now(),
    paused_by text        NOT NULL,  -- the token's name
    reason    text        NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE client_pauses;
