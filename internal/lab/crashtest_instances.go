package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Several serve processes under the crash harness (--instances N). Each is its own
// process with the usual config — its own port, and its own instance id, which serve draws
// afresh at every start — on one PostgreSQL database. Tills see one address: a round-robin
// reverse proxy inside the harness, in front of the instances that are up, as a load
// balancer would be. A request in flight to an instance when it is SIGKILLed fails at the
// proxy (502), and the till sends it again with the same Idempotency-Key, which then meets
// another instance: the dead one's claim is taken over there, its work leases once its
// heartbeat is older than the instance lease.

// crashInstanceMaxDown bounds how long a killed instance stays down (drawn per kill) before
// its slot starts again: meanwhile the others take all requests. One instance alone is
// restarted at once, as the harness always did.
const crashInstanceMaxDown = 3 * time.Second

// crashBindAttempts is how often a slot starts again on another port when the one it had
// was taken before serve bound it (an outgoing connection's ephemeral port comes from the
// same range as a free port, and a killed instance's port is free for anyone).
const crashBindAttempts = 3

// serveSlot is one serve instance: its place behind the proxy, which outlives the
// processes started in it.
type serveSlot struct {
	n int // 1-based, for logs and the report
	// target is where the slot's current process listens (it moves when a port was taken).
	target atomic.Pointer[url.URL]
	// up: the proxy sends requests here (started and ready, not killed).
	up       atomic.Bool
	proc     *childProcess
	kills    int
	requests atomic.Int64
}

// serveInstances are the run's serve processes, and the address tills use: the one
// instance's own, or the proxy's in front of several.
type serveInstances struct {
	slots []*serveSlot
	// process makes a slot's serve process listening on addr.
	process func(slot *serveSlot, addr string) *childProcess
	// url is where tills send requests.
	url   string
	proxy *instanceProxy
	// rng draws which instance a kill hits and how long it stays down: a stream of its own,
	// so the kill moments and everything else a seed draws stay what they were.
	rng *rand.Rand
}

// newServeInstances prepares cfg.Instances serve processes on dbURL (none started yet),
// behind a proxy when there are several.
func newServeInstances(cfg crashConfig, dir, bin string, env []string, dbURL string) (*serveInstances, error) {
	n := max(1, cfg.Instances)
	s := &serveInstances{rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x696e7374))}
	s.process = func(slot *serveSlot, addr string) *childProcess {
		name, logName := "serve", "serve.log"
		if n > 1 {
			name, logName = fmt.Sprintf("serve-%d", slot.n), fmt.Sprintf("serve-%d.log", slot.n)
		}
		return &childProcess{name: name, logPath: filepath.Join(dir, logName), bin: bin, env: env,
			args: append([]string{"serve", "--addr", addr, "--db", dbURL, "--no-default-limits"}, crashServeFlags...)}
	}
	for i := range n {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		slot := &serveSlot{n: i + 1}
		slot.target.Store(&url.URL{Scheme: "http", Host: addr})
		s.slots = append(s.slots, slot)
	}
	if n == 1 {
		s.url = s.slots[0].target.Load().String()
		return s, nil
	}
	p, err := startInstanceProxy(s.slots, filepath.Join(dir, "proxy.log"))
	if err != nil {
		return nil, err
	}
	s.proxy, s.url = p, p.url
	return s, nil
}

// proxied reports whether tills reach the instances through the proxy.
func (s *serveInstances) proxied() bool { return s.proxy != nil }

// start starts every instance and waits until each is ready.
func (s *serveInstances) start(ctx context.Context) error {
	for _, slot := range s.slots {
		if err := s.startSlot(ctx, slot); err != nil {
			return err
		}
	}
	return nil
}

// restartStopped starts again every instance that is not running (the load ended while
// one was down).
func (s *serveInstances) restartStopped(ctx context.Context) error {
	for _, slot := range s.slots {
		if slot.proc == nil || !slot.proc.running() {
			if err := s.startSlot(ctx, slot); err != nil {
				return err
			}
		}
	}
	return nil
}

// startSlot starts the slot's serve process and waits until it is ready; behind the
// proxy, on another port when its own was taken meanwhile.
func (s *serveInstances) startSlot(ctx context.Context, slot *serveSlot) error {
	for attempt := 1; ; attempt++ {
		target := slot.target.Load()
		slot.proc = s.process(slot, target.Host)
		if err := slot.proc.start(); err != nil {
			return err
		}
		// Behind the proxy an instance takes requests once it is ready, as a load balancer
		// would have it; alone it is reached directly, as soon as it listens (its API answers
		// 503 until the database is open, and the tills retry).
		ready := "/healthz"
		if s.proxied() {
			ready = "/readyz"
		}
		err := waitReady(ctx, slot.proc, target.String()+ready)
		if err == nil {
			slot.up.Store(true)
			return nil
		}
		if !s.proxied() || attempt >= crashBindAttempts || !strings.Contains(slot.proc.logTail(), "address already in use") {
			return err
		}
		slot.proc.stop()
		addr, aerr := freeLoopbackAddr()
		if aerr != nil {
			return aerr
		}
		slot.target.Store(&url.URL{Scheme: "http", Host: addr})
	}
}

