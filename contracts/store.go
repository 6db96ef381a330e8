package contracts

import (
	"context"
	"net/netip"
	"time"
)

// Key algorithms a store client may register. The algorithm is pinned per key.
const (
	// AlgEdDSA is Ed25519.
	AlgEdDSA = "EdDSA"
	// AlgES256 is ECDSA on P-256 with SHA-256.
	AlgES256 = "ES256"
)

// StoreClient is a store checkout system (POS backend) registered with payhub. It signs its
// own short-lived tokens with one of its registered keys; payhub holds no shared secret.
type StoreClient struct {
	// ID is the client id, the tokens' "iss".
	ID string
	// Name is a human label.
	Name string
	// Stores are the stores the client may act for (a token's "store" claim names one).
	Stores []string
	// Keys are the client's registered public keys.
	Keys []ClientKey
	// ReturnOrigins are the origins ("https://shop.example", scheme://host[:port], lower
	// case, default port omitted) the return_url of the client's redirect payments may
	// point to, in registration order. None refuses flow redirect: payhub sends browsers
	// only where the client's operator said its shop is, never where a request says.
	ReturnOrigins []string
	// SourceAllowlist are the networks (IPv4 and IPv6 CIDRs, masked) the client's requests
	// may come from, in registration order; none means any source (docs/security.md §6).
	// A request from elsewhere is refused with 403 ip_not_allowed.
	SourceAllowlist []netip.Prefix
	// CreatedAt is when the client was registered.
	CreatedAt time.Time
}

// ClientKey is a store client's public key.
type ClientKey struct {
	// KID names the key in token headers; unique across all clients.
	KID string
	// ClientID is the owning client.
	ClientID string
	// Algorithm is AlgEdDSA or AlgES256, pinned: a token naming another algorithm is refused.
	Algorithm string
	// PublicKeyPEM is the PKIX ("PUBLIC KEY") PEM encoding of the key.
	PublicKeyPEM []byte
	// CreatedAt is when the key was registered.
	CreatedAt time.Time
	// RevokedAt is set once the key may no longer sign tokens.
	RevokedAt *time.Time
}

// IdempotencyKey is a store client's Idempotency-Key for one request.
type IdempotencyKey struct {
	// ClientID scopes the key: keys of different clients never collide.
	ClientID string
	// Key is the header value.
	Key string
	// Fingerprint is the SHA-256 of the request (method, route, path params, canonical body).
	Fingerprint string
	// CreatedAt is when the first request with the key began (or when its claim was last
	// taken over from an instance that had died).
	CreatedAt time.Time
	// Owner is the Instance running the key's request. When that instance is gone, another
	// takes the claim over (the till's retry then gets its answer within seconds); a claim
	// without an owner (written before instances existed) waits for the resolver.
	Owner string
}

// IdempotencyRecord is the stored state of an idempotency key.
type IdempotencyRecord struct {
	IdempotencyKey
	// Completed is false while the first request runs.
	Completed bool
	// Answer is the first request's answer, replayed on a retry.
	Answer Answer
	// CompletedAt is when the first response was stored.
	CompletedAt *time.Time
	// IntentWritten is set once the request wrote its intent to call a partner: from then
	// on the key is answered, never released.
	IntentWritten bool
	// AttemptID is the partner attempt the request wrote with its intent (empty for keys
	// written before attempts were recorded on keys): what a takeover settles.
	AttemptID string
}

// Instance is one payhub process working on the database. It registers at start, heartbeats
// while it runs and records its stop, so that others can tell when it is gone and take
// over the requests it held.
type Instance struct {
	// ID is "ins_" + ULID, fresh for every process start.
	ID string
	// Version is the payhub version (the API version) the process runs.
	Version string
	// StartedAt is when the process registered.
	StartedAt time.Time
	// HeartbeatAt is the process's latest sign of life.
	HeartbeatAt time.Time
	// StoppedAt is set when the process stopped cleanly.
	StoppedAt *time.Time
}

// Gone reports whether the instance no longer runs at now: it stopped, or its latest
// heartbeat is older than lease.
func (i Instance) Gone(now time.Time, lease time.Duration) bool {
	return i.StoppedAt != nil || now.Sub(i.HeartbeatAt) > lease
}

