// Package adaptertest is the conformance suite every payment-partner adapter passes against
// its simulator. It drives a contracts.Partner only through the Partner interface and checks
// the promises the engine relies on: declines map to the right Outcome and failure code, a
// QR payment waits for the customer and then succeeds, cancels and refunds are accepted or
// refused definitively, a replayed refund never refunds twice, an unknown payment is
// not_found (or, for a partner that fences an unknown key, failed for good), and (for
// partners with manual capture) an authorization is captured in part or in full exactly
// once, or released. Stored-value partners also show a card read at the till
// (card_present) and split tender (a partial debit).
//
// The suite reads the partner's declared contracts.Capabilities: it checks that the
// harness can exercise exactly the flows declared, that the simulator takes the smallest
// and the largest payment the engine would let through (one step, the cap) and refuses a
// currency the partner does not declare, and it takes the currency, the amount step and
// manual capture from the declaration where the Harness leaves them unset. A partner that
// lacks a flow (a LINE Pay or card adapter has no linked accounts, say) leaves the Harness
// field nil and the matching subtests are skipped. The package imports only contracts and
// the standard library: it knows neither simulators nor engine internals.
package adaptertest

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"payhub/contracts"
)

// Customer situations a Harness can set up. Barcode and LinkedUser receive one of these.
const (
	// OK: the customer can pay.
	OK = "ok"
	// InsufficientFunds: the customer's balance is too low.
	InsufficientFunds = "insufficient_funds"
	// UserNotActive: the customer's partner account cannot pay.
	UserNotActive = "user_not_active"
	// Expired: the code or authorization has expired.
	Expired = "expired"
	// BarcodeInvalid: the code is malformed, unknown or already used (barcodes only).
	BarcodeInvalid = "barcode_invalid"
	// CardDeclined: the issuer declines the card (card tokens only).
	CardDeclined = "card_declined"
	// TokenInvalid: the card token is unknown, used or expired (card tokens only).
	TokenInvalid = "card_token_invalid"
	// Challenge: the issuer asks the customer to authenticate (3-D Secure challenge).
	Challenge = "challenge"
)

// declines maps each declining situation to the failure code the adapter must report.
var declines = map[string]string{
	InsufficientFunds: contracts.FailureInsufficientFunds,
	UserNotActive:     contracts.FailureUserNotActive,
	Expired:           contracts.FailureExpired,
	BarcodeInvalid:    contracts.FailureBarcodeInvalid,
	CardDeclined:      contracts.FailureCardDeclined,
	TokenInvalid:      contracts.FailureCardTokenInvalid,
}

