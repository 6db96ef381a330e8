-- The least SQL a payment needs on PostgreSQL, each of its two transactions sent as one
-- pipeline (one round trip): the intent (Idempotency-Key, payment, attempt, event) before
-- the partner call, the outcome (payment read for update and updated, ledger transaction
-- and its two entries, attempt finished, event, stored answer) after it. payhub's schema,
-- its indexes and row sizes; none of its reads outside the transactions (key lookup,
-- token key), no webhook fan-out (the bench has no endpoints). See run.sh.
\set r random(1, 1000000000000000)
\set amount random(100, 30000)
\startpipeline
BEGIN;
INSERT INTO idempotency_keys (client_id, key, fingerprint, completed, created_at, intent_written, owner, attempt_id, answer_kind, answer_code)
  VALUES ('pos-1', 'bench-paypay-' || CAST(:r AS text), repeat('f', 64), false, now(), true, 'ins_01KFLOOR', 'pay_' || CAST(:r AS text) || '_1', '', '');
INSERT INTO payments (id, store_id, client_id, terminal_id, order_id, method, flow, amount, currency, amount_refunded, status,
    user_authorization_id, metadata, next_action, failure_code, failure_message, partner_code, attempt, partner_ref,
    partner_payment_id, partner_action_ref, cancel_requested, cancellation_reason, event_sequence, paid_at, created_at,
    updated_at, capture_method, amount_captured, idempotency_key, resolve_attempts, resolve_next_at, resolve_not_found,
    needs_attention, return_url, partner_secret, card_brand, card_last4, card_expiry, provisional)
  VALUES ('pay_' || CAST(:r AS text), 'store-1', 'pos-1', 'till-07', 'order-' || CAST(:r AS text), 'paypay', 'barcode', CAST(:amount AS bigint), 'JPY', 0, 'processing',
    '', NULL, NULL, '', '', '', 1, 'pay_' || CAST(:r AS text) || '_1', '', '', false, '', 1, NULL, now(), now(), 'automatic', 0,
    'bench-paypay-' || CAST(:r AS text), 0, NULL, 0, false, '', '', '', '', '', false);
INSERT INTO attempts (id, payment_id, refund_id, operation, partner_ref, outcome, partner_code, started_at, finished_at, client_id, idempotency_key)
  VALUES ('pay_' || CAST(:r AS text) || '_1', 'pay_' || CAST(:r AS text), '', 'create', 'pay_' || CAST(:r AS text) || '_1', '', '', now(), NULL, 'pos-1', 'bench-paypay-' || CAST(:r AS text));
INSERT INTO events (id, type, store_id, payment_id, refund_id, sequence, payload, created_at)
  VALUES ('evt_' || CAST(:r AS text) || '_1', 'payment.processing', 'store-1', 'pay_' || CAST(:r AS text), '', 1, convert_to(repeat('x', 640), 'UTF8'), now());
COMMIT;
\endpipeline
\startpipeline
BEGIN;
SELECT id, status, amount, event_sequence FROM payments WHERE id = 'pay_' || CAST(:r AS text) FOR UPDATE;
UPDATE payments SET status = 'succeeded', partner_payment_id = 'pp-' || CAST(:r AS text), event_sequence = 2, paid_at = now(),
    updated_at = now(), amount_captured = CAST(:amount AS bigint) WHERE id = 'pay_' || CAST(:r AS text);
INSERT INTO ledger_transactions (id, kind, object_type, object_id, created_at)
  VALUES ('ltx_' || CAST(:r AS text), 'payment', 'payment', 'pay_' || CAST(:r AS text), now()) ON CONFLICT (id) DO NOTHING;
INSERT INTO ledger_entries (id, transaction_id, line, account, currency, debit, credit)
  VALUES ('ltx_' || CAST(:r AS text) || '_1', 'ltx_' || CAST(:r AS text), 1, 'partner-paypay', 'JPY', CAST(:amount AS bigint), 0),
         ('ltx_' || CAST(:r AS text) || '_2', 'ltx_' || CAST(:r AS text), 2, 'store-store-1', 'JPY', 0, CAST(:amount AS bigint));
UPDATE attempts SET outcome = 'succeeded', finished_at = now() WHERE id = 'pay_' || CAST(:r AS text) || '_1';
INSERT INTO events (id, type, store_id, payment_id, refund_id, sequence, payload, created_at)
  VALUES ('evt_' || CAST(:r AS text) || '_2', 'payment.succeeded', 'store-1', 'pay_' || CAST(:r AS text), '', 2, convert_to(repeat('x', 700), 'UTF8'), now());
UPDATE idempotency_keys SET completed = true, response_body = convert_to(repeat('x', 760), 'UTF8'), completed_at = now(),
    answer_kind = 'created', answer_code = '201' WHERE client_id = 'pos-1' AND key = 'bench-paypay-' || CAST(:r AS text);
COMMIT;
\endpipeline
