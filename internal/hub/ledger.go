package hub

import (
	"context"
	"errors"
	"fmt"

	"payhub/contracts"
	"payhub/internal/ledger"
)

// The engine posts every money movement to the double-entry ledger (internal/ledger) in
// the database transaction of the state change that records it. Rather than a call at each
// of the many places that write a payment, refund or top-up, the hub's store is wrapped
// (withLedger): each UpdatePayment, UpdateRefund and UpdateTopUp of a hub transaction is
// compared with the object as the transaction last read or wrote it, and what changed in
// money posts its balanced transaction (ledger.ForPayment, ForRefund, ForTopUp) before the
// transaction commits. A write that posts nothing (bookkeeping, a status without money)
// costs nothing more: the state before is the one the transaction read for update.
// A posting that fails fails the state change with it.

// withLedger wraps st so that the state changes of its transactions post to the ledger.
func withLedger(st contracts.Store) contracts.Store {
	if st == nil {
		return nil
	}
	if l, ok := st.(ledgerStore); ok {
		return l
	}
	return ledgerStore{Store: st}
}

// ledgerStore is a Store whose transactions post money movements to the ledger.
type ledgerStore struct {
	contracts.Store
}

// InTx runs fn with a transaction that posts the money movements it writes, after checking
// the work lease ctx's work is done under, if any.
func (s ledgerStore) InTx(ctx context.Context, fn func(tx contracts.Tx) error) error {
	return s.Store.InTx(ctx, func(tx contracts.Tx) error {
		// A worker's write under a work lease is made only while the lease is its own
		// (leases.go): checked, and the lease locked, before anything is written.
		if err := checkLease(ctx, tx); err != nil {
			return err
		}
		return fn(&ledgerTx{Tx: tx})
	})
}

// ListenControls forwards to the wrapped store's listener (contracts.ControlsListener), so
// that the wrapping does not hide the PostgreSQL fast path of the controls.
func (s ledgerStore) ListenControls(ctx context.Context, changed func()) error {
	if l, ok := s.Store.(contracts.ControlsListener); ok {
		return l.ListenControls(ctx, changed)
	}
	return errors.ErrUnsupported
}

// ledgerTx is a transaction that remembers the payments, refunds and top-ups as it last
// read or wrote them, and posts what each write changes in money.
type ledgerTx struct {
	contracts.Tx
	payments map[string]contracts.Payment
	refunds  map[string]contracts.Refund
	topUps   map[string]contracts.TopUp
}

func remember[T any](m *map[string]T, id string, v T) {
	if *m == nil {
		*m = map[string]T{}
	}
	(*m)[id] = v
}

// post writes lt, named after the write that made it.
func (t *ledgerTx) post(ctx context.Context, lt contracts.LedgerTransaction) error {
	if err := ledger.Post(ctx, t.Tx, lt); err != nil {
		return fmt.Errorf("post %s to the ledger: %w", lt.Kind, err)
	}
	return nil
}

// InsertPayment writes p; a new payment holds no money (it starts processing or waiting
// for the customer), but one that did would post.
func (t *ledgerTx) InsertPayment(ctx context.Context, p contracts.Payment) error {
	if err := t.Tx.InsertPayment(ctx, p); err != nil {
		return err
	}
	remember(&t.payments, p.ID, p)
	if lt, ok := ledger.ForPayment(contracts.Payment{}, p, p.UpdatedAt); ok {
		return t.post(ctx, lt)
	}
	return nil
}

// GetPaymentForUpdate reads and locks a payment, and remembers it.
func (t *ledgerTx) GetPaymentForUpdate(ctx context.Context, id string) (contracts.Payment, error) {
	p, err := t.Tx.GetPaymentForUpdate(ctx, id)
	if err == nil {
		remember(&t.payments, id, p)
	}
	return p, err
}

