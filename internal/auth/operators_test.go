package auth

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"payhub/contracts"
	"payhub/internal/render"
)

func TestOperatorTokens(t *testing.T) {
	key, _ := GenerateKey(contracts.AlgEdDSA)
	pub, _ := MarshalPublicKeyPEM(key.Public())
	ops, err := ParseOperatorKeys([]byte(`[{"operator":"alice","kid":"alice-1","roles":["ops"],"public_key_pem":` + jsonString(string(pub)) + `}]`))
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(ops, VerifierOptions{Operators: true})
	mint := func(mod func(*TokenRequest)) string {
		req := TokenRequest{Key: key, KeyID: "alice-1", ClientID: "alice", Roles: []string{"ops"}, Audience: OperatorAudience, IssuedAt: time.Now(), TTL: time.Minute}
		mod(&req)
		tok, err := Mint(req)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	p, err := v.Authenticate(context.Background(), "Bearer "+mint(func(*TokenRequest) {}))
	if err != nil || p.ClientID != "alice" || len(p.Roles) != 1 || p.StoreID != "" {
		t.Fatalf("operator token refused: %+v %v", p, err)
	}
	for name, c := range map[string]struct {
		mod    func(*TokenRequest)
		status int
	}{
		"store audience":      {func(r *TokenRequest) { r.Audience = DefaultAudience }, 401},
		"role not held":       {func(r *TokenRequest) { r.Roles = []string{"security"} }, 403},
		"store token for ops": {func(r *TokenRequest) { r.StoreID, r.Roles = "store-1", nil }, 401},
		"unknown kid":         {func(r *TokenRequest) { r.KeyID = "bob-1" }, 401},
		"other operator iss":  {func(r *TokenRequest) { r.ClientID = "bob" }, 401},
	} {
		_, err := v.Authenticate(context.Background(), "Bearer "+mint(c.mod))
		if e, ok := contracts.AsError(err); !ok || render.ErrorStatus(e) != c.status {
			t.Errorf("%s: %v, want %d", name, err, c.status)
		}
	}
	for _, bad := range []string{`[{"operator":"a","kid":"k","roles":[],"public_key_pem":` + jsonString(string(pub)) + `}]`, `[{"operator":"a","kid":"k","roles":["ops"],"public_key_pem":"x"}]`, `{}`} {
		if _, err := ParseOperatorKeys([]byte(bad)); err == nil {
			t.Errorf("accepted operator keys %s", bad)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
