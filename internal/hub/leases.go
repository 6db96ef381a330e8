package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"payhub/contracts"
)

// Several payhub instances share one database (docs/design.md, "Background work under
// leases"). Each background worker takes every object it works on — an open payment,
// refund or top-up — and every maintenance pass under a work lease (contracts.WorkLease:
// owner, expiry), taken in one statement, so at most one instance works on it at a time:
//
//   - after taking the lease the worker reads the object again and leaves it unless it is
//     as the worker listed it: another instance may have settled or rescheduled it between
//     the list and the lease, and working on it again would ask, cancel or refund twice;
//   - every transaction the worker writes under the lease first locks the lease and checks
//     it is still the worker's and in force (contracts.LeaseTx): a worker that lost its
//     lease mid-way (it stalled past the expiry and another instance took over) writes
//     nothing — the write is refused with contracts.ErrLeaseLost;
//   - the worker releases the lease when done; a killed instance's leases are taken over by
//     another instance's next pass once its heartbeat is older than InstanceConfig.Lease
//     (TakeLease's aliveAfter), and any lease ends at InstanceConfig.WorkLease.
//
// The owner is the instance id and the worker's name, so that two workers of one instance
// (the resolver and the poller both look at a requires_action payment with a cancel
// request) keep apart too. SQLite serves one process; the leases cost little there and
// keep the code one.

// Workers that take leases (the second half of a lease's owner).
const (
	workerResolver    = "resolver"
	workerPoller      = "poller"
	workerCallbacks   = "callbacks"
	workerMaintenance = "maintenance"
)

// Maintenance tasks: one lease per task name, so one instance runs each pass.
const (
	taskReleaseOrphanedKeys = "release_orphaned_keys"
	taskIdempotencyJanitor  = "idempotency_janitor"
	taskRetention           = "retention"
)

// DefaultWorkLease outlives the longest chain of partner calls one object's work makes
// (an inquiry, a cancel, a refund and a refund inquiry of 30 s each) with margin.
const DefaultWorkLease = 3 * time.Minute

// leaseKey is the context key of the lease a worker works under.
type leaseKey struct{}

// heldLease is the lease a context's work is done under; every transaction of the hub's
// store under that context checks it first (ledgerStore.InTx).
type heldLease struct {
	kind   contracts.LeaseKind
	object string
	owner  string
	now    func() time.Time
}

// leaseOwner names a worker of this instance as a lease's owner.
func (h *Hub) leaseOwner(worker string) string { return h.instanceID + "/" + worker }

// takeLease takes worker's lease on (kind, object). ok false: another instance (or another
// worker) has it, or the database failed; the caller leaves the object to a later pass. The
// returned context carries the lease, so that the work's transactions check it, and is
// renewed while the work runs (keepLease); release ends it.
func (h *Hub) takeLease(ctx context.Context, worker string, kind contracts.LeaseKind, object string) (leased context.Context, release func(), ok bool) {
	if h.noLeases {
		return ctx, func() {}, true
	}
	l := heldLease{kind: kind, object: object, owner: h.leaseOwner(worker), now: h.now}
	now := h.now()
	taken, err := h.store.TakeLease(ctx, contracts.WorkLease{Kind: kind, Object: object, Owner: l.owner, Instance: h.instanceID,
		ExpiresAt: now.Add(h.instance.WorkLease)}, now, now.Add(-h.instance.Lease))
	if err != nil {
		if ctx.Err() == nil {
			h.log.ErrorContext(ctx, "take work lease", "kind", kind, "object", object, "err", err)
		}
		return ctx, nil, false
	}
	if !taken {
		h.metrics.leaseBusy(string(kind))
		return ctx, nil, false
	}
	leased, lose := context.WithCancelCause(context.WithValue(ctx, leaseKey{}, l))
	stopRenewing := h.keepLease(leased, lose, l)
	release = func() {
		stopRenewing() // first: no renewal may run after the lease is gone
		if err := h.store.ReleaseLease(context.WithoutCancel(ctx), kind, object, l.owner); err != nil {
			h.log.ErrorContext(ctx, "release work lease", "kind", kind, "object", object, "err", err)
		}
		lose(nil)
	}
	return leased, release, true
}

