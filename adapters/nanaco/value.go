package nanaco

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"payhub/contracts"
)

// The nanaco operations beyond contracts.Partner (docs/partners/nanaco.md §B5): balance
// inquiry, top-ups, value transfers, their same-day cancels and the transaction inquiry.
// Each answers a result with a contracts.Outcome, never a Go error: OutcomeSucceeded when
// NCS answered, OutcomeFailed for a NOT_PROCESSED refusal (FailureCode) or a request the
// adapter would not send, OutcomeUnknown when the call's outcome is in doubt (§B6).

// FundingSource is where a top-up's value comes from (§B5 /charges). payhub offers cash
// and points; credit-card top-ups (CREDIT) are not offered.
type FundingSource string

// Funding sources payhub offers.
const (
	// FundingCash: cash at the till, a multiple of ¥1,000 from ¥1,000 to ¥49,000, with
	// balance + amount ≤ ¥50,000; credited to the balance.
	FundingCash FundingSource = "CASH"
	// FundingPoints: points exchanged 1 pt = ¥1; refused while balance + centre-held ≥ ¥50,000.
	FundingPoints FundingSource = "POINTS"
)

// Where NCS credited value (creditedTo, §B5).
const (
	CreditedToBalance    = "BALANCE"
	CreditedToCenterHeld = "CENTER_HELD"
)

// PointsExpiring is one lot of points and when it expires.
type PointsExpiring struct {
	Amount    int64
	ExpiresAt *time.Time
}

// BalanceResult is the answer of Balance.
type BalanceResult struct {
	// Outcome is OutcomeSucceeded when NCS answered, OutcomeFailed when it refused
	// (CARD_NOT_FOUND, ...), OutcomeUnknown when the query failed.
	Outcome contracts.Outcome
	// CardType is CARD, MOBILE, APPLE_PAY or GOOGLE_PAY; Status the card's status (§B4).
	CardType, Status string
	// Balance is on the card; CenterHeld is held at the centre (センター預かり).
	Balance, CenterHeld int64
	// Points is the card's points; PointsExpiring lists the lots and their expiry.
	Points         int64
	PointsExpiring []PointsExpiring
	// MaxChargeable is 50,000 − Balance; CenterHeldRoom is 50,000 − CenterHeld.
	MaxChargeable, CenterHeldRoom int64
	// PartnerCode is the NCS code of a refusal.
	PartnerCode string
	// FailureCode is payhub's failure code when Outcome is OutcomeFailed.
	FailureCode string
	// FailureMessage explains a refusal or an unknown outcome.
	FailureMessage string
}

// ValueResult is the answer of TopUp and Transfer.
type ValueResult struct {
	// Outcome is OutcomeSucceeded, OutcomeFailed (FailureCode) or OutcomeUnknown.
	Outcome contracts.Outcome
	// CenterTxnID is the operation's centerTxnId; cancels need it.
	CenterTxnID string
	// Amount is what was credited (a transfer with allowPartial may credit less than
	// RequestedAmount).
	Amount, RequestedAmount int64
	// CreditedTo is CreditedToBalance or CreditedToCenterHeld.
	CreditedTo string
	// BalanceAfter, CenterHeldAfter and PointsAfter are the card's values after, when NCS
	// says.
	BalanceAfter, CenterHeldAfter, PointsAfter int64
	// MaxChargeable and CenterHeldRoom are the room NCS reported with a cap refusal
	// (BALANCE_CAP_EXCEEDED), when it did.
	MaxChargeable, CenterHeldRoom int64
	// PartnerCode is the NCS code of a refusal, or the transaction's status.
	PartnerCode string
	// FailureCode is payhub's failure code when Outcome is OutcomeFailed.
	FailureCode string
	// FailureMessage explains a refusal or an unknown outcome.
	FailureMessage string
}

// InquiryResult is the answer of Inquire.
type InquiryResult struct {
	// Outcome is OutcomeSucceeded when NCS answered (see Found), OutcomeFailed when it
	// refused the inquiry or the adapter would not send it, OutcomeUnknown when it failed.
	Outcome contracts.Outcome
	// Found is false when NCS has no transaction under the key; the inquiry fenced it, so
	// that is final.
	Found bool
	// Type and Status are the transaction's (§B4).
	Type, Status string
	// CenterTxnID is the transaction's id.
	CenterTxnID string
	// Amount, RequestedAmount and RefundedAmount are in yen, when NCS says.
	Amount, RequestedAmount, RefundedAmount int64
	// ProcessedAt is the original answer's processedAt, when NCS says.
	ProcessedAt *time.Time
	// PartnerCode is the NCS code of a refusal.
	PartnerCode string
	// FailureCode is payhub's failure code when Outcome is OutcomeFailed.
	FailureCode string
	// FailureMessage explains a refusal or an unknown outcome.
	FailureMessage string
}

