package contracts

import (
	"context"
	"time"
)

// Kill switches (docs/security.md §4): an operator stops an operation for a scope — a
// partner, a method, a store, a terminal, a store client, or any combination — within a
// second on every payhub instance. A switch in force blocks every request its scope
// matches (deny wins: no switch ever allows anything). Switches are set and lifted, never
// edited or deleted; each change is audited.

// ControlOperation is an operation a kill switch can stop.
type ControlOperation string

// The operations a kill switch can stop. The hub enforces those that move money today
// (pay, capture, cancel, refund, top_up); the others are scopes for the features that
// will check them (value transfers, balance migrations, account links, client
// registration).
const (
	// OperationPay is creating a payment.
	OperationPay ControlOperation = "pay"
	// OperationCapture is capturing an authorized payment.
	OperationCapture ControlOperation = "capture"
	// OperationCancel is a store's cancel of a payment or top-up (never the resolver's
	// reversals).
	OperationCancel ControlOperation = "cancel"
	// OperationRefund is a store's refund (never payhub's own reversal refunds).
	OperationRefund ControlOperation = "refund"
	// OperationTopUp is loading value onto a stored-value card.
	OperationTopUp ControlOperation = "top_up"
	// OperationValueTransfer is moving stored value between cards or accounts.
	OperationValueTransfer ControlOperation = "value_transfer"
	// OperationMigration is a balance migration run.
	OperationMigration ControlOperation = "migration"
	// OperationAccountLink is linking a customer's partner account.
	OperationAccountLink ControlOperation = "account_link"
	// OperationClientRegistration is registering a store client.
	OperationClientRegistration ControlOperation = "client_registration"
)

// ControlOperations lists every ControlOperation.
var ControlOperations = []ControlOperation{OperationPay, OperationCapture, OperationCancel, OperationRefund,
	OperationTopUp, OperationValueTransfer, OperationMigration, OperationAccountLink, OperationClientRegistration}

// Valid reports whether o is one of ControlOperations.
func (o ControlOperation) Valid() bool {
	for _, v := range ControlOperations {
		if o == v {
			return true
		}
	}
	return false
}

// Partner names payhub knows, as a kill switch's scope names them.
const (
	// PartnerPayPay is PayPay (method paypay).
	PartnerPayPay = "paypay"
	// PartnerLinePay is LINE Pay (method linepay).
	PartnerLinePay = "linepay"
	// PartnerGMOPG is GMO Payment Gateway (method card).
	PartnerGMOPG = "gmopg"
	// PartnerNanaco is nanaco's NCS centre (method nanaco).
	PartnerNanaco = "nanaco"
)

// Partners lists the partner names a kill switch's scope may name.
var Partners = []string{PartnerPayPay, PartnerLinePay, PartnerGMOPG, PartnerNanaco}

// PartnerOf is the partner that serves method m ("" for one payhub does not know).
func PartnerOf(m Method) string {
	switch m {
	case MethodPayPay:
		return PartnerPayPay
	case MethodLinePay:
		return PartnerLinePay
	case MethodCard:
		return PartnerGMOPG
	case MethodNanaco:
		return PartnerNanaco
	}
	return ""
}

// ControlScope is what a kill switch covers, or what a request is. On a switch an empty
// field means any; on a request every field it has is set (Partner from the method).
type ControlScope struct {
	// Partner is a partner name (Partners).
	Partner string
	// Method is a payment method.
	Method Method
	// Operation is the operation.
	Operation ControlOperation
	// StoreID is a store.
	StoreID string
	// TerminalID is a store's terminal (till).
	TerminalID string
	// ClientID is a store client.
	ClientID string
}

// Matches reports whether the switch scope s covers the request r: every field s sets
// equals r's. The zero scope covers everything.
func (s ControlScope) Matches(r ControlScope) bool {
	return match(s.Partner, r.Partner) && match(string(s.Method), string(r.Method)) &&
		match(string(s.Operation), string(r.Operation)) && match(s.StoreID, r.StoreID) &&
		match(s.TerminalID, r.TerminalID) && match(s.ClientID, r.ClientID)
}

func match(want, got string) bool { return want == "" || want == got }

// IsZero reports whether s covers everything.
func (s ControlScope) IsZero() bool { return s == ControlScope{} }

// KillSwitch is one switch, in force from SetAt until it is lifted or expires.
type KillSwitch struct {
	// ID is the switch's id (PrefixKillSwitch).
	ID string
	// Scope is what the switch stops.
	Scope ControlScope
	// PublicReason is shown to the stores whose requests it refuses (operation_disabled).
	PublicReason string
	// InternalNote is the operators' own reason, never shown to stores.
	InternalNote string
	// SetBy is who set it ("cli:<user>", an operator's identity).
	SetBy string
	// SetAt is when it was set.
	SetAt time.Time
	// ExpiresAt, when set, is when it stops being in force by itself.
	ExpiresAt *time.Time
	// LiftedBy, LiftedAt and LiftReason record who lifted it, when and why.
	LiftedBy   string
	LiftedAt   *time.Time
	LiftReason string
}

// ActiveAt reports whether k is in force at t: not lifted and not expired. (It is in
// force from the moment it is stored, whatever the clocks of the instances say.)
func (k KillSwitch) ActiveAt(t time.Time) bool {
	return k.LiftedAt == nil && (k.ExpiresAt == nil || t.Before(*k.ExpiresAt))
}

// Blocking is the first switch of switches in force at t whose scope matches r (deny
// wins: one is enough), and whether there is one.
func Blocking(switches []KillSwitch, r ControlScope, at time.Time) (KillSwitch, bool) {
	for _, k := range switches {
		if k.ActiveAt(at) && k.Scope.Matches(r) {
			return k, true
		}
	}
	return KillSwitch{}, false
}

// ControlsTx sets and lifts kill switches in a transaction, so each change commits with
// its audit entry. Every change bumps the controls version (and, on PostgreSQL, notifies
// the instances listening). contracts.Tx includes it.
type ControlsTx interface {
	// InsertKillSwitch records a new switch in force; ErrConflict when its id is taken.
	InsertKillSwitch(ctx context.Context, k KillSwitch) error
	// LiftKillSwitch lifts the switch id at at and returns it as stored. ErrNotFound
	// without such a switch; ErrInvalidTransition when it was lifted before (nothing
	// changes).
	LiftKillSwitch(ctx context.Context, id, by, reason string, at time.Time) (KillSwitch, error)
}

// ControlsStore reads the kill switches. contracts.Store includes it.
type ControlsStore interface {
	// GetControlsVersion reads the controls version, bumped by every change: a cheap way
	// to learn whether the switches changed.
	GetControlsVersion(ctx context.Context) (int64, error)
	// ListKillSwitches reads the switches not lifted (with lifted ones too when
	// includeLifted), by id; expired ones are included (KillSwitch.ActiveAt tells).
	ListKillSwitches(ctx context.Context, includeLifted bool) ([]KillSwitch, error)
	// GetKillSwitch reads one switch; ErrNotFound when there is none.
	GetKillSwitch(ctx context.Context, id string) (KillSwitch, error)
}

// ControlsListener is a Store that can tell an instance at once when the controls change
// (PostgreSQL LISTEN/NOTIFY). Optional: the periodic re-read of the controls version works
// without it and stays as the net under a lost notification.
type ControlsListener interface {
	// ListenControls calls changed once listening and after each change, until ctx ends or
	// the connection fails; errors.ErrUnsupported when the database has nothing to tell.
	ListenControls(ctx context.Context, changed func()) error
}
