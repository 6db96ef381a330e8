package auth

import (
	"context"
	"encoding/json"
	"fmt"

	"payhub/contracts"
)

// Operator roles: an operator token claims some of those its key was granted, and every
// /v1/ops route requires one (docs/security.md). Separate roles keep one person from doing
// everything: a viewer reads, an operator acts on payments, a security admin manages keys
// and controls.
const (
	// RoleViewer reads operational state.
	RoleViewer = "viewer"
	// RoleOperator acts on payments and stores (settles what the resolver handed over).
	RoleOperator = "operator"
	// RoleSecurityAdmin manages operators, keys and controls.
	RoleSecurityAdmin = "security_admin"
)

// OperatorKey is one operator's registered public key and granted roles, as configured in
// the operator key file (PAYHUB_OPERATOR_KEYS).
type OperatorKey struct {
	// Operator is the operator's id, the tokens' "iss".
	Operator string `json:"operator"`
	// KeyID names the key in token headers.
	KeyID string `json:"kid"`
	// PublicKeyPEM is the PKIX PEM of an Ed25519 or P-256 key; its algorithm is pinned.
	PublicKeyPEM string `json:"public_key_pem"`
	// Roles are the roles the operator may claim.
	Roles []string `json:"roles"`
}

// OperatorKeys is a KeySource over a fixed set of operator keys, kept apart from the store
// clients' keys so that neither kind of key can sign the other kind of token.
type OperatorKeys map[string]struct {
	key    contracts.ClientKey
	holder contracts.StoreClient
}

// ParseOperatorKeys reads the operator key file: a JSON array of OperatorKey.
func ParseOperatorKeys(data []byte) (OperatorKeys, error) {
	var list []OperatorKey
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("auth: operator keys: %w", err)
	}
	keys := OperatorKeys{}
	for _, k := range list {
		alg, err := PublicKeyAlgorithm([]byte(k.PublicKeyPEM))
		if err != nil {
			return nil, fmt.Errorf("auth: operator key %q: %w", k.KeyID, err)
		}
		if !kidPattern.MatchString(k.KeyID) || k.Operator == "" || len(k.Roles) == 0 {
			return nil, fmt.Errorf("auth: operator key %q needs a kid, an operator and roles", k.KeyID)
		}
		if _, dup := keys[k.KeyID]; dup {
			return nil, fmt.Errorf("auth: operator key %q listed twice", k.KeyID)
		}
		keys[k.KeyID] = struct {
			key    contracts.ClientKey
			holder contracts.StoreClient
		}{
			key:    contracts.ClientKey{KID: k.KeyID, ClientID: k.Operator, Algorithm: alg, PublicKeyPEM: []byte(k.PublicKeyPEM)},
			holder: contracts.StoreClient{ID: k.Operator, Name: k.Operator, Stores: k.Roles},
		}
	}
	return keys, nil
}

// LookupClientKey implements KeySource: the operator's key, with its roles as the
// holder's grants.
func (o OperatorKeys) LookupClientKey(_ context.Context, kid string) (contracts.ClientKey, contracts.StoreClient, error) {
	k, ok := o[kid]
	if !ok {
		return contracts.ClientKey{}, contracts.StoreClient{}, fmt.Errorf("operator key %q: %w", kid, contracts.ErrNotFound)
	}
	return k.key, k.holder, nil
}
