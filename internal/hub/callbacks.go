package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"payhub/contracts"
)

// CallbackConfig says which partner callbacks payhub listens to (docs/partners/paypay.md §10).
type CallbackConfig struct {
	// Allow lists, per method, the source networks its partner's callbacks may come from.
	// A method without an entry has its callbacks refused.
	Allow map[contracts.Method][]netip.Prefix
	// Tolerance: a callback claiming a change further from its arrival than this is stale
	// and ignored (zero means DefaultCallbackTolerance).
	Tolerance time.Duration
	// MaxWaiting bounds the inbox: while a partner has this many callbacks waiting for the
	// worker, its next ones are dropped, counted (result "dropped") and answered 503 so
	// that the partner sends them again later (zero means DefaultCallbackInboxLimit).
	MaxWaiting int
}

// DefaultCallbackTolerance matches Standard Webhooks' five minutes.
const DefaultCallbackTolerance = 5 * time.Minute

// DefaultCallbackInboxLimit is how many callbacks of one partner may wait in the inbox: the
// worker confirms about 50 a second, so this is minutes of backlog, while a flood from an
// allowlisted address stops growing the table.
const DefaultCallbackInboxLimit = 10_000

// CheckCallbackSource refuses, before anything of the request is read, a callback for a
// partner that takes none (404) or from an address outside the partner's allowlist (403).
func (h *Hub) CheckCallbackSource(ctx context.Context, method contracts.Method, source netip.Addr) error {
	if _, ok := h.partners[method].(contracts.NotificationParser); !ok {
		return notFound()
	}
	if !h.callbackAllowed(method, source) {
		h.log.WarnContext(ctx, "partner callback from an address outside the allowlist", "partner", method, "source", source.String())
		h.metrics.callback(method, "refused")
		return contracts.Errorf(contracts.CodeForbidden, "Callbacks are not accepted from this address.")
	}
	return nil
}

// ReceiveCallback takes one partner callback into the inbox, or refuses it: for a partner
// that takes none (404), from an address outside the partner's allowlist (403; the HTTP
// layer asks CheckCallbackSource before it reads the body), past the inbox's bound (503,
// dropped and counted), or unreadable (400; only its size and digest are kept). A retry or
// replay of a callback already in the inbox is dropped — an unreadable one, or one about no
// payment, by its body's digest; a stale one is kept and ignored. Nothing changes here: the
// inbox worker confirms each callback with the partner.
func (h *Hub) ReceiveCallback(ctx context.Context, method contracts.Method, source netip.Addr, body []byte) error {
	if err := h.CheckCallbackSource(ctx, method, source); err != nil {
		return err
	}
	parser := h.partners[method].(contracts.NotificationParser)
	limit := h.callbacks.MaxWaiting
	if limit <= 0 {
		limit = DefaultCallbackInboxLimit
	}
	waiting, err := h.store.CountWaitingCallbacks(ctx, method, limit)
	if err != nil {
		return err
	}
	if waiting >= limit {
		h.log.WarnContext(ctx, "partner callback dropped: the inbox is full", "partner", method, "waiting", waiting)
		h.metrics.callback(method, "dropped")
		return contracts.Errorf(contracts.CodeServiceUnavailable, "Too many callbacks are waiting; send this one again later.")
	}
	now := h.now()
	cb := contracts.PartnerCallback{ID: h.ids.New(contracts.PrefixPartnerCallback), Partner: method, SourceIP: source.String(), Body: body,
		ReceivedAt: now, Status: contracts.CallbackReceived}
	n, err := parser.ParseNotification(body)
	switch {
	case errors.Is(err, contracts.ErrNotAPaymentNotification):
		cb.EventID, cb.Status, cb.Note, cb.ProcessedAt = "no-payment:"+bodyDigest(body), contracts.CallbackIgnored, "about no payment", &now
		err = nil
	case err != nil:
		// Only metadata: an unreadable body is nobody's record, and may hold anything.
		cb.EventID, cb.Status, cb.ProcessedAt = "unreadable:"+bodyDigest(body), contracts.CallbackRejected, &now
		cb.Note = fmt.Sprintf("unreadable, not kept: %d bytes, sha256 %s", len(body), bodyDigest(body))
		cb.Body = []byte{}
	case h.stale(n, now):
		cb.EventID, cb.Status, cb.ProcessedAt = n.EventID, contracts.CallbackIgnored, &now
		cb.Note = fmt.Sprintf("stale: claims a change at %s, received %s", n.OccurredAt.UTC().Format(time.RFC3339), now.Format(time.RFC3339))
	default:
		cb.EventID = n.EventID
	}
	fresh, rerr := h.store.RecordCallback(ctx, cb)
	if rerr != nil {
		return rerr
	}
	if !fresh {
		h.log.InfoContext(ctx, "partner callback already received", "partner", method, "event_id", cb.EventID)
		h.metrics.callback(method, "duplicate")
	} else {
		h.metrics.callback(method, string(cb.Status))
	}
	if err != nil {
		return contracts.Errorf(contracts.CodeInvalidRequest, "The callback could not be read.")
	}
	return nil
}

