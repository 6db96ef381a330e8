package hub

import (
	"errors"
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

type breaker = gobreaker.TwoStepCircuitBreaker[contracts.PaymentResult]

func newBreakers(methods map[contracts.Method]contracts.Partner, cfg BreakerConfig, m *Metrics) map[contracts.Method]*breaker {
	out := make(map[contracts.Method]*breaker, len(methods))
	for method := range methods {
		m.breakerState(method, gobreaker.StateClosed)
		out[method] = gobreaker.NewTwoStepCircuitBreaker[contracts.PaymentResult](gobreaker.Settings{
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

// errOutcomeUnknown marks a partner call whose outcome was unknown, for the breaker.
var errOutcomeUnknown = errors.New("partner outcome unknown")

// admit asks the partner's breaker to let a new payment through. It runs after the
// idempotency key was claimed (so a retry of a known request is replayed, never refused)
// and before anything is written: a refusal frees the key and creates no payment. The
// returned done reports the call's outcome to the breaker.
func (h *Hub) admit(method contracts.Method) (done func(contracts.Outcome), err error) {
	b := h.breakers[method]
	if b == nil {
		return func(contracts.Outcome) {}, nil
	}
	report, err := b.Allow()
	if err != nil {
		return nil, contracts.Errorf(contracts.CodePartnerUnavailable,
			"%s is not answering reliably right now; nothing was charged. Retry shortly or use another method.", method)
	}
	// Declines are answers; only an unknown outcome counts against the partner.
	return func(o contracts.Outcome) {
		if o == contracts.OutcomeUnknown {
			report(errOutcomeUnknown)
			return
		}
		report(nil)
	}, nil
}
