package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"

	"payhub/contracts"
	"payhub/internal/jsonin"
)

// bodyKey holds the request body read (once, size-limited) by the contract validator.
const bodyKey = "payhub.body"

// contractValidator checks every API request against contracts/openapi.yaml before a
// handler sees it, so what the contract promises to refuse is refused, with problem+json.
type contractValidator struct {
	router routers.Router
}

func newContractValidator() (*contractValidator, error) {
	doc, err := openapi3.NewLoader().LoadFromData(contracts.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("load contract: %w", err)
	}
	doc.Servers = nil // requests arrive on whatever address payhub listens on
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route contract: %w", err)
	}
	return &contractValidator{router: router}, nil
}

// middleware reads the body within the size limit, validates parameters, headers and body
// against the contract, and hands the body on to the handler.
func (v *contractValidator) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		route, params, err := v.router.FindRoute(c.Request)
		if err != nil {
			c.Next() // not a contract route: gin answers 404/405
			return
		}
		body, err := readBody(c.Request, route.Operation.RequestBody != nil)
		if err != nil {
			writeProblem(c, problemFrom(err))
			return
		}
		c.Set(bodyKey, body)
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		in := &openapi3filter.RequestValidationInput{Request: c.Request, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(c.Request.Context(), in); err != nil {
			writeProblem(c, validationProblem(err))
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		c.Next()
	}
}

// readBody reads the body of an operation that takes one, within MaxBodyBytes. A request
// without a Content-Type is bodiless only if it really carries no bytes (a chunked empty
// body included); operations without a body ignore whatever came.
func readBody(r *http.Request, takesBody bool) ([]byte, error) {
	if !takesBody {
		return nil, nil
	}
	if r.Header.Get("Content-Type") == "" {
		raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
		if err != nil || len(raw) > 0 {
			return nil, contracts.Errorf(contracts.CodeUnsupportedMediaType, "A request body must be sent as application/json.")
		}
		return nil, nil
	}
	return jsonin.ReadBody(r, MaxBodyBytes)
}

func problemFrom(err error) *contracts.Error {
	if e, ok := contracts.AsError(err); ok {
		return e
	}
	return contracts.Errorf(contracts.CodeInvalidRequest, "The request body could not be read.")
}

// validationProblem turns a contract violation into 400 invalid_request naming the field;
// an amount outside the contract's range (422 amount_out_of_range) and a method payhub does
// not offer (422 method_not_supported) get the codes the business rules give them.
func validationProblem(err error) *contracts.Error {
	e := &contracts.Error{Code: contracts.CodeInvalidRequest}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		if re.Parameter != nil {
			e.Pointer = "/" + re.Parameter.In + "/" + re.Parameter.Name
			e.Detail = fmt.Sprintf("Parameter %s (%s) is invalid.", re.Parameter.Name, re.Parameter.In)
		} else if re.RequestBody != nil && re.Reason != "" {
			e.Detail = "Request body: " + re.Reason + "."
		}
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) && (re == nil || re.Parameter == nil) {
		e.Pointer = "/" + strings.Join(se.JSONPointer(), "/")
		e.Detail = fmt.Sprintf("%s: %s", e.Pointer, se.Reason)
		switch {
		case e.Pointer == "/amount" && (se.SchemaField == "minimum" || se.SchemaField == "maximum"):
			e.Code = contracts.CodeAmountOutOfRange
		case e.Pointer == "/method" && se.SchemaField == "enum":
			e.Code = contracts.CodeMethodNotSupported
		}
	}
	if e.Detail == "" {
		e.Detail = "The request does not match the API contract."
	}
	return e
}
