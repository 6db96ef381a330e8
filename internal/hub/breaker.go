package hub

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"

	"payhub/contracts"
)

// BreakerConfig tunes the per-partner circuit breakers. While a partner's breaker is open,
// new payments for it fail fast with 503 partner_unavailable instead of piling up unknown
// outcomes; payments already in flight and the resolver's inquiries are not stopped.
type BreakerConfig struct {
	// ConsecutiveFailures opens the breaker: this many partner calls in a row whose outcome
	// was unknown (timeouts, 5xx, resets). Declines are answers, not failures.
	ConsecutiveFailures uint32
	// OpenFor is how long the breaker stays open before letting trial calls through.
	OpenFor time.Duration
	// TrialCalls is how many calls a half-open breaker lets through.
	TrialCalls uint32
}

// DefaultBreakerConfig opens after 5 unknown outcomes in a row, for 30 seconds.
var DefaultBreakerConfig = BreakerConfig{ConsecutiveFailures: 5, OpenFor: 30 * time.Second, TrialCalls: 3}

// errOutcomeUnknown marks a partner call whose outcome was unknown, for the breaker.
var errOutcomeUnknown = errors.New("partner outcome unknown")

type breaker = gobreaker.CircuitBreaker[contracts.PaymentResult]

func newBreakers(methods map[contracts.Method]contracts.Partner, cfg BreakerConfig, m *Metrics) map[contracts.Method]*breaker {
	out := make(map[contracts.Method]*breaker, len(methods))
	for method := range methods {
		m.breakerState(method, gobreaker.StateClosed)
		out[method] = gobreaker.NewCircuitBreaker[contracts.PaymentResult](gobreaker.Settings{
			Name:        string(method),
			MaxRequests: cfg.TrialCalls,
			Timeout:     cfg.OpenFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= cfg.ConsecutiveFailures },
			OnStateChange: func(_ string, _, to gobreaker.State) {
				m.breakerState(method, to)
			},
		})
	}
	return out
}

// partnerUnavailable refuses a new payment before anything is written while the partner's
// breaker is open; the idempotency key stays free for a retry.
func (h *Hub) partnerUnavailable(method contracts.Method) error {
	if b := h.breakers[method]; b != nil && b.State() == gobreaker.StateOpen {
		return contracts.Errorf(http.StatusServiceUnavailable, contracts.CodePartnerUnavailable,
			"%s is not answering reliably right now; nothing was charged. Retry shortly or use another method.", method)
	}
	return nil
}

// createThroughBreaker calls the partner's create under its breaker. A call the breaker
// refuses was never sent, so the payment definitely failed.
func (h *Hub) createThroughBreaker(ctx context.Context, method contracts.Method, partner contracts.Partner, req contracts.PaymentRequest) contracts.PaymentResult {
	b := h.breakers[method]
	if b == nil {
		return partner.CreatePayment(ctx, req)
	}
	res, err := b.Execute(func() (contracts.PaymentResult, error) {
		r := partner.CreatePayment(ctx, req)
		if r.Outcome == contracts.OutcomeUnknown {
			return r, errOutcomeUnknown
		}
		return r, nil
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return contracts.PaymentResult{Outcome: contracts.OutcomeFailed, FailureCode: contracts.FailurePartnerUnavailable,
			FailureMessage: "The partner was not answering reliably; the payment was not sent."}
	}
	return res
}
