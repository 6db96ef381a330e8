package hub

import (
	"context"
	"errors"
	"time"

	"payhub/contracts"
	"payhub/internal/idempotency"
	"payhub/internal/render"
	"payhub/internal/webhooks"
	"payhub/internal/webhooks/policy"
)

// DefaultSecretGrace is how long a rotated-out signing secret still signs (docs/api.md §8.1).
const DefaultSecretGrace = 24 * time.Hour

// maxRedeliverRange bounds a range redelivery.
const maxRedeliverRange = 31 * 24 * time.Hour

// CreateEndpoint is a store's request to receive its events at a URL.
type CreateEndpoint struct {
	// URL receives the deliveries.
	URL string
	// Description is the store's note.
	Description string
	// EventTypes are the types to receive; none receives all.
	EventTypes []contracts.EventType
}

// CreateWebhookEndpoint registers an endpoint for the caller's store and answers 201 with
// it and its new signing secret, in the transaction that writes it. The secret is shown in
// this first answer only: the answer stored for the key's replays withholds it, and the
// store keeps it sealed (docs/security.md §13).
func (h *Hub) CreateWebhookEndpoint(ctx context.Context, c Caller, idem idempotency.Key, cmd CreateEndpoint) (Response, error) {
	if err := h.endpointGuard.CheckURL(cmd.URL); err != nil {
		return Response{}, unacceptableField("/url", "%s.", err.Error())
	}
	return h.run(ctx, c, idem, func(ctx context.Context) (contracts.Answer, error) {
		secret, err := webhooks.NewSecret()
		if err != nil {
			return contracts.Answer{}, err
		}
		now := h.now()
		e := contracts.WebhookEndpoint{ID: h.ids.New(contracts.PrefixWebhookEndpoint), StoreID: c.StoreID, ClientID: c.ClientID,
			URL: cmd.URL, Description: cmd.Description, EventTypes: cmd.EventTypes, Status: contracts.EndpointEnabled,
			CreatedAt: now, UpdatedAt: now}
		resp := contracts.Answer{Kind: contracts.AnswerCreated, Body: render.WebhookEndpoint(e, string(secret))}
		kept := contracts.Answer{Kind: contracts.AnswerCreated, Body: render.WebhookEndpointSecretWithheld(e)}
		return resp, h.store.InTx(ctx, func(tx contracts.Tx) error {
			if err := tx.CreateWebhookEndpoint(h.endpointLimit(ctx), e, contracts.WebhookSecret{EndpointID: e.ID, Secret: string(secret), CreatedAt: now}); err != nil {
				return h.endpointLimitError(err)
			}
			return h.guard.Answer(ctx, tx, c.ClientID, &idem, kept, now)
		})
	})
}

// RotateWebhookSecret issues a new signing secret for one of the caller's endpoints; the
// previous one keeps signing for DefaultSecretGrace. Like a create's, the answer shows the
// new secret the first time only.
func (h *Hub) RotateWebhookSecret(ctx context.Context, c Caller, idem idempotency.Key, id string) (Response, error) {
	if !contracts.ValidID(contracts.PrefixWebhookEndpoint, id) {
		return Response{}, notFound()
	}
	return h.run(ctx, c, idem, func(ctx context.Context) (contracts.Answer, error) {
		secret, err := webhooks.NewSecret()
		if err != nil {
			return contracts.Answer{}, err
		}
		e, err := h.store.GetWebhookEndpoint(ctx, c.StoreID, id)
		if err != nil {
			return contracts.Answer{}, endpointError(err)
		}
		var resp contracts.Answer
		err = h.store.InTx(ctx, func(tx contracts.Tx) error {
			now := h.now()
			err := tx.RotateWebhookSecret(ctx, c.StoreID, contracts.WebhookSecret{EndpointID: id, Secret: string(secret), CreatedAt: now}, now.Add(DefaultSecretGrace))
			if err != nil {
				return endpointError(err)
			}
			resp = contracts.Answer{Kind: contracts.AnswerDone, Body: render.WebhookEndpoint(e, string(secret))}
			kept := contracts.Answer{Kind: contracts.AnswerDone, Body: render.WebhookEndpointSecretWithheld(e)}
			return h.guard.Answer(ctx, tx, c.ClientID, &idem, kept, now)
		})
		return resp, err
	})
}

// EnableWebhookEndpoint re-enables one of the caller's endpoints.
func (h *Hub) EnableWebhookEndpoint(ctx context.Context, c Caller, idem idempotency.Key, id string) (Response, error) {
	if !contracts.ValidID(contracts.PrefixWebhookEndpoint, id) {
		return Response{}, notFound()
	}
	return h.run(ctx, c, idem, func(ctx context.Context) (contracts.Answer, error) {
		e, err := h.store.GetWebhookEndpoint(ctx, c.StoreID, id)
		if err != nil {
			return contracts.Answer{}, endpointError(err)
		}
		var resp contracts.Answer
		err = h.store.InTx(ctx, func(tx contracts.Tx) error {
			now := h.now()
			if err := tx.EnableWebhookEndpoint(ctx, c.StoreID, id, now); err != nil {
				return endpointError(err)
			}
			e.Status, e.DisabledReason, e.UpdatedAt = contracts.EndpointEnabled, "", now
			resp = contracts.Answer{Kind: contracts.AnswerDone, Body: render.WebhookEndpoint(e, "")}
			return h.guard.Answer(ctx, tx, c.ClientID, &idem, resp, now)
		})
		return resp, err
	})
}

