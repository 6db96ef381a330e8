package contracts

import (
	"context"
	"errors"
	"time"
)

// ErrLeaseLost is the error of a state change made under a work lease that is no longer
// its worker's (it expired and another instance took it, or it was never taken): the change
// is not written.
var ErrLeaseLost = errors.New("work lease lost")

// LeaseKind names what a work lease covers: one object of that kind, or one maintenance
// task (its name as the object id).
type LeaseKind string

// The kinds of work lease.
const (
	// LeasePayment covers a payment: its resolution, its refresh, a callback's confirmation.
	LeasePayment LeaseKind = "payment"
	// LeaseRefund covers a refund's resolution.
	LeaseRefund LeaseKind = "refund"
	// LeaseTopUp covers a top-up's resolution.
	LeaseTopUp LeaseKind = "top_up"
	// LeaseTask covers one pass of a maintenance task (the janitor, retention, the release
	// of orphaned idempotency keys).
	LeaseTask LeaseKind = "task"
	// LeasePolled marks a payment waiting for the customer as just polled: it is taken for
	// one poll interval and never released, so that no instance polls the payment again
	// before it expires and N instances ask the partner as often as one.
	LeasePolled LeaseKind = "polled"
)

// WorkLease is one worker's exclusive right, until ExpiresAt, to work on one object of a
// kind. Several payhub instances share a database; each background worker takes the
// objects it works on under a lease, so at most one instance works on an object at a time.
type WorkLease struct {
	// Kind and Object name what is leased.
	Kind   LeaseKind
	Object string
	// Owner is the holder: the instance id and the worker, e.g. "ins_…/resolver".
	Owner string
	// Instance is the holder's instance (its id in the instances table): once that instance
	// is gone (its heartbeat stopped), the lease may be taken over before it expires. Empty:
	// the lease ends only at ExpiresAt.
	Instance string
	// ExpiresAt ends the lease unless its owner takes it again before.
	ExpiresAt time.Time
}

// LeaseStore takes and releases work leases.
type LeaseStore interface {
	// TakeLease takes l in one statement when no lease on (l.Kind, l.Object) is in force
	// at now, or the one in force is l.Owner's (then its expiry moves to l.ExpiresAt), or
	// its Instance is gone: stopped, unregistered, or no heartbeat after aliveAfter. It
	// reports whether l.Owner holds the lease now.
	TakeLease(ctx context.Context, l WorkLease, now, aliveAfter time.Time) (bool, error)
	// RenewLease moves the expiry of owner's lease on (kind, object) to until while it is
	// owner's and in force at now, and reports whether it did; false means the lease was
	// lost (expired, taken over, or released) and is not brought back.
	RenewLease(ctx context.Context, kind LeaseKind, object, owner string, now, until time.Time) (bool, error)
	// ReleaseLease ends owner's lease on (kind, object); another owner's lease, or none, is
	// left as it is.
	ReleaseLease(ctx context.Context, kind LeaseKind, object, owner string) error
	// DeleteLeasesExpiredBefore deletes the leases that expired before the given time (a
	// killed instance's, on objects nobody needed since) and says how many.
	DeleteLeasesExpiredBefore(ctx context.Context, before time.Time) (int64, error)
	// ListLeases reads the leases in force at now, by kind and object.
	ListLeases(ctx context.Context, now time.Time) ([]WorkLease, error)
	// ListInstances reads every registered instance, the latest started first.
	ListInstances(ctx context.Context) ([]Instance, error)
	// SchemaVersion reports the schema version the database is at and the latest one this
	// build knows: applied < known means the database's migrations are behind.
	SchemaVersion(ctx context.Context) (applied, known int64, err error)
}

// LeaseTx checks a work lease inside a state change's transaction.
type LeaseTx interface {
	// HoldLease locks owner's lease on (kind, object) until the transaction ends, so that
	// no other instance takes it meanwhile; ErrLeaseLost when the lease is not owner's or
	// expired at now. The state change that follows is then written only while its worker
	// still holds the lease.
	HoldLease(ctx context.Context, kind LeaseKind, object, owner string, now time.Time) error
}
