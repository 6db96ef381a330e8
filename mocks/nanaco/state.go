package nanaco

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Card types and statuses (docs/partners/nanaco.md §B4).
const (
	CardTypeCard      = "CARD"
	CardTypeMobile    = "MOBILE"
	CardTypeApplePay  = "APPLE_PAY"
	CardTypeGooglePay = "GOOGLE_PAY"

	CardActive    = "ACTIVE"
	CardSuspended = "SUSPENDED"
	CardLost      = "LOST"
	CardMigrating = "MIGRATING"
	CardMigrated  = "MIGRATED"
	CardClosed    = "CLOSED"
)

// Transaction types and statuses (§B4).
const (
	TypePayment        = "PAYMENT"
	TypePaymentCancel  = "PAYMENT_CANCEL"
	TypeRefund         = "REFUND"
	TypeCharge         = "CHARGE"
	TypeChargeCancel   = "CHARGE_CANCEL"
	TypeTransfer       = "TRANSFER"
	TypeTransferCancel = "TRANSFER_CANCEL"

	StatusApproved            = "APPROVED"
	StatusPendingConfirmation = "PENDING_CONFIRMATION"
	StatusInProgress          = "IN_PROGRESS"
	StatusCancelled           = "CANCELLED"
	StatusReversed            = "REVERSED"
	StatusRefundedPartial     = "REFUNDED_PARTIAL"
	StatusRefunded            = "REFUNDED"
)

// Where value lands (§B5), and top-up funding sources.
const (
	CreditedBalance    = "BALANCE"
	CreditedCenterHeld = "CENTER_HELD"

	FundingCash   = "CASH"
	FundingCredit = "CREDIT"
	FundingPoints = "POINTS"
)

// pointLot is the points earned in one fiscal year (April to March, JST): they expire at
// the end of March two years after the year began (docs/partners/nanaco.md §A2).
type pointLot struct {
	fiscalYear int
	amount     int
}

// expiresAt is the first instant the lot is gone: 1 April of fiscalYear+2, 00:00 JST.
func (l pointLot) expiresAt() time.Time {
	return time.Date(l.fiscalYear+2, time.April, 1, 0, 0, 0, 0, JST)
}

// fiscalYear is the JST April-to-March year t falls in.
func fiscalYear(t time.Time) int {
	j := t.In(JST)
	if j.Month() < time.April {
		return j.Year() - 1
	}
	return j.Year()
}

// card is one nanaco number's record at the centre.
type card struct {
	number     string
	idm        string
	cardType   string
	status     string // as set; SUSPENDED by a future suspendAt shows only from then
	balance    int
	centerHeld int
	lots       []pointLot // by fiscal year, oldest first
	// suspendAt: /cards/suspend under SuspendNextDay; the card is SUSPENDED from then.
	suspendAt    time.Time
	transferCode string
}

// refresh applies a scheduled suspension and point expiry at now.
func (c *card) refresh(now time.Time) {
	if !c.suspendAt.IsZero() && !now.Before(c.suspendAt) && c.status == CardActive {
		c.status = CardSuspended
	}
	kept := c.lots[:0]
	for _, l := range c.lots {
		if now.Before(l.expiresAt()) && l.amount > 0 {
			kept = append(kept, l)
		}
	}
	c.lots = kept
}

func (c *card) points() int {
	n := 0
	for _, l := range c.lots {
		n += l.amount
	}
	return n
}

// addPoints credits n points to the lot of now's fiscal year.
func (c *card) addPoints(n int, now time.Time) {
	if n <= 0 {
		return
	}
	fy := fiscalYear(now)
	for i := range c.lots {
		if c.lots[i].fiscalYear == fy {
			c.lots[i].amount += n
			return
		}
	}
	c.lots = append(c.lots, pointLot{fiscalYear: fy, amount: n})
	sort.Slice(c.lots, func(i, j int) bool { return c.lots[i].fiscalYear < c.lots[j].fiscalYear })
}

// takePoints removes n points (at most what there is), from the oldest lot first when
// spending or the newest first when reversing an award; it returns how many it took.
func (c *card) takePoints(n int, newestFirst bool) int {
	taken := 0
	for k := range c.lots {
		i := k
		if newestFirst {
			i = len(c.lots) - 1 - k
		}
		t := min(n-taken, c.lots[i].amount)
		c.lots[i].amount -= t
		taken += t
	}
	kept := c.lots[:0]
	for _, l := range c.lots {
		if l.amount > 0 {
			kept = append(kept, l)
		}
	}
	c.lots = kept
	return taken
}

