package httpapi

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"

	"payhub/contracts"
	"payhub/internal/render"
)

// StartupGate answers for payhub while it cannot serve yet — its database is not reachable
// at start — so that a load balancer sees a live process that is not ready, and a till a
// clear, retryable refusal: /healthz 200, /readyz 503, every other path 503
// service_unavailable with Retry-After. Once Ready is called it hands every request to the
// API.
type StartupGate struct {
	api atomic.Pointer[http.Handler]
	// Conns, when set, bounds the connections the server keeps (its ConnState hook).
	Conns *ConnBound
}

// ConnState passes the server's connection states to Conns.
func (g *StartupGate) ConnState(c net.Conn, s http.ConnState) {
	if g.Conns != nil {
		g.Conns.ConnState(c, s)
	}
}

// Ready makes the gate pass every request to h from now on.
func (g *StartupGate) Ready(h http.Handler) { g.api.Store(&h) }

// ServeHTTP implements http.Handler.
func (g *StartupGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := g.api.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	switch r.URL.Path {
	case "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case "/readyz":
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
	default:
		w.Header().Set("Retry-After", strconv.Itoa(1))
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(render.Problem(r.Context(), &contracts.Error{Code: contracts.CodeServiceUnavailable,
			Detail: "payhub is starting and cannot reach its database yet; nothing was done. Retry with the same Idempotency-Key."}))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