// Harness plugs one adapter and its simulator into the suite. Optional capabilities are
// nil funcs; the subtests that need them are skipped.
type Harness struct {
	// Partner is the adapter under test, pointed at its simulator.
	Partner contracts.Partner
	// Currency is the currency the suite pays in; empty: the first of the partner's
	// Capabilities().Currencies. Set, it must be one of them.
	Currency contracts.Currency
	// BaseAmount is the smallest amount the suite charges, in minor units (default 1000
	// times AmountStep).
	// Each payment adds a distinct offset so partner duplicate guards (same user, same
	// amount within minutes) never trip by accident.
	BaseAmount int64
	// AmountStep is the smallest amount the partner moves, in minor units; zero: the
	// partner's declared step for Currency (Capabilities().StepOf; LINE Pay takes whole
	// TWD, so 100). Set, it must equal the declared step. Every amount the suite sends
	// (payments, parts of captures and refunds, the "one too many") is a multiple of it;
	// BaseAmount must be too.
	AmountStep int64
	// RefundOnlyAfterCapture says the partner has no cancel of captured money (LINE Pay):
	// CancelPayment of a succeeded payment answers OutcomeWindowPassed, the payment stays
	// succeeded, and the engine refunds instead.
	RefundOnlyAfterCapture bool
	// CaptureIDs says the partner keeps payhub's capture id (PayPay merchantCaptureId).
	// Without it (LINE Pay) a second capture of the same amount under a new id cannot be
	// told from a resent one; the suite then sends the second capture with another amount.
	CaptureIDs bool
	// Barcode returns a customer-presented code in the given situation (OK, InsufficientFunds,
	// UserNotActive, Expired, BarcodeInvalid), or "" when the partner cannot produce that
	// situation. Nil: the partner has no barcode flow.
	Barcode func(t *testing.T, outcome string) string
	// LinkedUser returns a linked-account reference in the given situation (OK,
	// InsufficientFunds, UserNotActive, Expired), or "" when it has none. Nil: no linked flow.
	LinkedUser func(outcome string) string
	// PresentedCard returns a card the till's reader read (FlowCardPresent) in the given
	// situation: OK, InsufficientFunds (a card holding some value, less than BaseAmount),
	// UserNotActive (a card that cannot pay: suspended, lost, closed), BarcodeInvalid (a
	// card the partner does not know); nil when the partner cannot produce that
	// situation. Like Barcode, it may issue a fresh card per call. Nil: the partner has no
	// card_present flow.
	PresentedCard func(situation string) *contracts.PresentedCard
	// SplitTender says the partner debits what a stored-value card holds when
	// PaymentRequest.AllowPartial is set and the balance is short: the payment succeeds
	// with AmountReceived the amount taken, and exactly that can be refunded. The suite
	// pays with the InsufficientFunds card (PresentedCard, else Barcode).
	SplitTender bool
	// NotFoundIsFinal says GetPayment of a ref the partner never received answers
	// OutcomeFailed instead of OutcomeNotFound, because the query fences the ref (nanaco's
	// transaction inquiry): a payment sent under it later never succeeds.
	NotFoundIsFinal bool
	// FailureCodes overrides, per declining situation, the failure code the suite expects
	// where the partner reports a more specific one of its own (nanaco:
	// insufficient_balance, card_suspended); the others keep the suite's.
	FailureCodes map[string]string
	// CustomerPaysQR makes the simulated customer pay the QR payment that CreatePayment
	// answered with res. Nil: no QR flow.
	CustomerPaysQR func(t *testing.T, res contracts.PaymentResult, ref contracts.PaymentRef)
	// CardToken returns a card token in the given situation (OK, Challenge,
	// InsufficientFunds, CardDeclined, TokenInvalid), or "" when it has none; the suite
	// pays with it in FlowRedirect. Nil: the partner takes no card tokens.
	CardToken func(t *testing.T, situation string) string
	// CustomerReturns plays the customer on the partner's page of a redirect payment that
	// CreatePayment answered with res (pending, NextActionRedirect): approving or refusing
	// (a 3-D Secure challenge, LINE Pay's payment page). It returns what the browser brings
	// back to the return URL; the suite then calls contracts.ReturnHandler.CompleteReturn.
	// Nil: no redirect flow.
	CustomerReturns func(t *testing.T, res contracts.PaymentResult, ref contracts.PaymentRef, approve bool) url.Values
	// ReturnURL is sent as PaymentRequest.ReturnURL of redirect payments (default
	// "https://payhub.example/v1/payment-returns/conformance").
	ReturnURL string
	// ManualCapture says the partner can authorize only and capture or release later
	// (contracts.CaptureManual). The manual-capture subtests run when the partner declares
	// it (Capabilities().ManualCapture); set, this must agree with the declaration.
	ManualCapture bool
	// NewRef returns a fresh partner-facing id (payment, capture or refund) the partner
	// accepts. For a partner that declares Capabilities.Sequenced it returns what the engine
	// would allocate: a contracts.SequenceRef string with a fresh sequence of at most
	// MaxSeq, on the partner's current business date.
	NewRef func() string
	// StoreID and TerminalID are sent with payments (defaults "store-conformance", "till-1").
	StoreID, TerminalID string
	// Now is the clock for RequestedAt (default time.Now); it must agree with the simulator's.
	Now func() time.Time
	// Timeout bounds each partner call (default 10 s).
	Timeout time.Duration
}

