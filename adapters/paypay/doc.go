// Package paypay is payhub's adapter for PayPay (Japan)'s Open Payment API (OPA v2). It owns
// the wire protocol of docs/partners/paypay.md: the "hmac OPA-Auth" request
// signature (§2, see Sign), the resultInfo envelope (§3), the endpoints payhub uses (§4) and
// the mapping of every PayPay result code and payment status to a contracts.Outcome (§5, §6).
// *Adapter implements contracts.Partner; it never returns a Go error for a partner-side
// problem and classifies anything it cannot be sure of as contracts.OutcomeUnknown, so the
// engine's resolver can apply the unknown-outcome rule of §8.
//
// What PayPay takes — JPY only, at most MaxAmount (¥500,000) per payment, flows barcode, QR
// and linked, manual capture — is declared in Capabilities (capabilities.go) and enforced
// by the engine, which never calls the adapter with anything else.
//
// Flows:
//   - FlowQR creates a dynamic QR code (POST /v2/codes) and answers OutcomePending with the
//     code's URL and deeplink; the payment is then queried with GET /v2/codes/payments/{id}.
//   - FlowLinked charges a linked account (POST /v2/payments with userAuthorizationId,
//     agreeSimilarTransaction=false so PayPay's 5-minute duplicate guard stays on).
//   - FlowBarcode charges a customer-presented barcode scanned at the till.
//
// STAND-IN (§11): PayPay publishes no API for a merchant scanning the customer's barcode.
// FlowBarcode uses payhub's own stand-in — POST /v2/payments with authorizationCode (the
// scanned digits) instead of userAuthorizationId, with the stand-in error codes
// INVALID_AUTHORIZATION_CODE and EXPIRED_AUTHORIZATION_CODE. It is sent with
// agreeSimilarTransaction=true because the customer presented a fresh code at the till, which
// is itself the customer's consent. Replace it with the contracted PayPay POS specification
// before production; the swap touches only this adapter and mocks/paypay.
//
// Manual capture (contracts.CaptureManual, §4.6): FlowQR creates the code with
// isAuthorization=true; FlowLinked pre-authorizes with POST
// /v2/payments/preauthorize?agreeSimilarTransaction=false and userAuthorizationId; either
// ends AUTHORIZED (OutcomeAuthorized). CapturePayment sends POST /v2/payments/capture after
// querying the payment (a capture under the same merchantCaptureId that already went
// through is reported, not resent); CancelPayment of an authorized payment reverts it with
// POST /v2/payments/preauthorize/revert and merchantRevertId PartnerRef+"_revert".
//
// STAND-IN (§11, extended to pre-authorization; payhub convention): FlowBarcode
// pre-authorizes with POST /v2/payments/preauthorize?agreeSimilarTransaction=true and
// authorizationCode instead of userAuthorizationId, the same substitution as for the
// barcode payment above, with the same stand-in error codes.
//
// Account link and cashback: *Adapter also implements contracts.AccountLinking (§4.9, §4.10:
// POST /v1/qr/sessions for the link QR; VerifyLinkResponse checks the HS256 responseToken
// under the base64-decoded API secret, its issuer, audience = MerchantID, expiry and claims,
// refusing every other algorithm; GET and DELETE /v2/user/authorizations) and
// contracts.Cashbacks (§4.8: POST /v2/cashback and /v2/cashback_reversal answer pending,
// their GETs tell SUCCESS, ACCEPTED, FAILURE or TRANSACTION_NOT_FOUND; idempotent on the
// merchant's ids, so a lost answer is settled by a GET or by the same request again).
//
// The adapter never puts the API secret, a link response token, the Authorization header or
// a scanned barcode into a result message.
package paypay
