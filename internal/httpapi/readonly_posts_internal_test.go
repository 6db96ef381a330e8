package httpapi

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"payhub/contracts"
)

// The POSTs the middleware lets through without an Idempotency-Key are exactly those the
// contract marks x-read-only.
func TestReadOnlyPostsMatchTheContract(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(contracts.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	marked := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		if op := item.Post; op != nil && op.Extensions["x-read-only"] == true {
			marked[path] = true
		}
	}
	if len(marked) != len(readOnlyPosts) {
		t.Fatalf("contract marks %v, the middleware exempts %v", marked, readOnlyPosts)
	}
	for path := range marked {
		if !readOnlyPosts[path] {
			t.Errorf("%s is x-read-only in the contract but needs a key here", path)
		}
	}
}