// suite is one Run's state.
type suite struct {
	h      Harness
	caps   contracts.Capabilities
	amount atomic.Int64

	// mu guards the refund bookkeeping below, which sets RefundRequest.PriorRefunded the
	// way the engine does: what the payment's other refunds refunded, as the partner
	// accepted them.
	mu sync.Mutex
	// refunded is, per payment PartnerRef, the sum of its succeeded refunds.
	refunded map[string]int64
	// prior is, per refund PartnerRef, the PriorRefunded of its first send; a replay of
	// the refund carries the same.
	prior map[string]int64
	// succeeded holds the refund PartnerRefs already counted in refunded.
	succeeded map[string]bool
}

// Run runs the conformance suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Partner == nil || h.NewRef == nil {
		t.Fatal("adaptertest: Harness needs Partner and NewRef")
	}
	caps := h.Partner.Capabilities()
	if err := caps.Validate(); err != nil {
		t.Fatalf("adaptertest: the partner declares what the engine cannot enforce: %v", err)
	}
	if h.Currency == "" {
		h.Currency = caps.Currencies[0]
	}
	if !caps.Takes(h.Currency) {
		t.Fatalf("adaptertest: Harness.Currency %s is not among the declared currencies %v", h.Currency, caps.Currencies)
	}
	if step := caps.StepOf(h.Currency); h.AmountStep <= 0 {
		h.AmountStep = step
	} else if h.AmountStep != step {
		t.Fatalf("adaptertest: Harness.AmountStep %d, but the partner declares a step of %d %s", h.AmountStep, step, h.Currency)
	}
	if h.ManualCapture && !caps.ManualCapture {
		t.Fatal("adaptertest: Harness.ManualCapture is set, but the partner does not declare manual capture")
	}
	h.ManualCapture = caps.ManualCapture
	if h.BaseAmount <= 0 {
		h.BaseAmount = 1000 * h.AmountStep
	}
	if h.BaseAmount%h.AmountStep != 0 {
		t.Fatalf("adaptertest: BaseAmount %d is not a multiple of AmountStep %d", h.BaseAmount, h.AmountStep)
	}
	if h.StoreID == "" {
		h.StoreID = "store-conformance"
	}
	if h.TerminalID == "" {
		h.TerminalID = "till-1"
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Timeout <= 0 {
		h.Timeout = 10 * time.Second
	}
	if h.ReturnURL == "" {
		h.ReturnURL = "https://payhub.example/v1/payment-returns/conformance"
	}
	if caps.Sequenced != nil {
		r := h.NewRef()
		if k, err := contracts.ParseSequenceRef(r); err != nil || k.Seq > caps.Sequenced.MaxSeq {
			t.Fatalf("adaptertest: the partner is sequenced (MaxSeq %d), but NewRef returned %q, not such a sequence ref", caps.Sequenced.MaxSeq, r)
		}
	}
	s := &suite{h: h, caps: caps, refunded: map[string]int64{}, prior: map[string]int64{}, succeeded: map[string]bool{}}
	t.Run("Method", func(t *testing.T) {
		if h.Partner.Method() == "" {
			t.Error("Method() is empty")
		}
	})
	t.Run("Capabilities", s.testCapabilities)
	t.Run("Barcode", s.testBarcode)
	t.Run("CardPresent", s.testCardPresent)
	t.Run("SplitTender", s.testSplitTender)
	t.Run("Linked", s.testLinked)
	t.Run("QR", s.testQR)
	t.Run("Redirect", s.testRedirect)
	t.Run("CancelSucceeded", s.testCancelSucceeded)
	t.Run("CancelPendingQR", s.testCancelPendingQR)
	t.Run("PartialThenFullRefund", s.testRefunds)
	t.Run("RefundReplay", s.testRefundReplay)
	t.Run("UnknownPaymentNotFound", s.testNotFound)
	t.Run("ManualCapture", s.testManualCapture)
}

