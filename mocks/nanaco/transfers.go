package nanaco

import (
	"slices"
	"strings"
)

// Value transfer in: /transfers (docs/partners/nanaco.md §B5). No idm: the card is not
// present.
type transferRequest struct {
	seqFields
	NanacoNumber string `json:"nanacoNumber"`
	Amount       int    `json:"amount"`
	SourceRef    string `json:"sourceRef"`
	AllowPartial bool   `json:"allowPartial"`
}

type transferResponse struct {
	common
	RequestedAmount int    `json:"requestedAmount"`
	CreditedTo      string `json:"creditedTo"`
	CenterHeldAfter int    `json:"centerHeldAfter"`
	SourceRef       string `json:"sourceRef"`
}

// transferEnabled: the terminals of Config.TransferTerminals and every MIG-… terminal.
func (s *Simulator) transferEnabled(terminal string) bool {
	return strings.HasPrefix(terminal, TransferTerminalPrefix) || slices.Contains(s.cfg.TransferTerminals, terminal)
}

func (s *Simulator) transfer(c *call) reply {
	var in transferRequest
	return s.valueMoving(c, &in, &in.seqFields, func(k seqKey) (*txn, any, *apiError) {
		if !s.transferEnabled(c.terminal) {
			return nil, nil, fail(CodeTerminalNotAllowed, "transfers are not enabled for terminal "+c.terminal)
		}
		if e := amountField("amount", in.Amount); e != nil {
			return nil, nil, e
		}
		if e := text("sourceRef", in.SourceRef, 64); e != nil {
			return nil, nil, e
		}
		if in.NanacoNumber == "" {
			return nil, nil, fail(CodeInvalidRequest, "nanacoNumber is required")
		}
		cd, e := s.findCard(cardRef{NanacoNumber: in.NanacoNumber}, c)
		if e != nil {
			return nil, nil, e
		}
		if e := cd.usable(); e != nil {
			return nil, nil, e
		}
		credit := in.Amount
		if room := CenterHeldCap - cd.centerHeld; in.Amount > room {
			if !in.AllowPartial || room <= 0 {
				return nil, nil, capExceeded(cd, "centre-held value would exceed ¥50,000")
			}
			credit = room
		}
		if m := s.flags.TransferMax; m > 0 && credit > m {
			return nil, nil, limitExceeded("PER_TRANSFER", m, 0)
		}
		if d := s.flags.TransferDaily; d > 0 {
			used := 0
			for _, t := range s.order {
				if t.card == cd && t.typ == TypeTransfer && t.status != StatusCancelled && t.key.date == c.today {
					used += t.amount
				}
			}
			if used+credit > d {
				return nil, nil, limitExceeded("DAILY", d, used)
			}
		}
		cd.centerHeld += credit
		t := s.newTxn(c, k, TypeTransfer, cd, in.MerchantRef)
		t.amount, t.reqAmt, t.creditedTo, t.sourceRef = credit, in.Amount, CreditedCenterHeld, in.SourceRef
		t.snapshot()
		return t, transferResponse{common: t.common(), RequestedAmount: in.Amount, CreditedTo: CreditedCenterHeld,
			CenterHeldAfter: cd.centerHeld, SourceRef: in.SourceRef}, nil
	})
}

// Cancel a transfer: /transfers/cancel (§B5).
type transferCancelResponse struct {
	common
	OriginalTxnID   string `json:"originalTxnId"`
	CenterHeldAfter int    `json:"centerHeldAfter"`
}

func (s *Simulator) transferCancel(c *call) reply {
	var in cancelRequest
	return s.valueMoving(c, &in, &in.seqFields, func(k seqKey) (*txn, any, *apiError) {
		o, e := s.original(in.OriginalTxnID, TypeTransfer, c)
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
		if cd.centerHeld < o.amount {
			return nil, nil, fail(CodeInsufficientBalance, "the transferred value is no longer in centre-held").with("centerHeld", cd.centerHeld)
		}
		cd.centerHeld -= o.amount
		t := s.newTxn(c, k, TypeTransferCancel, cd, in.MerchantRef)
		t.amount, t.reqAmt, t.original = o.amount, o.amount, o
		o.status, o.cancelledBy = StatusCancelled, t
		t.snapshot()
		return t, transferCancelResponse{common: t.common(), OriginalTxnID: o.id, CenterHeldAfter: cd.centerHeld}, nil
	})
}
