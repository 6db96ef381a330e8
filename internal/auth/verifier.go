// Package auth owns store-client authentication: verifying the short, self-signed tokens
// store checkout systems present (docs/security.md §2) and minting such tokens the
// way a store system does (for `payhub token`, `payhub demo` and tests).
//
// A store client registers public keys (Ed25519 as EdDSA, P-256 as ES256), each pinned to
// its algorithm; payhub holds no shared secret. Verifier.Authenticate turns an
// Authorization header into a Principal or an *AuthError whose Public face is a
// *contracts.Error (401 unauthenticated, 403 store_not_granted).
package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"payhub/contracts"
)

// Defaults and hard limits of store tokens.
const (
	// DefaultAudience is the "aud" store tokens must carry.
	DefaultAudience = "payhub"
	// OperatorAudience is the "aud" operator tokens carry: a separate kind of token
	// (RFC 8725 §3.12), so neither kind is accepted where the other belongs.
	OperatorAudience = "payhub-ops"
	// DefaultLeeway absorbs clock skew between a store system and payhub.
	DefaultLeeway = 30 * time.Second
	// MaxTokenLifetime is the longest exp − iat accepted: tokens are short by design.
	MaxTokenLifetime = 5 * time.Minute
	// MaxTokenBytes caps a token before any parsing (CVE-2025-30204 blew up on big tokens).
	MaxTokenBytes = 4096
)

// bearerPrefix is the Authorization scheme, compared case-insensitively (RFC 9110 §11.1).
const bearerPrefix = "Bearer "

// kidPattern is the syntax of a key id: it goes to the database and into logs.
var kidPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// refusedHeaders would let a token pick its own verification key or demand extensions
// payhub does not implement (RFC 8725 §3.10, RFC 7515 §4.1.11).
var refusedHeaders = []string{"jku", "x5u", "jwk", "x5c", "crit"}

// KeySource finds a registered, unrevoked key and its client by kid. contracts.Store
// satisfies it. An unknown or revoked kid is an error wrapping contracts.ErrNotFound.
type KeySource interface {
	LookupClientKey(ctx context.Context, kid string) (contracts.ClientKey, contracts.StoreClient, error)
}

// contracts.Store is the production KeySource.
var _ KeySource = contracts.Store(nil)

// Principal is an authenticated store client acting for one of its stores.
type Principal struct {
	// ClientID is the client (the token's "iss").
	ClientID string
	// StoreID is the store the token acts for; the only source of a request's store.
	StoreID string
	// KeyID is the key that signed the token.
	KeyID string
	// TokenID is the token's "jti".
	TokenID string
	// ExpiresAt is the token's "exp".
	ExpiresAt time.Time
	// Roles are an operator's roles (operator tokens only; ClientID is then the operator).
	Roles []string
	// SourceAllowlist are the networks the client's requests may come from; none means any
	// (docs/security.md §6). It is as fresh as the key: read with it, kept KeyTTL.
	SourceAllowlist []netip.Prefix
}

// VerifierOptions configure a Verifier; zero values take the defaults.
type VerifierOptions struct {
	// Audience is the expected "aud"; default DefaultAudience.
	Audience string
	// Clock tells the time; default contracts.SystemClock.
	Clock contracts.Clock
	// Leeway absorbs clock skew on exp, nbf and iat; default (and when ≤ 0) DefaultLeeway.
	Leeway time.Duration
	// MaxLifetime caps exp − iat; default MaxTokenLifetime, and never more than it.
	MaxLifetime time.Duration
	// Operators makes this a verifier of operator tokens: audience OperatorAudience by
	// default, a roles claim instead of a store, keys from the operators' own KeySource.
	Operators bool
	// KeyTTL keeps a key found in the KeySource for this long, so a busy till does not
	// cost a registry query per request; 0 asks the KeySource every time. A key revoked
	// in the registry is refused at the latest KeyTTL later (serve uses DefaultKeyTTL).
	KeyTTL time.Duration
	// UnknownKeyTTL remembers a kid the KeySource does not know (or knows only revoked) for
	// this long, so a flood of made-up or replayed kids costs one registry query per kid
	// and TTL, not one per request (docs/security.md §6). A key registered meanwhile is
	// found at the latest UnknownKeyTTL after a token first named it. 0 takes KeyTTL;
	// negative remembers nothing. Revocation is unaffected: only absence is remembered.
	UnknownKeyTTL time.Duration
}