// ctx bounds one partner call.
func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// nextAmount is a distinct amount for each payment of the run.
func (s *suite) nextAmount() contracts.Money {
	return contracts.Money{Amount: s.h.BaseAmount + s.amount.Add(1)*s.h.AmountStep, Currency: s.h.Currency}
}

// part is share of amount, rounded down to the partner's AmountStep.
func (s *suite) part(amount int64, num, den int64) int64 {
	v := amount * num / den
	return v - v%s.h.AmountStep
}

// request builds a payment request in flow with a fresh partner ref.
func (s *suite) request(flow contracts.Flow) contracts.PaymentRequest {
	req := contracts.PaymentRequest{
		PartnerRef: s.h.NewRef(), Amount: s.nextAmount(), Flow: flow,
		StoreID: s.h.StoreID, TerminalID: s.h.TerminalID, Description: "conformance", RequestedAt: s.h.Now(),
	}
	if flow == contracts.FlowRedirect {
		req.ReturnURL, req.CancelURL = s.h.ReturnURL, s.h.ReturnURL
	}
	return req
}

// ref names the payment req created, as the engine would record it.
func ref(req contracts.PaymentRequest, res contracts.PaymentResult, status contracts.Status) contracts.PaymentRef {
	return contracts.PaymentRef{
		PartnerRef: req.PartnerRef, PartnerPaymentID: res.PartnerPaymentID, PartnerActionRef: res.PartnerActionRef,
		PartnerSecret: res.PartnerSecret, Flow: req.Flow, Amount: req.Amount, Status: status, CreatedAt: req.RequestedAt,
	}
}

// create calls CreatePayment and checks the outcome.
func (s *suite) create(t *testing.T, req contracts.PaymentRequest, want contracts.Outcome) contracts.PaymentResult {
	t.Helper()
	res := s.h.Partner.CreatePayment(s.ctx(t), req)
	if res.Outcome != want {
		t.Fatalf("CreatePayment(%s) outcome %q, want %q (code %q, failure %q: %s)",
			req.Flow, res.Outcome, want, res.PartnerCode, res.FailureCode, res.FailureMessage)
	}
	return res
}

// paid makes a succeeded payment through whichever direct flow the partner has.
func (s *suite) paid(t *testing.T) (contracts.PaymentRequest, contracts.PaymentResult) {
	t.Helper()
	var req contracts.PaymentRequest
	var barcode, user string
	if s.h.Barcode != nil {
		barcode = s.h.Barcode(t, OK)
	}
	if barcode == "" && s.h.LinkedUser != nil {
		user = s.h.LinkedUser(OK)
	}
	switch {
	case barcode != "":
		req = s.request(contracts.FlowBarcode)
		req.Barcode = barcode
	case s.h.PresentedCard != nil && s.h.PresentedCard(OK) != nil:
		req = s.request(contracts.FlowCardPresent)
		req.Card = s.h.PresentedCard(OK)
	case user != "":
		req = s.request(contracts.FlowLinked)
		req.UserAuthorizationID = user
	case s.h.CardToken != nil && s.h.CardToken(t, OK) != "":
		return s.paidByRedirect(t, contracts.CaptureAutomatic)
	case s.h.CustomerPaysQR != nil:
		req = s.request(contracts.FlowQR)
		res := s.create(t, req, contracts.OutcomePending)
		s.h.CustomerPaysQR(t, res, ref(req, res, contracts.StatusRequiresAction))
		res = s.get(t, ref(req, res, contracts.StatusRequiresAction), contracts.OutcomeSucceeded)
		return req, res
	default:
		t.Skip("partner has no flow the suite can complete")
	}
	res := s.create(t, req, contracts.OutcomeSucceeded)
	return req, res
}

// get calls GetPayment and checks the outcome.
func (s *suite) get(t *testing.T, r contracts.PaymentRef, want contracts.Outcome) contracts.PaymentResult {
	t.Helper()
	res := s.h.Partner.GetPayment(s.ctx(t), r)
	if res.Outcome != want {
		t.Fatalf("GetPayment(%s) outcome %q, want %q (code %q: %s)", r.Flow, res.Outcome, want, res.PartnerCode, res.FailureMessage)
	}
	return res
}

