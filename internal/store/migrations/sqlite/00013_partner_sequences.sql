-- Keep in step with ../postgres/00013_partner_sequences.sql.

-- +goose Up
-- Partners that key requests by terminal, business date and sequence number (nanaco's NCS,
-- docs/partners/nanaco.md §B3) get their sequence from here: the last number handed out per
-- (method, terminal, business date), taken in the transaction that writes the attempt
-- carrying it, so a number is never handed out twice nor sent before it is recorded.
CREATE TABLE partner_sequences (
    method        TEXT    NOT NULL,
    terminal      TEXT    NOT NULL,
    business_date TEXT    NOT NULL,
    last_seq      INTEGER NOT NULL,
    PRIMARY KEY (method, terminal, business_date)
) STRICT;

-- +goose Down
DROP TABLE partner_sequences;
