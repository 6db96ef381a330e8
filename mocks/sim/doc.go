// Package sim owns what payhub's partner simulators share: a settable clock, so cutoffs and
// expiries are tested without sleeping, and the JSON plumbing every simulator needs (read a
// bounded body, decode it strictly, always answer JSON).
//
// It knows nothing about any partner. Each simulator under mocks/<partner> builds its wire
// API on top of it.
//
// Fault injection (latency, 5xx, hangs, resets, "commit then drop the response") belongs
// here too. It is not built yet; when it is, it will be a wrapper around a simulator's
// http.Handler plus a hook the simulator calls after committing state, so simulators stay
// free of fault logic.
package sim
