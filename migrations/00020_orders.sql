-- +goose Up
-- The CRM side of the Bitrix order sync (docs/orders.md). Orders are written
-- by the per-order workflow (bitrix-order-<bitrix id>) from Bitrix events and
-- by PATCH /api/orders/{id}; back syncs are inbound_events rows of source
-- bitrix-backsync handled by bitrix-backsync-<crm id>.
CREATE TABLE orders (
    id                bigserial PRIMARY KEY,          -- the CRM id
    bitrix_id         bigint        NOT NULL UNIQUE,  -- b_sale_order.ID
    number            text          NOT NULL,         -- ACCOUNT_NUMBER
    status            text          NOT NULL,         -- CRM status (mapped; an unknown Bitrix code as is)
    bitrix_status     text          NOT NULL,         -- Bitrix STATUS_ID as last seen or confirmed
    status_unknown    boolean       NOT NULL DEFAULT false,
    total             numeric(18,4) NOT NULL DEFAULT 0, -- PRICE, delivery included
    delivery_price    numeric(18,4) NOT NULL DEFAULT 0,
    currency          text          NOT NULL DEFAULT '',
    paid              boolean       NOT NULL DEFAULT false,
    canceled          boolean       NOT NULL DEFAULT false,
    customer_name     text          NOT NULL DEFAULT '',
    customer_phone    text          NOT NULL DEFAULT '',
    customer_email    text          NOT NULL DEFAULT '',
    delivery_address  text          NOT NULL DEFAULT '',
    customer_comment  text          NOT NULL DEFAULT '', -- USER_DESCRIPTION
    comments          text          NOT NULL DEFAULT '', -- COMMENTS (manager's)
    tracking_number   text          NOT NULL DEFAULT '',
    bitrix_created_at timestamptz,
    bitrix_updated_at timestamptz,                    -- DATE_UPDATE of the applied version
    sync_state        text          NOT NULL DEFAULT 'synced', -- synced, pending, failed, skipped
    sync_error        text,
    backsync_seq      integer       NOT NULL DEFAULT 0, -- back-sync requests made so far
    created_at        timestamptz   NOT NULL DEFAULT now(),
    updated_at        timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX orders_by_updated ON orders (updated_at DESC, id DESC);

CREATE TABLE order_items (
    order_id   bigint        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position   integer       NOT NULL,
    product_id bigint        NOT NULL DEFAULT 0,
    name       text          NOT NULL DEFAULT '',
    price      numeric(18,4) NOT NULL DEFAULT 0, -- unit price
    quantity   numeric(18,4) NOT NULL DEFAULT 0,
    currency   text          NOT NULL DEFAULT '',
    PRIMARY KEY (order_id, position)
);

-- Bitrix id <-> CRM id, the version last applied, and what hookflow pushed
-- to Bitrix (to recognise the echo of its own change).
CREATE TABLE sync_mapping (
    entity           text        NOT NULL DEFAULT 'order',
    bitrix_id        bigint      NOT NULL,
    crm_id           bigint      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    applied_version  timestamptz,          -- newest DATE_UPDATE applied or seen unchanged
    applied_hash     text        NOT NULL DEFAULT '',
    applied_event_id bigint,               -- inbound_events.id of the applied version
    pushing_event_id bigint,               -- newest back-sync request not finished yet
    pushing_status   text,                 -- its Bitrix status id (NULL: none or comment only)
    pushed_status    text,                 -- status Bitrix confirmed for the last back sync
    pushed_version   timestamptz,          -- DATE_UPDATE Bitrix answered it with
    pushed_hash      text,
    pushed_at        timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, bitrix_id),
    UNIQUE (entity, crm_id)
);

-- One row per sync operation, for /api/sync/status, /crm/sync and order history.
CREATE TABLE sync_log (
    id          bigserial PRIMARY KEY,
    direction   text        NOT NULL,           -- inbound (Bitrix -> CRM), outbound (CRM -> Bitrix), crm (a CRM edit)
    entity      text        NOT NULL,           -- order
    entity_id   text        NOT NULL DEFAULT '',-- Bitrix id
    crm_id      bigint,
    action      text        NOT NULL,           -- create, update, status, unchanged, stale, echo, ignored, fetch, patch, backsync
    status      text        NOT NULL,           -- success, skipped, retry, error
    error       text,
    detail      text        NOT NULL DEFAULT '',
    duration_ms double precision NOT NULL DEFAULT 0,
    event_id    bigint,                         -- inbound_events.id
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_log_by_at ON sync_log (at DESC, id DESC);
CREATE INDEX sync_log_by_entity ON sync_log (entity, entity_id, id DESC);
CREATE INDEX sync_log_errors ON sync_log (id DESC) WHERE status IN ('error', 'retry');

-- +goose Down
DROP TABLE sync_log;
DROP TABLE sync_mapping;
DROP TABLE order_items;
DROP TABLE orders;
