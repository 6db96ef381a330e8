package lab

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"payhub/contracts"
)

// Abandoning tills. A real till whose payment request takes too long gives up on it: it
// looks the payment up by its order (GET /v1/payments?order_id=…) and cancels it. payhub
// answers the cancel of an open payment (processing, unknown) 202 with cancel_requested,
// and then owes the till the payment canceled, or succeeded and refunded in full: it must
// never keep the money (contracts/openapi.yaml, cancelPayment). When the partner's cancel
// window has passed (409 cancel_window_passed: LINE Pay never cancels a captured payment)
// the till refunds everything itself.

// crashAbandonLookupWait is how long after giving up an abandoning till keeps looking
// for the payment before it concludes its create wrote none. A create writes its payment
// before it calls the partner, within milliseconds of arriving; one that finds nothing by
// then was cut before the write (a kill, the till's own timeout), and the till never sends
// it again.
const crashAbandonLookupWait = 3 * time.Second

// tillCancel is what an abandoning till did about one payment it found.
type tillCancel struct {
	PaymentID string
	Method    string
	// Answer is the cancel's definite answer ("202 unknown", "409 cancel_window_passed");
	// empty while none came (the request is then sent again during settlement).
	Answer string
	// Accepted: payhub took the cancel on (200 canceled, or 202 cancel_requested).
	Accepted bool
	// Refunded: the cancel window had passed and the till asked for a full refund;
	// RefundAnswer is that request's answer.
	Refunded     bool
	RefundAnswer string
}

// abandonReport is what the abandoning tills did during a run.
type abandonReport struct {
	// abandoned counts creates a till gave up on; notWritten those whose payment the
	// till never found; voided the succeeded nanaco sales a till voided (cancels).
	abandoned, notWritten, voided int
	// cancels are the payments the tills found, by payment id.
	cancels map[string]tillCancel
}

// abandonSummary is abandonReport in numbers, for the verdict.
type abandonSummary struct {
	Abandoned, NotWritten, Voided, CancelsSent, CancelsAccepted, CancelsRefused, TillRefunds int
	// AcceptedByMethod counts the accepted cancels per payment method.
	AcceptedByMethod map[string]int
}

func (r abandonReport) summary() abandonSummary {
	s := abandonSummary{Abandoned: r.abandoned, NotWritten: r.notWritten, Voided: r.voided, AcceptedByMethod: map[string]int{}}
	for _, c := range r.cancels {
		if !strings.HasPrefix(c.Answer, "not sent") {
			s.CancelsSent++
		}
		if c.Accepted {
			s.CancelsAccepted++
			s.AcceptedByMethod[c.Method]++
		} else if strings.HasPrefix(c.Answer, "409") {
			s.CancelsRefused++
		}
		if c.Refunded {
			s.TillRefunds++
		}
	}
	return s
}

// answered records the answer of an abandoning till's cancel sent again during
// settlement (till.resend's callback; a 409 cancel_window_passed then is left as it is).
func (r abandonReport) answered(req tillRequest, ans apiAnswer) {
	if req.cancelOf == "" {
		return
	}
	c := r.cancels[req.cancelOf]
	c.Answer, c.Accepted = describeAnswer(ans), cancelAccepted(ans)
	r.cancels[req.cancelOf] = c
}

// describeAnswer is an answer as the report shows it: status and payment status or error code.
func describeAnswer(a apiAnswer) string {
	what := a.str("status")
	if a.status >= 400 {
		what = a.str("code")
	}
	return fmt.Sprintf("%d %s", a.status, what)
}

// cancelAccepted reports whether payhub took a cancel on: 200 with the payment canceled,
// or 202 (recorded as cancel_requested, the outcome still open).
func cancelAccepted(a apiAnswer) bool {
	return (a.status == http.StatusOK && a.str("status") == string(contracts.StatusCanceled)) ||
		a.status == http.StatusAccepted
}

func (s *loadStats) abandonedCreate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abandons.abandoned++
}