// cardInquiryBody is the /cards/inquiry request.
type cardInquiryBody struct {
	NanacoNumber   string `json:"nanacoNumber,omitempty"`
	IDm            string `json:"idm,omitempty"`
	ReceivePending bool   `json:"receivePending,omitempty"`
}

// cardReply is the /cards/inquiry answer.
type cardReply struct {
	CardType       string `json:"cardType"`
	Status         string `json:"status"`
	Balance        *int64 `json:"balance"`
	CenterHeld     int64  `json:"centerHeld"`
	Points         int64  `json:"points"`
	MaxChargeable  int64  `json:"maxChargeable"`
	CenterHeldRoom int64  `json:"centerHeldRoom"`
	PointsExpiring []struct {
		Amount    int64  `json:"amount"`
		ExpiresAt string `json:"expiresAt"`
	} `json:"pointsExpiring"`
}

// Balance asks /cards/inquiry about a card read at terminalID (§B5). receivePending
// makes it the "balance check" tap: centre-held value moves onto the card up to the cap
// and pending chip writes settle. Not value-moving, so it carries no key.
func (a *Adapter) Balance(ctx context.Context, terminalID string, card contracts.PresentedCard, receivePending bool) BalanceResult {
	card.IDm = strings.ToUpper(card.IDm)
	if err := a.checkTerminal(terminalID); err != nil {
		return BalanceResult{Outcome: contracts.OutcomeFailed, FailureCode: FailurePartnerConfig, FailureMessage: err.Error()}
	}
	if err := checkCard(card); err != nil {
		return BalanceResult{Outcome: contracts.OutcomeFailed, FailureCode: FailureCardNotFound, FailureMessage: err.Error()}
	}
	r := a.send(ctx, call{op: "balance", path: pathCardInquiry, terminal: terminalID, card: card, timeout: a.cfg.Timeouts.Read,
		body: cardInquiryBody{NanacoNumber: card.Number, IDm: card.IDm, ReceivePending: receivePending}})
	switch {
	case r.ok():
	case r.definite():
		return BalanceResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(), FailureCode: failureCode(r.code()),
			FailureMessage: a.describe(r, card)}
	default:
		return BalanceResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: a.describe(r, card)}
	}
	var c cardReply
	if err := json.Unmarshal(r.body, &c); err != nil || c.Balance == nil {
		return BalanceResult{Outcome: contracts.OutcomeUnknown, FailureMessage: "NCS answered the balance inquiry with HTTP 200 but the answer is unreadable"}
	}
	res := BalanceResult{Outcome: contracts.OutcomeSucceeded, CardType: truncate(c.CardType, 20), Status: truncate(c.Status, 20),
		Balance: *c.Balance, CenterHeld: c.CenterHeld, Points: c.Points, MaxChargeable: c.MaxChargeable, CenterHeldRoom: c.CenterHeldRoom}
	for _, p := range c.PointsExpiring {
		res.PointsExpiring = append(res.PointsExpiring, PointsExpiring{Amount: p.Amount, ExpiresAt: parseTime(p.ExpiresAt)})
	}
	return res
}

// checkTerminal refuses a terminal id NCS-Terminal-Id cannot carry.
func (a *Adapter) checkTerminal(id string) error {
	if !(contracts.SequenceRef{Terminal: id, BusinessDate: "20000101", Seq: 1}).Valid() {
		return fmt.Errorf("the terminal id %q is not 1-40 characters of [A-Za-z0-9_-]", truncate(id, 60))
	}
	return nil
}

// chargeBody is the /charges request (§B5).
type chargeBody struct {
	TerminalSeq   int    `json:"terminalSeq"`
	BusinessDate  string `json:"businessDate"`
	NanacoNumber  string `json:"nanacoNumber,omitempty"`
	IDm           string `json:"idm,omitempty"`
	Amount        int64  `json:"amount"`
	FundingSource string `json:"fundingSource"`
	MerchantRef   string `json:"merchantRef,omitempty"`
}

