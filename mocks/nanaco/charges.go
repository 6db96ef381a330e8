package nanaco

// Top-up: /charges (docs/partners/nanaco.md §B5).
type chargeRequest struct {
	seqFields
	cardRef
	Amount        int    `json:"amount"`
	FundingSource string `json:"fundingSource"`
}

type chargeResponse struct {
	common
	FundingSource   string `json:"fundingSource"`
	CreditedTo      string `json:"creditedTo"`
	BalanceAfter    int    `json:"balanceAfter"`
	CenterHeldAfter int    `json:"centerHeldAfter"`
	PointsAfter     int    `json:"pointsAfter"`
}

// capExceeded is BALANCE_CAP_EXCEEDED with the room left in both pockets.
func capExceeded(cd *card, message string) *apiError {
	return fail(CodeBalanceCapExceeded, message).
		with("maxChargeable", max(0, BalanceCap-cd.balance)).with("centerHeldRoom", max(0, CenterHeldCap-cd.centerHeld))
}

// limitExceeded is CHARGE_LIMIT_EXCEEDED for one window (§B7: details.window).
func limitExceeded(window string, limit, used int) *apiError {
	return fail(CodeChargeLimitExceeded, "the amount exceeds the "+window+" limit").
		with("window", window).with("limit", limit).with("remaining", max(0, limit-used))
}

func (s *Simulator) charge(c *call) reply {
	var in chargeRequest
	return s.valueMoving(c, &in, &in.seqFields, func(k seqKey) (*txn, any, *apiError) {
		if e := amountField("amount", in.Amount); e != nil {
			return nil, nil, e
		}
		switch in.FundingSource {
		case FundingCash:
			if in.Amount%CashUnit != 0 {
				return nil, nil, fail(CodeAmountNotMultipleOf1000, "a cash top-up is a multiple of ¥1,000")
			}
			if in.Amount > CashMax {
				return nil, nil, limitExceeded("PER_CHARGE", CashMax, 0)
			}
		case FundingCredit, FundingPoints:
		default:
			return nil, nil, fail(CodeInvalidRequest, "fundingSource must be CASH, CREDIT or POINTS")
		}
		cd, e := s.findCard(in.cardRef, c)
		if e != nil {
			return nil, nil, e
		}
		if e := cd.usable(); e != nil {
			return nil, nil, e
		}
		var credited string
		switch in.FundingSource {
		case FundingCash:
			if cd.balance+in.Amount > BalanceCap {
				return nil, nil, capExceeded(cd, "the balance would exceed ¥50,000")
			}
			cd.balance += in.Amount
			credited = CreditedBalance
		case FundingCredit:
			if e := s.creditLimits(cd, in.Amount, c); e != nil {
				return nil, nil, e
			}
			if cd.centerHeld+in.Amount > CenterHeldCap {
				return nil, nil, capExceeded(cd, "centre-held value would exceed ¥50,000")
			}
			cd.centerHeld += in.Amount
			credited = CreditedCenterHeld
		case FundingPoints:
			switch {
			case cd.balance+cd.centerHeld >= BalanceCap:
				return nil, nil, capExceeded(cd, "points cannot be exchanged while balance + centre-held ≥ ¥50,000")
			case in.Amount > cd.points():
				return nil, nil, fail(CodeInsufficientBalance, "not enough points").with("points", cd.points()).with("balance", cd.balance)
			case cd.balance+in.Amount > BalanceCap:
				return nil, nil, capExceeded(cd, "the balance would exceed ¥50,000")
			}
			cd.takePoints(in.Amount, false)
			cd.balance += in.Amount
			credited = CreditedBalance
		}
		t := s.newTxn(c, k, TypeCharge, cd, in.MerchantRef)
		t.amount, t.reqAmt, t.funding, t.creditedTo = in.Amount, in.Amount, in.FundingSource, credited
		t.snapshot()
		return t, chargeResponse{common: t.common(), FundingSource: in.FundingSource, CreditedTo: credited,
			BalanceAfter: cd.balance, CenterHeldAfter: cd.centerHeld, PointsAfter: cd.points()}, nil
	})
}

// creditLimits applies the CREDIT limits per card: per charge, per JST date, per JST month;
// cancelled charges do not count (§B5, §B8).
func (s *Simulator) creditLimits(cd *card, amount int, c *call) *apiError {
	f := s.flags
	if f.CreditPerCharge > 0 && amount > f.CreditPerCharge {
		return limitExceeded("PER_CHARGE", f.CreditPerCharge, 0)
	}
	day, month := 0, 0
	for _, t := range s.order {
		if t.card != cd || t.typ != TypeCharge || t.funding != FundingCredit || t.status == StatusCancelled {
			continue
		}
		if t.key.date == c.today {
			day += t.amount
		}
		if t.key.date[:6] == c.today[:6] {
			month += t.amount
		}
	}
	if f.CreditDaily > 0 && day+amount > f.CreditDaily {
		return limitExceeded("DAILY", f.CreditDaily, day)
	}
	if f.CreditMonthly > 0 && month+amount > f.CreditMonthly {
		return limitExceeded("MONTHLY", f.CreditMonthly, month)
	}
	return nil
}

// Cancel a top-up: /charges/cancel (§B5).
type chargeCancelResponse struct {
	common
	OriginalTxnID   string `json:"originalTxnId"`
	BalanceAfter    int    `json:"balanceAfter"`
	CenterHeldAfter int    `json:"centerHeldAfter"`
	PointsAfter     int    `json:"pointsAfter"`
}

func (s *Simulator) chargeCancel(c *call) reply {
	var in cancelRequest
	return s.valueMoving(c, &in, &in.seqFields, func(k seqKey) (*txn, any, *apiError) {
		o, e := s.original(in.OriginalTxnID, TypeCharge, c)
		if e != nil {
			return nil, nil, e
		}
		if e := s.sameTerminalSameDay(o, c); e != nil {
			return nil, nil, e
		}
		cd := o.card
		if e := cd.holdsValue(); e != nil {
			return nil, nil, e
		}
		if o.funding == FundingCredit {
			if cd.centerHeld < o.amount {
				return nil, nil, fail(CodeInsufficientBalance, "the charged value is no longer in centre-held").with("centerHeld", cd.centerHeld)
			}
			cd.centerHeld -= o.amount
		} else {
			if cd.balance < o.amount {
				return nil, nil, fail(CodeInsufficientBalance, "the charged value is no longer on the card").with("balance", cd.balance)
			}
			cd.balance -= o.amount
			if o.funding == FundingPoints {
				cd.addPoints(o.amount, c.now)
			}
		}
		t := s.newTxn(c, k, TypeChargeCancel, cd, in.MerchantRef)
		t.amount, t.reqAmt, t.original, t.funding = o.amount, o.amount, o, o.funding
		o.status, o.cancelledBy = StatusCancelled, t
		t.snapshot()
		return t, chargeCancelResponse{common: t.common(), OriginalTxnID: o.id, BalanceAfter: cd.balance,
			CenterHeldAfter: cd.centerHeld, PointsAfter: cd.points()}, nil
	})
}