// RedeliverRange queues again, for one of the caller's endpoints, the store's events
// created in [from, to) of types (none: the endpoint's own subscription).
func (h *Hub) RedeliverRange(ctx context.Context, c Caller, idem idempotency.Key, id string, from, to time.Time, types []contracts.EventType) (Response, error) {
	if !contracts.ValidID(contracts.PrefixWebhookEndpoint, id) {
		return Response{}, notFound()
	}
	if !to.After(from) || to.Sub(from) > maxRedeliverRange {
		return Response{}, unacceptableField("/to", "The range must end after it starts and span at most 31 days.")
	}
	return h.redeliver(ctx, c, idem, func(tx contracts.Tx, now time.Time) (int, error) {
		return tx.RedeliverRange(ctx, c.StoreID, id, from, to, types, now)
	})
}

// RedeliverEvent queues one of the store's events again, for endpointID or for every
// enabled endpoint that subscribes to it.
func (h *Hub) RedeliverEvent(ctx context.Context, c Caller, idem idempotency.Key, eventID, endpointID string) (Response, error) {
	if !contracts.ValidID(contracts.PrefixEvent, eventID) {
		return Response{}, notFound()
	}
	if endpointID != "" && !contracts.ValidID(contracts.PrefixWebhookEndpoint, endpointID) {
		return Response{}, unacceptableField("/endpoint_id", "No such endpoint.")
	}
	return h.redeliver(ctx, c, idem, func(tx contracts.Tx, now time.Time) (int, error) {
		return tx.RedeliverEvent(ctx, c.StoreID, eventID, endpointID, now)
	})
}

// redeliver runs a redelivery under the request's key and answers 202 with how many
// deliveries it queued.
func (h *Hub) redeliver(ctx context.Context, c Caller, idem idempotency.Key, queue func(tx contracts.Tx, now time.Time) (int, error)) (Response, error) {
	return h.run(ctx, c, idem, func(ctx context.Context) (contracts.Answer, error) {
		var resp contracts.Answer
		err := h.store.InTx(ctx, func(tx contracts.Tx) error {
			now := h.now()
			n, err := queue(tx, now)
			if err != nil {
				return endpointError(err)
			}
			resp = contracts.Answer{Kind: contracts.AnswerAccepted, Body: render.Redelivery(h.ids.New(contracts.PrefixRedelivery), n)}
			return h.guard.Answer(ctx, tx, c.ClientID, &idem, resp, now)
		})
		return resp, err
	})
}

// endpointError maps the store's answers about an endpoint or event to the API's.
func endpointError(err error) error {
	switch {
	case errors.Is(err, contracts.ErrNotFound):
		return notFound()
	case errors.Is(err, contracts.ErrConflict):
		return contracts.Errorf(contracts.CodeInvalidState, "The endpoint is disabled; enable it first.")
	}
	return err
}

// ListWebhookEndpoints reads the caller's store's endpoints.
func (h *Hub) ListWebhookEndpoints(ctx context.Context, c Caller) ([]contracts.WebhookEndpoint, error) {
	return h.store.ListWebhookEndpoints(ctx, c.StoreID)
}

// GetWebhookEndpoint reads one of the caller's endpoints.
func (h *Hub) GetWebhookEndpoint(ctx context.Context, c Caller, id string) (contracts.WebhookEndpoint, error) {
	if !contracts.ValidID(contracts.PrefixWebhookEndpoint, id) {
		return contracts.WebhookEndpoint{}, notFound()
	}
	e, err := h.store.GetWebhookEndpoint(ctx, c.StoreID, id)
	return e, endpointError(err)
}

// DeleteWebhookEndpoint removes one of the caller's endpoints.
func (h *Hub) DeleteWebhookEndpoint(ctx context.Context, c Caller, id string) error {
	if !contracts.ValidID(contracts.PrefixWebhookEndpoint, id) {
		return notFound()
	}
	return endpointError(h.store.DeleteWebhookEndpoint(ctx, c.StoreID, id))
}

// ListDeliveryAttempts reads the sends of one of the caller's store's events.
func (h *Hub) ListDeliveryAttempts(ctx context.Context, c Caller, eventID string) ([]contracts.DeliveryAttempt, error) {
	if !contracts.ValidID(contracts.PrefixEvent, eventID) {
		return nil, notFound()
	}
	if _, err := h.store.GetEvent(ctx, c.StoreID, eventID); err != nil {
		return nil, endpointError(err)
	}
	return h.store.ListDeliveryAttempts(ctx, c.StoreID, eventID)
}

// endpointLimit asks the store, creating an endpoint, to refuse a store's endpoint beyond
// the guard's EndpointLimit: it counts them in the creating transaction, so that concurrent
// creations cannot pass the limit together. One store's endpoints must not take every
// deliverer's workers (docs/api.md §8.4).
func (h *Hub) endpointLimit(ctx context.Context) context.Context {
	return policy.WithMaxEndpoints(ctx, h.endpointGuard.EndpointLimit())
}

// endpointLimitError is the store's refusal of an endpoint beyond the limit as the API's
// 422 limit_exceeded; any other error is returned as it is.
func (h *Hub) endpointLimitError(err error) error {
	if errors.Is(err, policy.ErrTooManyEndpoints) {
		return contracts.Errorf(contracts.CodeLimitExceeded,
			"A store may have at most %d webhook endpoints; delete one it no longer uses first.", h.endpointGuard.EndpointLimit())
	}
	return err
}
