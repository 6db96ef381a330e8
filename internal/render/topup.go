package render

import (
	"encoding/json"

	"payhub/contracts"
	"payhub/contracts/api"
)

// TopUp renders t as an api.TopUp.
func TopUp(t contracts.TopUp) []byte {
	b, _ := json.Marshal(APITopUp(t))
	return b
}

// APITopUp is t as the contract's TopUp object. It carries the card's last 4 digits only.
func APITopUp(t contracts.TopUp) api.TopUp {
	out := api.TopUp{
		Object: api.TopUpObject("top_up"), Id: t.ID, Status: api.TopUpStatus(t.Status),
		Amount: t.Amount.Amount, Currency: api.TopUpCurrency(t.Amount.Currency), Funding: api.TopUpFunding(t.Funding),
		TerminalId: t.TerminalID, CardLast4: Optional(t.CardLast4), PartnerReference: Optional(t.PartnerTxnID),
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, CanceledAt: t.CanceledAt,
	}
	if t.Status == contracts.TopUpSucceeded && t.CreditedTo != "" {
		to := api.TopUpCreditedTo(t.CreditedTo)
		out.CreditedTo = &to
	}
	if t.Status == contracts.TopUpFailed {
		out.FailureCode, out.FailureMessage = Optional(t.FailureCode), Optional(t.FailureMessage)
	}
	if t.Status == contracts.TopUpSucceeded && t.CancelStartedAt != nil {
		pending := true
		out.CancelPending = &pending
	}
	if t.Status == contracts.TopUpUnknown {
		out.Resolution = &api.Resolution{State: api.Resolving,
			Message: "The partner's answer did not arrive. Do not top up again and keep the cash; payhub settles it and the result follows."}
		if t.Resolution.NeedsAttention {
			out.Resolution.State = api.NeedsAttention
			out.Resolution.Message = "payhub could not settle this top-up with the partner; an operator will. Do not top up again."
		}
	}
	return out
}