// PaymentFilter selects a page of one store's payments, newest first.
type PaymentFilter struct {
	// StoreID is required: lists never cross stores.
	StoreID string
	// Status, TerminalID, Method and OrderID filter when non-empty.
	Status Status
	// TerminalID filters by till.
	TerminalID string
	// Method filters by method.
	Method Method
	// OrderID filters by the store's order reference.
	OrderID string
	// CreatedGTE and CreatedLT bound the creation time when non-zero.
	CreatedGTE, CreatedLT time.Time
	// BeforeID, when set, returns only payments with a smaller id (the cursor).
	BeforeID string
	// Limit caps the number of payments returned.
	Limit int
}

// Store is payhub's persistence. internal/store implements it on SQLite and PostgreSQL.
// Reads outside a transaction see committed data; every state change goes through InTx so
// that the change, its event and the idempotent response commit together.
type Store interface {
	WebhookStore
	CallbackStore
	TopUpStore
	AuditStore
	OperatorStore
	ControlsStore
	LimitsStore
	LinkedAccountStore
	ApprovalsStore
	LedgerStore
	MigrationStore
	CompensationStore
	LeaseStore
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error

	// CreateStoreClient registers a client with its stores and keys.
	CreateStoreClient(ctx context.Context, c StoreClient) error
	// LookupClientKey finds an unrevoked key by kid, with its client.
	LookupClientKey(ctx context.Context, kid string) (ClientKey, StoreClient, error)
	// GetStoreClient reads a client with its stores, keys (revoked ones included) and
	// return origins; ErrNotFound when there is none.
	GetStoreClient(ctx context.Context, id string) (StoreClient, error)
	// ListStoreClients reads every client, by id.
	ListStoreClients(ctx context.Context) ([]StoreClient, error)
	// AddClientKey registers another key of the existing client k.ClientID (key rotation):
	// ErrNotFound without such a client, ErrConflict when the kid is taken.
	AddClientKey(ctx context.Context, k ClientKey) error
	// RevokeClientKey revokes the key kid at at and returns it; a key revoked before keeps
	// its RevokedAt. ErrNotFound when no key has that kid.
	RevokeClientKey(ctx context.Context, kid string, at time.Time) (ClientKey, error)
	// SetClientReturnOrigins replaces the client's return origins (none: flow redirect is
	// refused); ErrNotFound without such a client.
	SetClientReturnOrigins(ctx context.Context, clientID string, origins []string) error
	// SetClientSourceAllowlist replaces the client's source allowlist (none: any source);
	// ErrNotFound without such a client, ErrConflict for a network listed twice.
	SetClientSourceAllowlist(ctx context.Context, clientID string, networks []netip.Prefix) error
	// DeleteWebhookAttemptsBefore deletes up to limit store-notification attempts made
	// before the given time, oldest first, and says how many (retention).
	DeleteWebhookAttemptsBefore(ctx context.Context, before time.Time, limit int) (int64, error)

	// GetPayment reads a payment of a store; storeID "" reads any store's (engine use only).
	GetPayment(ctx context.Context, storeID, id string) (Payment, error)
	// ListPayments reads a page of a store's payments, newest (largest id) first.
	ListPayments(ctx context.Context, f PaymentFilter) ([]Payment, error)
	// ListPaymentsByStatus reads payments of any store in a status, oldest first (pollers).
	ListPaymentsByStatus(ctx context.Context, status Status, limit int) ([]Payment, error)
	// ListPaymentsDueForPoll reads the payments of any store waiting for the customer
	// (StatusRequiresAction) that no poller asked about lately: their LeasePolled marker is
	// absent, expired at now, or held by an instance gone since aliveAfter (as TakeLease
	// would take it). Oldest first; a limit of zero or less returns all of them.
	ListPaymentsDueForPoll(ctx context.Context, now, aliveAfter time.Time, limit int) ([]Payment, error)
	// GetRefund reads a refund of a store; storeID "" reads any store's.
	GetRefund(ctx context.Context, storeID, id string) (Refund, error)
	// ListRefunds reads a payment's refunds, oldest first.
	ListRefunds(ctx context.Context, paymentID string) ([]Refund, error)
	// ListPaymentsToResolve reads payments of any store whose outcome is open and whose
	// Resolution.NextAt is due at now (nil counts as due), oldest first, skipping those that
	// need attention: status unknown; status processing last updated before stuckBefore (a
	// partner call that a crash or a lost write left behind); status authorized or
	// requires_action with CancelRequested, or succeeded with CancelRequested and not yet
	// refunded in full (a reversal still to do).
	ListPaymentsToResolve(ctx context.Context, now, stuckBefore time.Time, limit int) ([]Payment, error)
	// ListRefundsToResolve reads refunds of any store that are due at now and not flagged for
	// attention: status unknown, or pending and last updated before stuckBefore.
	ListRefundsToResolve(ctx context.Context, now, stuckBefore time.Time, limit int) ([]Refund, error)
	// ListStuckAttempts reads captures and cancels of any payment sent before startedBefore
	// whose outcome was never recorded (a crash cut them off), oldest first; limit ≤ 0
	// reads all.
	ListStuckAttempts(ctx context.Context, startedBefore time.Time, limit int) ([]Attempt, error)
	// ListPaymentsNeedingAttention reads the payments of every store that the resolver
	// handed to an operator, oldest first; limit ≤ 0 reads all.
	ListPaymentsNeedingAttention(ctx context.Context, limit int) ([]Payment, error)
	// ListEvents reads a payment's events in sequence order.
	ListEvents(ctx context.Context, paymentID string) ([]Event, error)
	// ListAttempts reads a payment's partner attempts, oldest first.
	ListAttempts(ctx context.Context, paymentID string) ([]Attempt, error)
	// GetAttempt reads one partner attempt; ErrNotFound when there is none.
	GetAttempt(ctx context.Context, id string) (Attempt, error)

	// RegisterInstance records a starting payhub process.
	RegisterInstance(ctx context.Context, i Instance) error
	// HeartbeatInstance records that the instance is alive at at; ErrNotFound when it was
	// never registered.
	HeartbeatInstance(ctx context.Context, id string, at time.Time) error
	// StopInstance records that the instance stopped at at.
	StopInstance(ctx context.Context, id string, at time.Time) error
	// GetInstance reads one instance; ErrNotFound when it was never registered.
	GetInstance(ctx context.Context, id string) (Instance, error)
	// DeleteInstancesSilentSince deletes the instances whose latest heartbeat is before
	// the given time and says how many (a claim naming a deleted instance counts as gone).
	DeleteInstancesSilentSince(ctx context.Context, heartbeatBefore time.Time) (int64, error)

	// BeginIdempotency claims (ClientID, Key) for k.Owner in a transaction of its own, as
	// releases before the claim moved into the intent's transaction did (their claims
	// still exist in a database during a rolling upgrade; tests make them with this). When
	// the key exists it returns the stored record and created=false. Requests claim with
	// Tx.ClaimIdempotencyIntent or Tx.AnswerIdempotency.
	BeginIdempotency(ctx context.Context, k IdempotencyKey) (rec IdempotencyRecord, created bool, err error)
	// GetIdempotency reads the record of (clientID, key); ErrNotFound when there is none.
	GetIdempotency(ctx context.Context, clientID, key string) (IdempotencyRecord, error)
	// TakeOverIdempotency moves the claim on the in-flight key (clientID, key) from owner
	// from to owner to, restamping its CreatedAt with at; it reports false (and changes
	// nothing) when the key is completed, gone or held by another owner meanwhile.
	TakeOverIdempotency(ctx context.Context, clientID, key, from, to string, at time.Time) (bool, error)
	// AbandonIdempotency deletes an uncompleted key claimed by owner, for refusals that are
	// not stored.
	AbandonIdempotency(ctx context.Context, clientID, key, owner string) error
	// ReleaseOrphanedIdempotency deletes keys claimed before createdBefore whose request
	// wrote neither an intent nor an answer (it died before reaching a partner).
	ReleaseOrphanedIdempotency(ctx context.Context, createdBefore time.Time) (int64, error)
	// DeleteExpiredIdempotency deletes keys completed before the given time.
	DeleteExpiredIdempotency(ctx context.Context, completedBefore time.Time) (int64, error)

	// InTx runs fn in one database transaction, committed when fn returns nil.
	InTx(ctx context.Context, fn func(tx Tx) error) error
}

