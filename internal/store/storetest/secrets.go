package storetest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"payhub/contracts"
	"payhub/internal/operators"
	"payhub/internal/secrets"
	"payhub/internal/store"
)

// RunSecrets is the conformance suite of secrets at rest (docs/security.md §13): webhook
// signing secrets sealed by store.SealWebhookSecrets, and store.Reseal moving every sealed
// value to a new key, interrupted and run again. open must return a fresh, empty, migrated
// store of internal/store for each call.
func RunSecrets(t *testing.T, open func(t *testing.T) contracts.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s contracts.Store)
	}{
		{"WebhookSecretsSealed", testWebhookSecretsSealed},
		{"ResealInterruptedAndResumed", testResealInterruptedAndResumed},
		{"ResealNeedsTheSQLStoreAndARing", testResealNeeds},
		{"ResealMovesOperatorSecrets", testResealOperatorSecrets},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// ring is a key ring of keys, newest first.
func ring(t *testing.T, keys ...[]byte) *secrets.Box {
	t.Helper()
	b, err := secrets.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sealV1 seals as payhub did before key ids ("v1." + base64url(nonce ‖ ciphertext ‖ tag),
// the owner as additional data): the values a database holds from then.
func sealV1(t *testing.T, key []byte, owner, plaintext string) string {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return "v1." + base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plaintext), []byte(owner)))
}

// newWebhookSecret is a fresh "whsec_" secret.
func newWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// leaseSecrets makes one event of storeID due to its endpoints and returns, per endpoint,
// the secrets st hands the deliverer. The leases are released again.
func leaseSecrets(t *testing.T, st contracts.Store, storeID string) map[string][]string {
	t.Helper()
	p := newPayment(storeID)
	p.PartnerSecret = ""
	insertPayment(t, st, p)
	appendEvent(t, st, &p, contracts.EventPaymentSucceeded)
	owner := newID("lessee_")
	jobs, err := st.LeaseDeliveries(context.Background(), owner, at(time.Hour), at(time.Hour+time.Second), 100)
	if err != nil {
		t.Fatalf("LeaseDeliveries: %v", err)
	}
	out := map[string][]string{}
	for _, j := range jobs {
		out[j.Endpoint.ID] = j.Secrets
	}
	return out
}

