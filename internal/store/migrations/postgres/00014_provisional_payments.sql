-- Keep in step with ../sqlite/00014_provisional_payments.sql.

-- +goose Up
-- A payment the partner counts as a sale but may still reverse (nanaco's 処理未了,
-- PENDING_CONFIRMATION, docs/partners/nanaco.md §B6) is succeeded and provisional: the
-- resolver asks until the partner confirms it or reverses it (the payment then fails).
-- (Keep the index in step with openPayment in payments.go.)
ALTER TABLE payments ADD COLUMN provisional BOOLEAN NOT NULL DEFAULT FALSE;
DROP INDEX payments_to_resolve;
CREATE INDEX payments_to_resolve ON payments (id)
    WHERE needs_attention = FALSE AND (status IN ('unknown', 'processing') OR (status = 'succeeded' AND provisional) OR (cancel_requested AND (status IN ('authorized', 'requires_action') OR (status = 'succeeded' AND amount_refunded < amount_captured))));

-- +goose Down
DROP INDEX payments_to_resolve;
CREATE INDEX payments_to_resolve ON payments (id)
    WHERE needs_attention = FALSE AND (status IN ('unknown', 'processing') OR (cancel_requested AND (status IN ('authorized', 'requires_action') OR (status = 'succeeded' AND amount_refunded < amount_captured))));
ALTER TABLE payments DROP COLUMN provisional;