// Tx is one database transaction: a state change, its event and its idempotent response.
type Tx interface {
	WebhookTx
	TopUpTx
	AuditTx
	ClientTx
	OperatorTx
	ControlsTx
	LimitsTx
	LinkedAccountTx
	ApprovalsTx
	LedgerTx
	MigrationTx
	CompensationTx
	LeaseTx
	// InsertPayment writes a new payment; its Status must be one of InitialStatuses.
	InsertPayment(ctx context.Context, p Payment) error
	// GetPaymentForUpdate reads a payment and locks it until the transaction ends.
	GetPaymentForUpdate(ctx context.Context, id string) (Payment, error)
	// UpdatePayment writes p over the stored payment; ErrInvalidTransition when the stored
	// status may not move to p.Status.
	UpdatePayment(ctx context.Context, p Payment) error
	// InsertRefund writes a new refund.
	InsertRefund(ctx context.Context, r Refund) error
	// UpdateRefund writes r over the stored refund; ErrInvalidTransition when not allowed.
	UpdateRefund(ctx context.Context, r Refund) error
	// ListRefunds reads a payment's refunds, oldest first.
	ListRefunds(ctx context.Context, paymentID string) ([]Refund, error)
	// ListAttempts reads a payment's partner attempts, oldest first.
	ListAttempts(ctx context.Context, paymentID string) ([]Attempt, error)
	// InsertAttempt writes the intent to call a partner.
	InsertAttempt(ctx context.Context, a Attempt) error
	// AllocateSequence hands out the next sequence number of (method, terminal,
	// businessDate), from 1, in this transaction, so the number is durable with the attempt
	// that carries it and never handed out twice (SequenceRef). ErrSequenceExhausted when
	// the next would pass max: nothing is handed out.
	AllocateSequence(ctx context.Context, method Method, terminal, businessDate string, max int) (int, error)
	// FinishAttempt records an attempt's outcome.
	FinishAttempt(ctx context.Context, id string, outcome Outcome, partnerCode string, at time.Time) error
	// AppendEvent adds an event to the outbox; (PaymentID, Sequence) is unique.
	AppendEvent(ctx context.Context, e Event) error
	// GetRefundForUpdate reads a refund and locks it until the transaction ends.
	GetRefundForUpdate(ctx context.Context, id string) (Refund, error)
	// LookupIdempotency reads the record of (clientID, key); ErrNotFound when there is none.
	LookupIdempotency(ctx context.Context, clientID, key string) (IdempotencyRecord, error)
	// CompleteIdempotency stores the first answer for (clientID, key), a key whose intent
	// is written (ClaimIdempotencyIntent): ErrNotFound without the key, ErrConflict when
	// it is answered already.
	CompleteIdempotency(ctx context.Context, clientID, key string, a Answer, at time.Time) error
	// ClaimIdempotencyIntent claims (k.ClientID, k.Key) for k.Owner in the transaction
	// writing a new request's intent, noting that the request will reach a partner with
	// attempt attemptID: the claim and the intent commit together, so a key is never
	// claimed without its intent and never released once claimed. A claim k.Owner holds
	// without an intent (taken over from an instance of an earlier release) is marked.
	// ErrIdempotencyKeyTaken when another request holds or answered the key, or it was
	// taken over: nothing is written, and the intent must not be.
	ClaimIdempotencyIntent(ctx context.Context, k IdempotencyKey, attemptID string) error
	// AnswerIdempotency claims (k.ClientID, k.Key) and stores a as its answer at once, for
	// a request answered without reaching a partner (a refusal decided in its transaction,
	// a change made only in payhub). ErrIdempotencyKeyTaken as for ClaimIdempotencyIntent.
	AnswerIdempotency(ctx context.Context, k IdempotencyKey, a Answer, at time.Time) error
}
