-- +goose Up
-- A webhook endpoint's signing secret is shown in the first answer to the create or the
-- rotation that issued it, and never stored in clear (docs/security.md §13): the answer an
-- Idempotency-Key keeps for its replays withholds it. Answers stored before kept the
-- endpoint with its secret (for the key's 72 hours): they become what a replay shows now,
-- the endpoint with "secret_withheld": true and no "secret" (Go's JSON has no spaces, so
-- the substring tests find exactly its objects; jsonb re-orders the rewritten keys).
-- The signing secrets in webhook_secrets cannot be sealed here (the key is not in the
-- database): `payhub secrets reseal` seals those still in clear; until then they sign as
-- they are. The rewritten rows' old versions are gone once VACUUM has run.
UPDATE idempotency_keys
   SET response_body = convert_to(((convert_from(response_body, 'UTF8')::jsonb - 'secret')
           || '{"secret_withheld": true}'::jsonb)::text, 'UTF8')
 WHERE completed AND response_body IS NOT NULL AND answer_kind IN ('created', 'done')
   AND position('"object":"webhook_endpoint"' IN convert_from(response_body, 'UTF8')) > 0
   AND position('"secret":"' IN convert_from(response_body, 'UTF8')) > 0;

-- +goose Down
-- A withheld secret is not restored: the answers stay as they are.
SELECT 1;
