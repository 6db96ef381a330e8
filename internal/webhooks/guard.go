package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Guard decides which addresses deliveries may reach (docs/api.md §8.6): a store's
// URL must never make payhub call into its own network (SSRF). URLs are checked when an
// endpoint is registered and every connection is checked again when it is dialed, after
// DNS, so a name that later resolves inward is refused too.
type Guard struct {
	// AllowLoopback admits http://127.0.0.1 and [::1] endpoints: demo and tests only.
	AllowLoopback bool
}

// ErrEndpointURL is the class of endpoint URLs payhub refuses.
var ErrEndpointURL = errors.New("endpoint URL not allowed")

// CheckURL checks an endpoint URL at registration: absolute, no credentials, https (plain
// http only to loopback when allowed), and an IP literal host only when deliverable.
func (g Guard) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%w: not an absolute URL", ErrEndpointURL)
	}
	if u.User != nil {
		return fmt.Errorf("%w: credentials in the URL", ErrEndpointURL)
	}
	if u.Fragment != "" || len(raw) > 2048 {
		return fmt.Errorf("%w: a fragment or over 2048 characters", ErrEndpointURL)
	}
	host := u.Hostname()
	ip, literal := hostIP(host)
	loopback := literal && ip.IsLoopback()
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && g.AllowLoopback && loopback:
	default:
		return fmt.Errorf("%w: https is required", ErrEndpointURL)
	}
	if literal && !g.allowed(ip) {
		return fmt.Errorf("%w: %s is a private, loopback, link-local or reserved address", ErrEndpointURL, ip)
	}
	if !literal && (host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".internal")) {
		return fmt.Errorf("%w: %s names this network", ErrEndpointURL, host)
	}
	return nil
}

func hostIP(host string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

// allowed reports whether a delivery may connect to ip.
func (g Guard) allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return g.AllowLoopback
	}
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !sharedAddressSpace.Contains(ip)
}

// sharedAddressSpace is carrier-grade NAT space (RFC 6598), as inward as private space.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// control refuses, at dial time, connections to addresses the guard does not allow.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, ok := hostIP(host)
	if !ok || !g.allowed(ip) {
		return fmt.Errorf("%w: refusing to connect to %s", ErrEndpointURL, host)
	}
	return nil
}

// NewClient is the HTTP client deliveries use: connections checked by g, redirects never
// followed (a 3xx is a failed delivery), a send bounded by RequestTimeout.
func NewClient(g Guard) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: g.control}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       RequestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
