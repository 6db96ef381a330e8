// Package api holds the Go types and the gin server interface generated from the store API
// contract, contracts/openapi.yaml, by oapi-codegen. It owns nothing by hand: edit the
// contract, then run `go generate ./contracts/api`; a test fails while api.gen.go is stale.
package api

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../openapi.yaml
