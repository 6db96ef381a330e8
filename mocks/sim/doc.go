// Package sim owns what payhub's partner simulators share: a settable clock, so cutoffs and
// expiries are tested without sleeping; the JSON plumbing every simulator needs (read a
// bounded body, decode it strictly, always answer JSON); and fault injection.
//
// It knows nothing about any partner. Each simulator under mocks/<partner> builds its wire
// API on top of it.
//
// # Fault injection
//
// Faults is a partner-neutral engine wrapped around a simulator's http.Handler
// (Faults.WrapWith). Per request it picks at most one Fault by a list of FaultRule
// (method, path prefix, probability, optional firing cap), using a random source seeded by
// NewFaults or Seed and consulted under a mutex in arrival order: the same seed and the same
// request order give the same faults. The kinds:
//
//	latency            wait Fault.Latency, then serve normally
//	error              answer Fault.Status (default 500) with the partner's error body; the request does not run
//	hang               never answer; return once the client cancels or closes the connection
//	reset              close the connection with a TCP RST (SO_LINGER 0); the request does not run
//	commit_then_drop   run the request (its state change is committed), then reset the connection
//	commit_then_error  run the request, then answer Fault.Status instead of the real answer
//
// Fault.Latency also delays the other kinds (a slow 503, a slow commit_then_drop). The
// commit kinds are the "unknown outcome" a client must resolve by querying. The partner's
// error bodies come from the simulator's ErrorBody; Fault.Code picks among the partner's
// codes for a status, and Fault.Body overrides the body outright. Control paths (/_sim/…)
// are never faulted. Stats counts injected faults by kind.
//
// Rules are set in Go (Set, Clear), by a flag in the compact form of ParseFaultFlag, or
// over HTTP through ControlHandler, which each simulator mounts at /_sim/faults:
//
//	GET    /_sim/faults   {"seed":42,"rules":[…],"applied":[n…],"stats":{"reset":1}}
//	PUT    /_sim/faults   {"seed":42,"rules":[{"method":"POST","path_prefix":"/v2/payments",
//	                       "probability":0.1,"count":0,"fault":{"kind":"commit_then_drop",
//	                       "latency":"250ms","status":503,"code":"…","body":"…"}}]}
//	DELETE /_sim/faults   no rules, counters zeroed
//
// In JSON a rule's method and path_prefix may be omitted or "*" (any), an omitted
// probability means 1, and an omitted seed keeps the random sequence going.
package sim