// keepLease renews l every third of the work lease while its work runs, so that a chain of
// partner calls slower than the lease (timeouts, retries) keeps it: another instance takes
// a live instance's lease only once it expired. A renewal that finds the lease lost — this
// instance was taken for gone (its heartbeat stalled) and another took the work over —
// cancels the work with cause ErrLeaseLost, so it makes no further partner call; its
// writes are refused anyway (HoldLease). stop ends the renewals and waits for the last.
func (h *Hub) keepLease(work context.Context, lose context.CancelCauseFunc, l heldLease) (stop func()) {
	renewing, stopRenewing := context.WithCancel(work)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for h.instance.RenewWait(renewing, h.instance.WorkLease/3) == nil && renewing.Err() == nil {
			if !h.renewLease(renewing, l) {
				lose(fmt.Errorf("work lease %s %s lost at its renewal: %w", l.kind, l.object, contracts.ErrLeaseLost))
				return
			}
		}
	}()
	return func() {
		stopRenewing()
		<-done
	}
}

// renewLease extends l to a work lease from now; false only when the lease is lost. A
// renewal the database fails is tried again a third later, while two thirds still run.
func (h *Hub) renewLease(ctx context.Context, l heldLease) bool {
	now := h.now()
	renewed, err := h.store.RenewLease(ctx, l.kind, l.object, l.owner, now, now.Add(h.instance.WorkLease))
	if err != nil {
		if ctx.Err() == nil {
			h.log.ErrorContext(ctx, "renew work lease", "kind", l.kind, "object", l.object, "err", err)
		}
		return true
	}
	if !renewed {
		h.log.WarnContext(ctx, "work lease lost at its renewal: work stopped", "kind", l.kind, "object", l.object)
	}
	return renewed
}

// runTask runs one pass of a maintenance task under its lease; another instance's pass in
// progress means this one is skipped (ran=false).
func (h *Hub) runTask(ctx context.Context, task string, pass func(ctx context.Context) error) (ran bool, err error) {
	leased, release, ok := h.takeLease(ctx, workerMaintenance, contracts.LeaseTask, task)
	if !ok {
		return false, nil
	}
	defer release()
	return true, pass(leased)
}

// checkLease locks and checks the lease ctx's work is done under, if any, in tx.
func checkLease(ctx context.Context, tx contracts.Tx) error {
	l, ok := ctx.Value(leaseKey{}).(heldLease)
	if !ok {
		return nil
	}
	return tx.HoldLease(ctx, l.kind, l.object, l.owner, l.now())
}

// logWriteError logs a worker's failed write as what: at warning level when it was refused
// because the worker's lease was lost (another instance took the work over; nothing was
// written) or its work was cancelled for that reason (keepLease), as an error otherwise.
func (h *Hub) logWriteError(ctx context.Context, what string, err error, args ...any) {
	args = append(args, "err", err)
	if errors.Is(err, contracts.ErrLeaseLost) || errors.Is(context.Cause(ctx), contracts.ErrLeaseLost) {
		h.log.WarnContext(ctx, what+": work lease lost, nothing written", args...)
		return
	}
	h.log.ErrorContext(ctx, what, args...)
}

// samePayment reports whether the payment read again under a lease is as it was listed:
// nothing wrote to it since.
func samePayment(listed, cur contracts.Payment) bool {
	return cur.Status == listed.Status && cur.EventSequence == listed.EventSequence &&
		cur.UpdatedAt.Equal(listed.UpdatedAt) && cur.CancelRequested == listed.CancelRequested &&
		cur.AmountRefunded == listed.AmountRefunded && cur.AmountCaptured == listed.AmountCaptured &&
		sameResolution(listed.Resolution, cur.Resolution)
}

// sameRefund reports whether the refund read again under a lease is as it was listed.
func sameRefund(listed, cur contracts.Refund) bool {
	return cur.Status == listed.Status && cur.UpdatedAt.Equal(listed.UpdatedAt) &&
		sameResolution(listed.Resolution, cur.Resolution)
}

// sameTopUp reports whether the top-up read again under a lease is as it was listed.
func sameTopUp(listed, cur contracts.TopUp) bool {
	return cur.Status == listed.Status && cur.EventSequence == listed.EventSequence &&
		sameTime(listed.CancelStartedAt, cur.CancelStartedAt) && sameResolution(listed.Resolution, cur.Resolution)
}

