package nanaco

import (
	"encoding/json"
	"fmt"
	"time"
)

// Balance inquiry: /cards/inquiry (docs/partners/nanaco.md §B5). Not value-moving.
type cardInquiryRequest struct {
	cardRef
	ReceivePending bool `json:"receivePending"`
}

type cardInquiryResponse struct {
	NanacoNumber   string     `json:"nanacoNumber"`
	IDm            string     `json:"idm"`
	CardType       string     `json:"cardType"`
	Status         string     `json:"status"`
	Balance        int        `json:"balance"`
	CenterHeld     int        `json:"centerHeld"`
	Points         int        `json:"points"`
	PointsExpiring []PointLot `json:"pointsExpiring"`
	MaxChargeable  int        `json:"maxChargeable"`
	CenterHeldRoom int        `json:"centerHeldRoom"`
	// ReceivedAmount is what receivePending moved from centre-held onto the balance.
	ReceivedAmount int `json:"receivedAmount"`
	// SuspendAt is a scheduled suspension (suspendNextDay).
	SuspendAt string `json:"suspendAt,omitempty"`
}

func (s *Simulator) cardInquiry(c *call) reply {
	var in cardInquiryRequest
	if e := decode(c.body, &in); e != nil {
		return refuse(e)
	}
	cd, e := s.findCard(in.cardRef, c)
	if e != nil {
		return refuse(e)
	}
	received := 0
	if in.ReceivePending {
		// The balance-check tap: centre-held value moves onto the chip up to the cap, and
		// pending chip writes of the card are confirmed by it.
		if e := cd.usable(); e != nil {
			return refuse(e)
		}
		received = min(cd.centerHeld, BalanceCap-cd.balance)
		cd.centerHeld -= received
		cd.balance += received
		for _, t := range s.order {
			if t.card == cd && t.status == StatusPendingConfirmation {
				s.settlePending(t, true, c.now)
			}
		}
	}
	st := cd.state()
	return ok(cardInquiryResponse{NanacoNumber: cd.number, IDm: cd.idm, CardType: cd.cardType, Status: cd.status,
		Balance: cd.balance, CenterHeld: cd.centerHeld, Points: st.Points, PointsExpiring: st.PointsExpiring,
		MaxChargeable: BalanceCap - cd.balance, CenterHeldRoom: CenterHeldCap - cd.centerHeld,
		ReceivedAmount: received, SuspendAt: st.SuspendAt})
}

// Transaction inquiry: /transactions/inquiry (§B5, §B6).
type txnInquiryRequest struct {
	BusinessDate string `json:"businessDate"`
	TerminalSeq  int    `json:"terminalSeq"`
	TerminalID   string `json:"terminalId"`
	CenterTxnID  string `json:"centerTxnId"`
}

type txnInquiryResponse struct {
	Found           bool            `json:"found"`
	Type            string          `json:"type,omitempty"`
	Status          string          `json:"status,omitempty"`
	CenterTxnID     string          `json:"centerTxnId,omitempty"`
	Amount          *int            `json:"amount,omitempty"`
	RequestedAmount *int            `json:"requestedAmount,omitempty"`
	RefundedAmount  *int            `json:"refundedAmount,omitempty"`
	TerminalID      string          `json:"terminalId,omitempty"`
	BusinessDate    string          `json:"businessDate,omitempty"`
	TerminalSeq     int             `json:"terminalSeq,omitempty"`
	OriginalTxnID   string          `json:"originalTxnId,omitempty"`
	CancelledBy     string          `json:"cancelledBy,omitempty"`
	Original        json.RawMessage `json:"original,omitempty"`
}