// DefaultKeyTTL is how long serve trusts a looked-up key before asking the registry again:
// short enough that a revocation takes effect within seconds.
const DefaultKeyTTL = 5 * time.Second

// Verifier authenticates store tokens. It is safe for concurrent use.
type Verifier struct {
	keys        KeySource
	parser      *jwt.Parser
	clock       contracts.Clock
	maxLifetime time.Duration
	cache       keyCache
	operators   bool
	// found keeps recent registry answers for keyTTL.
	keyTTL time.Duration
	mu     sync.Mutex
	found  map[string]foundKey
	// missing keeps when the registry last said a kid is unknown, for unknownTTL.
	unknownTTL time.Duration
	missing    map[string]time.Time
	// verified keeps the tokens whose signature checked out, by their exact text
	// (docs/security.md §2): a till sends one token with many requests, and checking its
	// signature again (an Ed25519 or P-256 verification, the JSON decoded again) found
	// nothing new. Everything that can change is checked on every request all the same
	// (verifiedToken).
	verified map[string]verifiedToken
	// validator applies the parser's claim rules (exp, nbf, iat, aud) to a kept token.
	validator *jwt.Validator
}

// verifiedToken is a token whose signature the key kid (of algorithm alg, PEM keyPEM)
// verified, and its decoded claims. A request bearing it again is checked as the first one
// was, bar the signature: the time claims against the clock now, the key found again in
// the registry (revoked, removed or replaced, the token is refused or verified afresh),
// the client's grants as the registry has them now.
type verifiedToken struct {
	claims claims
	kid    string
	alg    string
	keyPEM string
	at     time.Time
}

// foundKey is one registry answer and when it was read.
type foundKey struct {
	key    contracts.ClientKey
	client contracts.StoreClient
	at     time.Time
}

// lookupKey asks the registry for kid, or answers from what it said recently: a found key
// within keyTTL, an unknown kid within unknownTTL (the negative cache of
// docs/security.md §6). Registry failures are never remembered.
func (v *Verifier) lookupKey(ctx context.Context, kid string) (contracts.ClientKey, contracts.StoreClient, error) {
	now := v.clock.Now()
	if v.keyTTL > 0 || v.unknownTTL > 0 {
		v.mu.Lock()
		f, found := v.found[kid]
		missingAt, missing := v.missing[kid]
		v.mu.Unlock()
		if found && v.keyTTL > 0 && fresh(f.at, now, v.keyTTL) {
			return f.key, f.client, nil
		}
		if missing && fresh(missingAt, now, v.unknownTTL) {
			return contracts.ClientKey{}, contracts.StoreClient{}, fmt.Errorf("auth: kid %s (remembered as unknown): %w", kid, contracts.ErrNotFound)
		}
	}
	key, client, err := v.keys.LookupClientKey(ctx, kid)
	switch {
	case errors.Is(err, contracts.ErrNotFound) && v.unknownTTL > 0:
		v.mu.Lock()
		delete(v.found, kid)
		remember(v.missing, kid, now, now, v.unknownTTL, func(at time.Time) time.Time { return at })
		v.mu.Unlock()
		return key, client, err
	case err != nil:
		return key, client, err
	case v.keyTTL > 0 || v.unknownTTL > 0:
		v.mu.Lock()
		delete(v.missing, kid)
		if v.keyTTL > 0 {
			remember(v.found, kid, foundKey{key: key, client: client, at: now}, now, v.keyTTL, func(f foundKey) time.Time { return f.at })
		}
		v.mu.Unlock()
	}
	return key, client, nil
}

// fresh reports whether something read at at is still good at now for ttl.
func fresh(at, now time.Time, ttl time.Duration) bool {
	return ttl > 0 && now.Sub(at) < ttl && !now.Before(at)
}

