-- +goose Up
-- SQLite dialect; keep in step with ../postgres/00010_webhook_fairness.sql.
-- One store must not delay another (docs/api.md §8.4, §8.6).
-- Each endpoint's circuit: its consecutive failed sends, and until when it is open (NULL:
-- closed; in the past: half-open, one trial send at a time). A success clears both.
ALTER TABLE webhook_endpoints ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN circuit_open_until TEXT;
-- A fair lease counts the sends in flight per endpoint and per store, finds the circuits
-- that opened, and takes a half-open endpoint's most failed delivery for its trial: each
-- from a small index, however long the queue.
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (endpoint_id, next_at, event_id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_in_flight ON webhook_deliveries (endpoint_id)
    WHERE status = 'pending' AND lease_owner <> '';
CREATE INDEX webhook_endpoints_circuit ON webhook_endpoints (id) WHERE circuit_open_until IS NOT NULL;
-- Stores see coarse classes of failed sends, never a dial error (resolver addresses, the
-- guard's reasons): the details are in payhub's logs. Earlier attempts are classed the same.
UPDATE webhook_attempts SET error = CASE
        WHEN http_status > 0 THEN 'http_' || http_status
        WHEN error LIKE '%not allowed%' OR error LIKE '%refusing to connect%' THEN 'address_refused'
        WHEN error LIKE '%timeout%' OR error LIKE '%deadline exceeded%' THEN 'timeout'
        WHEN error LIKE '%tls%' OR error LIKE '%x509%' OR error LIKE '%certificate%' THEN 'tls_error'
        ELSE 'connection_failed' END
    WHERE error <> '';

-- +goose Down
-- The attempts keep their classes (the raw errors are gone).
DROP INDEX webhook_endpoints_circuit;
DROP INDEX webhook_deliveries_in_flight;
DROP INDEX webhook_deliveries_endpoint_due;
ALTER TABLE webhook_endpoints DROP COLUMN circuit_open_until;
ALTER TABLE webhook_endpoints DROP COLUMN consecutive_failures;
