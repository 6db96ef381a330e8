// Package nanaco is payhub's adapter for nanaco e-money over NCS v1, payhub's stand-in for
// the nanaco centre (docs/partners/nanaco.md Part B; to be replaced by the contracted
// terminal vendor's interface, behind the same contracts.Partner). *Adapter implements
// contracts.Partner; it never returns a Go error for a partner-side problem and classifies
// anything it cannot be sure of as contracts.OutcomeUnknown.
//
// What nanaco takes — JPY only, at most ¥50,000 (the balance cap), the flows barcode (the
// app's barcode: the 16-digit nanaco number, beginning with 7) and card_present (the
// reader's number and/or IDm), sequenced refs up to MaxSeq, refunds in parallel, no manual
// capture — is declared in Capabilities and enforced by the engine.
//
// Transport and authentication (§B1, §B2): every call is a POST under /ncs/v1 with a JSON
// body, signed with HMAC-SHA256 (SignRequest) over the method, path, merchant, terminal,
// timestamp, a fresh nonce per HTTP request and the body's SHA-256. Every answer's
// signature is verified (VerifyResponse, hmac.Equal) over its status, path, timestamp, the
// request's nonce and its body: an answer that is unsigned, does not verify, or cannot be
// read in full is never trusted — OutcomeUnknown.
//
// Idempotency (§B3): the engine allocates each payment's and refund's PartnerRef as a
// contracts.SequenceRef (terminal.YYYYMMDD.seq), which is the NCS key (NCS-Terminal-Id,
// businessDate, terminalSeq) and also the merchantRef. Request bodies are built from the
// request alone — no clock, no random value — so a retry re-sends identical bytes and the
// centre replays its answer. A cancel has no ref of its own: its key is the original's
// terminal and business date with the sequence plus CancelSeqOffset (500,000), so a
// retried cancel is replayed too; once the centre's business date has moved on, that key
// is refused with BUSINESS_DATE_INVALID, which means the same-day window is over
// (OutcomeWindowPassed). A ref that does not parse is refused without a call
// (FailurePartnerConfig).
//
// Unknown outcomes (§B6): timeouts, resets, 500/502/504, answers with outcome UNKNOWN,
// unverified or unreadable answers. GetPayment resolves them with /transactions/inquiry by
// key: found:false fences the key (a late request gets SEQ_FENCED), so it is final —
// OutcomeFailed with FailureNotProcessed; APPROVED and PENDING_CONFIRMATION are
// OutcomeSucceeded (the latter provisionally, PartnerCode "PENDING_CONFIRMATION"; REVERSED
// later is FailureChipWriteFailed); CANCELLED is OutcomeCanceled; IN_PROGRESS unknown.
// CancelPayment and Refund ask the inquiry for the original's centerTxnId when
// PartnerPaymentID is empty (the create's answer was lost).
//
// Errors (§B7): a verified answer with outcome NOT_PROCESSED is definite — nothing
// happened — and maps to OutcomeFailed with one of this package's failure codes
// (FailureInsufficientBalance, FailureCardSuspended, …); authentication, signature, clock,
// terminal and malformed-request refusals are FailurePartnerConfig and logged as errors.
// RATE_LIMITED (429) and CENTER_MAINTENANCE (503) are NOT_PROCESSED too, so they are
// OutcomeFailed with contracts.FailurePartnerUnavailable and the NCS code in PartnerCode:
// nothing moved, and a new attempt later is safe. For a cancel, CANCEL_WINDOW_EXPIRED,
// CANCEL_NOT_SUPPORTED, TERMINAL_MISMATCH and ALREADY_REFUNDED are OutcomeWindowPassed
// (the engine re-credits with a refund instead) and ALREADY_CANCELLED is a success.
//
// Points: payhub's requests carry no pre-tax breakdown, so pointEligibleAmount is not sent
// (0): payments award no points and refunds reverse none.
//
// Beyond contracts.Partner the adapter offers nanaco's own operations (§B5) for the engine
// to call: Balance, TopUp (cash or points; credit-card top-ups are not offered),
// CancelTopUp, Transfer (into centre-held value, for migration and compensation),
// CancelTransfer and Inquire.
//
// Logging: one line per call through Config.Logger (operation, terminal, business date,
// sequence, HTTP status, NCS code, latency); a nanaco number appears only as its last 4
// digits, never an IDm, the secret or a signature, in logs and result messages alike.
package nanaco
