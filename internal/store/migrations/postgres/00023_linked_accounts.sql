-- Keep in step with ../sqlite/00023_linked_accounts.sql.

-- +goose Up
-- Linked accounts (docs/api.md §4.4): a customer's partner account linked by a store client,
-- which alone may charge it. user_authorization_id is the partner's reference of the
-- customer's authorization, set once the customer approved; it never leaves payhub.
CREATE TABLE linked_accounts (
    id                    TEXT PRIMARY KEY,
    client_id             TEXT        NOT NULL,
    store_id              TEXT        NOT NULL,
    method                TEXT        NOT NULL,
    status                TEXT        NOT NULL,
    scopes                TEXT        NOT NULL DEFAULT '',
    user_authorization_id TEXT        NOT NULL DEFAULT '',
    nonce                 TEXT        NOT NULL,
    link_url              TEXT        NOT NULL DEFAULT '',
    return_url            TEXT        NOT NULL DEFAULT '',
    expires_at            TIMESTAMPTZ,
    idempotency_key       TEXT        NOT NULL DEFAULT '',
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    linked_at             TIMESTAMPTZ,
    unlinked_at           TIMESTAMPTZ
);
-- A payment by a raw authorization reference is allowed only for the client's active link.
CREATE INDEX linked_accounts_active ON linked_accounts (client_id, user_authorization_id) WHERE status = 'active';

-- +goose Down
DROP TABLE linked_accounts;
