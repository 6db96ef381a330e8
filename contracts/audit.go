package contracts

import (
	"context"
	"net/netip"
	"time"
)

// AuditEntry is one entry of the tamper-evident audit log (docs/security.md §9): who did
// what to what, when, chained to the entry before it by a keyed hash. internal/audit builds
// and verifies entries; the store keeps them append-only.
type AuditEntry struct {
	// Seq is the entry's position, from 1, contiguous: a gap is a deleted entry.
	Seq int64
	// At is when the change was made (UTC, microseconds, as the database keeps it).
	At time.Time
	// Actor is who made it: "cli:<os user>", an operator's identity, "system".
	Actor string
	// Action names the change, e.g. "client.register".
	Action string
	// Target names what it changed, e.g. "client:pos-1".
	Target string
	// Params is the change as redacted, canonical JSON: {"before":…,"after":…,"reason":…}.
	Params []byte
	// RequestID is the API request that made the change ("" for the CLI).
	RequestID string
	// PrevHash is the previous entry's Hash (hex), 64 zeros for the first entry.
	PrevHash string
	// Hash is HMAC-SHA256 under the audit key of PrevHash and the entry's canonical
	// encoding (hex).
	Hash string
}

// AuditHead is the last entry of the audit log: Seq 0 and Hash "" while the log is empty.
type AuditHead struct {
	// Seq is the last entry's Seq.
	Seq int64
	// Hash is the last entry's Hash.
	Hash string
}

// AuditTx appends to the audit log in the transaction of the change it records, so the
// entry commits (or rolls back) with the change. contracts.Tx includes it.
type AuditTx interface {
	// LockAuditHead takes the audit log's append lock until the transaction ends and reads
	// the head: appends are serialised, so the next entry is Seq+1 and chains to Hash.
	LockAuditHead(ctx context.Context) (AuditHead, error)
	// InsertAuditEntry writes e as it is (Seq, PrevHash and Hash included); ErrConflict
	// when its Seq is taken. Call LockAuditHead first.
	InsertAuditEntry(ctx context.Context, e AuditEntry) error
}

// AuditStore reads the audit log; entries are never updated or deleted. contracts.Store
// includes it.
type AuditStore interface {
	// ListAuditEntries reads up to limit entries with a Seq above afterSeq, in Seq order;
	// limit ≤ 0 reads all.
	ListAuditEntries(ctx context.Context, afterSeq int64, limit int) ([]AuditEntry, error)
	// GetAuditHead reads the last entry's Seq and Hash (zero while the log is empty).
	GetAuditHead(ctx context.Context) (AuditHead, error)
}

// ClientTx changes store clients inside a transaction, so that the change commits with its
// audit entry. The Store methods of the same names run each in a transaction of its own.
// contracts.Tx includes it.
type ClientTx interface {
	// CreateStoreClient registers a client with its stores, keys and return origins;
	// ErrConflict when the client id or a kid is taken.
	CreateStoreClient(ctx context.Context, c StoreClient) error
	// AddClientKey registers another key of the existing client k.ClientID: ErrNotFound
	// without such a client, ErrConflict when the kid is taken.
	AddClientKey(ctx context.Context, k ClientKey) error
	// RevokeClientKey revokes the key kid at at and returns it; a key revoked before keeps
	// its RevokedAt. ErrNotFound when no key has that kid.
	RevokeClientKey(ctx context.Context, kid string, at time.Time) (ClientKey, error)
	// SetClientReturnOrigins replaces the client's return origins; ErrNotFound without
	// such a client.
	SetClientReturnOrigins(ctx context.Context, clientID string, origins []string) error
	// SetClientSourceAllowlist replaces the client's source allowlist (none: any source);
	// ErrNotFound without such a client.
	SetClientSourceAllowlist(ctx context.Context, clientID string, networks []netip.Prefix) error
}