func (s *loadStats) voidedSale() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abandons.voided++
}

func (s *loadStats) notWritten() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abandons.notWritten++
}

func (s *loadStats) recordCancel(c tillCancel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abandons.cancels[c.PaymentID] = c
}

// abandonReport returns a copy of what the abandoning tills did.
func (s *loadStats) abandonReport() abandonReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.abandons
	r.cancels = make(map[string]tillCancel, len(s.abandons.cancels))
	for id, c := range s.abandons.cancels {
		r.cancels[id] = c
	}
	return r
}

// createOrGiveUp sends a create once and waits abandonAfter for its answer. answered is
// false when the till gives up: no answer in time (a timeout, a connection error), a 5xx
// or 429, or a payment whose outcome is open (unknown, processing).
func (t *till) createOrGiveUp(ctx context.Context, body map[string]any, stats *loadStats) (ans apiAnswer, answered bool) {
	raw, err := json.Marshal(body)
	if err != nil {
		return apiAnswer{}, false
	}
	cctx, cancel := context.WithTimeout(ctx, t.abandonAfter)
	defer cancel()
	ans, err = t.once(cctx, http.MethodPost, "/v1/payments", cryptorand.Text(), raw)
	if err != nil || ans.retryable() {
		return apiAnswer{}, false
	}
	switch contracts.Status(ans.str("status")) {
	case contracts.StatusUnknown, contracts.StatusProcessing:
		stats.answered("payment", ans)
		return ans, false
	}
	return ans, true
}

// void is a till voiding a sale that succeeded (the customer walked away): it cancels it
// as an abandoning till does, and payhub owes it the same.
func (t *till) void(ctx context.Context, p apiAnswer, stats *loadStats) {
	stats.voidedSale()
	t.cancelAbandoned(ctx, p, stats)
}

// abandon is the till giving up on order orderID: it finds the payment and cancels it.
func (t *till) abandon(ctx context.Context, orderID string, stats *loadStats) {
	stats.abandonedCreate()
	found, err := t.findOrder(ctx, orderID, stats)
	if err != nil {
		stats.note(err.Error())
		return
	}
	if len(found) == 0 {
		stats.notWritten()
		return
	}
	for _, p := range found {
		t.cancelAbandoned(ctx, p, stats)
	}
}

