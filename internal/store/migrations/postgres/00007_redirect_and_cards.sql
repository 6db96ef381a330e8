-- +goose Up
-- Redirect payments (LINE Pay's payment page, card 3-D Secure) and cards: where payhub
-- sends the customer's browser when the partner hands it back, the partner credential a
-- payment needs later (sealed: GMO-PG AccessID/AccessPass, never in clear), and what payhub
-- may keep about a card (brand, last four, expiry; never the number or security code).
ALTER TABLE payments ADD COLUMN return_url TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN partner_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN card_brand TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN card_last4 TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN card_expiry TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE payments DROP COLUMN card_expiry;
ALTER TABLE payments DROP COLUMN card_last4;
ALTER TABLE payments DROP COLUMN card_brand;
ALTER TABLE payments DROP COLUMN partner_secret;
ALTER TABLE payments DROP COLUMN return_url;
