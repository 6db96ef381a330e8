package httpapi

import (
	"context"
	"encoding/json"

	"payhub/contracts"
	"payhub/contracts/api"
)

// Renderer renders domain objects as the contract's JSON; the hub stores its output as
// idempotent responses and event payloads.
type Renderer struct{}

var _ interface {
	Payment(contracts.Payment) []byte
	Refund(contracts.Refund) []byte
	Problem(context.Context, *contracts.Error) []byte
} = Renderer{}

// Payment renders p as an api.Payment.
func (Renderer) Payment(p contracts.Payment) []byte {
	b, _ := json.Marshal(toAPIPayment(p))
	return b
}

// Refund renders r as an api.Refund.
func (Renderer) Refund(r contracts.Refund) []byte {
	b, _ := json.Marshal(toAPIRefund(r))
	return b
}

// Problem renders e as an RFC 9457 problem document.
func (Renderer) Problem(ctx context.Context, e *contracts.Error) []byte { return renderProblem(ctx, e) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toAPIPayment(p contracts.Payment) api.Payment {
	out := api.Payment{
		Object: api.PaymentObjectPayment, Id: p.ID, Status: api.PaymentStatus(p.Status),
		Amount: p.Amount.Amount, Currency: string(p.Amount.Currency), AmountRefunded: p.AmountRefunded,
		AmountCaptured: p.AmountCaptured, CaptureMethod: api.CaptureMethod(p.CaptureMethod),
		Method: api.PaymentMethod(p.Method), Flow: api.PaymentFlow(p.Flow), StoreId: p.StoreID,
		TerminalId: optional(p.TerminalID), OrderId: optional(p.OrderID),
		FailureCode: optional(p.FailureCode), FailureMessage: optional(p.FailureMessage),
		PartnerCode: optional(p.PartnerCode), PartnerReference: optional(p.PartnerPaymentID), CancelRequested: p.CancelRequested,
		CancellationReason: optional(p.CancellationReason), PaidAt: p.PaidAt,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if len(p.Metadata) > 0 {
		m := api.Metadata(p.Metadata)
		out.Metadata = &m
	}
	if p.Status == contracts.StatusUnknown {
		out.Resolution = &api.Resolution{State: api.Resolving,
			Message: "The partner's answer did not arrive. Do not charge the customer again by any method; payhub settles it and the result follows."}
		if p.Resolution.NeedsAttention {
			out.Resolution.State = api.NeedsAttention
			out.Resolution.Message = "payhub could not settle this payment with the partner; an operator will. Do not charge the customer again."
		}
	}
	if na := p.NextAction; na != nil && p.Status == contracts.StatusRequiresAction {
		out.NextAction = &api.NextAction{Type: api.NextActionType(na.Type), QrCodeUrl: optional(na.QRCodeURL),
			Deeplink: optional(na.Deeplink), RedirectUrl: optional(na.RedirectURL), ExpiresAt: na.ExpiresAt}
	}
	if c := p.Card; c != nil {
		out.Card = &api.CardDetails{Brand: optional(c.Brand), Last4: optional(c.Last4), Expiry: optional(c.Expiry)}
	}
	return out
}

func toAPIRefund(r contracts.Refund) api.Refund {
	return api.Refund{
		Object: api.RefundObjectRefund, Id: r.ID, PaymentId: r.PaymentID, Amount: r.Amount.Amount,
		Currency: string(r.Amount.Currency), Status: api.RefundStatus(r.Status), Reason: optional(r.Reason),
		FailureCode: optional(r.FailureCode), FailureMessage: optional(r.FailureMessage),
		PartnerCode: optional(r.PartnerCode), PartnerReference: optional(r.PartnerRef),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}