// credit puts amount back on the card: on the balance when it fits under the cap, else
// wholly into centre-held when it fits there; otherwise it fails with CAP_EXCEEDED
// (docs/partners/nanaco.md §B5, "Same-day cancel" and "Refund as re-credit").
func (c *card) credit(amount int) (string, *apiError) {
	switch {
	case c.balance+amount <= BalanceCap:
		c.balance += amount
		return CreditedBalance, nil
	case c.centerHeld+amount <= CenterHeldCap:
		c.centerHeld += amount
		return CreditedCenterHeld, nil
	}
	return "", fail(CodeCapExceeded, "the value fits neither under the balance cap nor under the centre-held cap").
		with("maxChargeable", BalanceCap-c.balance).with("centerHeldRoom", CenterHeldCap-c.centerHeld)
}

// usable refuses a card that is not ACTIVE with its status's code.
func (c *card) usable() *apiError {
	switch c.status {
	case CardActive:
		return nil
	case CardSuspended:
		return fail(CodeCardSuspended, "the card is suspended")
	case CardLost:
		return fail(CodeCardLost, "the card is reported lost")
	case CardMigrating, CardMigrated:
		return fail(CodeCardMigrated, "the card's value has moved to another number")
	default:
		return fail(CodeCardClosed, "the card is closed")
	}
}

// holdsValue refuses a card whose record can no longer take value back (cancels, refunds):
// MIGRATED (and MIGRATING, frozen) and CLOSED. A SUSPENDED or LOST card keeps its record;
// the value moves with it when the card is replaced.
func (c *card) holdsValue() *apiError {
	switch c.status {
	case CardMigrating, CardMigrated:
		return fail(CodeCardMigrated, "the card's value has moved to another number")
	case CardClosed:
		return fail(CodeCardClosed, "the card is closed")
	}
	return nil
}

// seqKey is the idempotency key (merchantId, terminalId, businessDate, terminalSeq) (§B3).
type seqKey struct {
	merchant, terminal, date string
	seq                      int
}

// keyRecord is what the centre keeps per key: the committed request and its answer, or a
// fence, or an in-progress mark set by MarkInProgress.
type keyRecord struct {
	path       string
	request    []byte
	response   []byte // the 200 body
	txn        *txn
	fenced     bool
	inProgress bool
}

// txn is one committed value-moving transaction.
type txn struct {
	id       string
	typ      string
	status   string
	key      seqKey
	card     *card
	amount   int // what moved
	reqAmt   int // requestedAmount (payments and transfers with allowPartial)
	refunded int // payments: refunded so far
	// points: awarded by a payment; reversed (by its refunds or cancel, or the reversal
	// of a pending write).
	pointsAwarded  int
	pointsReversed int
	pointEligible  int
	funding        string // charges
	creditedTo     string
	original       *txn // cancels and refunds
	cancelledBy    *txn
	merchantRef    string
	sourceRef      string
	processedAt    time.Time
	balanceAfter   int
	centerHeldLeft int
	pointsAfter    int
	response       []byte // the original 200 body
}

// common are the fields every successful value-moving answer carries (§B4).
type common struct {
	CenterTxnID  string `json:"centerTxnId"`
	Type         string `json:"type"`
	Status       string `json:"status"`
	Amount       int    `json:"amount"`
	BusinessDate string `json:"businessDate"`
	TerminalID   string `json:"terminalId"`
	TerminalSeq  int    `json:"terminalSeq"`
	MerchantRef  string `json:"merchantRef"`
	ProcessedAt  string `json:"processedAt"`
}

func (t *txn) common() common {
	return common{CenterTxnID: t.id, Type: t.typ, Status: t.status, Amount: t.amount, BusinessDate: t.key.date,
		TerminalID: t.key.terminal, TerminalSeq: t.key.seq, MerchantRef: t.merchantRef,
		ProcessedAt: t.processedAt.In(JST).Format(TimestampLayout)}
}