// remember puts val under key in m, bounded by keyCacheLimit entries: when full, stale
// entries go first, and if the map is still full it starts over (crude but bounded; a
// flood of distinct kids is the per-address throttle's job).
func remember[V any](m map[string]V, key string, val V, now time.Time, ttl time.Duration, at func(V) time.Time) {
	if _, ok := m[key]; !ok && len(m) >= keyCacheLimit {
		for k, e := range m {
			if !fresh(at(e), now, ttl) {
				delete(m, k)
			}
		}
		if len(m) >= keyCacheLimit {
			clear(m)
		}
	}
	m[key] = val
}

// claims are the store-token claims; typed, never jwt.MapClaims.
type claims struct {
	jwt.RegisteredClaims
	// Store is the store the token acts for.
	Store string `json:"store,omitempty"`
	// Roles are an operator token's roles (operator tokens only).
	Roles []string `json:"roles,omitempty"`
}

// NewVerifier builds a Verifier with its single parser.
func NewVerifier(keys KeySource, opts VerifierOptions) *Verifier {
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
		if opts.Operators {
			opts.Audience = OperatorAudience
		}
	}
	if opts.Clock == nil {
		opts.Clock = contracts.SystemClock{}
	}
	if opts.Leeway <= 0 {
		opts.Leeway = DefaultLeeway
	}
	if opts.UnknownKeyTTL == 0 {
		opts.UnknownKeyTTL = opts.KeyTTL
	}
	if opts.MaxLifetime <= 0 || opts.MaxLifetime > MaxTokenLifetime {
		opts.MaxLifetime = MaxTokenLifetime
	}
	claimRules := []jwt.ParserOption{
		jwt.WithAudience(opts.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(opts.Leeway),
		jwt.WithTimeFunc(opts.Clock.Now),
	}
	return &Verifier{
		keys: keys,
		parser: jwt.NewParser(append([]jwt.ParserOption{
			jwt.WithValidMethods([]string{contracts.AlgEdDSA, contracts.AlgES256}),
			jwt.WithStrictDecoding(),
		}, claimRules...)...),
		validator:   jwt.NewValidator(claimRules...),
		verified:    map[string]verifiedToken{},
		clock:       opts.Clock,
		maxLifetime: opts.MaxLifetime,
		operators:   opts.Operators,
		keyTTL:      opts.KeyTTL,
		found:       map[string]foundKey{},
		unknownTTL:  max(opts.UnknownKeyTTL, 0),
		missing:     map[string]time.Time{},
	}
}

// Authenticate verifies the Authorization header of a store request. Errors are *AuthError:
// 401 unauthenticated for any token problem, 403 store_not_granted when the token is valid
// but names a store its client may not act for, 500 internal_error when the key registry
// fails. The HTTP layer adds `WWW-Authenticate: Bearer error="invalid_token"` to 401s.
func (v *Verifier) Authenticate(ctx context.Context, authorizationHeader string) (Principal, error) {
	token, aerr := bearerToken(authorizationHeader)
	if aerr != nil {
		return Principal{}, aerr
	}

	if p, ok, err := v.authenticateVerified(ctx, token); ok {
		return p, err
	}
	lookup := keyLookup{ctx: ctx, v: v}
	var c claims
	parsed, err := v.parser.ParseWithClaims(token, &c, lookup.keyfunc)
	if lookup.failure != nil {
		return Principal{}, lookup.failure
	}
	if err != nil {
		return Principal{}, unauthenticated(parseReason(err))
	}
	p, err := v.checkClaims(&c, lookup.key, lookup.client)
	if err == nil {
		v.rememberVerified(token, verifiedToken{claims: c, kid: lookup.key.KID, alg: parsed.Method.Alg(),
			keyPEM: string(lookup.key.PublicKeyPEM), at: v.clock.Now()})
	}
	return p, err
}

// authenticateVerified answers for a token verified before (ok), checking all but its
// signature again; ok is false for a token not kept, or whose key changed since, which
// Authenticate then verifies in full.
func (v *Verifier) authenticateVerified(ctx context.Context, token string) (p Principal, ok bool, err error) {
	v.mu.Lock()
	e, ok := v.verified[token]
	v.mu.Unlock()
	if !ok {
		return Principal{}, false, nil
	}
	c := e.claims
	if err := v.validator.Validate(&c); err != nil {
		v.forgetVerified(token)
		return Principal{}, true, unauthenticated(parseReason(err))
	}
	key, client, aerr := v.keyFor(ctx, e.kid, e.alg)
	if aerr != nil {
		return Principal{}, true, aerr
	}
	if string(key.PublicKeyPEM) != e.keyPEM {
		v.forgetVerified(token)
		return Principal{}, false, nil
	}
	p, err = v.checkClaims(&c, key, client)
	return p, true, err
}

