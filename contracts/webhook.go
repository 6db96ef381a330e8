package contracts

import (
	"context"
	"time"
)

// EndpointStatus says whether an endpoint receives deliveries.
type EndpointStatus string

const (
	// EndpointEnabled endpoints receive every subscribed event.
	EndpointEnabled EndpointStatus = "enabled"
	// EndpointDisabled endpoints receive nothing until re-enabled (410, or ~3 days failing).
	EndpointDisabled EndpointStatus = "disabled"
)

// WebhookEndpoint is a store's URL that receives signed notifications of its events
// (docs/api.md §8).
type WebhookEndpoint struct {
	// ID is "we_" + ULID.
	ID string
	// StoreID is the store whose events the endpoint receives.
	StoreID string
	// ClientID is the store client that registered it.
	ClientID string
	// URL receives the deliveries (POST).
	URL string
	// Description is the store's note.
	Description string
	// EventTypes are the subscribed types; empty subscribes to all.
	EventTypes []EventType
	// Status says whether it receives deliveries.
	Status EndpointStatus
	// DisabledReason says why it was disabled.
	DisabledReason string
	// LastSuccessAt is the last delivery it answered 2xx, if any.
	LastSuccessAt *time.Time
	// CreatedAt and UpdatedAt are the record's times.
	CreatedAt, UpdatedAt time.Time
}

// Subscribes reports whether the endpoint wants events of type t.
func (e WebhookEndpoint) Subscribes(t EventType) bool {
	if len(e.EventTypes) == 0 {
		return true
	}
	for _, x := range e.EventTypes {
		if x == t {
			return true
		}
	}
	return false
}

// WebhookSecret is one signing secret of an endpoint ("whsec_…"). The newest signs; during
// a rotation the previous one also signs until ExpiresAt.
type WebhookSecret struct {
	// EndpointID is the endpoint it signs for.
	EndpointID string
	// Secret is "whsec_" + base64 of the key. Never logged.
	Secret string
	// CreatedAt orders the secrets; ExpiresAt (nil: never) ends a rotated-out one.
	CreatedAt time.Time
	// ExpiresAt is when a rotated-out secret stops signing; nil for the current one.
	ExpiresAt *time.Time
}

// DeliveryStatus is where one event's delivery to one endpoint stands.
type DeliveryStatus string

const (
	// DeliveryPending deliveries are due at NextAt.
	DeliveryPending DeliveryStatus = "pending"
	// DeliverySucceeded deliveries got a 2xx.
	DeliverySucceeded DeliveryStatus = "succeeded"
	// DeliveryFailed deliveries exhausted their schedule or their endpoint was disabled.
	DeliveryFailed DeliveryStatus = "failed"
)

// Delivery is one event owed to one endpoint.
type Delivery struct {
	// EventID and EndpointID identify it.
	EventID, EndpointID string
	// Status says where it stands.
	Status DeliveryStatus
	// Attempts counts the sends so far.
	Attempts int
	// NextAt is when it is due.
	NextAt time.Time
	// LeaseOwner and LeaseUntil name the deliverer sending it; an expired lease is free.
	LeaseOwner string
	// LeaseUntil is when the lease expires.
	LeaseUntil *time.Time
	// CreatedAt and UpdatedAt are the record's times.
	CreatedAt, UpdatedAt time.Time
}

// DeliveryJob is a leased delivery with what sending it needs.
type DeliveryJob struct {
	// Delivery is the leased delivery.
	Delivery Delivery
	// Endpoint receives it.
	Endpoint WebhookEndpoint
	// Payload is the event's body, sent as is.
	Payload []byte
	// Secrets sign it: the current one first, then any still in their grace period.
	Secrets []string
}

// DeliveryAttempt records one send of one event to one endpoint.
type DeliveryAttempt struct {
	// ID is "wda_" + ULID.
	ID string
	// EventID and EndpointID say what was sent where.
	EventID, EndpointID string
	// AttemptedAt is when it was sent.
	AttemptedAt time.Time
	// HTTPStatus is the answer's status; 0 when none came.
	HTTPStatus int
	// Latency is how long the answer took.
	Latency time.Duration
	// Error describes a failure (transport error or non-2xx); empty on success.
	Error string
	// SentBy names the deliverer (process) that sent it.
	SentBy string
}

