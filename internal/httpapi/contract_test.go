package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"payhub/contracts"
)

var contractRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(contracts.OpenAPI)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil // match any host: the test server listens on a random port
	return legacy.NewRouter(doc)
})

// checkAgainstContract fails the test when a response to an API route is not what
// contracts/openapi.yaml promises: an undocumented status, a header or a body that does
// not fit its schema.
func checkAgainstContract(t *testing.T, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := contractViolation(req, status, header, body); err != nil {
		t.Errorf("%s %s → %d breaks the contract: %v\nbody: %s", req.Method, req.URL.Path, status, err, body)
	}
}

func contractViolation(req *http.Request, status int, header http.Header, body []byte) error {
	router, err := contractRouter()
	if err != nil {
		return err
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return nil // not a contract route (health, metrics) or a deliberately unknown path
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// TestContractCheckCatchesDrift proves the response check above can fail.
func TestContractCheckCatchesDrift(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:40123/v1/payments/pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AB", nil)
	h := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r"}, "Api-Version": {contracts.APIVersion}}
	for name, c := range map[string]struct {
		status int
		body   string
	}{
		"missing fields":       {200, `{"object":"payment"}`},
		"undocumented status":  {418, `{}`},
		"float amount":         {200, `{"object":"payment","id":"pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AB","status":"succeeded","amount":1.5,"currency":"JPY","amount_refunded":0,"method":"paypay","flow":"qr","store_id":"s","cancel_requested":false,"created_at":"2026-11-28T00:00:00Z","updated_at":"2026-11-28T00:00:00Z"}`},
		"unknown status value": {200, `{"object":"payment","id":"pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AB","status":"done","amount":1,"currency":"JPY","amount_refunded":0,"method":"paypay","flow":"qr","store_id":"s","cancel_requested":false,"created_at":"2026-11-28T00:00:00Z","updated_at":"2026-11-28T00:00:00Z"}`},
	} {
		if contractViolation(req, c.status, h, []byte(c.body)) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ok := `{"object":"payment","id":"pay_01JDQ5Y7R3M2K8T4V6W9X0Z1AB","status":"succeeded","amount":1,"currency":"JPY","amount_refunded":0,"amount_captured":1,"capture_method":"automatic","method":"paypay","flow":"qr","store_id":"s","cancel_requested":false,"created_at":"2026-11-28T00:00:00Z","updated_at":"2026-11-28T00:00:00Z"}`
	if err := contractViolation(req, 200, h, []byte(ok)); err != nil {
		t.Errorf("valid payment refused: %v", err)
	}
}
