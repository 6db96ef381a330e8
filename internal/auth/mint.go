package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTokenTTL is the lifetime Mint gives a token when TokenRequest.TTL is zero.
const DefaultTokenTTL = MaxTokenLifetime

// TokenRequest describes a store token to sign, as a store system would.
type TokenRequest struct {
	// Key signs the token: an Ed25519 key (EdDSA) or an *ecdsa.PrivateKey on P-256 (ES256).
	Key crypto.Signer
	// KeyID is the registered kid of Key.
	KeyID string
	// ClientID is the issuing client ("iss").
	ClientID string
	// StoreID is the store the token acts for ("store"); empty for operator tokens.
	StoreID string
	// Roles are an operator token's roles ("roles"); empty for store tokens.
	Roles []string
	// Audience is "aud"; default DefaultAudience.
	Audience string
	// IssuedAt is "iat"; required (the caller's clock, so tests stay deterministic).
	IssuedAt time.Time
	// TTL is exp − iat; default DefaultTokenTTL. Verifiers refuse more than MaxTokenLifetime.
	TTL time.Duration
	// TokenID is "jti"; random when empty.
	TokenID string
}

// Mint signs a store token. It does not enforce the verifier's limits beyond what makes a
// well-formed token, so tests can mint tokens a verifier must refuse.
func Mint(req TokenRequest) (string, error) {
	alg, err := AlgorithmFor(req.Key)
	if err != nil {
		return "", err
	}
	if _, isECDSA := req.Key.Public().(*ecdsa.PublicKey); isECDSA {
		if _, ok := req.Key.(*ecdsa.PrivateKey); !ok {
			return "", errors.New("auth: ES256 signing needs an *ecdsa.PrivateKey")
		}
	}
	if !kidPattern.MatchString(req.KeyID) {
		return "", fmt.Errorf("auth: key id %q is not [A-Za-z0-9._-]{1,64}", req.KeyID)
	}
	if req.ClientID == "" || (req.StoreID == "") == (len(req.Roles) == 0) {
		return "", errors.New("auth: a client id and either a store id or operator roles are required")
	}
	if req.IssuedAt.IsZero() {
		return "", errors.New("auth: IssuedAt is required")
	}
	switch {
	case req.TTL == 0:
		req.TTL = DefaultTokenTTL
	case req.TTL < 0:
		return "", errors.New("auth: TTL must be positive")
	}
	if req.Audience == "" {
		req.Audience = DefaultAudience
	}
	if req.TokenID == "" {
		if req.TokenID, err = randomTokenID(); err != nil {
			return "", err
		}
	}
	t := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    req.ClientID,
			Audience:  jwt.ClaimStrings{req.Audience},
			IssuedAt:  jwt.NewNumericDate(req.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(req.IssuedAt.Add(req.TTL)),
			ID:        req.TokenID,
		},
		Store: req.StoreID,
		Roles: req.Roles,
	})
	t.Header["kid"] = req.KeyID
	signed, err := t.SignedString(req.Key)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return signed, nil
}

func randomTokenID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: token id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