// DeliveryOutcome is what a deliverer records after one send, under its lease.
type DeliveryOutcome struct {
	// Attempt is the send.
	Attempt DeliveryAttempt
	// Status is the delivery's new status; NextAt its next due time when still pending.
	Status DeliveryStatus
	// NextAt is when a pending delivery is due again.
	NextAt time.Time
	// DisableEndpoint, when set, disables the endpoint with this reason and fails its
	// pending deliveries (410 Gone, or a schedule exhausted without any success).
	DisableEndpoint string
	// DisabledEvent announces the disabling (webhook_endpoint.disabled) to the store's
	// other endpoints; written with it.
	DisabledEvent *Event
}

// WebhookStore is the persistence of store notifications; contracts.Store includes it.
type WebhookStore interface {
	// GetWebhookEndpoint reads an endpoint of a store; ErrNotFound for another store's.
	GetWebhookEndpoint(ctx context.Context, storeID, id string) (WebhookEndpoint, error)
	// ListWebhookEndpoints reads a store's endpoints, oldest first.
	ListWebhookEndpoints(ctx context.Context, storeID string) ([]WebhookEndpoint, error)
	// DeleteWebhookEndpoint removes a store's endpoint with its secrets and deliveries.
	DeleteWebhookEndpoint(ctx context.Context, storeID, id string) error
	// LeaseDeliveries leases up to limit pending deliveries due at now whose lease is free,
	// to owner until leaseUntil, oldest due first; several deliverers never lease the same.
	LeaseDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]DeliveryJob, error)
	// FinishDelivery records one send and the delivery's new state, if owner still holds
	// its lease (ErrConflict otherwise: another deliverer took it over).
	FinishDelivery(ctx context.Context, owner string, o DeliveryOutcome) error
	// ListDeliveryAttempts reads the sends of one of a store's events, oldest first.
	ListDeliveryAttempts(ctx context.Context, storeID, eventID string) ([]DeliveryAttempt, error)
	// GetEvent reads one of a store's events; another store's is ErrNotFound.
	GetEvent(ctx context.Context, storeID, id string) (Event, error)
	// ListDeliveries reads an event's deliveries (tests and operators).
	ListDeliveries(ctx context.Context, eventID string) ([]Delivery, error)
}

// WebhookTx are the notification writes that answer a store's request: they run in the
// transaction that also stores the request's idempotent response. contracts.Tx includes it.
type WebhookTx interface {
	// CreateWebhookEndpoint writes a new endpoint with its first secret.
	CreateWebhookEndpoint(ctx context.Context, e WebhookEndpoint, secret WebhookSecret) error
	// RotateWebhookSecret adds secret as the endpoint's current one; the previous secrets
	// still without an expiry expire at oldExpiresAt. Another store's endpoint is ErrNotFound.
	RotateWebhookSecret(ctx context.Context, storeID string, secret WebhookSecret, oldExpiresAt time.Time) error
	// EnableWebhookEndpoint re-enables a store's disabled endpoint (redeliver the gap after).
	EnableWebhookEndpoint(ctx context.Context, storeID, id string, at time.Time) error
	// RedeliverEvent makes one of a store's events due again at now for endpointID, or for
	// every enabled endpoint subscribing to it when endpointID is ""; it says how many.
	RedeliverEvent(ctx context.Context, storeID, eventID, endpointID string, now time.Time) (int, error)
	// RedeliverRange makes due again at now, for one enabled endpoint of the store, every
	// event of the store created in [from, to) of the given types (none: all the endpoint
	// subscribes to); it says how many. A disabled endpoint is ErrConflict.
	RedeliverRange(ctx context.Context, storeID, endpointID string, from, to time.Time, types []EventType, now time.Time) (int, error)
}