// killOne SIGKILLs one instance, drawn from the seed, and starts its slot again: at once
// when it is the only one, else after a drawn time down while the others serve.
func (s *serveInstances) killOne(ctx context.Context) error {
	slot := s.slots[0]
	var down time.Duration
	if s.proxied() {
		slot = s.slots[s.rng.IntN(len(s.slots))]
		down = time.Duration(s.rng.Int64N(int64(crashInstanceMaxDown)))
	}
	slot.up.Store(false)
	slot.proc.kill()
	slot.kills++
	if s.proxied() {
		// Idle connections to the dead process are gone; the next request dials afresh.
		s.proxy.transport.CloseIdleConnections()
	}
	if err := sleepCtx(ctx, down); err != nil {
		return err
	}
	return s.startSlot(ctx, slot)
}

// stop stops every instance (SIGINT, so each records its stop), then the proxy.
func (s *serveInstances) stop() {
	for _, slot := range s.slots {
		slot.up.Store(false)
		if slot.proc != nil {
			slot.proc.stop()
		}
	}
	if s.proxy != nil {
		s.proxy.close()
	}
}

// report prints, for several instances, what each took and how often it was killed.
func (s *serveInstances) report(w io.Writer) {
	if !s.proxied() {
		return
	}
	var requests, kills []string
	for _, slot := range s.slots {
		requests = append(requests, fmt.Sprint(slot.requests.Load()))
		kills = append(kills, fmt.Sprint(slot.kills))
	}
	fmt.Fprintf(w, "instances:          %d behind the harness's proxy; requests %s; kills %s; %d requests failed at the proxy (instance killed or down)\n",
		len(s.slots), strings.Join(requests, " / "), strings.Join(kills, " / "), s.proxy.failed.Load())
}

// instanceProxy is the harness's load balancer: round-robin over the slots that are up,
// on 127.0.0.1 only.
type instanceProxy struct {
	url       string
	slots     []*serveSlot
	next      atomic.Uint64
	transport *http.Transport
	server    *http.Server
	// failed counts requests the proxy answered 502 or 503 itself (not those whose till
	// left first).
	failed  atomic.Int64
	log     *log.Logger
	logFile *os.File
}

// startInstanceProxy listens on a free loopback port and serves until close.
func startInstanceProxy(slots []*serveSlot, logPath string) (*instanceProxy, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		logFile.Close()
		return nil, err
	}
	p := &instanceProxy{url: "http://" + ln.Addr().String(), slots: slots, logFile: logFile,
		log: log.New(logFile, "", log.LstdFlags|log.Lmicroseconds),
		transport: &http.Transport{DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
	p.server = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: p.log}
	go func() { _ = p.server.Serve(ln) }()
	return p, nil
}

// pick is the next slot that is up, round-robin; nil when none is.
func (p *instanceProxy) pick() *serveSlot {
	for range p.slots {
		slot := p.slots[p.next.Add(1)%uint64(len(p.slots))]
		if slot.up.Load() {
			return slot
		}
	}
	return nil
}

func (p *instanceProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	slot := p.pick()
	if slot == nil {
		p.fail(w, r, http.StatusServiceUnavailable, "no instance is up", nil)
		return
	}
	slot.requests.Add(1)
	target := slot.target.Load()
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: p.transport,
		ErrorLog:  p.log,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.fail(w, r, http.StatusBadGateway, fmt.Sprintf("instance %d (%s)", slot.n, target.Host), err)
		},
	}
	rp.ServeHTTP(w, r)
}

// fail answers a request the proxy could not forward, as a load balancer does: a 5xx the
// till sends again with the same key. A request whose till already left is not counted.
func (p *instanceProxy) fail(w http.ResponseWriter, r *http.Request, status int, what string, err error) {
	if r.Context().Err() == nil {
		p.failed.Add(1)
	}
	p.log.Printf("%d %s %s key %s: %s: %v", status, r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"), what, err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": "proxy_error", "message": "harness proxy: " + what})
}

func (p *instanceProxy) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.server.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		p.log.Printf("shutdown: %v", err)
	}
	p.transport.CloseIdleConnections()
	p.logFile.Close()
}

// validateInstances refuses several instances without a database they can share.
func (c crashConfig) validateInstances() error {
	switch {
	case c.Instances < 0:
		return errors.New("crashtest: --instances must be at least 1")
	case c.Instances > 1 && c.DB == "":
		return fmt.Errorf("crashtest: --instances %d needs --db postgres://…: several serve processes share one PostgreSQL database (SQLite is one process's file)", c.Instances)
	}
	return nil
}
