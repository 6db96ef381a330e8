package nanaco

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"payhub/contracts"
)

// NCS error codes payhub branches on (docs/partners/nanaco.md §B7).
const (
	codeInvalidRequest       = "INVALID_REQUEST"
	codeAmountInvalid        = "AMOUNT_INVALID"
	codeAmountNotMultiple    = "AMOUNT_NOT_MULTIPLE_OF_1000"
	codeBusinessDateInvalid  = "BUSINESS_DATE_INVALID"
	codeAuthFailed           = "AUTH_FAILED"
	codeSignatureInvalid     = "SIGNATURE_INVALID"
	codeTimestampSkew        = "TIMESTAMP_SKEW"
	codeNonceReused          = "NONCE_REUSED"
	codeTerminalNotAllowed   = "TERMINAL_NOT_ALLOWED"
	codeCardNotFound         = "CARD_NOT_FOUND"
	codeTxnNotFound          = "TXN_NOT_FOUND"
	codeSeqReused            = "SEQ_REUSED"
	codeSeqFenced            = "SEQ_FENCED"
	codeAlreadyCancelled     = "ALREADY_CANCELLED"
	codeAlreadyRefunded      = "ALREADY_REFUNDED"
	codeAlreadyMigrated      = "ALREADY_MIGRATED"
	codeInsufficientBalance  = "INSUFFICIENT_BALANCE"
	codeBalanceCapExceeded   = "BALANCE_CAP_EXCEEDED"
	codeCapExceeded          = "CAP_EXCEEDED"
	codeCardSuspended        = "CARD_SUSPENDED"
	codeCardLost             = "CARD_LOST"
	codeCardMigrated         = "CARD_MIGRATED"
	codeCardClosed           = "CARD_CLOSED"
	codeCancelWindowExpired  = "CANCEL_WINDOW_EXPIRED"
	codeCancelNotSupported   = "CANCEL_NOT_SUPPORTED"
	codeTerminalMismatch     = "TERMINAL_MISMATCH"
	codeRefundExceeds        = "REFUND_EXCEEDS_ORIGINAL"
	codeRefundWindowExpired  = "REFUND_WINDOW_EXPIRED"
	codeChargeLimitExceeded  = "CHARGE_LIMIT_EXCEEDED"
	codeRateLimited          = "RATE_LIMITED"
	codeCenterMaintenance    = "CENTER_MAINTENANCE"
	outcomeNotProcessed      = "NOT_PROCESSED"
	outcomeUnknownProcessing = "UNKNOWN"
)

// Transaction statuses (§B4) and types.
const (
	statusApproved        = "APPROVED"
	statusPending         = "PENDING_CONFIRMATION"
	statusInProgress      = "IN_PROGRESS"
	statusCancelled       = "CANCELLED"
	statusReversed        = "REVERSED"
	statusRefundedPartial = "REFUNDED_PARTIAL"
	statusRefunded        = "REFUNDED"

	typePayment  = "PAYMENT"
	typeCharge   = "CHARGE"
	typeTransfer = "TRANSFER"
)

// payhub's failure codes for nanaco (PaymentResult.FailureCode, RefundResult.FailureCode
// and the FailureCode of this package's results): stable snake_case, mapped from the NCS
// codes of §B7.
const (
	// FailureInsufficientBalance: INSUFFICIENT_BALANCE, the card holds less than asked
	// (retry with AllowPartial, or split the tender).
	FailureInsufficientBalance = "insufficient_balance"
	// FailureCardSuspended: CARD_SUSPENDED.
	FailureCardSuspended = "card_suspended"
	// FailureCardLost: CARD_LOST.
	FailureCardLost = "card_lost"
	// FailureCardMigrated: CARD_MIGRATED (or ALREADY_MIGRATED); the value moved to another
	// number.
	FailureCardMigrated = "card_migrated"
	// FailureCardClosed: CARD_CLOSED.
	FailureCardClosed = "card_closed"
	// FailureBalanceCapExceeded: BALANCE_CAP_EXCEEDED or CAP_EXCEEDED, the ¥50,000 caps on
	// the balance and on centre-held value.
	FailureBalanceCapExceeded = "balance_cap_exceeded"
	// FailureChargeLimitExceeded: CHARGE_LIMIT_EXCEEDED.
	FailureChargeLimitExceeded = "charge_limit_exceeded"
	// FailureCardNotFound: CARD_NOT_FOUND, or a card read that names no nanaco.
	FailureCardNotFound = "card_not_found"
	// FailureRefundWindowExpired: REFUND_WINDOW_EXPIRED.
	FailureRefundWindowExpired = "refund_window_expired"
	// FailureRefundExceedsOriginal: REFUND_EXCEEDS_ORIGINAL or ALREADY_REFUNDED.
	FailureRefundExceedsOriginal = "refund_exceeds_original"
	// FailureNotProcessed: the centre does not have the request (inquiry found:false, or
	// SEQ_FENCED); its key is fenced, so this is final (§B5 transaction inquiry).
	FailureNotProcessed = "not_processed"
	// FailureChipWriteFailed: a PENDING_CONFIRMATION payment the centre REVERSED because the
	// chip write never happened (§B6, 処理未了).
	FailureChipWriteFailed = "chip_write_failed"
	// FailurePartnerConfig: NCS refused the request itself (authentication, signature,
	// clock skew, a terminal not registered or not enabled, a malformed request or reused
	// sequence, an unparseable ref): a setup error or a payhub bug. Nothing was done; it
	// is logged as an error and an operator must look.
	FailurePartnerConfig = "partner_config"
)