// UpdatePayment writes p and posts what it changes in money.
func (t *ledgerTx) UpdatePayment(ctx context.Context, p contracts.Payment) error {
	before, ok := t.payments[p.ID]
	if !ok {
		var err error
		if before, err = t.Tx.GetPaymentForUpdate(ctx, p.ID); err != nil {
			return err
		}
	}
	if err := t.Tx.UpdatePayment(ctx, p); err != nil {
		return err
	}
	remember(&t.payments, p.ID, p)
	if lt, ok := ledger.ForPayment(before, p, p.UpdatedAt); ok {
		return t.post(ctx, lt)
	}
	return nil
}

// InsertRefund writes r and remembers it (a new refund is pending: nothing moved yet).
func (t *ledgerTx) InsertRefund(ctx context.Context, r contracts.Refund) error {
	if err := t.Tx.InsertRefund(ctx, r); err != nil {
		return err
	}
	remember(&t.refunds, r.ID, r)
	return t.postRefund(ctx, contracts.Refund{}, r)
}

// GetRefundForUpdate reads and locks a refund, and remembers it.
func (t *ledgerTx) GetRefundForUpdate(ctx context.Context, id string) (contracts.Refund, error) {
	r, err := t.Tx.GetRefundForUpdate(ctx, id)
	if err == nil {
		remember(&t.refunds, id, r)
	}
	return r, err
}

// UpdateRefund writes r and posts it when it succeeds.
func (t *ledgerTx) UpdateRefund(ctx context.Context, r contracts.Refund) error {
	before, ok := t.refunds[r.ID]
	if !ok {
		var err error
		if before, err = t.Tx.GetRefundForUpdate(ctx, r.ID); err != nil {
			return err
		}
	}
	if err := t.Tx.UpdateRefund(ctx, r); err != nil {
		return err
	}
	remember(&t.refunds, r.ID, r)
	return t.postRefund(ctx, before, r)
}

func (t *ledgerTx) postRefund(ctx context.Context, before, after contracts.Refund) error {
	if after.Status != contracts.RefundSucceeded || before.Status == contracts.RefundSucceeded {
		return nil
	}
	// The engine locks the payment before its refund; should a write come without it, the
	// payment is read (and locked) in the transaction, never on a second connection.
	p, ok := t.payments[after.PaymentID]
	if !ok {
		var err error
		if p, err = t.GetPaymentForUpdate(ctx, after.PaymentID); err != nil {
			return fmt.Errorf("read the payment of refund %s for the ledger: %w", after.ID, err)
		}
	}
	if lt, ok := ledger.ForRefund(p.Method, before, after, after.UpdatedAt); ok {
		return t.post(ctx, lt)
	}
	return nil
}

// InsertTopUp writes tu and remembers it (a new top-up is pending: nothing moved yet).
func (t *ledgerTx) InsertTopUp(ctx context.Context, tu contracts.TopUp) error {
	if err := t.Tx.InsertTopUp(ctx, tu); err != nil {
		return err
	}
	remember(&t.topUps, tu.ID, tu)
	if lt, ok := ledger.ForTopUp(contracts.TopUp{}, tu, tu.UpdatedAt); ok {
		return t.post(ctx, lt)
	}
	return nil
}

// GetTopUpForUpdate reads and locks a top-up, and remembers it.
func (t *ledgerTx) GetTopUpForUpdate(ctx context.Context, id string) (contracts.TopUp, error) {
	tu, err := t.Tx.GetTopUpForUpdate(ctx, id)
	if err == nil {
		remember(&t.topUps, id, tu)
	}
	return tu, err
}

// UpdateTopUp writes tu and posts it when it succeeds or a succeeded one is cancelled.
func (t *ledgerTx) UpdateTopUp(ctx context.Context, tu contracts.TopUp) error {
	before, ok := t.topUps[tu.ID]
	if !ok {
		var err error
		if before, err = t.Tx.GetTopUpForUpdate(ctx, tu.ID); err != nil {
			return err
		}
	}
	if err := t.Tx.UpdateTopUp(ctx, tu); err != nil {
		return err
	}
	remember(&t.topUps, tu.ID, tu)
	if lt, ok := ledger.ForTopUp(before, tu, tu.UpdatedAt); ok {
		return t.post(ctx, lt)
	}
	return nil
}
