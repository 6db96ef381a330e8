// Package linepay is payhub's adapter for LINE Pay (Taiwan, Thailand). It owns the wire
// protocol of docs/partners/linepay.md: the HMAC request signature (§3.1, see
// Sign), the returnCode envelope (§2), the Online v3 and Offline v4 endpoints payhub uses
// (§4, §5), the exact 19-digit transaction ids (§7.1, see TxID), whole-unit amounts (§7.2)
// and the mapping of every return code and status to a contracts.Outcome (§6).
// *Adapter implements contracts.Partner; it never returns a Go error for a partner-side
// problem and classifies anything it cannot be sure of as contracts.OutcomeUnknown.
//
// What a channel takes — its one currency (Config.Currency), at most MaxAmount per payment
// (payhub's choice), whole units only, flows barcode, QR and redirect, manual capture, one
// refund of a payment at a time — is declared in Capabilities (capabilities.go) and
// enforced by the engine, which never calls the adapter with anything else.
//
// Flows:
//   - FlowBarcode: the till scanned the customer's LINE Pay code (oneTimeKey, 12 or 18
//     digits). Offline v4 POST /v4/payments/oneTimeKeys/pay with orderId = PartnerRef, one
//     package with one line for the total, options.payment.capture false for
//     contracts.CaptureManual; the payment is queried by orderId (check, details) and
//     voided, captured and refunded by orderId.
//   - FlowQR: Online v3 POST /v3/payments/request with confirmUrlType NONE; the till shows
//     paymentUrl.web as a QR code (OutcomePending) and payhub polls check by transactionId.
//     LINE moves money only when the merchant confirms an approved request: GetPayment
//     confirms it as soon as check answers 0110, with payhub's amount.
//
// Return codes (§6.1): 0000 is success; F codes are definite failures with payhub's
// failure code (1142 insufficient funds, 1101/1102/1141 user not active, 1133 barcode
// invalid or expired, 1180 expired, others partner_rejected); "F cfg" codes (1104–1106
// credentials, signature, IP allowlist; 1124, 1153, 1177, 1178, 1183, 1184, 1999,
// 2101–2104) are refusals of the request itself — nothing happened — reported as
// OutcomeFailed with a "configuration alarm" message; U and R codes, unknown codes, a
// non-200, an unreadable body or a missing or odd returnCode are OutcomeUnknown on a call
// that moves money (the resolver inquires first, §6.2).
//
// Amounts: payhub Money is ISO minor units (TWD 123.00 is 12300); LINE takes whole major
// units, so an amount with cents is refused before any call (by the engine, from
// Capabilities, and again by majorUnits, since the wire cannot carry it), and amount/100 is
// sent as an integer. LINE's amounts are read as decimal text, never as floats.
//
// Refunds have no idempotency key at LINE (§6.2 rule 4): see Refund for how
// RefundRequest.PriorRefunded keeps a resent refund from refunding twice.
//
// The adapter never puts the channel secret, a signature or a full oneTimeKey (see MaskKey)
// into a result message; it logs nothing.
package linepay
