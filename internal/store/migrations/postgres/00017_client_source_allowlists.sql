-- Keep in step with ../sqlite/00017_client_source_allowlists.sql.

-- +goose Up
-- The networks (CIDR, masked: 192.0.2.0/24, 2001:db8::/48) a store client's requests may
-- come from (docs/security.md §6). A client without any is served from any source.
CREATE TABLE client_source_allowlists (
    client_id TEXT    NOT NULL REFERENCES store_clients (id) ON DELETE CASCADE,
    cidr      TEXT    NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (client_id, cidr)
);

-- +goose Down
DROP TABLE client_source_allowlists;
