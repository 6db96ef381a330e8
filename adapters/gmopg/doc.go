// Package gmopg is payhub's adapter for credit cards through GMO Payment Gateway's
// protocol-type API (docs/partners/gmopg.md). It owns the wire protocol of §1:
// POST /payment/<Name>.idPass with form bodies whose values are Shift_JIS bytes,
// percent-encoded (see encodeForm), and Windows-31J answers parsed without unescaping, a
// part whose key the call does not know being glued back onto the previous value, so a 3DS
// RedirectUrl keeps its "&t=…" (see parseResponse; never url.ParseQuery). Errors are the
// paired, '|'-joined ErrCode/ErrInfo lists, classified by §5 (classify.go). *Adapter
// implements contracts.Partner and contracts.ReturnHandler; it never returns a Go error for
// a partner-side problem and classifies anything it cannot be sure of as
// contracts.OutcomeUnknown.
//
// What card payments take — JPY, at most MaxAmount, flow redirect only (card-present
// payments are refused with CardPresentRefusal), a card token, manual capture — is declared
// in Capabilities (capabilities.go) and enforced by the engine, which never calls the
// adapter with anything else.
//
// Flow: only contracts.FlowRedirect (online, EMV 3-D Secure). CreatePayment runs
// EntryTran (JobCd AUTH for contracts.CaptureManual, CAPTURE otherwise; TdFlag 2; Tds2Type
// 2 = a card whose issuer has no 3DS2 is refused, or 3 = plain authorisation with
// Config.AllowWithout3DS, the explicit exemption) and ExecTran (Method 1, Token, RetUrl = PaymentRequest.ReturnURL, CallbackType
// 3 = the browser returns by GET with AccessID in the query). ACS=0 is authorised at once
// (its CheckString is verified: a mismatch is OutcomeUnknown); ACS=2 is OutcomePending
// with NextActionRedirect to GMO's 3DS page; CompleteReturn checks the returned AccessID
// against the payment's (constant time) and calls SecureTran2.
//
// OrderID (see OrderID): payhub's PartnerRef "pay_<ULID>_<attempt>" becomes the ULID plus
// one base-62 attempt digit, 27 characters, injective; SearchTrade by OrderID is the
// idempotency anchor (§6): a duplicate OrderID at EntryTran is recovered from it, and it is
// read before every capture, cancel and refund.
//
// PartnerSecret: "AccessID:AccessPass:JobCd[:captured]" — GMO's per-order credential, the
// EntryTran JobCd, and after a capture the captured yen. It is returned with every result
// once EntryTran answered (pending, failed and unknown ones too); payhub stores it
// encrypted. Without it (no secrets key) the adapter recovers AccessID/AccessPass from
// SearchTrade.
//
// Error classes (§5): G../42G… declines are OutcomeFailed card_declined (G02/G03
// insufficient_funds, G83 expired); EX10003xx card_token_invalid; E21… authentication_failed;
// E00/E01/E31/E41/E61 input or configuration errors partner_rejected with a "configuration
// alarm" message; E11010002/3/10 and E01420010 state refusals (E01420010 expired);
// E11010001/E11010999 "already settled" are confirmed with SearchTrade; E92/E82 (not
// processed) are resent once after a short pause, and if refused again reported as
// OutcomeFailed partner_unavailable; E90, E91, C../42C…, HTTP non-200, timeouts, unreadable
// answers and any unrecognised code are OutcomeUnknown. SearchTrade's E01110002 is read as
// "no such order" (OutcomeNotFound in GetPayment).
//
// GetPayment maps SearchTrade's Status: UNPROCESSED is OutcomePending while payhub waits for
// the customer (PaymentRef.Status requires_action) and otherwise OutcomeFailed
// partner_unavailable (the ExecTran never landed, nothing was charged); AUTHENTICATED is
// OutcomePending; AUTH/SAUTH Authorized; CAPTURE/SALES Succeeded; VOID/RETURN/RETURNX
// Canceled. Card details (last four of the masked CardNo and Expire) come from SearchTrade.
//
// Changes read SearchTrade first. CapturePayment: AUTH → (partial: ChangeTran JobCd AUTH
// to the lower amount) → AlterTran SALES; SALES with the same amount is a replay
// (Succeeded), another amount Unknown. CancelPayment: a full reversal by AlterTran VOID
// (same JST day) / RETURN / RETURNX (after a JST month boundary; an authorization gets
// RETURN), also of captured payments; VOID/RETURN/RETURNX already is Succeeded; an
// UNPROCESSED or AUTHENTICATED order holds no money and is Succeeded without a call.
// Refund: the whole remaining amount is reversed like a cancel, a part lowers the amount
// with ChangeTran (JobCd CAPTURE); GMO has no refund id, so RefundRequest.PriorRefunded
// against GMO's amount tells a landed resend from a new refund (see Refund).
//
// The adapter never puts the card token, AccessPass or ShopPass into a message, and logs
// nothing.
package gmopg