// rememberVerified keeps a verified token, bounded like the key caches (keyCacheLimit): when
// the map is full, entries kept longer than a token may live (plus the leeway) go first.
func (v *Verifier) rememberVerified(token string, e verifiedToken) {
	v.mu.Lock()
	defer v.mu.Unlock()
	remember(v.verified, token, e, e.at, v.maxLifetime+DefaultLeeway, func(e verifiedToken) time.Time { return e.at })
}

func (v *Verifier) forgetVerified(token string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.verified, token)
}

// bearerToken applies the checks that come before any parsing, cheaply and without
// allocating on the refusal path beyond the error itself.
func bearerToken(header string) (string, *AuthError) {
	if header == "" {
		return "", unauthenticated("no Authorization header")
	}
	if len(header) < len(bearerPrefix) || !strings.EqualFold(header[:len(bearerPrefix)], bearerPrefix) {
		return "", unauthenticated("Authorization scheme is not Bearer")
	}
	token := header[len(bearerPrefix):]
	if len(token) > MaxTokenBytes {
		return "", unauthenticated(fmt.Sprintf("token longer than %d bytes", MaxTokenBytes))
	}
	dots := 0
	for i := 0; i < len(token); i++ {
		switch b := token[i]; {
		case b == '.':
			dots++
		case b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z', b >= '0' && b <= '9', b == '-', b == '_':
		default:
			return "", unauthenticated("token has a character outside base64url")
		}
	}
	if dots != 2 {
		return "", unauthenticated("token does not have exactly three segments")
	}
	return token, nil
}

// keyLookup is one Authenticate call's keyfunc and what it found.
type keyLookup struct {
	ctx     context.Context
	v       *Verifier
	key     contracts.ClientKey
	client  contracts.StoreClient
	failure *AuthError // set when the keyfunc refused; parse errors then carry no news
}

// keyfunc chooses the verification key from the header, refusing anything that would let
// the token choose its own key or algorithm.
func (l *keyLookup) keyfunc(t *jwt.Token) (any, error) {
	pub, aerr := l.resolve(t)
	if aerr != nil {
		l.failure = aerr
		return nil, aerr
	}
	return pub, nil
}

func (l *keyLookup) resolve(t *jwt.Token) (crypto.PublicKey, *AuthError) {
	for _, h := range refusedHeaders {
		if _, present := t.Header[h]; present {
			return nil, unauthenticated("token header carries refused parameter " + h)
		}
	}
	if typ, present := t.Header["typ"]; present && typ != "JWT" {
		return nil, unauthenticated(`token header typ is not "JWT"`)
	}
	kid, _ := t.Header["kid"].(string)
	if !kidPattern.MatchString(kid) {
		return nil, unauthenticated("token kid is missing or malformed")
	}
	key, client, aerr := l.v.keyFor(l.ctx, kid, t.Method.Alg())
	if aerr != nil {
		return nil, aerr
	}
	pub, err := l.v.cache.publicKey(key)
	if err != nil {
		return nil, internalFailure("registered key "+kid+" does not parse", err)
	}
	l.key, l.client = key, client
	return pub, nil
}

// keyFor is the registered, unrevoked key kid and its client, refused unless pinned to alg.
func (v *Verifier) keyFor(ctx context.Context, kid, alg string) (contracts.ClientKey, contracts.StoreClient, *AuthError) {
	key, client, err := v.lookupKey(ctx, kid)
	switch {
	case errors.Is(err, contracts.ErrNotFound):
		return key, client, unauthenticated("kid " + kid + " is not a registered, unrevoked key")
	case err != nil:
		return key, client, internalFailure("looking up kid "+kid, err)
	}
	if key.KID != kid || key.ClientID != client.ID || client.ID == "" {
		return key, client, internalFailure("key registry returned an inconsistent key for kid "+kid, nil)
	}
	if key.RevokedAt != nil && !v.clock.Now().Before(*key.RevokedAt) {
		return key, client, unauthenticated("kid " + kid + " is revoked")
	}
	if key.Algorithm != alg {
		return key, client, unauthenticated("kid " + kid + " is pinned to " + key.Algorithm + ", token uses another algorithm")
	}
	return key, client, nil
}