// bodyDigest is the hex SHA-256 of a callback body: the identity of a callback that names
// none.
func bodyDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func (h *Hub) callbackAllowed(method contracts.Method, source netip.Addr) bool {
	for _, p := range h.callbacks.Allow[method] {
		if p.Contains(source.Unmap()) {
			return true
		}
	}
	return false
}

func (h *Hub) stale(n contracts.PartnerNotification, now time.Time) bool {
	if n.OccurredAt == nil {
		return false
	}
	d := now.Sub(*n.OccurredAt)
	return d > h.callbacks.Tolerance || -d > h.callbacks.Tolerance
}

// clip keeps audit notes short.
func clip(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}

// ProcessCallbacks confirms the received callbacks with their partners and returns how
// many it took from the inbox. A callback never moves a payment by itself: the worker asks
// the partner (GetPayment) and records what the partner says, through the same paths as
// polling and the resolver.
func (h *Hub) ProcessCallbacks(ctx context.Context) (int, error) {
	now := h.now()
	cbs, err := h.store.ClaimCallbacks(ctx, now, now.Add(time.Minute), 50)
	if err != nil {
		return 0, err
	}
	for _, cb := range cbs {
		if stopping(ctx) {
			break // the lease of the rest expires and another pass takes them
		}
		work := context.WithoutCancel(ctx)
		status, note := h.confirmCallback(work, cb)
		if status == contracts.CallbackReceived {
			continue // the partner did not answer: the lease expires and the next pass retries
		}
		if err := h.store.FinishCallback(work, cb.ID, status, clip(note), h.now()); err != nil {
			h.log.ErrorContext(ctx, "finish partner callback", "callback_id", cb.ID, "err", err)
			continue
		}
		h.metrics.callback(cb.Partner, string(status))
	}
	return len(cbs), nil
}

// RunCallbackProcessor processes the inbox every interval until ctx ends.
func (h *Hub) RunCallbackProcessor(ctx context.Context, interval time.Duration) {
	h.repeat(ctx, interval, true, "process partner callbacks", func(ctx context.Context) error {
		_, err := h.ProcessCallbacks(ctx)
		return err
	})
}

// confirmCallback finds the payment a callback names and, when its state is one the
// partner may have moved, asks the partner.
func (h *Hub) confirmCallback(ctx context.Context, cb contracts.PartnerCallback) (contracts.CallbackStatus, string) {
	parser, ok := h.partners[cb.Partner].(contracts.NotificationParser)
	if !ok {
		return contracts.CallbackIgnored, "partner not configured"
	}
	n, err := parser.ParseNotification(cb.Body)
	if err != nil {
		return contracts.CallbackRejected, clip(err.Error())
	}
	p, err := h.callbackPayment(ctx, cb.Partner, n)
	if err != nil {
		return contracts.CallbackIgnored, "no such payment"
	}
	if p.Status == contracts.StatusRequiresAction || p.Status == contracts.StatusUnknown {
		// Confirmed under the payment's lease: the resolver or the poller of another
		// instance may be at it (leases.go). Busy: left for the next pass.
		work, cur, release, ok := h.leasedPayment(ctx, workerCallbacks, p)
		if !ok {
			return contracts.CallbackReceived, ""
		}
		defer release()
		ctx, p = work, cur
	}
	var q contracts.Payment
	switch p.Status {
	case contracts.StatusRequiresAction:
		q, err = h.refresh(ctx, p)
	case contracts.StatusUnknown:
		q, err = h.inquire(ctx, p)
	default:
		return contracts.CallbackIgnored, fmt.Sprintf("payment %s is %s: the callback (%s) moves nothing", p.ID, p.Status, n.State)
	}
	if err != nil {
		return contracts.CallbackReceived, "" // left for the next pass (the lease expires)
	}
	return contracts.CallbackProcessed, fmt.Sprintf("confirmed with the partner: payment %s %s → %s (callback said %s)", p.ID, p.Status, q.Status, n.State)
}

// callbackPayment finds the payment by the partner-facing id, else by the partner's id,
// else by the payhub id the partner-facing id is derived from (an earlier attempt's).
func (h *Hub) callbackPayment(ctx context.Context, method contracts.Method, n contracts.PartnerNotification) (contracts.Payment, error) {
	p, err := h.store.FindPaymentByPartnerRef(ctx, method, n.PartnerRef, n.PartnerPaymentID)
	if err == nil || !errors.Is(err, contracts.ErrNotFound) || n.PartnerRef == "" {
		return p, err
	}
	if i := strings.LastIndexByte(n.PartnerRef, '_'); i > 0 && contracts.ValidID(contracts.PrefixPayment, n.PartnerRef[:i]) {
		if p, err = h.store.GetPayment(ctx, "", n.PartnerRef[:i]); err == nil && p.Method == method {
			return p, nil
		}
	}
	return contracts.Payment{}, contracts.ErrNotFound
}
