package app

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// SIGTERM (ctx ending) lets the request in flight finish and answer before serve returns;
// a request that outlasts the drain deadline makes serve fail with the deadline.
func TestServeDrainsInFlightRequests(t *testing.T) {
	for name, c := range map[string]struct {
		drain       time.Duration
		finishesAt  string // "release": when the test releases it; "never": only when cut off
		wantServeOK bool
	}{
		"finishes within the deadline": {drain: time.Minute, finishesAt: "release", wantServeOK: true},
		"outlasts the deadline":        {drain: 50 * time.Millisecond, finishesAt: "never"},
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			started, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			t.Cleanup(func() { once.Do(func() { close(release) }) })
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-release
				io.WriteString(w, "done")
			})
			ctx, sigterm := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- ServeUntilDone(ctx, ln, h, c.drain) }()
			answered := make(chan string, 1)
			go func() {
				resp, err := http.Get("http://" + ln.Addr().String())
				if err != nil {
					answered <- "error: " + err.Error()
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				answered <- string(b)
			}()
			<-started
			sigterm()
			if c.finishesAt == "release" {
				// Shutdown has begun once the listener refuses connections; only then is
				// the request let go, so it finishes during the drain.
				for {
					conn, err := net.Dial("tcp", ln.Addr().String())
					if err != nil {
						break
					}
					conn.Close()
				}
				once.Do(func() { close(release) })
				if got := <-answered; got != "done" {
					t.Fatalf("in-flight request got %q", got)
				}
			}
			err = <-served
			if c.wantServeOK && err != nil {
				t.Fatalf("serveUntilDone = %v, want a clean drain", err)
			}
			if !c.wantServeOK && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("serveUntilDone = %v, want the drain deadline", err)
			}
		})
	}
}

// TestServeNetworkPolicyFlags: trusted proxies are addresses or networks, masked; a bad one
// and a zero rate are refused.
func TestServeNetworkPolicyFlags(t *testing.T) {
	p, err := networkPolicy([]string{"10.0.0.7", "192.168.1.9/24", "2001:db8::1/48"}, 20, 40)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.7/32", "192.168.1.0/24", "2001:db8::/48"}
	if len(p.TrustedProxies) != 3 || p.ClientRate != 20 || p.ClientBurst != 40 {
		t.Fatalf("%+v", p)
	}
	for i, w := range want {
		if p.TrustedProxies[i].String() != w {
			t.Fatalf("proxy %d: %s, want %s", i, p.TrustedProxies[i], w)
		}
	}
	for _, bad := range [][]string{{"lb.example"}, {"10.0.0.300"}} {
		if _, err := networkPolicy(bad, 20, 40); err == nil {
			t.Fatalf("%v accepted", bad)
		}
	}
	if _, err := networkPolicy(nil, 0, 40); err == nil {
		t.Fatal("a zero client rate accepted")
	}
}
