package paypay

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"payhub/contracts"
)

// Cashback (docs/partners/paypay.md §4.8): asynchronous at PayPay. A give or reversal
// accepted (202 REQUEST_ACCEPTED) is pending; GET tells ACCEPTED (pending), SUCCESS or
// FAILURE. PayPay answers a repeated merchantCashbackId with the same request as the first
// time, so after an unknown outcome payhub asks GET or resends the same request.

// PayPay cashback statuses (§4.8).
const (
	cashbackAccepted = "ACCEPTED"
	cashbackSuccess  = "SUCCESS"
	cashbackFailure  = "FAILURE"
)

// codeTransactionNotFound answers a GET for a cashback or reversal PayPay does not (yet)
// know (§4.8).
const codeTransactionNotFound = "TRANSACTION_NOT_FOUND"

// giveCashbackBody is POST /v2/cashback.
type giveCashbackBody struct {
	MerchantCashbackID  string `json:"merchantCashbackId"`
	UserAuthorizationID string `json:"userAuthorizationId"`
	Amount              money  `json:"amount"`
	RequestedAt         int64  `json:"requestedAt"`
	OrderDescription    string `json:"orderDescription,omitempty"`
	WalletType          string `json:"walletType,omitempty"`
	ExpiryDate          string `json:"expiryDate,omitempty"`
}

// reverseCashbackBody is POST /v2/cashback_reversal.
type reverseCashbackBody struct {
	MerchantCashbackReversalID string `json:"merchantCashbackReversalId"`
	MerchantCashbackID         string `json:"merchantCashbackId"`
	Amount                     money  `json:"amount"`
	RequestedAt                int64  `json:"requestedAt"`
	Reason                     string `json:"reason,omitempty"`
}

// cashbackObject is the data of GET /v2/cashback/{id} and GET /v2/cashback_reversal/{…}/{…}.
type cashbackObject struct {
	Status                     string `json:"status"`
	AcceptedAt                 int64  `json:"acceptedAt"`
	MerchantCashbackID         string `json:"merchantCashbackId"`
	MerchantCashbackReversalID string `json:"merchantCashbackReversalId"`
	CashbackID                 string `json:"cashbackId"`
	CashbackReversalID         string `json:"cashbackReversalId"`
	Amount                     money  `json:"amount"`
}

// GiveCashback credits a linked user: POST /v2/cashback (§4.8).
func (a *Adapter) GiveCashback(ctx context.Context, req contracts.CashbackRequest) contracts.CashbackResult {
	base := contracts.CashbackResult{MerchantCashbackID: req.MerchantCashbackID}
	switch {
	case !validMerchantID(req.MerchantCashbackID):
		return refusedCashback(base, "merchantCashbackId must be 1 to 64 characters of [A-Za-z0-9_-]")
	case req.UserAuthorizationID == "":
		return refusedCashback(base, "no userAuthorizationId")
	case req.Amount.Amount <= 0 || req.Amount.Currency != contracts.JPY:
		return refusedCashback(base, "a cashback is a positive amount of JPY")
	case req.WalletType != "" && req.WalletType != "PREPAID" && req.WalletType != "CASHBACK":
		return refusedCashback(base, "walletType must be PREPAID or CASHBACK")
	}
	body := giveCashbackBody{
		MerchantCashbackID: req.MerchantCashbackID, UserAuthorizationID: req.UserAuthorizationID,
		Amount:           money{Amount: req.Amount.Amount, Currency: string(req.Amount.Currency)},
		RequestedAt:      a.requestedAt(req.RequestedAt),
		OrderDescription: truncate(req.Description, 255), WalletType: req.WalletType,
	}
	if !req.ExpiryDate.IsZero() {
		body.ExpiryDate = req.ExpiryDate.In(contracts.JST).Format(time.DateOnly)
	}
	r := a.call(ctx, a.cfg.Timeouts.ValueMoving, http.MethodPost, "/v2/cashback", nil, body)
	return a.acceptedOrNot(r, base)
}

// ReverseCashback takes back (part of) a cashback: POST /v2/cashback_reversal (§4.8).
func (a *Adapter) ReverseCashback(ctx context.Context, req contracts.CashbackReversalRequest) contracts.CashbackResult {
	base := contracts.CashbackResult{MerchantCashbackID: req.MerchantCashbackID, MerchantCashbackReversalID: req.MerchantCashbackReversalID}
	switch {
	case !validMerchantID(req.MerchantCashbackReversalID) || !validMerchantID(req.MerchantCashbackID):
		return refusedCashback(base, "merchantCashbackReversalId and merchantCashbackId must be 1 to 64 characters of [A-Za-z0-9_-]")
	case req.Amount.Amount <= 0 || req.Amount.Currency != contracts.JPY:
		return refusedCashback(base, "a cashback reversal is a positive amount of JPY")
	}
	r := a.call(ctx, a.cfg.Timeouts.ValueMoving, http.MethodPost, "/v2/cashback_reversal", nil, reverseCashbackBody{
		MerchantCashbackReversalID: req.MerchantCashbackReversalID, MerchantCashbackID: req.MerchantCashbackID,
		Amount:      money{Amount: req.Amount.Amount, Currency: string(req.Amount.Currency)},
		RequestedAt: a.requestedAt(req.RequestedAt), Reason: truncate(req.Reason, 255),
	})
	return a.acceptedOrNot(r, base)
}