// declineCases runs one subtest per declining situation the harness can produce.
func (s *suite) declineCases(t *testing.T, situations []string, code func(outcome string) string, run func(t *testing.T, code, failure string)) {
	for _, outcome := range situations {
		t.Run(outcome, func(t *testing.T) {
			c := code(outcome)
			if c == "" {
				t.Skipf("harness cannot produce %s", outcome)
			}
			run(t, c, s.failureOf(outcome))
		})
	}
}

// failureOf is the failure code the suite expects for a declining situation: the
// harness's override (FailureCodes), else the suite's.
func (s *suite) failureOf(situation string) string {
	if c, ok := s.h.FailureCodes[situation]; ok {
		return c
	}
	return declines[situation]
}

func (s *suite) testBarcode(t *testing.T) {
	if s.h.Barcode == nil {
		t.Skip("partner has no barcode flow")
	}
	t.Run(OK, func(t *testing.T) {
		req := s.request(contracts.FlowBarcode)
		if req.Barcode = s.h.Barcode(t, OK); req.Barcode == "" {
			t.Skip("harness has no payable barcode")
		}
		res := s.create(t, req, contracts.OutcomeSucceeded)
		if res.PartnerPaymentID == "" {
			t.Error("succeeded payment has no PartnerPaymentID")
		}
		s.get(t, ref(req, res, contracts.StatusSucceeded), contracts.OutcomeSucceeded)
	})
	s.declineCases(t, []string{InsufficientFunds, UserNotActive, Expired, BarcodeInvalid},
		func(o string) string { return s.h.Barcode(t, o) },
		func(t *testing.T, code, failure string) {
			req := s.request(contracts.FlowBarcode)
			req.Barcode = code
			res := s.create(t, req, contracts.OutcomeFailed)
			if res.FailureCode != failure {
				t.Errorf("FailureCode %q, want %q (%s)", res.FailureCode, failure, res.FailureMessage)
			}
			if containsCode(res, code) {
				t.Error("result repeats the scanned barcode")
			}
		})
}

// containsCode reports whether a result leaks the scanned barcode.
func containsCode(res contracts.PaymentResult, code string) bool {
	for _, s := range []string{res.FailureMessage, res.PartnerCode, res.PartnerPaymentID, res.PartnerActionRef} {
		if len(code) >= 8 && strings.Contains(s, code) {
			return true
		}
	}
	return false
}

func (s *suite) testLinked(t *testing.T) {
	if s.h.LinkedUser == nil {
		t.Skip("partner has no linked-account flow")
	}
	t.Run(OK, func(t *testing.T) {
		req := s.request(contracts.FlowLinked)
		if req.UserAuthorizationID = s.h.LinkedUser(OK); req.UserAuthorizationID == "" {
			t.Skip("harness has no payable linked user")
		}
		res := s.create(t, req, contracts.OutcomeSucceeded)
		s.get(t, ref(req, res, contracts.StatusSucceeded), contracts.OutcomeSucceeded)
	})
	s.declineCases(t, []string{InsufficientFunds, UserNotActive, Expired}, s.h.LinkedUser,
		func(t *testing.T, user, failure string) {
			req := s.request(contracts.FlowLinked)
			req.UserAuthorizationID = user
			if res := s.create(t, req, contracts.OutcomeFailed); res.FailureCode != failure {
				t.Errorf("FailureCode %q, want %q (%s)", res.FailureCode, failure, res.FailureMessage)
			}
		})
}

