package contracts

import (
	"context"
	"time"
)

// Linked accounts (docs/api.md §4.4): a customer's wallet account linked to payhub by a
// store client through the partner's account-link flow (PayPay: a link QR the customer
// approves in the app, and a signed response token). A linked account belongs to the store
// client that linked it: only that client's payments may charge it, by its la_… id.

// PrefixLinkedAccount prefixes linked account ids (LinkedAccount).
const PrefixLinkedAccount = "la"

// LinkedAccountStatus is where a link stands.
type LinkedAccountStatus string

// The statuses of a linked account.
const (
	// LinkPending: the link QR is out; the customer has not answered yet.
	LinkPending LinkedAccountStatus = "pending"
	// LinkActive: the customer approved; payments may charge the account.
	LinkActive LinkedAccountStatus = "active"
	// LinkDeclined: the customer refused the link.
	LinkDeclined LinkedAccountStatus = "declined"
	// LinkExpired: the link QR expired unanswered.
	LinkExpired LinkedAccountStatus = "expired"
	// LinkUnlinked: the link was ended, by the store client or at the partner.
	LinkUnlinked LinkedAccountStatus = "unlinked"
)

// LinkedAccount is one link of a customer's partner account to a store client.
type LinkedAccount struct {
	// ID is "la_" + ULID; it is also the link session's reference at the partner.
	ID string
	// ClientID is the store client that linked it: the only one that may charge it.
	ClientID string
	// StoreID is the store whose till started the link.
	StoreID string
	// Method is the partner's method (MethodPayPay).
	Method Method
	// Status is where the link stands.
	Status LinkedAccountStatus
	// Scopes are what the customer granted (PayPay: "direct_debit", "cashback", …).
	Scopes []string
	// UserAuthorizationID is the partner's reference of the customer's authorization, set
	// once active. It is never shown through the API.
	UserAuthorizationID string
	// Nonce is payhub's one-time value the response token must carry.
	Nonce string
	// LinkURL is the link QR's URL the customer scans (pending links).
	LinkURL string
	// ReturnURL is where the customer's browser goes once the link is decided (the store's).
	ReturnURL string
	// ExpiresAt is when a pending link lapses; for an active one, when the partner's
	// authorization ends, if it says.
	ExpiresAt *time.Time
	// IdempotencyKey is the key of the request that created it.
	IdempotencyKey string
	// CreatedAt, UpdatedAt, LinkedAt and UnlinkedAt date its life.
	CreatedAt  time.Time
	UpdatedAt  time.Time
	LinkedAt   *time.Time
	UnlinkedAt *time.Time
}

// LinkedAccountTx writes linked accounts in a transaction. contracts.Tx includes it.
type LinkedAccountTx interface {
	// InsertLinkedAccount writes a new (pending) link.
	InsertLinkedAccount(ctx context.Context, a LinkedAccount) error
	// GetLinkedAccountForUpdate reads a link by id, locked; ErrNotFound without one.
	GetLinkedAccountForUpdate(ctx context.Context, id string) (LinkedAccount, error)
	// UpdateLinkedAccount writes a over the stored link (status, authorization, dates).
	UpdateLinkedAccount(ctx context.Context, a LinkedAccount) error
}

// LinkedAccountStore reads linked accounts. contracts.Store includes it.
type LinkedAccountStore interface {
	// GetLinkedAccount reads one of clientID's links; ErrNotFound for another client's.
	GetLinkedAccount(ctx context.Context, clientID, id string) (LinkedAccount, error)
	// GetLinkedAccountByID reads a link whoever linked it (the customer's return from the
	// partner carries no client); ErrNotFound without one.
	GetLinkedAccountByID(ctx context.Context, id string) (LinkedAccount, error)
	// FindActiveLink reads clientID's active link of the partner authorization
	// userAuthorizationID; ErrNotFound when the client has none.
	FindActiveLink(ctx context.Context, clientID, userAuthorizationID string) (LinkedAccount, error)
}
