package httpapi

import (
	"container/list"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxConnections is how many client connections serve keeps open before it closes
// idle ones (ConnBound).
const DefaultMaxConnections = 1024

// ConnBound bounds the connections an http.Server keeps open, through its ConnState hook:
// past max, the connections idle longest are closed — never one with a request in
// progress — so a client that opened thousands of keep-alive connections in a rush does not
// leave them all parked on the server afterwards. Each parked connection holds its read
// and write buffers and its goroutine (~20 KiB): 3,300 of them, left behind by an overload
// in the bench, filled most of serve's soft memory limit, and the collector then ran
// without pause and the instance stayed slow long after the load had fallen (README,
// Performance). A client whose idle connection was closed opens a new one; Go's client
// even resends a request that met the close, when it carries an Idempotency-Key.
//
// New connections are always accepted: the bound is on what is kept, not on who may come.
type ConnBound struct {
	max int
	mu  sync.Mutex
	// conns are the connections counted open; idle orders the idle ones, longest idle
	// first (its values are net.Conn).
	conns  map[net.Conn]*list.Element
	idle   *list.List
	open   prometheus.GaugeFunc
	closed prometheus.Counter
}

// NewConnBound bounds kept connections to max (max ≤ 0: no bound, connections are only
// counted).
func NewConnBound(max int) *ConnBound {
	b := &ConnBound{max: max, conns: make(map[net.Conn]*list.Element), idle: list.New(),
		closed: prometheus.NewCounter(prometheus.CounterOpts{Name: "payhub_connections_closed_idle_total",
			Help: "Idle client connections closed because more than --max-connections were open."})}
	b.open = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "payhub_connections_open",
		Help: "Client connections open to the API listener."}, func() float64 { return float64(b.Open()) })
	return b
}

// Collectors are the bound's metrics, to register once the registry exists.
func (b *ConnBound) Collectors() []prometheus.Collector {
	return []prometheus.Collector{b.open, b.closed}
}

// Open is how many connections are counted open.
func (b *ConnBound) Open() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// ConnState is the http.Server's ConnState hook.
func (b *ConnBound) ConnState(c net.Conn, s http.ConnState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch s {
	case http.StateNew:
		b.conns[c] = nil
		b.trim()
	case http.StateActive:
		if e, ok := b.conns[c]; ok && e != nil {
			b.idle.Remove(e)
			b.conns[c] = nil
		}
	case http.StateIdle:
		if e, ok := b.conns[c]; ok && e == nil {
			b.conns[c] = b.idle.PushBack(c)
			b.trim()
		}
	case http.StateClosed, http.StateHijacked:
		if e, ok := b.conns[c]; ok {
			if e != nil {
				b.idle.Remove(e)
			}
			delete(b.conns, c)
		}
	}
}

// trim closes the longest-idle connections while more than max are open. A closed
// connection stops counting at once; the server's StateClosed for it comes later.
func (b *ConnBound) trim() {
	for b.max > 0 && len(b.conns) > b.max && b.idle.Len() > 0 {
		c := b.idle.Remove(b.idle.Front()).(net.Conn)
		delete(b.conns, c)
		_ = c.Close()
		b.closed.Inc()
	}
}
