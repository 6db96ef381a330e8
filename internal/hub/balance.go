package hub

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"payhub/contracts"
)

// BalanceQuery is a till's question about a presented stored-value card (nanaco).
type BalanceQuery struct {
	// Method is the stored-value method (nanaco).
	Method contracts.Method
	// TerminalID is the till that asks; the partner sees its SequenceRef terminal.
	TerminalID string
	// Card is what the till's reader read. Never stored or logged.
	Card contracts.PresentedCard
}

// DefaultBalanceRate and DefaultBalanceBurst bound a store's balance inquiries (each is a
// partner call that moves nothing): a busy store's tills ask a few times a second; a till
// that loops, or a stolen store token used to probe card numbers, is held to that.
const (
	DefaultBalanceRate  rate.Limit = 5
	DefaultBalanceBurst int        = 20
)

// StoredValueBalance asks the method's partner what a presented card holds, for the
// caller's store: 200 with the balance; 404 not_found for a card the partner does not
// know; 429 rate_limited past the store's bound; 503 partner_unavailable when the partner
// did not answer. It writes nothing and moves no money.
func (h *Hub) StoredValueBalance(ctx context.Context, c Caller, q BalanceQuery) (contracts.BalanceInquiry, error) {
	sv, ok := h.partners[q.Method].(contracts.StoredValue)
	if !ok {
		return contracts.BalanceInquiry{}, fieldError(contracts.CodeMethodNotSupported, "/method", "Method %q keeps no balance to ask about.", q.Method)
	}
	if wait, ok := h.balances.admit(c.StoreID, h.clock.Now()); !ok {
		return contracts.BalanceInquiry{}, retryLater("This store asked for balances too often; ask again shortly.", wait)
	}
	start := time.Now()
	res := sv.InquireBalance(ctx, sequenceTerminal(c.StoreID, q.TerminalID), q.Card)
	h.metrics.partnerCall(q.Method, "balance", res.Outcome, time.Since(start))
	switch res.Outcome {
	case contracts.OutcomeSucceeded:
		return res, nil
	case contracts.OutcomeFailed:
		if res.FailureCode == "card_not_found" {
			return res, contracts.Errorf(contracts.CodeNotFound, "%s knows no such card.", q.Method)
		}
		h.log.WarnContext(ctx, "balance inquiry refused", "method", q.Method, "failure_code", res.FailureCode, "message", res.FailureMessage)
		return res, contracts.Errorf(contracts.CodePartnerUnavailable, "%s refused the balance inquiry (%s).", q.Method, res.FailureCode)
	}
	return res, contracts.Errorf(contracts.CodePartnerUnavailable, "%s did not answer the balance inquiry; ask again.", q.Method)
}

// balanceLimits keeps one token bucket per store, in memory (each instance bounds its own
// partner calls); past balanceLimitEntries stores, idle buckets go.
type balanceLimits struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	store map[string]*balanceBucket
}

type balanceBucket struct {
	lim  *rate.Limiter
	used time.Time
}

const balanceLimitEntries = 10_000

func newBalanceLimits(r rate.Limit, burst int) *balanceLimits {
	if r <= 0 {
		r = DefaultBalanceRate
	}
	if burst <= 0 {
		burst = DefaultBalanceBurst
	}
	return &balanceLimits{rate: r, burst: burst, store: map[string]*balanceBucket{}}
}

// admit takes one inquiry of storeID from its bucket; false and the wait when it is empty.
func (l *balanceLimits) admit(storeID string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.store[storeID]
	if b == nil {
		if len(l.store) >= balanceLimitEntries {
			for k, v := range l.store {
				if now.Sub(v.used) > idleTime(l.rate, l.burst) {
					delete(l.store, k)
				}
			}
			if len(l.store) >= balanceLimitEntries {
				l.store = map[string]*balanceBucket{}
			}
		}
		b = &balanceBucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.store[storeID] = b
	}
	b.used = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}