// TopUp charges a card at the till (§B5 /charges), keyed by ref: cash (credited to the
// balance) or points. Retrying with the same ref and arguments sends identical bytes and
// is replayed. CREDIT is not offered.
func (a *Adapter) TopUp(ctx context.Context, ref contracts.SequenceRef, card contracts.PresentedCard, amount int64, source FundingSource) ValueResult {
	card.IDm = strings.ToUpper(card.IDm)
	refuse := func(code, msg string) ValueResult {
		a.logUnsent(ctx, "charge", code, msg)
		return ValueResult{Outcome: contracts.OutcomeFailed, FailureCode: code, FailureMessage: msg}
	}
	if err := checkKey(ref); err != nil {
		return refuse(FailurePartnerConfig, err.Error())
	}
	if err := checkCard(card); err != nil {
		return refuse(FailureCardNotFound, err.Error())
	}
	if source != FundingCash && source != FundingPoints {
		return refuse(contracts.FailurePartnerRejected, "payhub offers cash and points top-ups only, not "+truncate(string(source), 20))
	}
	if amount < 1 {
		return refuse(contracts.FailurePartnerRejected, "the top-up amount must be at least ¥1")
	}
	r := a.send(ctx, call{op: "charge", path: pathCharges, terminal: ref.Terminal, key: &ref, card: card, timeout: a.cfg.Timeouts.Value,
		body: chargeBody{TerminalSeq: ref.Seq, BusinessDate: ref.BusinessDate, NanacoNumber: card.Number, IDm: card.IDm,
			Amount: amount, FundingSource: string(source), MerchantRef: ref.String()}})
	return a.valueResult(r, ref, card, typeCharge, amount, false)
}

// transferBody is the /transfers request (§B5): no IDm, the card is not present.
type transferBody struct {
	TerminalSeq  int    `json:"terminalSeq"`
	BusinessDate string `json:"businessDate"`
	NanacoNumber string `json:"nanacoNumber"`
	Amount       int64  `json:"amount"`
	SourceRef    string `json:"sourceRef"`
	AllowPartial bool   `json:"allowPartial,omitempty"`
	MerchantRef  string `json:"merchantRef,omitempty"`
}

// maxSourceRef is sourceRef's limit (§B5).
const maxSourceRef = 64

// Transfer credits value into a card's centre-held balance (§B5 /transfers: wallet
// migration, compensation), keyed by ref, from a terminal enabled for transfers.
// sourceRef names the source (a migration batch and row; never personal data, ≤ 64
// characters). With allowPartial the centre credits min(amount, centre-held room) and
// ValueResult.Amount says how much; without it a transfer that does not fit is
// OutcomeFailed balance_cap_exceeded with CenterHeldRoom.
func (a *Adapter) Transfer(ctx context.Context, ref contracts.SequenceRef, number string, amount int64, sourceRef string, allowPartial bool) ValueResult {
	card := contracts.PresentedCard{Number: number}
	refuse := func(code, msg string) ValueResult {
		a.logUnsent(ctx, "transfer", code, msg)
		return ValueResult{Outcome: contracts.OutcomeFailed, FailureCode: code, FailureMessage: msg}
	}
	switch {
	case checkKey(ref) != nil:
		return refuse(FailurePartnerConfig, checkKey(ref).Error())
	case !numberPattern.MatchString(number):
		return refuse(FailureCardNotFound, "the nanaco number is not 16 digits")
	case amount < 1:
		return refuse(contracts.FailurePartnerRejected, "the transfer amount must be at least ¥1")
	case sourceRef == "" || len([]rune(sourceRef)) > maxSourceRef:
		return refuse(contracts.FailurePartnerRejected, "sourceRef must be 1-64 characters")
	}
	r := a.send(ctx, call{op: "transfer", path: pathTransfers, terminal: ref.Terminal, key: &ref, card: card, timeout: a.cfg.Timeouts.Value,
		body: transferBody{TerminalSeq: ref.Seq, BusinessDate: ref.BusinessDate, NanacoNumber: number, Amount: amount,
			SourceRef: sourceRef, AllowPartial: allowPartial, MerchantRef: ref.String()}})
	return a.valueResult(r, ref, card, typeTransfer, amount, allowPartial)
}