func sameResolution(a, b contracts.Resolution) bool {
	return a.Attempts == b.Attempts && a.NotFoundSeen == b.NotFoundSeen && a.NeedsAttention == b.NeedsAttention &&
		sameTime(a.NextAt, b.NextAt)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// leasedPayment takes worker's lease on the listed payment p and reads it again: ok only
// when the lease is taken and p is unchanged since it was listed (cur is the fresh read).
// The caller works under the returned context and calls release when done.
func (h *Hub) leasedPayment(ctx context.Context, worker string, p contracts.Payment) (leased context.Context, cur contracts.Payment, release func(), ok bool) {
	leased, release, ok = h.takeLease(ctx, worker, contracts.LeasePayment, p.ID)
	if !ok {
		return ctx, p, nil, false
	}
	cur, err := h.store.GetPayment(leased, "", p.ID)
	if err != nil || !samePayment(p, cur) {
		release()
		return ctx, p, nil, false
	}
	return leased, cur, release, true
}

// holdsLease reports whether ctx's work is done under the lease on (kind, object).
func holdsLease(ctx context.Context, kind contracts.LeaseKind, object string) bool {
	l, ok := ctx.Value(leaseKey{}).(heldLease)
	return ok && l.kind == kind && l.object == object
}

// leasedReversal takes a lease of its own (one per call: two requests of one instance keep
// apart too) on payment p for a reversal outside the resolver, and reads p again: ok only
// when the lease is taken and the payment still awaits its reversal.
func (h *Hub) leasedReversal(ctx context.Context, p contracts.Payment) (leased context.Context, cur contracts.Payment, release func(), ok bool) {
	worker := fmt.Sprintf("reversal-%d", h.reversals.Add(1))
	leased, release, ok = h.takeLease(ctx, worker, contracts.LeasePayment, p.ID)
	if !ok {
		return ctx, p, nil, false
	}
	cur, err := h.store.GetPayment(leased, "", p.ID)
	if err != nil || !cur.CancelRequested || !reversible(cur.Status) ||
		(cur.Status == contracts.StatusSucceeded && cur.AmountRefunded >= cur.AmountCaptured) {
		release()
		return ctx, p, nil, false
	}
	return leased, cur, release, true
}

// Instances lists the payhub processes registered on the database, the latest started
// first, with whether each is alive at now (its heartbeat within InstanceConfig.Lease).
func (h *Hub) Instances(ctx context.Context) ([]InstanceStatus, error) {
	all, err := h.store.ListInstances(ctx)
	if err != nil {
		return nil, err
	}
	now := h.now()
	leases, err := h.store.ListLeases(ctx, now)
	if err != nil {
		return nil, err
	}
	held := map[string]int{}
	for _, l := range leases {
		id, _, _ := cutOwner(l.Owner)
		held[id]++
	}
	out := make([]InstanceStatus, 0, len(all))
	for _, i := range all {
		out = append(out, InstanceStatus{Instance: i, Alive: !i.Gone(now, h.instance.Lease), Self: i.ID == h.instanceID,
			Leases: held[i.ID]})
	}
	return out, nil
}

// InstanceStatus is one registered instance as operators see it.
type InstanceStatus struct {
	contracts.Instance
	// Alive: not stopped, and its heartbeat is within InstanceConfig.Lease.
	Alive bool
	// Self marks the instance answering.
	Self bool
	// Leases counts the work leases it holds in force.
	Leases int
}

// cutOwner splits a lease owner into instance id and worker.
func cutOwner(owner string) (instance, worker string, ok bool) {
	if i := strings.LastIndexByte(owner, '/'); i >= 0 {
		return owner[:i], owner[i+1:], true
	}
	return owner, "", false
}

// Readiness is what a ready instance knows of the database's schema.
type Readiness struct {
	// SchemaApplied is the database's latest migration; SchemaKnown the latest this build
	// carries.
	SchemaApplied, SchemaKnown int64
}

// SchemaAhead reports that a newer release migrated the database while this instance ran:
// a rolling upgrade is under way (docs/design.md, "Rolling upgrades (expand, then
// contract)"). The instance stays ready — a release's migrations only expand the schema,
// so the release before it keeps working beside them, and taking every old instance out
// of the load balancer the moment the first new one migrates would leave that one alone
// with the traffic. Restarted, this build refuses the database (store.SchemaAheadError).
func (r Readiness) SchemaAhead() bool { return r.SchemaApplied > r.SchemaKnown }

// Ready reports whether this instance can serve: the database answers and its schema is
// not behind the migrations this build knows (SchemaBehindError). A schema ahead of them
// is ready (Readiness.SchemaAhead says so).
func (h *Hub) Ready(ctx context.Context) (Readiness, error) {
	if err := h.store.Ping(ctx); err != nil {
		return Readiness{}, err
	}
	applied, known, err := h.store.SchemaVersion(ctx)
	if err != nil {
		return Readiness{}, err
	}
	if applied < known {
		return Readiness{}, &SchemaBehindError{Applied: applied, Known: known}
	}
	return Readiness{SchemaApplied: applied, SchemaKnown: known}, nil
}

// SchemaBehindError: the database's migrations are behind this build's.
type SchemaBehindError struct{ Applied, Known int64 }

func (e *SchemaBehindError) Error() string {
	return fmt.Sprintf("database schema is behind: version %d applied, this build needs %d", e.Applied, e.Known)
}
