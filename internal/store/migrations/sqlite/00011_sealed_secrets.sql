-- +goose Up
-- SQLite dialect; keep in step with ../postgres/00011_sealed_secrets.sql.
-- A webhook endpoint's signing secret is shown in the first answer to the create or the
-- rotation that issued it, and never stored in clear (docs/security.md §13): the answer an
-- Idempotency-Key keeps for its replays withholds it. Answers stored before kept the
-- endpoint with its secret (for the key's 72 hours): they become what a replay shows now,
-- the endpoint with "secret_withheld": true and no "secret". secure_delete zeroes the
-- bytes the rewrite frees instead of leaving the secrets in the file's free space.
-- The signing secrets in webhook_secrets cannot be sealed here (the key is not in the
-- database): `payhub secrets reseal` seals those still in clear; until then they sign as
-- they are.
PRAGMA secure_delete = ON;
UPDATE idempotency_keys
   SET response_body = CAST(json_set(json_remove(CAST(response_body AS TEXT), '$.secret'), '$.secret_withheld', json('true')) AS BLOB)
 WHERE completed AND response_body IS NOT NULL AND answer_kind IN ('created', 'done')
   AND json_valid(CAST(response_body AS TEXT))
   AND json_extract(CAST(response_body AS TEXT), '$.object') = 'webhook_endpoint'
   AND json_type(CAST(response_body AS TEXT), '$.secret') = 'text';

-- +goose Down
-- A withheld secret is not restored: the answers stay as they are.
SELECT 1;
