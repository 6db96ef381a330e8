package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"payhub/contracts"
	"payhub/internal/secrets"
)

// clearWebhookSecretPrefix marks a webhook signing secret kept in clear: every secret
// written before they were sealed (until `payhub secrets reseal` seals it).
const clearWebhookSecretPrefix = "whsec_"

// SealWebhookSecrets returns st keeping the signing secrets of webhook endpoints sealed at
// rest (docs/security.md §13): the secret of CreateWebhookEndpoint and RotateWebhookSecret
// is sealed under box's sealing key, bound to its endpoint, before it is written, and
// LeaseDeliveries hands the deliverer the secrets opened. A secret that does not open (its
// key is not in the ring) is left out of the job, whose send then fails for want of a
// signature and is retried on the delivery's schedule; a secret still in clear (written
// before secrets were sealed) is used as it is until `payhub secrets reseal` seals it.
//
// payhub's wiring always wraps its store so; a store used without it keeps the secrets
// it is given as they are. box must not be nil.
func SealWebhookSecrets(st contracts.Store, box *secrets.Box) contracts.Store {
	if box == nil {
		panic("store: SealWebhookSecrets without a key ring")
	}
	if s, ok := st.(*sealedSecretsStore); ok {
		st = s.Store
	}
	return &sealedSecretsStore{Store: st, box: box}
}

// sealedSecretsStore is a Store whose webhook signing secrets are sealed at rest.
type sealedSecretsStore struct {
	contracts.Store
	box *secrets.Box
}

// InTx runs fn with a transaction that seals the secrets it writes.
func (s *sealedSecretsStore) InTx(ctx context.Context, fn func(tx contracts.Tx) error) error {
	return s.Store.InTx(ctx, func(tx contracts.Tx) error { return fn(sealedSecretsTx{Tx: tx, box: s.box}) })
}

// LeaseDeliveries leases as the store does and opens each job's signing secrets.
func (s *sealedSecretsStore) LeaseDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]contracts.DeliveryJob, error) {
	jobs, err := s.Store.LeaseDeliveries(ctx, owner, now, leaseUntil, limit)
	for i := range jobs {
		jobs[i].Secrets = openWebhookSecrets(s.box, jobs[i].Endpoint.ID, jobs[i].Secrets)
	}
	return jobs, err
}

// sealedSecretsTx is a transaction that seals the webhook signing secrets it writes.
type sealedSecretsTx struct {
	contracts.Tx
	box *secrets.Box
}

// CreateWebhookEndpoint writes the endpoint with its first secret sealed.
func (t sealedSecretsTx) CreateWebhookEndpoint(ctx context.Context, e contracts.WebhookEndpoint, secret contracts.WebhookSecret) error {
	sealed, err := sealWebhookSecret(t.box, e.ID, secret)
	if err != nil {
		return err
	}
	return t.Tx.CreateWebhookEndpoint(ctx, e, sealed)
}

// RotateWebhookSecret adds the endpoint's new secret sealed.
func (t sealedSecretsTx) RotateWebhookSecret(ctx context.Context, storeID string, secret contracts.WebhookSecret, oldExpiresAt time.Time) error {
	sealed, err := sealWebhookSecret(t.box, secret.EndpointID, secret)
	if err != nil {
		return err
	}
	return t.Tx.RotateWebhookSecret(ctx, storeID, sealed, oldExpiresAt)
}

// sealWebhookSecret seals the secret of endpointID (its owner, as the sealed value's
// additional data). A secret that belongs to another endpoint is refused.
func sealWebhookSecret(box *secrets.Box, endpointID string, s contracts.WebhookSecret) (contracts.WebhookSecret, error) {
	if s.EndpointID != endpointID || s.Secret == "" {
		return contracts.WebhookSecret{}, errors.New("store: a webhook secret must be non-empty and name its endpoint")
	}
	s.Secret = box.Seal(endpointID, s.Secret)
	return s, nil
}

// openWebhookSecrets opens an endpoint's stored signing secrets, in their order; those
// that do not open are left out. It returns a new slice (the store may share one between
// the jobs of an endpoint).
func openWebhookSecrets(box *secrets.Box, endpointID string, stored []string) []string {
	out := make([]string, 0, len(stored))
	for _, v := range stored {
		if strings.HasPrefix(v, clearWebhookSecretPrefix) {
			out = append(out, v)
			continue
		}
		if plain, err := box.Open(endpointID, v); err == nil && plain != "" {
			out = append(out, plain)
		}
	}
	return out
}

// dbOf finds the database under st: the store itself or the store SealWebhookSecrets
// wraps.
func dbOf(st contracts.Store) (*DB, bool) {
	if s, ok := st.(*sealedSecretsStore); ok {
		st = s.Store
	}
	db, ok := st.(*DB)
	return db, ok
}

// ListenControls forwards to the wrapped store's listener (contracts.ControlsListener), so
// that sealing webhook secrets does not hide the PostgreSQL fast path of the controls.
func (s *sealedSecretsStore) ListenControls(ctx context.Context, changed func()) error {
	if l, ok := s.Store.(contracts.ControlsListener); ok {
		return l.ListenControls(ctx, changed)
	}
	return errors.ErrUnsupported
}