// checkClaims applies the rules the parser cannot know: the issuer is the key's owner, the
// lifetime is short, the token is identified, and its store is granted to the client.
func (v *Verifier) checkClaims(c *claims, key contracts.ClientKey, client contracts.StoreClient) (Principal, error) {
	if c.Issuer != client.ID {
		return Principal{}, unauthenticated("iss is not the client owning kid " + key.KID)
	}
	if c.IssuedAt == nil {
		return Principal{}, unauthenticated("iat is missing")
	}
	if c.ExpiresAt == nil { // the parser requires exp; this keeps the dereference below safe
		return Principal{}, unauthenticated("exp is missing")
	}
	lifetime := c.ExpiresAt.Sub(c.IssuedAt.Time)
	if lifetime < 0 || lifetime > v.maxLifetime {
		return Principal{}, unauthenticated(fmt.Sprintf("exp − iat is %s, allowed 0..%s", lifetime, v.maxLifetime))
	}
	if c.ID == "" {
		return Principal{}, unauthenticated("jti is missing")
	}
	if v.operators {
		return v.checkOperator(c, key, client)
	}
	if c.Store == "" {
		return Principal{}, unauthenticated("store claim is missing")
	}
	if !slices.Contains(client.Stores, c.Store) {
		return Principal{}, storeNotGranted(fmt.Sprintf("store %q is not granted to client %q", c.Store, client.ID))
	}
	return Principal{
		ClientID:  client.ID,
		StoreID:   c.Store,
		KeyID:     key.KID,
		TokenID:   c.ID,
		ExpiresAt: c.ExpiresAt.Time,

		SourceAllowlist: client.SourceAllowlist,
	}, nil
}

// parseReason names a parser refusal from jwt's sentinel errors only: jwt's messages can
// quote header values (e.g. an unknown alg), which belong to the token and stay out of logs.
func parseReason(err error) string {
	reasons := []struct {
		sentinel error
		reason   string
	}{
		{jwt.ErrTokenMalformed, "token is malformed (segments, base64 or JSON)"},
		{jwt.ErrTokenSignatureInvalid, "signature invalid or algorithm not allowed"},
		{jwt.ErrTokenRequiredClaimMissing, "a required claim (exp or aud) is missing"},
		{jwt.ErrTokenInvalidAudience, "aud is not payhub's"},
		{jwt.ErrTokenExpired, "token is expired"},
		{jwt.ErrTokenUsedBeforeIssued, "iat is in the future"},
		{jwt.ErrTokenNotValidYet, "nbf is in the future"},
		{jwt.ErrInvalidType, "a claim has the wrong JSON type"},
		{jwt.ErrTokenUnverifiable, "token is unverifiable (alg unknown or missing)"},
		{jwt.ErrTokenInvalidClaims, "claims are invalid"},
	}
	for _, r := range reasons {
		if errors.Is(err, r.sentinel) {
			return r.reason
		}
	}
	return "token refused by the parser"
}

// checkOperator finishes the checks of an operator token: roles instead of a store, each
// granted to the operator (an operator's StoreClient.Stores lists its granted roles).
func (v *Verifier) checkOperator(c *claims, key contracts.ClientKey, client contracts.StoreClient) (Principal, error) {
	if c.Store != "" {
		return Principal{}, unauthenticated("an operator token names a store")
	}
	if len(c.Roles) == 0 {
		return Principal{}, unauthenticated("roles claim is missing")
	}
	for _, r := range c.Roles {
		if !slices.Contains(client.Stores, r) {
			return Principal{}, &AuthError{Public: &contracts.Error{Code: contracts.CodeForbidden,
				Detail: "the token claims a role the operator does not hold"}, Reason: fmt.Sprintf("role %q not granted to %q", r, client.ID)}
		}
	}
	return Principal{ClientID: client.ID, KeyID: key.KID, TokenID: c.ID, ExpiresAt: c.ExpiresAt.Time, Roles: c.Roles}, nil
}