// LedgerEntry is one committed transaction as /_sim/ledger and Ledger show it, with its
// current status.
type LedgerEntry struct {
	CenterTxnID     string `json:"centerTxnId"`
	Type            string `json:"type"`
	Status          string `json:"status"`
	NanacoNumber    string `json:"nanacoNumber"`
	TerminalID      string `json:"terminalId"`
	BusinessDate    string `json:"businessDate"`
	TerminalSeq     int    `json:"terminalSeq"`
	Amount          int    `json:"amount"`
	RequestedAmount int    `json:"requestedAmount"`
	RefundedAmount  int    `json:"refundedAmount"`
	FundingSource   string `json:"fundingSource,omitempty"`
	CreditedTo      string `json:"creditedTo,omitempty"`
	OriginalTxnID   string `json:"originalTxnId,omitempty"`
	CancelledBy     string `json:"cancelledBy,omitempty"`
	PointsAwarded   int    `json:"pointsAwarded"`
	PointsReversed  int    `json:"pointsReversed"`
	MerchantRef     string `json:"merchantRef,omitempty"`
	SourceRef       string `json:"sourceRef,omitempty"`
	// BalanceAfter and CenterHeldAfter are the card's values right after the transaction.
	BalanceAfter    int       `json:"balanceAfter"`
	CenterHeldAfter int       `json:"centerHeldAfter"`
	ProcessedAt     time.Time `json:"processedAt"`
}

func (t *txn) ledger() LedgerEntry {
	e := LedgerEntry{CenterTxnID: t.id, Type: t.typ, Status: t.status, NanacoNumber: t.card.number,
		TerminalID: t.key.terminal, BusinessDate: t.key.date, TerminalSeq: t.key.seq, Amount: t.amount,
		RequestedAmount: t.reqAmt, RefundedAmount: t.refunded, FundingSource: t.funding, CreditedTo: t.creditedTo,
		PointsAwarded: t.pointsAwarded, PointsReversed: t.pointsReversed, MerchantRef: t.merchantRef,
		SourceRef: t.sourceRef, BalanceAfter: t.balanceAfter, CenterHeldAfter: t.centerHeldLeft,
		ProcessedAt: t.processedAt.In(JST)}
	if t.original != nil {
		e.OriginalTxnID = t.original.id
	}
	if t.cancelledBy != nil {
		e.CancelledBy = t.cancelledBy.id
	}
	return e
}

// PointLot is a number of points and when they expire.
type PointLot struct {
	Amount    int    `json:"amount"`
	ExpiresAt string `json:"expiresAt"`
}

// CardState is a card as Card and /_sim/cards show it (and as PutCard sets it).
type CardState struct {
	NanacoNumber string `json:"nanacoNumber"`
	IDm          string `json:"idm"`
	CardType     string `json:"cardType"`
	Status       string `json:"status"`
	Balance      int    `json:"balance"`
	CenterHeld   int    `json:"centerHeld"`
	Points       int    `json:"points"`
	// PointsExpiring lists the points by expiry, soonest first ("expiresAt" is the last
	// second they can be used, 23:59:59 JST on 31 March).
	PointsExpiring []PointLot `json:"pointsExpiring"`
	// SuspendAt is when a suspension takes effect (SuspendNextDay), if one is scheduled.
	SuspendAt    string `json:"suspendAt,omitempty"`
	TransferCode string `json:"transferCode,omitempty"`
}

func (c *card) state() CardState {
	st := CardState{NanacoNumber: c.number, IDm: c.idm, CardType: c.cardType, Status: c.status,
		Balance: c.balance, CenterHeld: c.centerHeld, Points: c.points(), PointsExpiring: c.expiring(),
		TransferCode: c.transferCode}
	if !c.suspendAt.IsZero() {
		st.SuspendAt = c.suspendAt.In(JST).Format(TimestampLayout)
	}
	return st
}

func (c *card) expiring() []PointLot {
	out := make([]PointLot, 0, len(c.lots))
	for _, l := range c.lots {
		out = append(out, PointLot{Amount: l.amount, ExpiresAt: l.expiresAt().Add(-time.Second).Format(TimestampLayout)})
	}
	return out
}

// businessDate is the centre's business date at t: the JST calendar date, YYYYMMDD (the
// cutoff is 23:59:59 JST).
func businessDate(t time.Time) string { return t.In(JST).Format("20060102") }

// parseBusinessDate reads YYYYMMDD as a JST date.
func parseBusinessDate(s string) (time.Time, bool) {
	if len(s) != 8 {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("20060102", s, JST)
	return t, err == nil
}

// txnID is "NC" + 18 digits.
func txnID(n int64) string { return fmt.Sprintf("NC%018d", n) }

// mustJSON marshals a response struct (always marshalable).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