func (s *Simulator) txnInquiry(c *call) reply {
	var in txnInquiryRequest
	if e := decode(c.body, &in); e != nil {
		return refuse(e)
	}
	if in.CenterTxnID != "" {
		if in.BusinessDate != "" || in.TerminalSeq != 0 || in.TerminalID != "" {
			return refuse(fail(CodeInvalidRequest, "ask by centerTxnId or by businessDate and terminalSeq, not both"))
		}
		if !txnIDRE.MatchString(in.CenterTxnID) {
			return refuse(fail(CodeInvalidRequest, "centerTxnId must be NC and 18 digits"))
		}
		if t := s.txns[in.CenterTxnID]; t != nil {
			return ok(found(t))
		}
		return ok(txnInquiryResponse{Found: false})
	}
	if in.TerminalSeq < 1 || in.TerminalSeq > MaxSeq {
		return refuse(fail(CodeInvalidRequest, "terminalSeq must be 1 to 999999"))
	}
	if _, valid := parseBusinessDate(in.BusinessDate); !valid {
		return refuse(fail(CodeInvalidRequest, "businessDate must be a date, YYYYMMDD"))
	}
	terminal := c.terminal
	if in.TerminalID != "" {
		if !terminalRE.MatchString(in.TerminalID) {
			return refuse(fail(CodeInvalidRequest, "terminalId is 1 to 40 of A-Z a-z 0-9 _ -"))
		}
		terminal = in.TerminalID
	}
	k := seqKey{merchant: s.cfg.MerchantID, terminal: terminal, date: in.BusinessDate, seq: in.TerminalSeq}
	rec := s.keys[k]
	switch {
	case rec == nil:
		// found:false is final: the key is void from now on, a late request gets SEQ_FENCED.
		s.keys[k] = &keyRecord{fenced: true}
		return ok(txnInquiryResponse{Found: false})
	case rec.fenced:
		return ok(txnInquiryResponse{Found: false})
	case rec.txn != nil:
		return ok(found(rec.txn))
	default: // marked in progress
		return ok(txnInquiryResponse{Found: true, Status: StatusInProgress, TerminalID: k.terminal,
			BusinessDate: k.date, TerminalSeq: k.seq})
	}
}

func found(t *txn) txnInquiryResponse {
	amount, requested, refunded := t.amount, t.reqAmt, t.refunded
	r := txnInquiryResponse{Found: true, Type: t.typ, Status: t.status, CenterTxnID: t.id, Amount: &amount,
		RequestedAmount: &requested, RefundedAmount: &refunded, TerminalID: t.key.terminal,
		BusinessDate: t.key.date, TerminalSeq: t.key.seq, Original: t.response}
	if t.original != nil {
		r.OriginalTxnID = t.original.id
	}
	if t.cancelledBy != nil {
		r.CancelledBy = t.cancelledBy.id
	}
	return r
}

// Suspend a card: /cards/suspend (§B5).
type suspendRequest struct {
	NanacoNumber string `json:"nanacoNumber"`
	Reason       string `json:"reason"`
}

type suspendResponse struct {
	NanacoNumber string `json:"nanacoNumber"`
	Status       string `json:"status"`
	EffectiveAt  string `json:"effectiveAt"`
	TransferCode string `json:"transferCode"`
}

func (s *Simulator) suspend(c *call) reply {
	var in suspendRequest
	if e := decode(c.body, &in); e != nil {
		return refuse(e)
	}
	if in.NanacoNumber == "" {
		return refuse(fail(CodeInvalidRequest, "nanacoNumber is required"))
	}
	if in.Reason == "" {
		return refuse(fail(CodeInvalidRequest, "reason is required"))
	}
	if e := text("reason", in.Reason, 256); e != nil {
		return refuse(e)
	}
	cd, e := s.findCard(cardRef{NanacoNumber: in.NanacoNumber}, c)
	if e != nil {
		return refuse(e)
	}
	switch {
	case cd.status == CardSuspended && cd.transferCode != "", !cd.suspendAt.IsZero():
		// Already suspended by a request: the same answer again.
	case cd.status == CardActive || cd.status == CardSuspended:
		s.lastCode++
		cd.transferCode = fmt.Sprintf("%09d", 900_000_000+s.lastCode)
		if s.flags.SuspendNextDay && cd.status == CardActive {
			j := c.now.In(JST)
			cd.suspendAt = time.Date(j.Year(), j.Month(), j.Day()+1, 0, 0, 0, 0, JST)
		} else {
			cd.status, cd.suspendAt = CardSuspended, c.now
		}
	default:
		return refuse(cd.usable())
	}
	return ok(suspendResponse{NanacoNumber: cd.number, Status: CardSuspended,
		EffectiveAt: cd.suspendAt.In(JST).Format(TimestampLayout), TransferCode: cd.transferCode})
}

// migration answers the card-to-card calls, which the simulator does not offer (§B5: payhub
// does not need them).
func (s *Simulator) migration(c *call) reply {
	return refuse(fail(CodeTerminalNotAllowed, "card-to-card migrations are not enabled for this merchant (not simulated)"))
}
