-- +goose Up
-- Manual capture: a payment records how its money is taken and how much of it was.
ALTER TABLE payments ADD COLUMN capture_method TEXT NOT NULL DEFAULT 'automatic';
ALTER TABLE payments ADD COLUMN amount_captured BIGINT NOT NULL DEFAULT 0;
UPDATE payments SET amount_captured = amount WHERE status = 'succeeded';

-- +goose Down
ALTER TABLE payments DROP COLUMN amount_captured;
ALTER TABLE payments DROP COLUMN capture_method;
