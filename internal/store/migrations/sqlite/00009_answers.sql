-- +goose Up
-- SQLite dialect; keep in step with ../postgres/00009_answers.sql.
-- An Idempotency-Key keeps its first answer as what the command did (answer_kind: created,
-- done, accepted, refused; answer_code: the refusal's code) and its body, no longer as an
-- HTTP status: the engine does not speak HTTP, the API maps answers to statuses. Stored
-- statuses become kinds; a stored refusal's code is read from its problem document.
ALTER TABLE idempotency_keys ADD COLUMN answer_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN answer_code TEXT NOT NULL DEFAULT '';
UPDATE idempotency_keys SET answer_kind = CASE response_status
        WHEN 201 THEN 'created' WHEN 200 THEN 'done' WHEN 202 THEN 'accepted' ELSE 'refused' END
    WHERE completed;
UPDATE idempotency_keys SET answer_code = COALESCE(json_extract(CAST(response_body AS TEXT), '$.code'), '')
    WHERE completed AND response_status >= 400 AND response_body IS NOT NULL;
ALTER TABLE idempotency_keys DROP COLUMN response_status;

-- +goose Down
ALTER TABLE idempotency_keys ADD COLUMN response_status INTEGER NOT NULL DEFAULT 0;
UPDATE idempotency_keys SET response_status = CASE answer_kind
        WHEN 'created' THEN 201 WHEN 'done' THEN 200 WHEN 'accepted' THEN 202
        WHEN 'refused' THEN CASE answer_code WHEN 'refund_exceeds_captured' THEN 422 ELSE 409 END
        ELSE 0 END;
ALTER TABLE idempotency_keys DROP COLUMN answer_code;
ALTER TABLE idempotency_keys DROP COLUMN answer_kind;
