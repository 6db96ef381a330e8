// Package contracts is payhub's vocabulary: the domain types every other package speaks
// (Money, Payment, Refund, Method, Status and its transition table, Event, error codes) and
// the small interfaces the engine is built from (Partner for payment partners, Store for
// persistence, Clock for time).
//
// It imports only the standard library. Adapters implement Partner, internal/store
// implements Store, and only cmd/payhub wires them together.
//
// contracts/openapi.yaml is the HTTP contract for store checkout systems; the Go types and
// gin server interface generated from it live in contracts/api.
package contracts