func (s *suite) testQR(t *testing.T) {
	if s.h.CustomerPaysQR == nil {
		t.Skip("partner has no QR flow")
	}
	req := s.request(contracts.FlowQR)
	res := s.create(t, req, contracts.OutcomePending)
	na := res.NextAction
	if na == nil || na.Type != contracts.NextActionDisplayQR || na.QRCodeURL == "" {
		t.Fatalf("pending QR payment has next action %+v, want display_qr with a URL", na)
	}
	if na.ExpiresAt != nil && !na.ExpiresAt.After(s.h.Now().Add(-time.Minute)) {
		t.Errorf("QR expires at %v, already in the past", na.ExpiresAt)
	}
	if res.PartnerActionRef == "" {
		t.Error("pending QR payment has no PartnerActionRef")
	}
	pending := ref(req, res, contracts.StatusRequiresAction)
	s.get(t, pending, contracts.OutcomePending)
	s.h.CustomerPaysQR(t, res, pending)
	got := s.get(t, pending, contracts.OutcomeSucceeded)
	if got.PartnerPaymentID == "" {
		t.Error("paid QR payment has no PartnerPaymentID")
	}
}

func (s *suite) testCancelSucceeded(t *testing.T) {
	req, res := s.paid(t)
	r := ref(req, res, contracts.StatusSucceeded)
	if s.h.RefundOnlyAfterCapture {
		for range 2 {
			if c := s.h.Partner.CancelPayment(s.ctx(t), r); c.Outcome != contracts.OutcomeWindowPassed {
				t.Fatalf("CancelPayment of a captured payment outcome %q, want window_passed (code %q: %s)", c.Outcome, c.PartnerCode, c.Message)
			}
		}
		s.get(t, r, contracts.OutcomeSucceeded)
		// The engine refunds instead, in full.
		s.refund(t, s.refundOf(r, req.Amount.Amount), contracts.OutcomeSucceeded)
		return
	}
	if c := s.h.Partner.CancelPayment(s.ctx(t), r); c.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("CancelPayment outcome %q, want succeeded (code %q: %s)", c.Outcome, c.PartnerCode, c.Message)
	}
	after := s.h.Partner.GetPayment(s.ctx(t), r)
	if after.Outcome != contracts.OutcomeCanceled && after.Outcome != contracts.OutcomeFailed {
		t.Errorf("after cancel GetPayment outcome %q, want canceled or failed", after.Outcome)
	}
	// Repeating an accepted cancel is safe (the resolver repeats cancels until accepted).
	if c := s.h.Partner.CancelPayment(s.ctx(t), r); c.Outcome != contracts.OutcomeSucceeded {
		t.Errorf("repeated CancelPayment outcome %q, want succeeded (code %q: %s)", c.Outcome, c.PartnerCode, c.Message)
	}
}

func (s *suite) testCancelPendingQR(t *testing.T) {
	if s.h.CustomerPaysQR == nil {
		t.Skip("partner has no QR flow")
	}
	req := s.request(contracts.FlowQR)
	res := s.create(t, req, contracts.OutcomePending)
	r := ref(req, res, contracts.StatusRequiresAction)
	if c := s.h.Partner.CancelPayment(s.ctx(t), r); c.Outcome != contracts.OutcomeSucceeded {
		t.Fatalf("CancelPayment outcome %q, want succeeded (code %q: %s)", c.Outcome, c.PartnerCode, c.Message)
	}
	switch after := s.h.Partner.GetPayment(s.ctx(t), r); after.Outcome {
	case contracts.OutcomeSucceeded, contracts.OutcomeAuthorized, contracts.OutcomeUnknown:
		t.Errorf("after withdrawing the QR GetPayment outcome %q (%s)", after.Outcome, after.FailureMessage)
	}
}

// sendRefund calls Refund with PriorRefunded set: the sum of the payment's succeeded
// refunds at the refund's first send, and the same again for every replay of it. A
// succeeded refund is counted once towards its payment's sum.
func (s *suite) sendRefund(t *testing.T, req contracts.RefundRequest) contracts.RefundResult {
	t.Helper()
	s.mu.Lock()
	prior, replay := s.prior[req.PartnerRef]
	if !replay {
		prior = s.refunded[req.Payment.PartnerRef]
		s.prior[req.PartnerRef] = prior
	}
	s.mu.Unlock()
	req.PriorRefunded = prior
	res := s.h.Partner.Refund(s.ctx(t), req)
	if res.Outcome == contracts.OutcomeSucceeded {
		s.mu.Lock()
		if !s.succeeded[req.PartnerRef] {
			s.succeeded[req.PartnerRef] = true
			s.refunded[req.Payment.PartnerRef] += req.Amount.Amount
		}
		s.mu.Unlock()
	}
	return res
}