// valueResult reads the answer of /charges or /transfers.
func (a *Adapter) valueResult(r reply, key contracts.SequenceRef, card contracts.PresentedCard, wantType string, asked int64, allowPartial bool) ValueResult {
	switch {
	case r.ok():
	case r.definite():
		return ValueResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(), FailureCode: failureCode(r.code()),
			FailureMessage: a.describe(r, card), MaxChargeable: r.ncs.Details["maxChargeable"], CenterHeldRoom: r.ncs.Details["centerHeldRoom"]}
	default:
		return ValueResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: a.describe(r, card)}
	}
	t, err := parseTxn(r.body, key)
	unknown := func(msg string) ValueResult {
		return ValueResult{Outcome: contracts.OutcomeUnknown, CenterTxnID: t.CenterTxnID, PartnerCode: truncate(t.Status, 40), FailureMessage: msg}
	}
	switch {
	case err != nil:
		return unknown("NCS answered with HTTP 200 but the answer is unreadable: " + err.Error())
	case t.Type != "" && t.Type != wantType:
		return unknown("NCS answered with a transaction of type " + truncate(t.Type, 40))
	case t.Amount == nil:
		return unknown("NCS accepted without saying what it credited")
	case *t.Amount != asked && !(allowPartial && *t.Amount > 0 && *t.Amount < asked):
		return unknown(fmt.Sprintf("NCS credited ¥%d of ¥%d", *t.Amount, asked))
	}
	return ValueResult{Outcome: contracts.OutcomeSucceeded, CenterTxnID: t.CenterTxnID, Amount: *t.Amount, RequestedAmount: asked,
		CreditedTo: truncate(t.CreditedTo, 20), BalanceAfter: value(t.BalanceAfter), CenterHeldAfter: value(t.CenterHeldAfter),
		PointsAfter: value(t.PointsAfter), PartnerCode: truncate(t.Status, 40)}
}

// CancelTopUp cancels a top-up the same day on the same terminal (§B5 /charges/cancel),
// keyed like a payment's cancel (topUp's sequence plus CancelSeqOffset). originalTxnID
// may be empty when the top-up's answer was lost: the inquiry learns it.
func (a *Adapter) CancelTopUp(ctx context.Context, topUp contracts.SequenceRef, originalTxnID string) CancelValueResult {
	return a.cancelKeyed(ctx, chargeCancel, topUp, originalTxnID)
}

// CancelTransfer cancels a transfer the same day on the same terminal while its value is
// still centre-held (§B5 /transfers/cancel), keyed like CancelTopUp.
func (a *Adapter) CancelTransfer(ctx context.Context, transfer contracts.SequenceRef, originalTxnID string) CancelValueResult {
	return a.cancelKeyed(ctx, transferCancel, transfer, originalTxnID)
}

// Inquire asks /transactions/inquiry about the key ref, from ref's terminal (§B5, §B6).
// Found false is final: the inquiry fenced the key. Status IN_PROGRESS: ask again shortly.
func (a *Adapter) Inquire(ctx context.Context, ref contracts.SequenceRef) InquiryResult {
	if !ref.Valid() {
		msg := "the sequence ref " + truncate(ref.String(), 80) + " is not valid"
		a.logUnsent(ctx, "inquiry", FailurePartnerConfig, msg)
		return InquiryResult{Outcome: contracts.OutcomeFailed, FailureCode: FailurePartnerConfig, FailureMessage: msg}
	}
	q, r := a.inquire(ctx, "inquiry", ref)
	switch {
	case r.ok():
	case r.definite():
		return InquiryResult{Outcome: contracts.OutcomeFailed, PartnerCode: r.code(), FailureCode: failureCode(r.code()),
			FailureMessage: a.describe(r, contracts.PresentedCard{})}
	default:
		return InquiryResult{Outcome: contracts.OutcomeUnknown, PartnerCode: r.code(), FailureMessage: a.describe(r, contracts.PresentedCard{})}
	}
	if !*q.Found {
		return InquiryResult{Outcome: contracts.OutcomeSucceeded}
	}
	return InquiryResult{Outcome: contracts.OutcomeSucceeded, Found: true, Type: truncate(q.Type, 40), Status: truncate(q.Status, 40),
		CenterTxnID: q.CenterTxnID, Amount: value(q.Amount), RequestedAmount: value(q.RequestedAmount),
		RefundedAmount: value(q.RefundedAmount), ProcessedAt: parseTime(q.processedAt())}
}

// InquireBalance is contracts.StoredValue: Balance without moving centre-held value onto
// the card (a till's question is not the customer's balance-check tap, §B5).
func (a *Adapter) InquireBalance(ctx context.Context, terminal string, card contracts.PresentedCard) contracts.BalanceInquiry {
	r := a.Balance(ctx, terminal, card, false)
	return contracts.BalanceInquiry{Outcome: r.Outcome, CardStatus: strings.ToLower(r.Status), Balance: r.Balance,
		CenterHeld: r.CenterHeld, MaxChargeable: r.MaxChargeable, Points: r.Points, FailureCode: r.FailureCode,
		FailureMessage: r.FailureMessage}
}
