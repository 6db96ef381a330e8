package render

import (
	"encoding/json"
	"time"

	"payhub/contracts"
	"payhub/contracts/api"
)

// LinkedAccount renders a as the API's linked_account (never its partner authorization).
func LinkedAccount(a contracts.LinkedAccount) []byte {
	body, _ := json.Marshal(APILinkedAccount(a))
	return body
}

// APILinkedAccount is a as the API shows it.
func APILinkedAccount(a contracts.LinkedAccount) api.LinkedAccount {
	scopes := a.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	out := api.LinkedAccount{Object: "linked_account", Id: a.ID, Method: api.LinkedAccountMethod(a.Method),
		Status: api.LinkedAccountStatus(a.Status), Scopes: scopes, StoreId: a.StoreID, CreatedAt: a.CreatedAt.UTC(),
		LinkedAt: utc(a.LinkedAt), UnlinkedAt: utc(a.UnlinkedAt)}
	if a.Status == contracts.LinkPending {
		out.LinkUrl = Optional(a.LinkURL)
		out.ExpiresAt = utc(a.ExpiresAt)
	}
	return out
}

// utc is t in UTC, or nil.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