// refund calls Refund (see sendRefund) and checks the outcome.
func (s *suite) refund(t *testing.T, req contracts.RefundRequest, want contracts.Outcome) contracts.RefundResult {
	t.Helper()
	res := s.sendRefund(t, req)
	if res.Outcome != want {
		t.Fatalf("Refund(%s) of %s outcome %q, want %q (code %q: %s)", req.PartnerRef, req.Amount, res.Outcome, want, res.PartnerCode, res.FailureMessage)
	}
	return res
}

// refundOf builds a refund request for amount of the payment; sendRefund sets its
// PriorRefunded when it is sent.
func (s *suite) refundOf(p contracts.PaymentRef, amount int64) contracts.RefundRequest {
	return contracts.RefundRequest{
		PartnerRef: s.h.NewRef(), Payment: p, Amount: contracts.Money{Amount: amount, Currency: p.Amount.Currency},
		Reason: "conformance", RequestedAt: s.h.Now(),
	}
}

func (s *suite) testRefunds(t *testing.T) {
	req, res := s.paid(t)
	p := ref(req, res, contracts.StatusSucceeded)
	part := s.part(req.Amount.Amount, 1, 3)
	s.refund(t, s.refundOf(p, part), contracts.OutcomeSucceeded)
	over := s.refund(t, s.refundOf(p, req.Amount.Amount-part+s.h.AmountStep), contracts.OutcomeFailed)
	if over.FailureMessage == "" {
		t.Error("over-refund failed without a FailureMessage")
	}
	s.refund(t, s.refundOf(p, req.Amount.Amount-part), contracts.OutcomeSucceeded)
	s.refund(t, s.refundOf(p, s.h.AmountStep), contracts.OutcomeFailed)
}

func (s *suite) testRefundReplay(t *testing.T) {
	req, res := s.paid(t)
	p := ref(req, res, contracts.StatusSucceeded)
	first := s.refundOf(p, s.part(req.Amount.Amount, 1, 2))
	a := s.refund(t, first, contracts.OutcomeSucceeded)
	b := s.refund(t, first, contracts.OutcomeSucceeded)
	if a.PartnerRefundID != b.PartnerRefundID {
		t.Errorf("replay answered refund %q, first answer was %q", b.PartnerRefundID, a.PartnerRefundID)
	}
	// The same id with another amount is not this refund: never a success.
	other := first
	other.Amount.Amount += s.h.AmountStep
	if r := s.sendRefund(t, other); r.Outcome == contracts.OutcomeSucceeded {
		t.Errorf("replayed refund id with a different amount succeeded: %+v", r)
	}
	// Had the replay refunded twice, the rest would exceed what is left.
	s.refund(t, s.refundOf(p, req.Amount.Amount-first.Amount.Amount), contracts.OutcomeSucceeded)
}

func (s *suite) testNotFound(t *testing.T) {
	flows := s.harnessFlows()
	for _, flow := range allFlows {
		t.Run(string(flow), func(t *testing.T) {
			if !flows[flow] {
				t.Skipf("partner has no %s flow", flow)
			}
			r := contracts.PaymentRef{PartnerRef: s.h.NewRef(), Flow: flow,
				Amount: s.nextAmount(), Status: contracts.StatusUnknown}
			if !s.h.NotFoundIsFinal {
				s.get(t, r, contracts.OutcomeNotFound)
				return
			}
			s.get(t, r, contracts.OutcomeFailed)
			// The query fenced the ref: a payment arriving under it late never succeeds.
			req, skip := s.probe(t, r.Amount)
			if skip != "" {
				return
			}
			req.PartnerRef = r.PartnerRef
			s.create(t, req, contracts.OutcomeFailed)
			s.get(t, r, contracts.OutcomeFailed)
		})
	}
}