// GetCashback reads GET /v2/cashback/{merchantCashbackId} (§4.8).
func (a *Adapter) GetCashback(ctx context.Context, merchantCashbackID string) contracts.CashbackResult {
	base := contracts.CashbackResult{MerchantCashbackID: merchantCashbackID}
	if !validMerchantID(merchantCashbackID) {
		return refusedCashback(base, "merchantCashbackId must be 1 to 64 characters of [A-Za-z0-9_-]")
	}
	r := a.call(ctx, a.cfg.Timeouts.Read, http.MethodGet, "/v2/cashback/"+url.PathEscape(merchantCashbackID), nil, nil)
	return a.cashbackState(r, base, func(o cashbackObject) bool {
		return o.MerchantCashbackID == "" || o.MerchantCashbackID == merchantCashbackID
	})
}

// GetCashbackReversal reads GET /v2/cashback_reversal/{reversalID}/{cashbackID} (§4.8).
func (a *Adapter) GetCashbackReversal(ctx context.Context, reversalID, cashbackID string) contracts.CashbackResult {
	base := contracts.CashbackResult{MerchantCashbackID: cashbackID, MerchantCashbackReversalID: reversalID}
	if !validMerchantID(reversalID) || !validMerchantID(cashbackID) {
		return refusedCashback(base, "merchantCashbackReversalId and merchantCashbackId must be 1 to 64 characters of [A-Za-z0-9_-]")
	}
	r := a.call(ctx, a.cfg.Timeouts.Read, http.MethodGet,
		"/v2/cashback_reversal/"+url.PathEscape(reversalID)+"/"+url.PathEscape(cashbackID), nil, nil)
	return a.cashbackState(r, base, func(o cashbackObject) bool {
		return (o.MerchantCashbackReversalID == "" || o.MerchantCashbackReversalID == reversalID) &&
			(o.MerchantCashbackID == "" || o.MerchantCashbackID == cashbackID)
	})
}

// acceptedOrNot reads the answer of a give or a reversal: accepted is pending (PayPay
// processes it later), a recognised refusal failed, anything else unknown (§6).
func (a *Adapter) acceptedOrNot(r reply, res contracts.CashbackResult) contracts.CashbackResult {
	res.PartnerCode = r.code()
	switch r.verdict() {
	case verdictAccepted:
		res.Outcome, res.Status = contracts.OutcomePending, cashbackAccepted
	case verdictRefused:
		res.Outcome, res.FailureCode, res.FailureMessage = contracts.OutcomeFailed, paymentFailureCode(r.code()), a.describe(r)
	default:
		res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, a.describe(r)
	}
	return res
}

// cashbackState reads the answer of a cashback or reversal query. ours checks that the
// object is the one asked about.
func (a *Adapter) cashbackState(r reply, res contracts.CashbackResult, ours func(cashbackObject) bool) contracts.CashbackResult {
	res.PartnerCode = r.code()
	if r.err == nil && r.status >= 400 && r.status < 500 && (r.code() == codeTransactionNotFound || r.code() == codeResourceNotFound) {
		res.Outcome, res.FailureMessage = contracts.OutcomeNotFound, a.describe(r)
		return res
	}
	switch r.verdict() {
	case verdictRefused:
		res.Outcome, res.FailureCode, res.FailureMessage = contracts.OutcomeFailed, contracts.FailurePartnerRejected, a.describe(r)
		return res
	case verdictUnknown:
		res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, a.describe(r)
		return res
	}
	var o cashbackObject
	if err := r.env.decodeData(&o); err != nil {
		res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, "PayPay's cashback object is unreadable "+a.describe(r)
		return res
	}
	if !ours(o) {
		res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, "PayPay answered about another cashback "+a.describe(r)
		return res
	}
	if o.Amount.Currency != "" && o.Amount.Currency != string(contracts.JPY) {
		res.Outcome, res.FailureMessage = contracts.OutcomeUnknown, "PayPay reports a cashback in "+truncate(o.Amount.Currency, 8)
		return res
	}
	res.Status, res.AcceptedAt = o.Status, epoch(o.AcceptedAt)
	res.Amount = contracts.Money{Amount: o.Amount.Amount, Currency: contracts.JPY}
	res.PartnerID = o.CashbackID
	if res.MerchantCashbackReversalID != "" {
		res.PartnerID = o.CashbackReversalID
	}
	switch o.Status {
	case cashbackSuccess:
		res.Outcome = contracts.OutcomeSucceeded
	case cashbackAccepted:
		res.Outcome = contracts.OutcomePending
	case cashbackFailure:
		res.Outcome, res.FailureCode = contracts.OutcomeFailed, contracts.FailurePartnerRejected
		res.FailureMessage = "PayPay reports the cashback FAILURE (nothing was credited or taken back)"
	default:
		res.Outcome = contracts.OutcomeUnknown
		res.FailureMessage = fmt.Sprintf("PayPay reports an unrecognised cashback status %q", truncate(o.Status, 40))
	}
	return res
}

// requestedAt is t in epoch seconds, or now when t is zero.
func (a *Adapter) requestedAt(t time.Time) int64 {
	if t.IsZero() {
		t = a.cfg.Now()
	}
	return t.Unix()
}

// validMerchantID checks a merchant-chosen id: 1 to 64 characters of [A-Za-z0-9_-] (§4).
func validMerchantID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if c != '_' && c != '-' && (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// refusedCashback is a request refused before PayPay was asked.
func refusedCashback(res contracts.CashbackResult, msg string) contracts.CashbackResult {
	res.Outcome, res.FailureCode, res.FailureMessage = contracts.OutcomeFailed, contracts.FailurePartnerRejected, msg
	return res
}
