// Package linepay is payhub's LINE Pay simulator: an independent implementation of LINE
// Pay's Online API v3 and Offline (in-store) API v4 as written in docs/partners/linepay.md.
// It owns one channel's state — requests, payments, authorizations, refunds, issued
// oneTimeKeys — in memory and serves it as an http.Handler (`payhub sim` puts it on
// 127.0.0.1:7102). Store developers use it like LINE's sandbox; line-pay-merchant 0.9.0
// runs against it unchanged (tests/npm/line-pay-merchant).
//
// # Wire behaviour
//
// Every API answer is HTTP 200 JSON in LINE's envelope {"returnCode":"0000",
// "returnMessage":"…","info":…}; info only on success (void answers a bare envelope). Unknown
// paths answer HTTP 404 (a known path under another method 405) with {"error": "..."},
// before authentication. Requests in absolute form (a client behind
// https_proxy=http://127.0.0.1:7102 sends "POST https://sandbox-api-pay.line.me/v3/…") are
// routed by their path.
//
// Authentication (§3.1): X-LINE-ChannelId, X-LINE-Authorization-Nonce (any non-empty
// string) and X-LINE-Authorization = Base64(HMAC-SHA256(key=channelSecret, channelSecret +
// path + payload + nonce)), where path is the path as received, percent-encoding kept, and
// payload is the raw body bytes (POST; an empty body signs "", so void and full refund may
// send nothing or {}) or the raw query without "?" (GET). Missing headers or a bad
// signature → 1106; another channel → 1104. Comparisons are constant-time. Signature
// computes the header for tools and tests. Flags: Config.StrictNonce refuses a nonce reused
// within NonceWindow (15 min) with 1106; Config.LenientGETSigning also accepts GET
// signatures over no query or over "?"+query (§3.2). The optional device headers are
// accepted and ignored; the IP allowlist, Offline v2 (clear-secret header) and Online v4
// are not simulated.
//
// Endpoints:
//
//	POST /v3/payments/request                                  → RESERVED; info {transactionId, paymentAccessToken, paymentUrl{web, app}}
//	POST /v3/payments/{transactionId}/confirm                  {amount, currency} → CAPTURED, or AUTHORIZED with capture=false
//	POST /v3/payments/authorizations/{transactionId}/capture   {amount, currency} → CAPTURED
//	POST /v3/payments/authorizations/{transactionId}/void      no body or {} → VOIDED
//	POST /v3/payments/{transactionId}/refund                   {refundAmount?} → info {refundTransactionId, refundTransactionDate}
//	GET  /v3/payments?transactionId=…&orderId=…&fields=…       details
//	GET  /v3/payments/requests/{transactionId}/check           answer in returnCode
//	POST /v4/payments/oneTimeKeys/pay                          the till charges the customer's My Code
//	GET  /v4/payments/orders/{orderId}/check                   info.status
//	POST /v4/payments/orders/{orderId}/void|capture|refund     as the v3 ones, by orderId
//	GET  /v4/payments/authorizations?orderId=…|transactionId=… capture=false payments: authorized, voided, expired
//	GET  /v4/payments?orderId=…|transactionId=…                details (same as /v3/payments)
//
// # Ids and amounts
//
// transactionId and refundTransactionId are yyyyMMdd (Taipei date of the simulator clock) +
// 11 random digits: 19 digits, above 2^53, never a multiple of 256 or 10, so a client that
// reads them as float64 visibly gets them wrong (§7.1). They are bare JSON numbers
// (transactionId, refundTransactionId, originalTransactionId), or strings with
// Config.QuoteTransactionIDs. Every refund gets a new refundTransactionId.
// paymentAccessToken is 12 digits. Amounts are JSON numbers in major units, parsed and
// compared as exact decimals (1e2 and 100.0 equal 100), never via float64: the channel's
// Config.Currency (default TWD) takes whole units, THB and USD up to 2 decimals.
//
// # Rules enforced (return codes, §6)
//
//	2102  body is not JSON
//	2101  required field missing or of the wrong type (amount as a string), orderId over 100
//	      characters, request without redirectUrls, request or v4 pay without packages,
//	      package amount ≠ Σ quantity × price, amount ≠ Σ packages + userFee + shipping fee
//	      (unconfirmed code), details without any transactionId/orderId, bad fields
//	1178  currency not the channel's          1124  more decimals than the currency takes
//	1183  amount (or refundAmount) ≤ 0        1172  orderId already used (Online or Offline);
//	                                                also a second Confirm (payhub's choice)
//	1169  Confirm before the customer approved   1180  Confirm after cancel or the 20 minutes;
//	1153  Confirm amount/currency ≠ the request        capture or void of an expired authorization
//	1184  capture above the authorized amount (a smaller capture releases the rest)
//	1179  capture/void in another status (not authorized, already captured; Confirm of a FAILED request)
//	1155  void after capture (refund instead); refund of an uncaptured or failed payment
//	1165  second void; refund with nothing left   1164  refund above what is left
//	1150  unknown transactionId or orderId; details/authorizations with no match
//	1177  details matching more than 100 payments
//	1133  unknown, expired (5 min) or used oneTimeKey: nothing is recorded
//
// Refused requests change nothing.
//
// # State (§4.4, §5)
//
// One record per orderId, found by orderId and by transactionId (the ledger's statuses):
//
//	Request → RESERVED (check 0000) --Approve--> APPROVED (check 0110)
//	RESERVED|APPROVED --Cancel, or 20 min after the request--> CANCELLED (check 0121)   final
//	RESERVED|APPROVED --Fail--> FAILED (check 0122)                                      final
//	APPROVED --Confirm--> CAPTURED (capture=true) | AUTHORIZED (capture=false)   (check 0123)
//	v4 pay --> CAPTURED | AUTHORIZED; a refusing oneTimeKey fixture → FAILED (check FAIL)
//	AUTHORIZED --capture--> CAPTURED | --void--> VOIDED | authorization expiry --> EXPIRED
//	CAPTURED --refund (partial, repeatable up to what was captured)--> CAPTURED, Refunded grows
//
// All lifetimes run on Config.Clock with no timer: they apply on the next read or action
// touching the payment, or the ledger. RequestLifetime 20 min (RESERVED and APPROVED);
// Config.AuthorizationLifetime (DefaultAuthorizationLifetime, 7 days, payhub's choice) from
// Confirm or pay, shown as authorizationExpireDate; OneTimeKeyLifetime 5 min for issued keys.
//
// v4 check info.status (§5 working model): AUTH_READY authorized, COMPLETE captured
// (partially refunded too), REFUND fully refunded, CANCEL voided or expired, FAIL with
// failReturnCode/failReturnMessage. Details list confirmed payments (CAPTURED, AUTHORIZED,
// VOIDED, EXPIRED) of both APIs with payStatus CAPTURE | AUTHORIZATION |
// VOIDED_AUTHORIZATION | EXPIRED_AUTHORIZATION, payInfo (the captured amount once
// captured), refundList [{refundTransactionId, transactionType PARTIAL_REFUND |
// PAYMENT_REFUND, refundAmount (negative), refundTransactionDate}], and packages unless
// fields=TRANSACTION; a refundTransactionId asked for answers a refund row with
// originalTransactionId. The query takes transactionId and orderId plain, repeated,
// comma-joined (transactionId=A%2CB, as line-pay-merchant sends lists) or with PHP
// brackets (transactionId[]=, transactionId%5B0%5D=).
//
// # Fixtures
//
// oneTimeKeys (reusable, never expire), 18 digits (TW) and 12 (TH), beginning 39 like
// payhub's routing prefix for LINE Pay:
//
//	TW                   TH             outcome
//	391000000000000000   391000000000   pays (CREDIT_CARD)                  OneTimeKeyOK, OneTimeKeyOKTH
//	391000000000000001   391000000001   1142 insufficient balance           OneTimeKeyNoBalance
//	391000000000000002   391000000002   1110 card unusable                  OneTimeKeyCardUnusable
//	391000000000000003   391000000003   1281 credit card declined           OneTimeKeyDeclined
//	391000000000000004   391000000004   1133 invalid or expired             OneTimeKeyExpired
//	391000000000000005   391000000005   pays after Config.SlowPayDelay      OneTimeKeySlow
//	391000000000000006   391000000006   pays from the balance (BALANCE)     OneTimeKeyBalance
//
// 1142, 1110 and 1281 record a FAILED payment under the orderId (so check answers FAIL and
// the orderId is used); 1133 records nothing. OneTimeKeySlow waits SlowPayDelay
// (DefaultSlowPayDelay 50 s, wall clock, past payhub's 45 s read timeout) before it records
// the payment: until then check answers 1150, afterwards COMPLETE, whether or not the till
// still waits (§5.1). Simulator.IssueOneTimeKey (POST /_sim/oneTimeKeys) returns a fresh
// key (398…) that pays once within 5 minutes; later or again → 1133. Any other key → 1133.
//
// Credentials default to DemoChannelID and DemoChannelSecret; the currency to TWD.
//
// # Control endpoints
//
// Unauthenticated JSON under /_sim/ (errors are {"error": "..."}); {id} is an orderId or a
// transactionId:
//
//	POST /_sim/payments/{id}/approve   the customer approves the Online request (RESERVED → APPROVED)
//	POST /_sim/payments/{id}/cancel    the customer cancels it (RESERVED|APPROVED → CANCELLED)
//	POST /_sim/payments/{id}/fail      it fails (RESERVED|APPROVED → FAILED)
//	POST /_sim/payments/{id}/expire    the authorization lapses now (AUTHORIZED → EXPIRED)
//	POST /_sim/oneTimeKeys             {"countryCode":"TW"|"TH"} → 201 {"oneTimeKey":"…","expiresAt":…}
//	GET  /_sim/payments                {"payments":[LedgerPayment…]}
//	GET  /_sim/payments/{id}           one LedgerPayment
//	GET|PUT|DELETE /_sim/faults        fault rules and counters (package sim); 404 without Config.Faults
//
// The hooks answer 200 with the LedgerPayment, 404 for an unknown id, 409 in the wrong
// state. Go tests use Approve, Cancel, Fail, ExpireAuthorization, IssueOneTimeKey, Payment
// and Ledger. A LedgerPayment shows kind, orderId, transactionId as a string, status,
// amount, captured, refunded and refunds (refundTransactionId, amount), amounts as decimal
// numbers in major units.
//
// # Faults
//
// With Config.Faults set, API requests go through that sim.Faults engine: latency, errors
// before commit, hangs, connection resets, commit then drop, commit then error, decided per
// request by rules set in Go, by a flag (sim.ParseFaultFlag) or through /_sim/faults;
// /_sim/ itself is never faulted. Injected errors carry LINE's envelope without info
// (FaultErrorBody): returnCode 9000, or the rule's code (e.g. 1198, 1199, 1900) — at the
// rule's HTTP error status, since sim faults answer 4xx/5xx. Under commit then drop the
// payment, capture, void or refund is in the ledger although the client saw only a reset:
// the unknown outcome of §6.2.
package linepay
