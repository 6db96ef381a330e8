package hub

import (
	"context"
	"slices"
	"strings"

	"payhub/contracts"
)

// The engine enforces what each partner declares it takes (contracts.Capabilities), here
// and only here: the rules live in the adapters, next to the partner's wire protocol, and
// no partner is named in the engine. Each refusal happens before anything is written or
// sent, so a refused request leaves no payment, refund or attempt behind.

// checkCapabilities refuses a create outside what the method's partner declares: its flows,
// manual capture, currencies, per-payment cap and minor-unit step, in that order.
func checkCapabilities(caps contracts.Capabilities, cmd CreatePayment) error {
	if !caps.Supports(cmd.Flow) {
		if caps.FlowRefusal != "" {
			return fieldError(contracts.CodeMethodNotSupported, "/flow", "%s", caps.FlowRefusal)
		}
		return fieldError(contracts.CodeMethodNotSupported, "/flow", "Method %q does not support flow %q.", cmd.Method, cmd.Flow)
	}
	if cmd.CaptureMethod == contracts.CaptureManual && !caps.ManualCapture {
		return fieldError(contracts.CodeMethodNotSupported, "/capture", "Method %q does not support manual capture.", cmd.Method)
	}
	if !caps.Takes(cmd.Amount.Currency) {
		return fieldError(contracts.CodeCurrencyNotSupported, "/currency", "Method %q does not take %s.", cmd.Method, cmd.Amount.Currency)
	}
	limit := caps.MaxAmount[cmd.Amount.Currency]
	if cmd.Amount.Amount < 1 || cmd.Amount.Amount > limit {
		return fieldError(contracts.CodeAmountOutOfRange, "/amount", "Amount must be between 1 and %d %s for %s.", limit, cmd.Amount.Currency, cmd.Method)
	}
	return checkStep(caps, cmd.Method, cmd.Amount)
}

// checkStep refuses an amount (of a payment, capture or refund) the partner cannot move: a
// fraction of the smallest unit it declares for the currency.
func checkStep(caps contracts.Capabilities, method contracts.Method, amount contracts.Money) error {
	step := caps.StepOf(amount.Currency)
	if amount.Amount%step == 0 {
		return nil
	}
	return fieldError(contracts.CodeAmountOutOfRange, "/amount",
		"%s takes whole %s: the amount must be a multiple of %d minor units.", method, amount.Currency, step)
}

// checkCardToken refuses a create without the card token its partner needs, or with one
// its partner does not take. The message names the methods that take card tokens, as
// their partners declare it.
func (h *Hub) checkCardToken(caps contracts.Capabilities, cmd CreatePayment) error {
	if caps.CardToken == (cmd.CardToken != "") {
		return nil
	}
	methods := []string{string(cmd.Method)}
	if !caps.CardToken {
		methods = h.cardTokenMethods()
	}
	if len(methods) == 0 {
		return fieldError(contracts.CodeInvalidRequest, "/card_token", "card_token is not allowed for method %s.", cmd.Method)
	}
	return fieldError(contracts.CodeInvalidRequest, "/card_token",
		"card_token is required for method %s and not allowed otherwise.", strings.Join(methods, " or method "))
}

// cardTokenMethods are the configured methods whose partner takes card tokens, sorted.
func (h *Hub) cardTokenMethods() []string {
	var out []string
	for m, p := range h.partners {
		if p != nil && p.Capabilities().CardToken {
			out = append(out, string(m))
		}
	}
	slices.Sort(out)
	return out
}

// capabilitiesOf is what the partner of a recorded payment's method declares; ok is false
// when no partner is configured for it.
func (h *Hub) capabilitiesOf(method contracts.Method) (contracts.Capabilities, bool) {
	p := h.partners[method]
	if p == nil {
		return contracts.Capabilities{}, false
	}
	return p.Capabilities(), true
}

// checkSerialRefund refuses a refund while another of the payment is pending or unknown,
// for partners that refund one at a time (contracts.Capabilities.SerialRefunds).
func checkSerialRefund(ctx context.Context, tx contracts.Tx, caps contracts.Capabilities, p contracts.Payment) error {
	if !caps.SerialRefunds {
		return nil
	}
	refunds, err := tx.ListRefunds(ctx, p.ID)
	if err != nil {
		return err
	}
	for _, r := range refunds {
		if r.Status == contracts.RefundPending || r.Status == contracts.RefundUnknown {
			return contracts.Errorf(contracts.CodeInvalidState, "Another refund of this payment is still in progress; retry once it has settled.")
		}
	}
	return nil
}
