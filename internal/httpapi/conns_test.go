package httpapi

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// boundServer serves h with a ConnBound of max on a real listener. A client sees its answer
// before the server marks the connection idle; idle receives one value each time the server
// has (waitIdle), so a test orders its steps on the server's view, not on timing.
func boundServer(t *testing.T, max int, h http.Handler) (*httptest.Server, *ConnBound, chan struct{}) {
	t.Helper()
	b := NewConnBound(max)
	idle := make(chan struct{}, 64)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		b.ConnState(c, s)
		if s == http.StateIdle {
			idle <- struct{}{}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, b, idle
}

// waitIdle waits until the server has marked a connection idle.
func waitIdle(t *testing.T, idle chan struct{}) {
	t.Helper()
	select {
	case <-idle:
	case <-time.After(10 * time.Second): // a bound on a broken test, not a wait
		t.Fatal("the server never marked the connection idle")
	}
}

// keepAliveClient is one raw HTTP/1.1 connection that keeps itself open.
type keepAliveClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAliveClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A bound on a broken test, not a wait: every read below ends on the server's answer.
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &keepAliveClient{conn: c, r: bufio.NewReader(c)}
}

// send writes a GET of path and returns without reading the answer.
func (k *keepAliveClient) send(t *testing.T, path string) {
	t.Helper()
	if _, err := io.WriteString(k.conn, "GET "+path+" HTTP/1.1\r\nHost: payhub\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
}

// answer reads one whole response.
func (k *keepAliveClient) answer(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, string(body)
}

// closedByServer reports whether the server closed the connection (a read ends in EOF).
func (k *keepAliveClient) closedByServer() bool {
	_, err := k.r.ReadByte()
	return errors.Is(err, io.EOF)
}

// metricValue reads one of b's metrics as /metrics would show it.
func metricValue(t *testing.T, b *ConnBound, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Collectors()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// getRoot asks for "/" on k, expects 200, and waits until the server has marked the
// connection idle again.
func (k *keepAliveClient) getRoot(t *testing.T, idle chan struct{}) {
	t.Helper()
	k.send(t, "/")
	if code, _ := k.answer(t); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	waitIdle(t, idle)
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
}

func TestPastTheBoundTheLongestIdleConnectionIsClosed(t *testing.T) {
	srv, b, idle := boundServer(t, 2, okHandler())
	addr := srv.Listener.Addr().String()
	var clients []*keepAliveClient
	for range 2 {
		k := dialKeepAlive(t, addr)
		k.getRoot(t, idle)
		clients = append(clients, k)
	}
	// A third connection: the first, idle longest, makes room for it.
	third := dialKeepAlive(t, addr)
	third.getRoot(t, idle)
	if !clients[0].closedByServer() {
		t.Fatal("the connection idle longest is still open")
	}
	// The others keep their connections.
	for _, k := range []*keepAliveClient{clients[1], third} {
		k.send(t, "/")
		if code, body := k.answer(t); code != http.StatusOK || body != "ok" {
			t.Fatalf("kept connection answered %d %q", code, body)
		}
	}
	if got := metricValue(t, b, "payhub_connections_open"); got != 2 {
		t.Errorf("payhub_connections_open = %v, want 2", got)
	}
	if got := metricValue(t, b, "payhub_connections_closed_idle_total"); got != 1 {
		t.Errorf("payhub_connections_closed_idle_total = %v, want 1", got)
	}
}

func TestAConnectionWithARequestInProgressIsNeverClosed(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})
	srv, b, idle := boundServer(t, 1, h)
	addr := srv.Listener.Addr().String()
	slow := dialKeepAlive(t, addr)
	slow.send(t, "/slow")
	<-started
	// Two more connections come and go while /slow runs: over the bound, but the only
	// connection to close would be the busy one.
	for range 2 {
		dialKeepAlive(t, addr).getRoot(t, idle)
	}
	close(release)
	if code, body := slow.answer(t); code != http.StatusOK || body != "done" {
		t.Fatalf("the request in progress got %d %q", code, body)
	}
	waitIdle(t, idle)
	if got := b.Open(); got > 1 {
		// Idle ones were closed as soon as the busy one had none to spare: at most the
		// bound stays open once every request is answered.
		t.Errorf("open connections = %d, want at most 1", got)
	}
}

func TestWithoutABoundConnectionsAreOnlyCounted(t *testing.T) {
	srv, b, idle := boundServer(t, 0, okHandler())
	addr := srv.Listener.Addr().String()
	for range 3 {
		dialKeepAlive(t, addr).getRoot(t, idle)
	}
	if got := metricValue(t, b, "payhub_connections_closed_idle_total"); got != 0 {
		t.Errorf("closed %v connections with no bound", got)
	}
}

// BenchmarkConnBoundRequest is what the bound adds to each request on a kept connection:
// the server reports it active, then idle again.
func BenchmarkConnBoundRequest(b *testing.B) {
	bound := NewConnBound(DefaultMaxConnections)
	conns := make([]net.Conn, 512) // a busy instance's tills, each on its own connection
	for i := range conns {
		c, s := net.Pipe()
		b.Cleanup(func() { c.Close(); s.Close() })
		conns[i] = s
		bound.ConnState(s, http.StateNew)
		bound.ConnState(s, http.StateIdle)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		c := conns[n%len(conns)]
		bound.ConnState(c, http.StateActive)
		bound.ConnState(c, http.StateIdle)
		n++
	}
}
