package contracts_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"payhub/contracts"
)

// loadSpec parses and validates the embedded contract.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(contracts.OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

func TestOpenAPIIsValid(t *testing.T) {
	doc := loadSpec(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if doc.Info.Version != "2026-11-28" {
		t.Errorf("info.version = %q, want the API version 2026-11-28", doc.Info.Version)
	}
	if len(doc.Security) != 1 || doc.Security[0]["storeToken"] == nil {
		t.Errorf("global security = %v, want storeToken", doc.Security)
	}
}

// TestOpenAPIEnumsMatchContracts keeps the spec's enums and the Go vocabulary in step: a
// code or status added on one side only fails here.
func TestOpenAPIEnumsMatchContracts(t *testing.T) {
	doc := loadSpec(t)
	consts := goStringConsts(t)
	for _, tc := range []struct{ schema, goType string }{
		{"ErrorCode", "ErrorCode"},
		{"PaymentStatus", "Status"},
		{"RefundStatus", "RefundStatus"},
		{"PaymentFlow", "Flow"},
		{"NextActionType", "NextActionType"},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			spec := specEnum(t, doc, tc.schema)
			code := consts[tc.goType]
			if len(code) == 0 {
				t.Fatalf("no constants of type contracts.%s found", tc.goType)
			}
			for _, v := range code {
				if !slices.Contains(spec, v) {
					t.Errorf("contracts.%s %q is missing from the %s enum in openapi.yaml", tc.goType, v, tc.schema)
				}
			}
			for _, v := range spec {
				if !slices.Contains(code, v) {
					t.Errorf("%s enum value %q in openapi.yaml has no contracts.%s constant", tc.schema, v, tc.goType)
				}
			}
		})
	}
	// The API offers a subset of the methods payhub knows: a method may exist in contracts
	// before the API exposes it, never the other way round.
	for _, v := range specEnum(t, doc, "PaymentMethod") {
		if !slices.Contains(consts["Method"], v) {
			t.Errorf("PaymentMethod %q in openapi.yaml has no contracts.Method constant", v)
		}
	}
}

// TestOpenAPIResponseHeaders checks the cross-cutting rules of docs/api.md on every
// operation: request ids and versions on every response, idempotency on every POST but
// those marked x-read-only (a POST that changes nothing, docs/api.md §3), Retry-After on 429
// and 503, and problem+json for every error.
func TestOpenAPIResponseHeaders(t *testing.T) {
	doc := loadSpec(t)
	ops := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			name := method + " " + path
			readOnly := op.Extensions["x-read-only"] == true
			if key := findParam(op, item, "header", "Idempotency-Key"); method == "POST" && !readOnly && (key == nil || !key.Required) {
				t.Errorf("%s: Idempotency-Key header missing or optional", name)
			} else if readOnly && (method != "POST" || key != nil) {
				t.Errorf("%s: x-read-only is for a POST without Idempotency-Key", name)
			}
			for status, ref := range op.Responses.Map() {
				resp := ref.Value
				for _, h := range []string{"X-Request-Id", "API-Version"} {
					if resp.Headers[h] == nil {
						t.Errorf("%s %s: no %s header", name, status, h)
					}
				}
				code, _ := strconv.Atoi(status)
				if method == "POST" && !readOnly && code >= 200 && code < 300 && resp.Headers["Idempotent-Replayed"] == nil {
					t.Errorf("%s %s: no Idempotent-Replayed header", name, status)
				}
				if (code == 429 || code == 503) && resp.Headers["Retry-After"] == nil {
					t.Errorf("%s %s: no Retry-After header", name, status)
				}
				if code >= 400 {
					mt := resp.Content.Get("application/problem+json")
					if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Problem" {
						t.Errorf("%s %s: not an application/problem+json Problem", name, status)
					}
				}
			}
		}
	}
	if ops != 24 {
		t.Errorf("found %d operations, want 24 (payments 8, linked accounts 3, notifications 9, nanaco 4)", ops)
	}
}

// findParam finds a parameter of op or of its path item.
func findParam(op *openapi3.Operation, item *openapi3.PathItem, in, name string) *openapi3.Parameter {
	if p := op.Parameters.GetByInAndName(in, name); p != nil {
		return p
	}
	return item.Parameters.GetByInAndName(in, name)
}

// specEnum returns the string enum of a component schema.
func specEnum(t *testing.T, doc *openapi3.T, schema string) []string {
	t.Helper()
	ref := doc.Components.Schemas[schema]
	if ref == nil {
		t.Fatalf("schema %s missing from openapi.yaml", schema)
	}
	var out []string
	for _, v := range ref.Value.Enum {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s enum value %v is not a string", schema, v)
		}
		out = append(out, s)
	}
	return out
}

// goStringConsts parses the contracts package source and returns the string constants
// declared with an explicit named type, by type name. Parsing the source (rather than
// keeping a second list by hand) means a new constant cannot be forgotten here.
func goStringConsts(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string][]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				typ, ok := vs.Type.(*ast.Ident)
				if !ok {
					continue
				}
				for i, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: constant %s of type %s is not a string literal", name, vs.Names[i].Name, typ.Name)
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out[typ.Name] = append(out[typ.Name], s)
				}
			}
		}
	}
	return out
}

// TestOpenAPIVersionIsAPIVersion keeps the contract's info.version and the API-Version the
// server sends in step.
func TestOpenAPIVersionIsAPIVersion(t *testing.T) {
	if v := loadSpec(t).Info.Version; v != contracts.APIVersion {
		t.Fatalf("openapi.yaml info.version %q, contracts.APIVersion %q", v, contracts.APIVersion)
	}
}
