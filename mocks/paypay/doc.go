// Package paypay is payhub's PayPay simulator: an independent implementation of PayPay's
// Open Payment API v2 (OPA) as written in docs/partners/paypay.md, plus payhub's in-store
// barcode stand-in (§11). It owns the simulated merchant's state — QR codes, payments,
// captures, reverts, refunds, issued barcodes — in memory, and serves it as an
// http.Handler (`payhub sim` puts it on 127.0.0.1:7101).
//
// # Wire behaviour
//
// Every /v2/ request must carry a valid `hmac OPA-Auth` header (§2): the API key and secret
// of Config, an epoch within 2 minutes of the simulator clock either way, and a MAC over the
// path as sent, the method, nonce, epoch, the request's Content-Type header verbatim (or
// "empty" without a body) and the body hash. Anything else answers 401 UNAUTHORIZED with
// data null. Config.LenientContentType also accepts the content-type strings other SDKs sign.
// A request naming another merchant (?assumeMerchant= or X-ASSUME-MERCHANT) answers 401
// OP_OUT_OF_SCOPE. Every response is JSON in the OPA envelope and carries X-REQUEST-ID.
//
// Endpoints: POST /v2/codes (201), DELETE /v2/codes/{codeId}, GET
// /v2/codes/payments/{merchantPaymentId}, POST /v2/payments?agreeSimilarTransaction=
// (201), POST /v2/payments/preauthorize?agreeSimilarTransaction= (201), POST
// /v2/payments/capture (200), POST /v2/payments/preauthorize/revert (200), GET and DELETE
// /v2/payments/{merchantPaymentId}, POST /v2/refunds (also /v2/refunds/), GET
// /v2/refunds/{merchantRefundId}[?paymentId=]; the account link POST /v1/qr/sessions (201),
// GET /v2/user/authorizations?userAuthorizationId=, DELETE /v2/user/authorizations/{id}; and
// cashback POST /v2/cashback (202), GET /v2/cashback/{merchantCashbackId}, POST
// /v2/cashback_reversal (202), GET
// /v2/cashback_reversal/{merchantCashbackReversalId}/{merchantCashbackId} (see Account link
// and cashback). Reauthorization, user-confirmed (higher) captures and the file.created
// (reconciliation file) webhook are not simulated; Transaction webhooks are (see Webhooks).
//
// Rules enforced (payhub conventions where PayPay is silent are marked so in
// docs/partners/paypay.md):
//   - A merchantPaymentId is used once: again on POST /v2/codes → 400
//     DUPLICATE_DYNAMIC_QR_REQUEST (or a replay of the first answer with
//     Config.ReplayDuplicateQR and an identical body); again on POST /v2/payments → 400
//     INVALID_PARAMS "Duplicate merchantPaymentId". Refused requests reserve nothing.
//   - POST /v2/payments takes exactly one of userAuthorizationId and authorizationCode,
//     else 400 INVALID_REQUEST_PARAMS. The authorization code is never echoed.
//   - The same user paying the same amount within 5 minutes of an earlier payment → 400
//     SUSPECTED_DUPLICATE_PAYMENT unless ?agreeSimilarTransaction=true (barcodes included).
//   - Unknown merchantPaymentId: GET /v2/payments → 404 RESOURCE_NOT_FOUND (00200001);
//     GET /v2/codes/payments → 400 DYNAMIC_QR_PAYMENT_NOT_FOUND (01652075), also for an
//     unpaid expired or deleted QR when Config.ExpiredQRNotFound is set (else CREATED,
//     acceptedAt 0).
//   - Cancel answers 202 REQUEST_ACCEPTED, data null, and turns COMPLETED into FAILED until
//     00:14:59 JST the day after acceptedAt (by the injected clock); later → 400
//     ORDER_NOT_REVERSIBLE, as for REFUNDED payments. A cancel before the user pays — even
//     before the merchantPaymentId exists — is recorded and applied right after payment
//     (the create answer still says COMPLETED; the next read says FAILED). Repeats answer 202.
//   - Refunds name PayPay's paymentId; the total refunded never exceeds the amount paid
//     (else 400 INVALID_PARAMS 00200015); the window closes at the end of the day 365 days
//     after payment (400 REFUND_WINDOW_EXCEED). The refunding answer says CREATED, later
//     reads REFUNDED, and the payment becomes REFUNDED. The same merchantRefundId for the
//     same payment answers the refund already made; for another payment → 400
//     INVALID_PARAMS. Unknown refund → 404 NO_SUCH_REFUND_ORDER.
//
// # Pre-authorization (docs/partners/paypay.md §4.6, §5)
//
//   - A pre-authorization is a QR created with isAuthorization true, or POST
//     /v2/payments/preauthorize. Paying such a QR (/_sim/ or PayQR) makes it AUTHORIZED
//     instead of COMPLETED; preauthorize answers AUTHORIZED at once. preauthorize takes the
//     body of POST /v2/payments and the same rules (fixtures, duplicates, the 5-minute guard,
//     an early cancel applied after the answer) — including, as a payhub convention,
//     authorizationCode instead of userAuthorizationId: the §11 barcode stand-in, extended
//     to pre-authorization, with the same barcode fixtures.
//   - Expiry: authorizationExpiry (QR) or expiresAt (preauthorize, the field of PayPay's
//     SDK models), epoch seconds that must lie in the future (else 400
//     INVALID_REQUEST_PARAMS; authorizationExpiry without isAuthorization too). Absent, the
//     authorization lasts Config.AuthorizationLifetime (DefaultAuthorizationLifetime, 7 days,
//     payhub's choice) from authorization. From that instant (injected clock) the payment is
//     EXPIRED on every read, the ledger included. Once authorized, the payment object's
//     expiresAt is the authorization's expiry and authorizedAt is set.
//   - Capture (all five fields required, else 400 MISSING_REQUEST_PARAMS): AUTHORIZED →
//     COMPLETED, 200 with the payment object and captures.data[0] (status COMPLETED). An
//     amount below the authorization captures that much and releases the rest; above it →
//     400 HIGHER_CAPTURE_NOT_PERMITTED (the 202 USER_CONFIRMATION_REQUIRED flow is not
//     simulated). amount keeps the authorized amount; captures.data[].amount and
//     paymentMethods[].amount are what was charged. One capture per payment: again →
//     ALREADY_CAPTURED; EXPIRED → ORDER_EXPIRED; any other status → ORDER_NOT_CAPTURABLE;
//     unknown merchantPaymentId → 404 RESOURCE_NOT_FOUND. The same merchantCaptureId again
//     answers byte for byte what it answered first (whatever the new body says); for another
//     payment → 400 INVALID_PARAMS. Refused captures reserve nothing.
//   - Revert (by PayPay's paymentId): AUTHORIZED → CANCELED, 200 data {status: CANCELED,
//     acceptedAt, paymentId, requestedAt, reason}; the payment object then carries revert.
//     Any other status → 400 ORDER_NOT_CANCELABLE (00200042); unknown paymentId → 404
//     RESOURCE_NOT_FOUND. The same merchantRevertId for the same payment replays the
//     answer; for another payment → 400 INVALID_PARAMS.
//   - Cancel (DELETE) turns AUTHORIZED into FAILED whenever it is still authorized (no
//     day-after cutoff: the authorization's expiry bounds it, payhub convention); a
//     captured pre-authorization → 400 ORDER_NOT_REVERSIBLE (refund it). Refunds need a
//     capture (AUTHORIZED → 400 UNACCEPTABLE_OP), total ≤ the captured amount, and the
//     window counts from the capture.
//
// # Webhooks (docs/partners/paypay.md §10)
//
// With Config.WebhookURL set, the simulator POSTs PayPay's Transaction notification there,
// unsigned (Content-Type application/json, no Authorization), when a payment becomes:
//
//	COMPLETED   a direct (linked-user or barcode) payment, a paid QR, a capture
//	AUTHORIZED  a pre-authorization (preauthorize, or a paid isAuthorization QR)
//	EXPIRED     a lapsed authorization
//	CANCELED    a reverted authorization (docs/partners/paypay.md §5: revert has a webhook)
//
// None for creating or deleting a QR, a customer failing to pay (PayPay does not always send
// FAILED), cancel (DELETE, → FAILED) or refunds. The body:
//
//	{"notification_type":"Transaction","merchant_id":"…","store_id":"…","pos_id":"<terminalId>",
//	 "order_id":"<paymentId>","merchant_order_id":"<merchantPaymentId>","order_amount":"1200",
//	 "state":"COMPLETED","authorized_at":null,"expires_at":null,"paid_at":"2026-03-10T06:00:00Z",
//	 "reauth_request_id":null,"confirmation_expires_at":null}
//
// order_amount is a string (as in PayPay's docs): the amount, or for a captured
// pre-authorization what the capture took. merchant_order_id is the empty string in
// AUTHORIZED events, as in PayPay's examples. Times are ISO-8601 UTC strings of the injected
// clock, or null: authorized_at and expires_at (the authorization's expiry) for
// pre-authorizations, paid_at for COMPLETED (the capture time after a capture). A payment
// canceled before it was paid is still notified COMPLETED (or AUTHORIZED) when paid; the
// cancel that follows is not. EXPIRED is sent when the simulator notices the lapse — there
// is no timer: on the next read or action touching the payment, or the ledger (Payments,
// GET /_sim/payments).
//
// Delivery never delays an API answer and never holds the simulator's lock: notifications
// are queued (before the answer is written) and sent one at a time, in order, by a goroutine
// that runs while there is work. Each attempt has Config.WebhookTimeout (2 s); a non-2xx
// answer (redirects included), a transport error or a timeout is retried, up to
// Config.WebhookAttempts (3) attempts Config.WebhookRetryDelay (100 ms, wall clock) apart,
// then given up. Config.WebhookDrop drops that fraction of notifications (fixed-seed, so
// repeatable); Config.WebhookDuplicate delivers each twice. Simulator.Notifications (GET
// /_sim/notifications) lists every notification with its payload, Status (pending,
// delivered, failed, dropped), Attempts and last result; Simulator.FlushNotifications(ctx)
// waits until none is pending, so a test makes a call, flushes, then looks — no sleeping.
//
// # Account link and cashback (docs/partners/paypay.md §4.8 to §4.10)
//
//   - POST /v1/qr/sessions needs scopes (known PayPay scopes, no repeats), nonce,
//     redirectType (WEB_LINK or APP_DEEP_LINK), redirectUrl (absolute; http(s) for WEB_LINK)
//     and referenceId, else 400; it answers data.linkQRCodeURL, https://qr.paypay-sim.invalid/link/
//     followed by the session id. A session can be decided once, within
//     Config.LinkSessionLifetime (5 minutes).
//   - ApproveLink (POST /_sim/links/{sessionId}/approve) creates a new userAuthorizationId
//     ("ua-" + 20 digits) with the session's scopes and returns LinkApproval: the redirectUrl
//     with responseToken appended, the token, the user and the referenceId. The token is an
//     HS256 JWT keyed with the API secret base64-decoded the way Node's Buffer does, with
//     claims iss "paypay.ne.jp", aud MerchantID, iat, exp (Config.LinkTokenLifetime, 5
//     minutes), result "succeeded", profileIdentifier, nonce, userAuthorizationId and
//     referenceId. DeclineLink (…/decline) answers result "declined" and links nobody.
//   - A linked user pays like user-ok (and can receive cashback) until unlinked — DELETE
//     /v2/user/authorizations/{id}, 200 SUCCESS, repeats too — after which payments and
//     cashbacks answer 401 INVALID_USER_AUTHORIZATION_ID, or until it lapses
//     (Config.UserAuthorizationLifetime, a year: 401 EXPIRED_USER_AUTHORIZATION_ID). The
//     fixture users can be unlinked too. GET /v2/user/authorizations reports ACTIVE, INACTIVE
//     (unlinked, user-inactive) or EXPIRED (user-expired, lapsed), scopes, referenceIds,
//     issuedAt and expireAt; an unknown id → 401 INVALID_USER_AUTHORIZATION_ID.
//   - Cashback: the body is validated like a payment's (ids ≤ 64 of [A-Za-z0-9_-], JPY
//     amount, requestedAt, orderDescription ≤ 255, walletType PREPAID|CASHBACK, expiryDate
//     YYYY-MM-DD not in the past); the user must be able to pay (user-nofunds may receive).
//     The same merchantCashbackId (or merchantCashbackReversalId) with the same body,
//     requestedAt aside, answers 202 again and moves nothing; with another body → 400
//     INVALID_PARAMS. A cashback is ACCEPTED for Config.CashbackSettleDelay (0: settles at
//     once), then SUCCESS, or FAILURE when it would exceed Config.CashbackBudget. A reversal
//     needs a succeeded cashback (else 400 UNACCEPTABLE_OP) and at most what is left of it
//     (else 400 INVALID_PARAMS). Unknown ids on the GETs (or a reversal of another cashback)
//     → 404 TRANSACTION_NOT_FOUND. Faults apply to all these paths; under commit then drop the
//     cashback is in the ledger although the client saw a reset.
//
// # Fixtures
//
// Linked users (userAuthorizationId), used by POST /v2/payments and by /_sim/ QR payments:
//
//	user-ok         pays
//	user-nofunds    400 NO_SUFFICIENT_FUND
//	user-inactive   401 USER_STATE_IS_NOT_ACTIVE
//	user-expired    401 EXPIRED_USER_AUTHORIZATION_ID
//	anything else   401 INVALID_USER_AUTHORIZATION_ID
//
// Barcodes (authorizationCode, §11 stand-in): 18 digits beginning 9000818188. These are
// reusable and never expire:
//
//	900081818800000000   pays as user-ok
//	900081818800000001   pays as user-nofunds  (400 NO_SUFFICIENT_FUND)
//	900081818800000002   pays as user-inactive (401 USER_STATE_IS_NOT_ACTIVE)
//	900081818800000003   400 EXPIRED_AUTHORIZATION_CODE
//	900081818800000004   400 INVALID_AUTHORIZATION_CODE
//
// Issued barcodes (Simulator.IssueBarcode, POST /_sim/barcodes) pay as the user they were
// issued for, once, within 5 minutes: later → EXPIRED_AUTHORIZATION_CODE, reused →
// INVALID_AUTHORIZATION_CODE. Any other code → 400 INVALID_AUTHORIZATION_CODE.
//
// Credentials default to DemoAPIKey, DemoAPISecret and DemoMerchantID.
//
// # Control endpoints
//
// Unauthenticated JSON under /_sim/ (errors are {"error": "..."}):
//
//	POST /_sim/barcodes                          {"userAuthorizationId":"user-ok"} → 201 {"barcode":"…"}
//	POST /_sim/codes/{codeId}/pay                the customer pays the QR; optional {"userAuthorizationId":…}
//	POST /_sim/payments/{merchantPaymentId}/pay  the same, by merchantPaymentId
//	GET  /_sim/payments                          {"payments":[LedgerPayment…]}
//	GET  /_sim/payments/{merchantPaymentId}      one LedgerPayment
//	GET  /_sim/notifications                     {"notifications":[Notification…]} (webhooks sent so far)
//	POST /_sim/links/{sessionId}/approve         the customer approves the link → LinkApproval
//	POST /_sim/links/{sessionId}/decline         the customer declines → LinkApproval (result "declined")
//	GET  /_sim/users/{userAuthorizationId}       one UserAuthorization (status, scopes, referenceIds)
//	GET  /_sim/cashback                          {"accounts":[CashbackAccount…]} (per-user cashback ledger)
//	GET  /_sim/cashback/{userAuthorizationId}    one CashbackAccount (received, reversed, balance, cashbacks)
//	GET  /_sim/cashbacks/{merchantCashbackId}    one LedgerCashback
//
//	GET|PUT|DELETE /_sim/faults                  fault rules and counters (package sim); 404 without Config.Faults
//
// Paying a QR as user-ok makes it COMPLETED (AUTHORIZED for isAuthorization); any other
// user makes it FAILED. Go tests use Simulator.PayQR, Payment and Payments for the same.
// A LedgerPayment shows the status, Amount (authorized, for a pre-authorization), Captured
// (what a capture took; 0 otherwise), Captures, Refunded and Refunds, so tests can match
// payhub's records to the yen.
//
// # Faults (docs/partners/paypay.md §13)
//
// With Config.Faults set, /v2/ requests go through that sim.Faults engine: latency, errors
// before commit, hangs, connection resets, commit then drop, commit then error, chosen per
// request by rules set in Go, by a flag (sim.ParseFaultFlag) or through /_sim/faults;
// /_sim/ itself is never faulted. Injected errors carry the OPA envelope (data null) and
// X-REQUEST-ID, rendered by FaultErrorBody: 500 INTERNAL_SERVER_ERROR (08101000), 503
// MAINTENANCE_MODE (08100999), 429 RATE_LIMIT (08100998); a rule's code picks
// TRANSACTION_FAILED or SERVICE_ERROR (08100026) instead, and other statuses answer their
// HTTP reason in capitals (502 BAD_GATEWAY). Under commit then drop the payment, refund or
// cancel is in the ledger although payhub saw only a reset: the unknown outcome of §8.
package paypay
