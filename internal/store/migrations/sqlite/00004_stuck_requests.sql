-- +goose Up
-- Crash recovery for requests: an idempotency key notes when its request wrote its intent
-- (in the same transaction), so a key whose request died before that can be released — no
-- partner heard of it — while a key with an intent waits for the resolver to answer it.
-- Keys that exist before this migration are taken to have written theirs.
ALTER TABLE idempotency_keys ADD COLUMN intent_written INTEGER NOT NULL DEFAULT 0;
UPDATE idempotency_keys SET intent_written = 1;
CREATE INDEX idempotency_keys_orphaned ON idempotency_keys (created_at)
    WHERE completed = FALSE AND intent_written = FALSE;

-- A capture or cancel remembers the store request that sent it, so the resolver can answer
-- that request once it learns the outcome a crash cut off. The resolver finds such calls
-- through the partial index of calls in flight.
ALTER TABLE attempts ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN idempotency_key TEXT NOT NULL DEFAULT '';
CREATE INDEX attempts_in_flight ON attempts (started_at, id) WHERE finished_at IS NULL;

-- +goose Down
DROP INDEX attempts_in_flight;
ALTER TABLE attempts DROP COLUMN idempotency_key;
ALTER TABLE attempts DROP COLUMN client_id;
DROP INDEX idempotency_keys_orphaned;
ALTER TABLE idempotency_keys DROP COLUMN intent_written;
