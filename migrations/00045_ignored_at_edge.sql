-- +goose Up
-- Events a flow does not handle (a Bitrix24 event of another kind, a
-- Telegram update the bot ignores, an Okdesk event without an issue) are
-- recorded already processed, with outcome 'ignored' and the reason: the
-- sender gets its 2xx and the event stays visible, but no workflow is
-- started or signalled for it, so the relay leaves such rows out.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION relay_outbox_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO relay_outbox (event_id, source, workflow_id, entity_id, traceparent, received_at)
    SELECT id, source, workflow_id, entity_id, traceparent, received_at FROM recorded WHERE NOT processed;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION relay_outbox_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO relay_outbox (event_id, source, workflow_id, entity_id, traceparent, received_at)
    SELECT id, source, workflow_id, entity_id, traceparent, received_at FROM recorded;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
