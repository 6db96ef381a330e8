// Package clients changes store clients (their registration, keys and source allowlists)
// in a caller's transaction, each change with its audit entry (docs/security.md §9). The
// changes that touch who may call payhub run only through two-person approval
// (docs/security.md §8): internal/approvals executes them, and `payhub client …` asks for
// them; both validate with the functions here.
package clients

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"payhub/contracts"
	"payhub/internal/audit"
	"payhub/internal/auth"
	"payhub/internal/hub"
)

// idPattern is the syntax of client, store and operator ids: they travel in tokens (iss,
// store) and into logs, so they hold no spaces, slashes or control characters.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// CheckID refuses an id (what names it) that a token cannot carry.
func CheckID(what, id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%s %q: use 1 to 64 of A–Z, a–z, 0–9, '.', '_' and '-'", what, id)
	}
	return nil
}

// CheckKeyID refuses a key id a token's kid cannot carry.
func CheckKeyID(kid string) error {
	if !auth.ValidKeyID(kid) {
		return fmt.Errorf("key id %q: use 1 to 64 of A–Z, a–z, 0–9, '.', '_' and '-' (a token's kid can carry nothing else)", kid)
	}
	return nil
}

// ReturnOrigins checks and normalises return origins, dropping repeats.
func ReturnOrigins(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		o, err := hub.ParseReturnOrigin(v)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

// SourceNetworks reads allowlist entries: networks (masked) or single addresses
// (docs/security.md §6), dropping repeats.
func SourceNetworks(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		v = strings.TrimSpace(v)
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("--allow-cidr %q is neither a network (203.0.113.0/24, 2001:db8::/32) nor an address", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p = p.Masked(); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// PrefixStrings is networks as text, for the audit log and the output.
func PrefixStrings(networks []netip.Prefix) []string {
	out := make([]string, len(networks))
	for i, p := range networks {
		out[i] = p.String()
	}
	return out
}

// KeyFingerprint names a public key in the audit log: the SHA-256 of its PEM.
func KeyFingerprint(pem []byte) string {
	sum := sha256.Sum256(pem)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Record appends an audit entry for a change in the change's transaction tx.
func Record(ctx context.Context, tx contracts.Tx, key []byte, actor, requestID, action, target string, at time.Time, c audit.Change) error {
	params, err := audit.Params(c)
	if err != nil {
		return err
	}
	_, err = audit.Append(ctx, tx, key, audit.Entry{At: at, Actor: actor, Action: action, Target: target, Params: params, RequestID: requestID})
	return err
}

// invalid is a refusal of parameters: 400 invalid_request.
func invalid(err error) error {
	return &contracts.Error{Code: contracts.CodeInvalidRequest, Detail: err.Error()}
}

// Registration is client.register's parameters.
type Registration struct {
	ClientID      string   `json:"client_id"`
	Name          string   `json:"name"`
	StoreIDs      []string `json:"store_ids"`
	KID           string   `json:"kid"`
	PublicKeyPEM  string   `json:"public_key_pem"`
	ReturnOrigins []string `json:"return_origins"`
	AllowCIDRs    []string `json:"allow_cidrs"`
}

// Normalise checks r and puts it in its canonical form (the name defaults to the id,
// origins and networks normalised, never nil lists); it returns the key's algorithm.
func (r *Registration) Normalise() (string, error) {
	if err := CheckID("client id", r.ClientID); err != nil {
		return "", invalid(err)
	}
	if err := CheckKeyID(r.KID); err != nil {
		return "", invalid(err)
	}
	if len(r.StoreIDs) == 0 {
		return "", invalid(errors.New("a client needs at least one store"))
	}
	for _, s := range r.StoreIDs {
		if err := CheckID("store id", s); err != nil {
			return "", invalid(err)
		}
	}
	if r.Name == "" {
		r.Name = r.ClientID
	}
	if len(r.Name) > 200 {
		return "", invalid(errors.New("name: at most 200 bytes"))
	}
	origins, err := ReturnOrigins(r.ReturnOrigins)
	if err != nil {
		return "", invalid(err)
	}
	networks, err := SourceNetworks(r.AllowCIDRs)
	if err != nil {
		return "", invalid(err)
	}
	alg, err := auth.PublicKeyAlgorithm([]byte(r.PublicKeyPEM))
	if err != nil {
		return "", invalid(fmt.Errorf("public key: %w", err))
	}
	r.ReturnOrigins, r.AllowCIDRs = nonNil(origins), PrefixStrings(networks)
	return alg, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Describe is r as the audit log records it: the key's fingerprint, not the key.
func (r Registration) Describe() map[string]any {
	return map[string]any{"client_id": r.ClientID, "name": r.Name, "stores": r.StoreIDs, "return_origins": r.ReturnOrigins,
		"source_allowlist": r.AllowCIDRs, "key": map[string]any{"kid": r.KID, "public_key": KeyFingerprint([]byte(r.PublicKeyPEM))}}
}

// Register registers the client r describes in tx with its audit entry (client.register):
// ErrConflict (as invalid_state) when the client id or the kid is taken.
func Register(ctx context.Context, tx contracts.Tx, key []byte, actor, requestID string, r Registration, now time.Time) (contracts.StoreClient, error) {
	alg, err := r.Normalise()
	if err != nil {
		return contracts.StoreClient{}, err
	}
	networks, _ := SourceNetworks(r.AllowCIDRs)
	pub := []byte(r.PublicKeyPEM)
	c := contracts.StoreClient{ID: r.ClientID, Name: r.Name, Stores: r.StoreIDs, CreatedAt: now,
		ReturnOrigins: r.ReturnOrigins, SourceAllowlist: networks,
		Keys: []contracts.ClientKey{{KID: r.KID, ClientID: r.ClientID, Algorithm: alg, PublicKeyPEM: pub, CreatedAt: now}}}
	if err := tx.CreateStoreClient(ctx, c); err != nil {
		if errors.Is(err, contracts.ErrConflict) {
			return contracts.StoreClient{}, contracts.Errorf(contracts.CodeInvalidState, "client %s or key id %s is taken", r.ClientID, r.KID)
		}
		return contracts.StoreClient{}, err
	}
	err = Record(ctx, tx, key, actor, requestID, "client.register", "client:"+r.ClientID, now, audit.Change{
		After: map[string]any{"name": r.Name, "stores": r.StoreIDs, "return_origins": r.ReturnOrigins,
			"source_allowlist": r.AllowCIDRs, "key": map[string]any{"kid": r.KID, "algorithm": alg, "public_key": KeyFingerprint(pub)}}})
	return c, err
}

// KeyRotation is client.rotate_key's parameters: a new key, and the keys to revoke with it
// (none: the old keys stay valid until revoked).
type KeyRotation struct {
	ClientID     string   `json:"client_id"`
	KID          string   `json:"kid"`
	PublicKeyPEM string   `json:"public_key_pem"`
	RevokeKIDs   []string `json:"revoke_kids"`
}

// Normalise checks k and returns the new key's algorithm.
func (k *KeyRotation) Normalise() (string, error) {
	if err := CheckID("client id", k.ClientID); err != nil {
		return "", invalid(err)
	}
	if err := CheckKeyID(k.KID); err != nil {
		return "", invalid(err)
	}
	for _, o := range k.RevokeKIDs {
		if err := CheckKeyID(o); err != nil {
			return "", invalid(err)
		}
		if o == k.KID {
			return "", invalid(errors.New("the new key cannot be revoked with its own rotation"))
		}
	}
	k.RevokeKIDs = nonNil(k.RevokeKIDs)
	alg, err := auth.PublicKeyAlgorithm([]byte(k.PublicKeyPEM))
	if err != nil {
		return "", invalid(fmt.Errorf("public key: %w", err))
	}
	return alg, nil
}

// Describe is k as the audit log records it.
func (k KeyRotation) Describe() map[string]any {
	return map[string]any{"client_id": k.ClientID, "key": map[string]any{"kid": k.KID, "public_key": KeyFingerprint([]byte(k.PublicKeyPEM))},
		"revoke_kids": k.RevokeKIDs}
}

// RotateKey adds k's key to its client in tx and revokes k.RevokeKIDs (each must be the
// client's), with the audit entry client.rotate_key.
func RotateKey(ctx context.Context, tx contracts.Tx, key []byte, actor, requestID string, k KeyRotation, now time.Time) error {
	alg, err := k.Normalise()
	if err != nil {
		return err
	}
	pub := []byte(k.PublicKeyPEM)
	err = tx.AddClientKey(ctx, contracts.ClientKey{KID: k.KID, ClientID: k.ClientID, Algorithm: alg, PublicKeyPEM: pub, CreatedAt: now})
	switch {
	case errors.Is(err, contracts.ErrConflict):
		return contracts.Errorf(contracts.CodeInvalidState, "key id %s is taken", k.KID)
	case errors.Is(err, contracts.ErrNotFound):
		return contracts.Errorf(contracts.CodeNotFound, "no client %s is registered", k.ClientID)
	case err != nil:
		return err
	}
	for _, o := range k.RevokeKIDs {
		if err := revokeOwn(ctx, tx, k.ClientID, o, now); err != nil {
			return err
		}
	}
	return Record(ctx, tx, key, actor, requestID, "client.rotate_key", "client:"+k.ClientID, now, audit.Change{
		After: map[string]any{"key": map[string]any{"kid": k.KID, "algorithm": alg, "public_key": KeyFingerprint(pub)},
			"revoked": k.RevokeKIDs}})
}

// revokeOwn revokes kid, which must be clientID's ("" any client's).
func revokeOwn(ctx context.Context, tx contracts.Tx, clientID, kid string, now time.Time) error {
	_, _, err := revokeKey(ctx, tx, clientID, kid, now)
	return err
}

func revokeKey(ctx context.Context, tx contracts.Tx, clientID, kid string, now time.Time) (contracts.ClientKey, bool, error) {
	k, err := tx.RevokeClientKey(ctx, kid, now)
	if errors.Is(err, contracts.ErrNotFound) {
		return k, false, contracts.Errorf(contracts.CodeNotFound, "no key %s is registered", kid)
	}
	if err != nil {
		return k, false, err
	}
	if clientID != "" && k.ClientID != clientID {
		return k, false, contracts.Errorf(contracts.CodeInvalidRequest, "key %s is not client %s's", kid, clientID)
	}
	return k, k.RevokedAt != nil && !k.RevokedAt.Before(now), nil
}

// Revocation is client.revoke's parameters: the keys to revoke (of ClientID, when set).
type Revocation struct {
	ClientID string   `json:"client_id"`
	KIDs     []string `json:"kids"`
	Reason   string   `json:"reason"`
}

// Normalise checks r.
func (r *Revocation) Normalise() error {
	if r.ClientID != "" {
		if err := CheckID("client id", r.ClientID); err != nil {
			return invalid(err)
		}
	}
	if len(r.KIDs) == 0 {
		return invalid(errors.New("no key to revoke"))
	}
	for _, k := range r.KIDs {
		if err := CheckKeyID(k); err != nil {
			return invalid(err)
		}
	}
	return nil
}

// Revoke revokes r's keys in tx at now (microseconds, UTC), each newly revoked one with its
// audit entry client.revoke_key, and returns the keys as stored with whether each was
// revoked now (a key revoked before keeps its time; nothing is recorded for it).
func Revoke(ctx context.Context, tx contracts.Tx, key []byte, actor, requestID string, r Revocation, now time.Time) ([]contracts.ClientKey, []bool, error) {
	if err := r.Normalise(); err != nil {
		return nil, nil, err
	}
	now = now.UTC().Truncate(time.Microsecond) // as the database keeps it
	var (
		keys  []contracts.ClientKey
		fresh []bool
	)
	for _, kid := range r.KIDs {
		k, isNew, err := revokeKey(ctx, tx, r.ClientID, kid, now)
		if err != nil {
			return nil, nil, err
		}
		keys, fresh = append(keys, k), append(fresh, isNew)
		if !isNew {
			continue
		}
		if err := Record(ctx, tx, key, actor, requestID, "client.revoke_key", "client:"+k.ClientID, now, audit.Change{
			Before: map[string]any{"kid": kid, "revoked": false},
			After:  map[string]any{"kid": kid, "revoked": true, "revoked_at": now}, Reason: r.Reason}); err != nil {
			return nil, nil, err
		}
	}
	return keys, fresh, nil
}

// Allowlist is client.set_allowlist's parameters: the networks the client's requests may
// come from (none: any source).
type Allowlist struct {
	ClientID   string   `json:"client_id"`
	AllowCIDRs []string `json:"allow_cidrs"`
}

// Normalise checks a and normalises its networks.
func (a *Allowlist) Normalise() ([]netip.Prefix, error) {
	if err := CheckID("client id", a.ClientID); err != nil {
		return nil, invalid(err)
	}
	networks, err := SourceNetworks(a.AllowCIDRs)
	if err != nil {
		return nil, invalid(err)
	}
	a.AllowCIDRs = PrefixStrings(networks)
	return networks, nil
}

// SetAllowlist replaces the client's source allowlist in tx with its audit entry
// client.set_source_allowlist (before: the list as it was).
func SetAllowlist(ctx context.Context, tx contracts.Tx, key []byte, actor, requestID string, a Allowlist, before []string, now time.Time) error {
	networks, err := a.Normalise()
	if err != nil {
		return err
	}
	if err := tx.SetClientSourceAllowlist(ctx, a.ClientID, networks); errors.Is(err, contracts.ErrNotFound) {
		return contracts.Errorf(contracts.CodeNotFound, "no client %s is registered", a.ClientID)
	} else if err != nil {
		return err
	}
	change := audit.Change{After: map[string]any{"source_allowlist": a.AllowCIDRs}}
	if before != nil {
		change.Before = map[string]any{"source_allowlist": before}
	}
	return Record(ctx, tx, key, actor, requestID, "client.set_source_allowlist", "client:"+a.ClientID, now, change)
}