// A store wrapped by SealWebhookSecrets writes an endpoint's signing secrets sealed and
// bound to the endpoint, and hands the deliverer them opened, newest first; a secret in
// clear (written before secrets were sealed) signs as it is; one whose key is not in the
// ring is left out.
func testWebhookSecretsSealed(t *testing.T, bare contracts.Store) {
	ctx := context.Background()
	key := secrets.NewKey()
	box := ring(t, key)
	st := store.SealWebhookSecrets(store.SealWebhookSecrets(bare, box), box) // wrapping twice seals once
	sealed, legacy := newEndpoint("store-a"), newEndpoint("store-a")
	first, second, clear := newWebhookSecret(), newWebhookSecret(), newWebhookSecret()
	createEndpoint(t, st, sealed, first)
	if err := rotateSecret(st, "store-a", contracts.WebhookSecret{EndpointID: sealed.ID, Secret: second, CreatedAt: at(time.Minute)}, at(2*time.Hour)); err != nil {
		t.Fatalf("RotateWebhookSecret: %v", err)
	}
	createEndpoint(t, bare, legacy, clear) // as written before secrets were sealed

	got := leaseSecrets(t, st, "store-a")
	if !slices.Equal(got[sealed.ID], []string{second, first}) {
		t.Errorf("the deliverer gets %d secrets for the sealed endpoint, want the rotated pair newest first", len(got[sealed.ID]))
	}
	if !slices.Equal(got[legacy.ID], []string{clear}) {
		t.Error("a secret kept in clear does not sign as it is")
	}

	// What the database holds: sealed under the key, bound to the endpoint.
	var raw []string
	p := newPayment("store-a")
	p.PartnerSecret = ""
	insertPayment(t, bare, p)
	appendEvent(t, bare, &p, contracts.EventPaymentSucceeded)
	jobs, err := bare.LeaseDeliveries(ctx, "raw-reader", at(90*time.Minute), at(100*time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Endpoint.ID == sealed.ID {
			raw = j.Secrets
		}
	}
	if len(raw) != 2 {
		t.Fatalf("the database holds %d secrets of the endpoint, want 2", len(raw))
	}
	for _, v := range raw {
		if !strings.HasPrefix(v, box.CurrentPrefix()) || strings.Contains(v, "whsec_") {
			t.Errorf("a stored signing secret is not sealed under the key: %.16s…", v)
		}
		if plain, err := box.Open(legacy.ID, v); err == nil || plain != "" {
			t.Error("a sealed secret opens for another endpoint")
		}
	}

	// Another key opens nothing: the secrets are left out, never handed on sealed.
	other := store.SealWebhookSecrets(bare, ring(t, secrets.NewKey()))
	got = leaseSecrets(t, other, "store-a")
	if len(got[sealed.ID]) != 0 {
		t.Errorf("under another key the deliverer gets %d secrets, want none", len(got[sealed.ID]))
	}
	if !slices.Equal(got[legacy.ID], []string{clear}) {
		t.Error("the secret in clear does not sign under another key")
	}

	// A secret must name its endpoint.
	e := newEndpoint("store-a")
	err = st.InTx(ctx, func(tx contracts.Tx) error {
		return tx.CreateWebhookEndpoint(ctx, e, contracts.WebhookSecret{EndpointID: sealed.ID, Secret: newWebhookSecret(), CreatedAt: base})
	})
	if err == nil {
		t.Error("a secret naming another endpoint was written")
	}
}

// seeded is one sealed value the reseal test wrote, with what it must open to.
type seeded struct {
	owner, plaintext string
	// unreadable values open under no key of the ring: the reseal leaves them alone.
	unreadable bool
}

// The reseal moves every sealed value to the ring's newest key — partner credentials of
// format v1 (no key id) and under the old key, webhook secrets under the old key and in
// clear — in batches that each commit on their own: stopped after two batches it has moved
// those and no more; run again it finishes; run a third time it changes nothing. Values
// no key opens are left as they are and reported, by row, never by content; afterwards
// the new key alone opens everything else.
func testResealInterruptedAndResumed(t *testing.T, bare contracts.Store) {
	ctx := context.Background()
	oldKey, newKey, lostKey := secrets.NewKey(), secrets.NewKey(), secrets.NewKey()
	oldBox, newRing := ring(t, oldKey), ring(t, newKey, oldKey)

	var payments []seeded
	addPayment := func(seal func(id, plain string) string, unreadable bool) {
		p := newPayment("store-a")
		plain := "access-id-" + p.ID + ":access-pass-" + newID("")
		p.PartnerSecret = seal(p.ID, plain)
		insertPayment(t, bare, p)
		payments = append(payments, seeded{owner: p.ID, plaintext: plain, unreadable: unreadable})
	}
	for i := range 7 {
		switch i % 3 {
		case 0:
			addPayment(func(id, plain string) string { return sealV1(t, oldKey, id, plain) }, false)
		case 1:
			addPayment(oldBox.Seal, false)
		case 2:
			addPayment(newRing.Seal, false) // already under the new key
		}
	}
	addPayment(ring(t, lostKey).Seal, true)
	noSecret := newPayment("store-a")
	noSecret.PartnerSecret = ""
	insertPayment(t, bare, noSecret)

	endpoints := map[string][]string{} // endpoint → its secrets, newest first
	for i := range 4 {
		e := newEndpoint("store-a")
		first, second := newWebhookSecret(), newWebhookSecret()
		if i%2 == 0 {
			createEndpoint(t, bare, e, first) // in clear, as before secrets were sealed
		} else {
			createEndpoint(t, store.SealWebhookSecrets(bare, oldBox), e, first)
		}
		if err := rotateSecret(store.SealWebhookSecrets(bare, oldBox), "store-a",
			contracts.WebhookSecret{EndpointID: e.ID, Secret: second, CreatedAt: at(time.Minute)}, at(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		endpoints[e.ID] = []string{second, first}
	}
	plaintexts := func() []string {
		var out []string
		for _, p := range payments {
			out = append(out, p.plaintext)
		}
		for _, s := range endpoints {
			out = append(out, s...)
		}
		return out
	}()
	// reported checks that nothing a reseal says holds a secret.
	reported := func(what string) {
		t.Helper()
		for _, p := range plaintexts {
			if strings.Contains(what, p) || strings.Contains(what, strings.TrimPrefix(p, "whsec_")) {
				t.Fatalf("a reseal report shows a secret: %s", what)
			}
		}
	}

	// Stopped after two batches of two.
	stop := errors.New("stopped")
	var batches []store.ResealBatch
	res, err := store.Reseal(ctx, bare, newRing, store.ResealOptions{BatchSize: 2, Progress: func(b store.ResealBatch) error {
		batches = append(batches, b)
		reported(b.Through)
		if len(batches) == 2 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) || len(batches) != 2 {
		t.Fatalf("interrupted reseal: %v after %d batches", err, len(batches))
	}
	moved := res.Resealed[store.ColumnPartnerSecrets]
	if moved != 4 {
		t.Errorf("two batches of two moved %d partner credentials, want 4", moved)
	}
	inv, err := store.Inventory(ctx, bare, newRing)
	if err != nil {
		t.Fatal(err)
	}
	if c := inv[store.ColumnPartnerSecrets]; c.ByKey[newRing.KeyID()] != 2+4 || c.Unreadable != 1 {
		t.Errorf("after the interruption: %+v (want 6 under the new key, 1 unreadable)", c)
	}
	if c := inv[store.ColumnWebhookSecrets]; c.ByKey["clear"] != 2 || c.ByKey[oldBox.KeyID()] != 6 {
		t.Errorf("webhook secrets after the interruption: %+v (want untouched)", c)
	}

	// Run again: it goes on and finishes, all but the unreadable value.
	res, err = store.Reseal(ctx, bare, newRing, store.ResealOptions{BatchSize: 2, Progress: func(b store.ResealBatch) error {
		reported(b.Through)
		return nil
	}})
	if !errors.Is(err, store.ErrResealIncomplete) {
		t.Fatalf("reseal with an unreadable value = %v, want ErrResealIncomplete", err)
	}
	reported(err.Error())
	if res.KeyID != newRing.KeyID() || res.Resealed[store.ColumnPartnerSecrets] != 1 || res.Resealed[store.ColumnWebhookSecrets] != 8 {
		t.Errorf("second run resealed %v under %s, want 1 partner credential and 8 webhook secrets", res.Resealed, res.KeyID)
	}
	if u := res.Unreadable[store.ColumnPartnerSecrets]; len(u) != 1 || u[0] != payments[len(payments)-1].owner {
		t.Errorf("unreadable = %v, want the payment sealed under a lost key", u)
	}
	for _, u := range res.Unreadable {
		reported(strings.Join(u, " "))
	}

	// A third run has nothing to move.
	res, err = store.Reseal(ctx, bare, newRing, store.ResealOptions{BatchSize: 2})
	if !errors.Is(err, store.ErrResealIncomplete) || res.Resealed[store.ColumnPartnerSecrets] != 0 || res.Resealed[store.ColumnWebhookSecrets] != 0 {
		t.Errorf("third run resealed %v, %v; want nothing", res.Resealed, err)
	}

	// The new key alone opens everything but the lost one, to what was sealed.
	newOnly := ring(t, newKey)
	for _, p := range payments {
		got, err := bare.GetPayment(ctx, "", p.owner)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := newOnly.Open(p.owner, got.PartnerSecret)
		switch {
		case p.unreadable && err == nil:
			t.Errorf("payment %s: the lost value opens", p.owner)
		case !p.unreadable && (err != nil || plain != p.plaintext):
			t.Errorf("payment %s: %v under the new key alone", p.owner, err)
		case !p.unreadable && !strings.HasPrefix(got.PartnerSecret, newRing.CurrentPrefix()):
			t.Errorf("payment %s not in the current format", p.owner)
		}
	}
	if got, _ := bare.GetPayment(ctx, "", noSecret.ID); got.PartnerSecret != "" {
		t.Error("a payment without a credential got one")
	}
	got := leaseSecrets(t, store.SealWebhookSecrets(bare, newOnly), "store-a")
	for id, want := range endpoints {
		if !slices.Equal(got[id], want) {
			t.Errorf("endpoint %s signs with %d secrets under the new key alone, want its 2", id, len(got[id]))
		}
	}
	inv, err = store.Inventory(ctx, bare, newOnly)
	if err != nil {
		t.Fatal(err)
	}
	if c := inv[store.ColumnWebhookSecrets]; c.ByKey[newRing.KeyID()] != 8 || len(c.ByKey) != 1 || c.Unreadable != 0 {
		t.Errorf("webhook secrets after the reseal: %+v", c)
	}
	if c := inv[store.ColumnPartnerSecrets]; c.ByKey[newRing.KeyID()] != 7 || c.Unreadable != 1 {
		t.Errorf("partner credentials after the reseal: %+v", c)
	}
}

// The reseal refuses to run without a key ring, or on a store that is not payhub's.
func testResealNeeds(t *testing.T, s contracts.Store) {
	if _, err := store.Reseal(context.Background(), s, nil, store.ResealOptions{}); err == nil {
		t.Error("reseal ran without a key ring")
	}
	if _, err := store.Reseal(context.Background(), notSQL{s}, ring(t, secrets.NewKey()), store.ResealOptions{}); err == nil {
		t.Error("reseal ran on another store")
	}
}

// notSQL is a Store that is not internal/store's.
type notSQL struct{ contracts.Store }

// testResealOperatorSecrets: an operator's TOTP secret sealed under the old key is moved to
// the new one, and step-up works with a ring that no longer holds the old key.
func testResealOperatorSecrets(t *testing.T, s contracts.Store) {
	ctx := context.Background()
	oldKey, newKey := secrets.NewKey(), secrets.NewKey()
	now := time.Now().UTC()
	var en operators.Enrolment
	if err := s.InTx(ctx, func(tx contracts.Tx) error {
		var err error
		en, err = operators.Enroll(ctx, tx, ring(t, oldKey), "alice", "test", now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	res, err := store.Reseal(ctx, s, ring(t, newKey, oldKey), store.ResealOptions{})
	if err != nil || res.Resealed[store.ColumnOperatorSecrets] != 1 {
		t.Fatalf("reseal: %+v, %v", res, err)
	}
	code, err := totp.GenerateCode(en.Secret, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := operators.New(s, ring(t, newKey), fixedClock{now}).Verify(ctx, "alice", code); err != nil {
		t.Fatalf("step-up under the new key alone: %v", err)
	}
}

// fixedClock is a clock stopped at t.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }
