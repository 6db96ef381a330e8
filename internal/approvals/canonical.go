package approvals

import (
	"encoding/json"

	"payhub/internal/jsonin"
)

// canonicalJSON is raw re-encoded canonically (jsonin.Canonical): the form a request's
// params are stored and hashed in.
func canonicalJSON(raw []byte) (json.RawMessage, error) {
	c, err := jsonin.Canonical(raw)
	if err != nil {
		return nil, err
	}
	return c, nil
}