// findOrder lists the payments of order orderID. It asks again after a connection error
// or a 5xx (serve may be restarting) for the till's patience, and after an empty list
// until crashAbandonLookupWait has passed (the create may still be writing).
func (t *till) findOrder(ctx context.Context, orderID string, stats *loadStats) ([]apiAnswer, error) {
	path := "/v1/payments?order_id=" + url.QueryEscape(orderID)
	start := time.Now()
	deadline := start.Add(crashTillPatience)
	backoff := 100 * time.Millisecond
	for {
		ans, err := t.once(ctx, http.MethodGet, path, "", nil)
		if err == nil && ans.status == http.StatusOK {
			var found []apiAnswer
			items, _ := ans.body["data"].([]any)
			for _, it := range items {
				if p, ok := it.(map[string]any); ok {
					found = append(found, apiAnswer{status: http.StatusOK, body: p})
				}
			}
			if len(found) > 0 || time.Since(start) >= crashAbandonLookupWait {
				return found, nil
			}
		} else if err == nil && !ans.retryable() {
			return nil, fmt.Errorf("GET %s: %s", path, describeAnswer(ans))
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !time.Now().Before(deadline) {
			if err == nil {
				err = fmt.Errorf("status %d", ans.status)
			}
			return nil, fmt.Errorf("GET %s: no list after %s: %w", path, crashTillPatience, err)
		}
		stats.retries.Add(1)
		if err := sleepCtx(ctx, backoff); err != nil {
			return nil, err
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// cancelAbandoned cancels a payment the till gave up on; past the cancel window it
// refunds everything instead.
func (t *till) cancelAbandoned(ctx context.Context, p apiAnswer, stats *loadStats) {
	id := p.str("id")
	rec := tillCancel{PaymentID: id, Method: p.str("method")}
	defer func() { stats.recordCancel(rec) }()
	switch status := contracts.Status(p.str("status")); status {
	case contracts.StatusFailed, contracts.StatusCanceled:
		rec.Answer = "not sent: payment " + string(status)
		return
	}
	raw, _ := json.Marshal(map[string]any{"reason": "crashtest: the till gave up"})
	ans, err := t.sendRequest(ctx, tillRequest{method: http.MethodPost, path: "/v1/payments/" + id + "/cancel",
		key: cryptorand.Text(), body: raw, cancelOf: id}, stats)
	if err != nil {
		stats.note(err.Error())
		return // sent again during settlement, which records its answer
	}
	stats.answered("cancel", ans)
	rec.Answer, rec.Accepted = describeAnswer(ans), cancelAccepted(ans)
	if rec.Accepted || ans.status != http.StatusConflict {
		return
	}
	refund := ans.str("code") == string(contracts.CodeCancelWindowPassed)
	if !refund && ans.str("code") == string(contracts.CodeInvalidState) {
		// A payment captured from an authorization is refunded, not canceled.
		cur, err := t.sendRequest(ctx, tillRequest{method: http.MethodGet, path: "/v1/payments/" + id}, stats)
		refund = err == nil && cur.status == http.StatusOK && cur.str("status") == string(contracts.StatusSucceeded)
	}
	if !refund {
		return
	}
	rec.Refunded = true
	ans, err = t.send(ctx, http.MethodPost, "/v1/payments/"+id+"/refunds",
		map[string]any{"reason": "crashtest: the till gave up after the cancel window"}, stats)
	if err != nil {
		stats.note(err.Error())
		return
	}
	stats.answered("till refund", ans)
	rec.RefundAnswer = describeAnswer(ans)
}

// cancelsPending are the payments whose cancel payhub accepted and has not yet honoured
// (canceled, failed or refunded in full) while it still works on them: the outcome is open
// or the cancel request still stands (cancel_requested). One payhub settled with the
// request dropped will not change by waiting.
func cancelsPending(records []payhubRecord, cancels map[string]tillCancel) []string {
	var pending []string
	for _, rec := range records {
		p := rec.Payment
		if tc, ok := cancels[p.ID]; ok && tc.Accepted && !cancelHonoured(p) && (paymentOpen(p.Status) || p.CancelRequested) {
			pending = append(pending, rec.Payment.ID)
		}
	}
	slices.Sort(pending)
	return pending
}

// cancelHonoured reports whether payhub ended a payment the way an accepted cancel obliges it
// to: canceled or failed, or succeeded and refunded in full.
func cancelHonoured(p contracts.Payment) bool {
	switch p.Status {
	case contracts.StatusCanceled, contracts.StatusFailed:
		return true
	case contracts.StatusSucceeded:
		return p.AmountCaptured > 0 && p.AmountRefunded == p.AmountCaptured
	}
	return false
}

// checkCancelHonoured counts a payment whose cancel payhub accepted but whose money was
// kept: the partner still charges (less refunds) or holds some of it, or payhub did not
// end it canceled, failed or refunded in full.
func (c *crashCounts) checkCancelHonoured(rec payhubRecord, entries []partnerPayment, tc tillCancel) {
	p := rec.Payment
	var why []string
	for _, lp := range entries {
		if kept := lp.Charged - lp.Refunded; kept > 0 || lp.Held {
			why = append(why, fmt.Sprintf("partner %s %s keeps %d", lp.PartnerRef, lp.Status, kept))
		}
	}
	if !cancelHonoured(p) {
		why = append(why, fmt.Sprintf("payhub %s, captured %d, refunded %d", p.Status, p.AmountCaptured, p.AmountRefunded))
	}
	if len(why) > 0 {
		c.problem(&c.CancelKept, "%s (%s): cancel accepted (%s) but money kept: %s", p.ID, p.Method, tc.Answer, strings.Join(why, "; "))
	}
}
