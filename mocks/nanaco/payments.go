package nanaco

import "time"

// Pay: /payments (docs/partners/nanaco.md §B5).
type paymentRequest struct {
	seqFields
	cardRef
	Amount              int  `json:"amount"`
	PointEligibleAmount int  `json:"pointEligibleAmount"`
	AllowPartial        bool `json:"allowPartial"`
}

type paymentResponse struct {
	common
	RequestedAmount int `json:"requestedAmount"`
	BalanceBefore   int `json:"balanceBefore"`
	BalanceAfter    int `json:"balanceAfter"`
	PointsAwarded   int `json:"pointsAwarded"`
}

// points is floor(eligible / rate) × multiplier (§B5).
func (s *Simulator) points(eligible int) int {
	return eligible / s.cfg.PointRate * s.cfg.PointMultiplier
}

func (s *Simulator) payment(c *call) reply {
	var in paymentRequest
	return s.valueMoving(c, &in, &in.seqFields, func(k seqKey) (*txn, any, *apiError) {
		if e := amountField("amount", in.Amount); e != nil {
			return nil, nil, e
		}
		if in.PointEligibleAmount < 0 || in.PointEligibleAmount > in.Amount {
			return nil, nil, fail(CodeAmountInvalid, "pointEligibleAmount must be from 0 to amount")
		}
		cd, e := s.findCard(in.cardRef, c)
		if e != nil {
			return nil, nil, e
		}
		if e := cd.usable(); e != nil {
			return nil, nil, e
		}
		debit, eligible := in.Amount, in.PointEligibleAmount
		if cd.balance < in.Amount {
			if !in.AllowPartial || cd.balance == 0 {
				return nil, nil, fail(CodeInsufficientBalance, "the balance is lower than the amount").with("balance", cd.balance)
			}
			// Split tender: the card pays what it holds; points on the eligible share of it.
			debit = cd.balance
			eligible = in.PointEligibleAmount * debit / in.Amount
		}
		t := s.newTxn(c, k, TypePayment, cd, in.MerchantRef)
		before := cd.balance
		cd.balance -= debit
		t.amount, t.reqAmt, t.pointEligible = debit, in.Amount, eligible
		t.pointsAwarded = s.points(eligible)
		cd.addPoints(t.pointsAwarded, c.now)
		if s.flags.PendingChipWrite {
			t.status = StatusPendingConfirmation
		}
		t.snapshot()
		return t, paymentResponse{common: t.common(), RequestedAmount: in.Amount, BalanceBefore: before,
			BalanceAfter: cd.balance, PointsAwarded: t.pointsAwarded}, nil
	})
}

// Same-day cancel: /payments/cancel (§B5).
type cancelRequest struct {
	seqFields
	OriginalTxnID string `json:"originalTxnId"`
}

type paymentCancelResponse struct {
	common
	OriginalTxnID   string `json:"originalTxnId"`
	CreditedTo      string `json:"creditedTo"`
	BalanceAfter    int    `json:"balanceAfter"`
	CenterHeldAfter int    `json:"centerHeldAfter"`
	PointsReversed  int    `json:"pointsReversed"`
}

func (s *Simulator) paymentCancel(c *call) reply {
	var in cancelRequest
	return s.valueMoving(c, &in, &in.seqFields, func(k seqKey) (*txn, any, *apiError) {
		o, e := s.original(in.OriginalTxnID, TypePayment, c)
		if e != nil {
			return nil, nil, e
		}
		if e := s.sameTerminalSameDay(o, c); e != nil {
			return nil, nil, e
		}
		if o.refunded > 0 {
			return nil, nil, fail(CodeAlreadyRefunded, "the payment is partly refunded: refund the rest instead")
		}
		cd := o.card
		if e := cd.holdsValue(); e != nil {
			return nil, nil, e
		}
		credited, e := cd.credit(o.amount)
		if e != nil {
			return nil, nil, e
		}
		t := s.newTxn(c, k, TypePaymentCancel, cd, in.MerchantRef)
		t.amount, t.reqAmt, t.original, t.creditedTo = o.amount, o.amount, o, credited
		t.pointsReversed = cd.takePoints(o.pointsAwarded-o.pointsReversed, true)
		o.pointsReversed += t.pointsReversed
		o.status, o.cancelledBy = StatusCancelled, t
		t.snapshot()
		return t, paymentCancelResponse{common: t.common(), OriginalTxnID: o.id, CreditedTo: credited,
			BalanceAfter: cd.balance, CenterHeldAfter: cd.centerHeld, PointsReversed: t.pointsReversed}, nil
	})
}

// Refund as re-credit: /refunds (§B5).
type refundRequest struct {
	seqFields
	OriginalTxnID       string `json:"originalTxnId"`
	Amount              int    `json:"amount"`
	PointEligibleAmount int    `json:"pointEligibleAmount"`
	Reason              string `json:"reason"`
}

type refundResponse struct {
	common
	OriginalTxnID   string `json:"originalTxnId"`
	CreditedTo      string `json:"creditedTo"`
	BalanceAfter    int    `json:"balanceAfter"`
	CenterHeldAfter int    `json:"centerHeldAfter"`
	PointsReversed  int    `json:"pointsReversed"`
}

func (s *Simulator) refund(c *call) reply {
	var in refundRequest
	return s.valueMoving(c, &in, &in.seqFields, func(k seqKey) (*txn, any, *apiError) {
		if e := amountField("amount", in.Amount); e != nil {
			return nil, nil, e
		}
		if in.PointEligibleAmount < 0 || in.PointEligibleAmount > in.Amount {
			return nil, nil, fail(CodeAmountInvalid, "pointEligibleAmount must be from 0 to amount")
		}
		if e := text("reason", in.Reason, 256); e != nil {
			return nil, nil, e
		}
		o, e := s.original(in.OriginalTxnID, TypePayment, c)
		if e != nil {
			return nil, nil, e
		}
		switch o.status {
		case StatusCancelled, StatusReversed:
			return nil, nil, fail(CodeAlreadyCancelled, "the payment is "+o.status)
		case StatusRefunded:
			return nil, nil, fail(CodeAlreadyRefunded, "the payment is fully refunded")
		}
		if days := s.flags.RefundWindowDays; days > 0 {
			paid, _ := parseBusinessDate(o.key.date)
			last := paid.AddDate(0, 0, days)
			if today, _ := parseBusinessDate(c.today); today.After(last) {
				return nil, nil, fail(CodeRefundWindowExpired, "the refund window is over").
					with("lastRefundDate", last.Format("20060102")).with("windowDays", days)
			}
		}
		if left := o.amount - o.refunded; in.Amount > left {
			return nil, nil, fail(CodeRefundExceedsOriginal, "the amount exceeds what is left of the payment").with("refundable", left)
		}
		cd := o.card
		if e := cd.holdsValue(); e != nil {
			return nil, nil, e
		}
		credited, e := cd.credit(in.Amount)
		if e != nil {
			return nil, nil, e
		}
		t := s.newTxn(c, k, TypeRefund, cd, in.MerchantRef)
		t.amount, t.reqAmt, t.original, t.creditedTo, t.pointEligible = in.Amount, in.Amount, o, credited, in.PointEligibleAmount
		t.pointsReversed = cd.takePoints(min(s.points(in.PointEligibleAmount), o.pointsAwarded-o.pointsReversed), true)
		o.pointsReversed += t.pointsReversed
		o.refunded += in.Amount
		o.status = StatusRefundedPartial
		if o.refunded == o.amount {
			o.status = StatusRefunded
		}
		t.snapshot()
		return t, refundResponse{common: t.common(), OriginalTxnID: o.id, CreditedTo: credited,
			BalanceAfter: cd.balance, CenterHeldAfter: cd.centerHeld, PointsReversed: t.pointsReversed}, nil
	})
}

// settlePending ends a PENDING_CONFIRMATION payment: confirmed (the chip write happened) it
// is APPROVED; reversed (it never happened) it is REVERSED, the debit goes back on the card
// (what no longer fits under the cap into centre-held) and its points are taken back.
// Needs s.mu.
func (s *Simulator) settlePending(t *txn, confirm bool, now time.Time) {
	if confirm {
		t.status = StatusApproved
		return
	}
	cd := t.card
	cd.refresh(now)
	onCard := min(t.amount, max(0, BalanceCap-cd.balance))
	cd.balance += onCard
	cd.centerHeld += t.amount - onCard
	n := cd.takePoints(t.pointsAwarded-t.pointsReversed, true)
	t.pointsReversed += n
	t.status = StatusReversed
}
