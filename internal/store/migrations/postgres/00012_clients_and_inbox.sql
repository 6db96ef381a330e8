-- Keep in step with ../sqlite/00012_clients_and_inbox.sql.

-- +goose Up
-- The origins (scheme://host[:port]) a store client's redirect payments may send the
-- customer's browser back to: a return_url elsewhere is refused, so payhub is no open
-- redirect. A client without any cannot make redirect payments.
CREATE TABLE client_return_origins (
    client_id TEXT    NOT NULL REFERENCES store_clients (id) ON DELETE CASCADE,
    origin    TEXT    NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (client_id, origin)
);

-- The inbox is bounded: the callbacks still waiting are counted per partner.
CREATE INDEX partner_callbacks_waiting ON partner_callbacks (partner, received_at) WHERE status = 'received';
-- Retention deletes the oldest processed callbacks and delivery attempts first.
CREATE INDEX partner_callbacks_age ON partner_callbacks (received_at, id) WHERE status <> 'received';
CREATE INDEX webhook_attempts_age ON webhook_attempts (attempted_at, id);

-- +goose Down
DROP INDEX webhook_attempts_age;
DROP INDEX partner_callbacks_age;
DROP INDEX partner_callbacks_waiting;
DROP TABLE client_return_origins;