// configCodes are the refusals of the request itself (§B7: 400 INVALID_REQUEST, 401,
// 403, 409 SEQ_REUSED): nothing happened, and retrying will not help.
var configCodes = map[string]bool{
	codeInvalidRequest: true, codeAuthFailed: true, codeSignatureInvalid: true, codeTimestampSkew: true,
	codeNonceReused: true, codeTerminalNotAllowed: true, codeSeqReused: true,
}

// failureCode maps a NOT_PROCESSED error code to payhub's failure code. RATE_LIMITED and
// CENTER_MAINTENANCE are contracts.FailurePartnerUnavailable: nothing was processed, so a
// new attempt later is safe.
func failureCode(code string) string {
	switch code {
	case codeInsufficientBalance:
		return FailureInsufficientBalance
	case codeCardSuspended:
		return FailureCardSuspended
	case codeCardLost:
		return FailureCardLost
	case codeCardMigrated, codeAlreadyMigrated:
		return FailureCardMigrated
	case codeCardClosed:
		return FailureCardClosed
	case codeBalanceCapExceeded, codeCapExceeded:
		return FailureBalanceCapExceeded
	case codeChargeLimitExceeded:
		return FailureChargeLimitExceeded
	case codeCardNotFound:
		return FailureCardNotFound
	case codeRefundWindowExpired:
		return FailureRefundWindowExpired
	case codeRefundExceeds, codeAlreadyRefunded:
		return FailureRefundExceedsOriginal
	case codeSeqFenced:
		return FailureNotProcessed
	case codeRateLimited, codeCenterMaintenance:
		return contracts.FailurePartnerUnavailable
	}
	if configCodes[code] {
		return FailurePartnerConfig
	}
	// AMOUNT_INVALID, AMOUNT_NOT_MULTIPLE_OF_1000, BUSINESS_DATE_INVALID (a new key is
	// needed), TXN_NOT_FOUND, ALREADY_CANCELLED, cancel refusals, codes not in §B7.
	return contracts.FailurePartnerRejected
}

// ncsError is the error body of §B7.
type ncsError struct {
	Code      string
	Message   string
	Retryable bool
	Outcome   string
	// Details holds the numeric details payhub reads (balance, maxChargeable,
	// centerHeldRoom); others are ignored.
	Details map[string]int64
}

var codePattern = regexp.MustCompile(`^[A-Z0-9_]{1,64}$`)

// errUnreadable marks a body that is not what NCS promises.
var errUnreadable = errors.New("unreadable NCS response")

