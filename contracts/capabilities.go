package contracts

import (
	"errors"
	"fmt"
	"slices"
)

// Capabilities is what a partner takes, as its adapter declares it (Partner.Capabilities):
// the currencies, the flows, the largest payment, the smallest unit it moves, and how it
// refunds and captures. A partner's rules are written there, once, next to the wire protocol
// they come from; the engine (internal/hub) refuses anything outside them before it writes
// or sends anything, and never names a partner. An adapter does not check these rules again.
//
// A Capabilities value is read-only once returned: callers must not modify its slices or
// maps.
type Capabilities struct {
	// Currencies are the currencies the partner takes. A payment in another currency is
	// refused with 422 currency_not_supported (pointer /currency).
	Currencies []Currency

	// Flows are the flows the partner supports. A payment in another flow is refused with
	// 422 method_not_supported (pointer /flow).
	Flows []Flow

	// FlowRefusal, when not empty, is the explanation given with the refusal of a flow
	// outside Flows, instead of the engine's generic "does not support flow": cards, which
	// GMO-PG serves online only, explain that card-present payments are not offered.
	FlowRefusal string

	// MaxAmount is, per currency in Currencies, the largest amount of one payment in minor
	// units (the per-payment cap). A payment below 1 or above it is refused with 422
	// amount_out_of_range (pointer /amount). Every currency in Currencies has one.
	MaxAmount map[Currency]int64

	// Step is, per currency, the smallest amount the partner moves, in minor units, where
	// it is more than one (LINE Pay takes whole TWD and, until LINE confirms satang, whole
	// THB: 100). Payments, captures and refunds must be multiples of it, else 422
	// amount_out_of_range (pointer /amount): the partner would refuse them after payhub
	// wrote them. A currency without an entry moves in single minor units.
	Step map[Currency]int64

	// SerialRefunds says the partner refunds one refund of a payment at a time: it keeps no
	// refund id (LINE Pay), so a resent refund is told from a new one only by the partner's
	// refunded total, and a second refund while one is pending or unknown would make that
	// total ambiguous. Such a refund is refused with 409 invalid_state.
	SerialRefunds bool

	// ManualCapture says the partner can authorize only and capture (in full or in part)
	// or release later (CaptureManual). Without it a manual-capture payment is refused with
	// 422 method_not_supported (pointer /capture).
	ManualCapture bool

	// CardToken says every payment needs a single-use card token from the partner's token
	// script (PaymentRequest.CardToken); a partner without it takes none. A payment
	// without the token it needs, or with one it does not, is refused with 400
	// invalid_request (pointer /card_token).
	CardToken bool

	// PartialDebit says the partner can debit less than asked when a stored balance is
	// short (split tender, PaymentRequest.AllowPartial). Without it allow_partial is refused
	// with 422 method_not_supported (pointer /allow_partial).
	PartialDebit bool

	// Sequenced, when set, says the partner keys its requests by terminal, business date
	// and sequence (SequenceRef): the engine allocates each payment's and refund's
	// PartnerRef as a SequenceRef, in the transaction that writes its attempt, instead of
	// deriving it from payhub's ids.
	Sequenced *Sequenced
}

// Takes reports whether the partner takes currency cur.
func (c Capabilities) Takes(cur Currency) bool { return slices.Contains(c.Currencies, cur) }

// Supports reports whether the partner supports flow f.
func (c Capabilities) Supports(f Flow) bool { return slices.Contains(c.Flows, f) }

// StepOf is the smallest amount the partner moves in currency cur, in minor units: Step's
// entry, or 1.
func (c Capabilities) StepOf(cur Currency) int64 {
	if s := c.Step[cur]; s > 1 {
		return s
	}
	return 1
}

// Validate reports a declaration the engine could not enforce: no currency or flow, a
// currency without a positive cap, a step that is not positive or that the cap is not a
// multiple of, or a cap or step for a currency the partner does not take.
func (c Capabilities) Validate() error {
	var errs []error
	if len(c.Currencies) == 0 {
		errs = append(errs, errors.New("no currency"))
	}
	if len(c.Flows) == 0 {
		errs = append(errs, errors.New("no flow"))
	}
	for _, cur := range c.Currencies {
		limit, ok := c.MaxAmount[cur]
		switch {
		case !ok || limit < 1:
			errs = append(errs, fmt.Errorf("%s: no positive MaxAmount", cur))
		case limit%c.StepOf(cur) != 0:
			errs = append(errs, fmt.Errorf("%s: MaxAmount %d is not a multiple of the step %d", cur, limit, c.StepOf(cur)))
		}
	}
	for cur := range c.MaxAmount {
		if !c.Takes(cur) {
			errs = append(errs, fmt.Errorf("%s: a MaxAmount for a currency not in Currencies", cur))
		}
	}
	for cur, s := range c.Step {
		if s < 1 {
			errs = append(errs, fmt.Errorf("%s: step %d is not positive", cur, s))
		}
		if !c.Takes(cur) {
			errs = append(errs, fmt.Errorf("%s: a Step for a currency not in Currencies", cur))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("capabilities: %w", err)
	}
	return nil
}