// parseError reads {"error":{"code","message","retryable","outcome","details"}}. The code
// must be upper-case letters, digits and '_'; the outcome NOT_PROCESSED or UNKNOWN. Details
// that are not integers are skipped.
func parseError(body []byte) (ncsError, error) {
	var env struct {
		Error *struct {
			Code      string                     `json:"code"`
			Message   string                     `json:"message"`
			Retryable bool                       `json:"retryable"`
			Outcome   string                     `json:"outcome"`
			Details   map[string]json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Error == nil {
		return ncsError{}, errUnreadable
	}
	e := env.Error
	if !codePattern.MatchString(e.Code) || (e.Outcome != outcomeNotProcessed && e.Outcome != outcomeUnknownProcessing) {
		return ncsError{}, errUnreadable
	}
	out := ncsError{Code: e.Code, Message: truncate(e.Message, 200), Retryable: e.Retryable, Outcome: e.Outcome}
	for k, raw := range e.Details {
		var n int64
		if json.Unmarshal(raw, &n) == nil {
			if out.Details == nil {
				out.Details = map[string]int64{}
			}
			out.Details[k] = n
		}
	}
	return out, nil
}

// centerTxnPattern is a centerTxnId: "NC" + 18 digits (§B4).
var centerTxnPattern = regexp.MustCompile(`^NC[0-9]{18}$`)

// txnReply is a successful value-moving response (§B4 common fields, §B5 per operation).
// Pointers tell a missing number from zero.
type txnReply struct {
	CenterTxnID     string `json:"centerTxnId"`
	Type            string `json:"type"`
	Status          string `json:"status"`
	Amount          *int64 `json:"amount"`
	RequestedAmount *int64 `json:"requestedAmount"`
	BusinessDate    string `json:"businessDate"`
	TerminalID      string `json:"terminalId"`
	TerminalSeq     int    `json:"terminalSeq"`
	ProcessedAt     string `json:"processedAt"`
	OriginalTxnID   string `json:"originalTxnId"`
	CreditedTo      string `json:"creditedTo"`
	BalanceAfter    *int64 `json:"balanceAfter"`
	CenterHeldAfter *int64 `json:"centerHeldAfter"`
	PointsAfter     *int64 `json:"pointsAfter"`
}

// parseTxn reads a value-moving answer to the request keyed by key. It needs a valid
// centerTxnId; the echoed key, when present, must be key (else the answer is about
// another request).
func parseTxn(body []byte, key contracts.SequenceRef) (txnReply, error) {
	var t txnReply
	if err := json.Unmarshal(body, &t); err != nil {
		return txnReply{}, errUnreadable
	}
	if !centerTxnPattern.MatchString(t.CenterTxnID) {
		return txnReply{}, fmt.Errorf("%w: no valid centerTxnId", errUnreadable)
	}
	if (t.TerminalSeq != 0 && t.TerminalSeq != key.Seq) || (t.BusinessDate != "" && t.BusinessDate != key.BusinessDate) ||
		(t.TerminalID != "" && t.TerminalID != key.Terminal) {
		return txnReply{}, fmt.Errorf("%w: the answer echoes another key (%s.%s.%d)", errUnreadable,
			truncate(t.TerminalID, 40), truncate(t.BusinessDate, 8), t.TerminalSeq)
	}
	if t.Amount != nil && *t.Amount < 0 {
		return txnReply{}, fmt.Errorf("%w: negative amount", errUnreadable)
	}
	return t, nil
}

// inquiryReply is the answer of /transactions/inquiry (§B5).
type inquiryReply struct {
	Found           *bool           `json:"found"`
	Type            string          `json:"type"`
	Status          string          `json:"status"`
	CenterTxnID     string          `json:"centerTxnId"`
	Amount          *int64          `json:"amount"`
	RequestedAmount *int64          `json:"requestedAmount"`
	RefundedAmount  *int64          `json:"refundedAmount"`
	Original        json.RawMessage `json:"original"`
}

// parseInquiry reads an inquiry answer: found is required; a found transaction needs a
// valid centerTxnId and a status.
func parseInquiry(body []byte) (inquiryReply, error) {
	var q inquiryReply
	if err := json.Unmarshal(body, &q); err != nil || q.Found == nil {
		return inquiryReply{}, errUnreadable
	}
	if !*q.Found {
		return q, nil
	}
	if q.Status == statusInProgress {
		// Still being processed: it may have no centerTxnId yet.
		return q, nil
	}
	if !centerTxnPattern.MatchString(q.CenterTxnID) || q.Status == "" {
		return inquiryReply{}, fmt.Errorf("%w: a found transaction without centerTxnId or status", errUnreadable)
	}
	if (q.Amount != nil && *q.Amount < 0) || (q.RequestedAmount != nil && *q.RequestedAmount < 0) {
		return inquiryReply{}, fmt.Errorf("%w: negative amount", errUnreadable)
	}
	if bytes.Equal(bytes.TrimSpace(q.Original), []byte("null")) {
		q.Original = nil
	}
	return q, nil
}

// processedAt is the original answer's processedAt, if the inquiry carried it.
func (q inquiryReply) processedAt() string {
	if len(q.Original) == 0 {
		return ""
	}
	var o struct {
		ProcessedAt string `json:"processedAt"`
	}
	_ = json.Unmarshal(q.Original, &o)
	return o.ProcessedAt
}

// value is *p, or 0.
func value(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
