package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Guard decides which endpoints a store may register and which addresses deliveries may
// reach (docs/api.md §8.6): a store's URL must never make payhub call into its own network
// (SSRF). URLs are checked when an endpoint is registered, and every connection is checked
// again when it is dialed, after DNS, so a name that resolves inward — at registration or
// at any later send (DNS rebinding) — is refused too.
//
// Refused: every address of the IANA IPv4 and IPv6 special-purpose registries (RefusedRanges),
// including the forms that embed an IPv4 address (IPv4-mapped and -compatible, SIIT, NAT64,
// 6to4, Teredo), whatever the embedded address; IPv4 multicast and reserved space; IPv6
// outside global unicast (2000::/3); any port but Ports; names of this host or its
// networks (localhost, .local, .internal, .home.arpa, a name without a dot, …).
type Guard struct {
	// AllowLoopback admits http://127.0.0.1 and [::1] endpoints, on any port: demo and tests
	// only.
	AllowLoopback bool
	// Ports are the ports deliveries may reach; nil means DefaultPorts (443 alone).
	Ports []uint16
	// MaxEndpointsPerStore is how many endpoints one store may have; zero means
	// DefaultMaxEndpointsPerStore. The engine refuses one more with 422 limit_exceeded.
	MaxEndpointsPerStore int
}

// DefaultPorts are the ports deliveries reach unless configured: HTTPS's.
var DefaultPorts = []uint16{443}

// DefaultMaxEndpointsPerStore bounds a store's endpoints unless configured.
const DefaultMaxEndpointsPerStore = 16

// ErrEndpointURL is the class of endpoint URLs and addresses payhub refuses.
var ErrEndpointURL = errors.New("endpoint URL not allowed")

// EndpointLimit is how many endpoints one store may have.
func (g Guard) EndpointLimit() int {
	if g.MaxEndpointsPerStore > 0 {
		return g.MaxEndpointsPerStore
	}
	return DefaultMaxEndpointsPerStore
}

func (g Guard) ports() []uint16 {
	if g.Ports == nil {
		return DefaultPorts
	}
	return g.Ports
}

// ParsePorts reads a comma-separated list of ports ("443,8443") for Guard.Ports.
func ParsePorts(s string) ([]uint16, error) {
	var out []uint16
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := strconv.ParseUint(part, 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("webhooks: %q is not a port (1-65535)", part)
		}
		if !slices.Contains(out, uint16(p)) {
			out = append(out, uint16(p))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("webhooks: no port given")
	}
	return out, nil
}

// CheckURL checks an endpoint URL at registration: absolute, no credentials, https (plain
// http only to loopback when allowed), an allowed port, a host that is neither a name of
// this host or its networks nor a refused address.
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
	host := canonicalHost(u.Hostname())
	ip, literal := hostIP(host)
	loopback := literal && g.loopback(ip)
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback:
	default:
		return fmt.Errorf("%w: https is required", ErrEndpointURL)
	}
	port := uint16(443)
	if u.Scheme == "http" {
		port = 80
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%w: port %q", ErrEndpointURL, p)
		}
		port = uint16(n)
	}
	if literal {
		return g.checkAddr(ip, port)
	}
	if strings.Contains(u.Hostname(), "%") {
		return fmt.Errorf("%w: a zone in the host", ErrEndpointURL)
	}
	if err := checkName(host); err != nil {
		return err
	}
	return g.checkPort(port)
}

// canonicalHost is a host as it is checked: lower case, without the root's trailing dot
// ("LOCALHOST", "metadata.google.internal." are the names they spell).
func canonicalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// hostIP parses an IP literal host. A zone ("fe80::1%eth0") is kept and refused later.
func hostIP(host string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip, true
}

// refusedNames are the special-use domain names (IANA registry, RFC 6761 and on) that name
// this host or a local network, and names cloud providers give their internal services: a
// host equal to one or under it is refused.
var refusedNames = []string{
	"localhost", "local", "internal", "home.arpa", "arpa", "test", "invalid", "onion", "alt",
	"localdomain", "lan", "intranet", "corp", "private",
}

// checkName refuses names of this host or its networks. A name without a dot is looked up
// through the resolver's search domains (the cloud's own zone, first of all), and a name
// whose last label is a number is an IPv4 address in a form some resolvers accept
// ("2130706433", "127.1", "0x7f.1"); both are refused. Every name is checked again, as the
// addresses it resolves to, when it is dialed.
func checkName(host string) error {
	for _, n := range refusedNames {
		if host == n || strings.HasSuffix(host, "."+n) {
			return fmt.Errorf("%w: %s names this host or a local network", ErrEndpointURL, host)
		}
	}
	if !strings.Contains(host, ".") {
		return fmt.Errorf("%w: %s is not a fully qualified name", ErrEndpointURL, host)
	}
	labels := strings.Split(host, ".")
	last := labels[len(labels)-1]
	if _, err := strconv.ParseUint(last, 0, 64); err == nil || strings.HasPrefix(last, "0x") {
		return fmt.Errorf("%w: %s is an address in a non-canonical form", ErrEndpointURL, host)
	}
	for _, l := range labels {
		if l == "" {
			return fmt.Errorf("%w: %s has an empty label", ErrEndpointURL, host)
		}
	}
	return nil
}

// CheckAddress is the guard's decision on one connection: address is the "host:port" being
// dialed, host an IP address (names were resolved). NewClient's dialer asks it of every
// connection before it is made.
func (g Guard) CheckAddress(address string) error {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrEndpointURL, err)
	}
	ip, ok := hostIP(host)
	if !ok {
		return fmt.Errorf("%w: refusing to connect to %s: not an IP address", ErrEndpointURL, host)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("%w: refusing to connect to port %q", ErrEndpointURL, port)
	}
	if err := g.checkAddr(ip, uint16(p)); err != nil {
		return fmt.Errorf("refusing to connect to %s: %w", net.JoinHostPort(host, port), err)
	}
	return nil
}

// loopback reports whether ip is loopback as AllowLoopback admits it: 127.0.0.0/8 or ::1,
// written as such (not mapped or embedded).
func (g Guard) loopback(ip netip.Addr) bool {
	return g.AllowLoopback && ip.Zone() == "" && (ip.Is4() && ip.IsLoopback() || ip == netip.IPv6Loopback())
}

// checkAddr decides whether deliveries may reach ip:port.
func (g Guard) checkAddr(ip netip.Addr, port uint16) error {
	if g.loopback(ip) {
		return nil
	}
	if ip.Zone() != "" {
		return fmt.Errorf("%w: %s has a zone", ErrEndpointURL, ip)
	}
	if r, ok := RefusedRange(ip); ok {
		return fmt.Errorf("%w: %s is in %s, %s", ErrEndpointURL, ip, r.Prefix, r.Name)
	}
	return g.checkPort(port)
}

func (g Guard) checkPort(port uint16) error {
	if !slices.Contains(g.ports(), port) {
		return fmt.Errorf("%w: port %d is not an allowed port (%v)", ErrEndpointURL, port, g.ports())
	}
	return nil
}

// AddressRange is a range of addresses the guard refuses, and why.
type AddressRange struct {
	Prefix netip.Prefix
	Name   string
}

func r(prefix, name string) AddressRange {
	return AddressRange{Prefix: netip.MustParsePrefix(prefix), Name: name}
}

// RefusedRanges are the ranges deliveries never reach: the IANA IPv4 and IPv6
// special-purpose address registries (whatever their "globally reachable" column says),
// IPv4 multicast and reserved space, and the IPv6 ranges outside global unicast that name
// something local. The more specific come first, to name the range. Beyond these, IPv6
// outside 2000::/3 is refused too.
var RefusedRanges = []AddressRange{
	// IPv4 special-purpose address registry.
	r("0.0.0.0/8", `"this network" (RFC 791)`),
	r("10.0.0.0/8", "private use (RFC 1918)"),
	r("100.64.0.0/10", "shared address space, carrier-grade NAT (RFC 6598)"),
	r("127.0.0.0/8", "loopback (RFC 1122)"),
	r("169.254.0.0/16", "link-local, cloud metadata (RFC 3927)"),
	r("172.16.0.0/12", "private use (RFC 1918)"),
	r("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
	r("192.0.2.0/24", "documentation, TEST-NET-1 (RFC 5737)"),
	r("192.31.196.0/24", "AS112-v4 (RFC 7535)"),
	r("192.52.193.0/24", "AMT (RFC 7450)"),
	r("192.88.99.0/24", "6to4 relay anycast, deprecated (RFC 7526)"),
	r("192.168.0.0/16", "private use (RFC 1918)"),
	r("192.175.48.0/24", "direct delegation AS112 service (RFC 7534)"),
	r("198.18.0.0/15", "benchmarking (RFC 2544)"),
	r("198.51.100.0/24", "documentation, TEST-NET-2 (RFC 5737)"),
	r("203.0.113.0/24", "documentation, TEST-NET-3 (RFC 5737)"),
	r("224.0.0.0/4", "multicast (RFC 5771)"),
	r("240.0.0.0/4", "reserved, and limited broadcast 255.255.255.255 (RFC 1112, RFC 919)"),
	// IPv6 special-purpose address registry, and the address space outside global unicast.
	r("::/128", "unspecified (RFC 4291)"),
	r("::1/128", "loopback (RFC 4291)"),
	r("::ffff:0:0/96", "IPv4-mapped, embeds an IPv4 address (RFC 4291)"),
	r("::ffff:0:0:0/96", "IPv4-translated (SIIT), embeds an IPv4 address (RFC 2765)"),
	r("::/96", "IPv4-compatible, deprecated, embeds an IPv4 address (RFC 4291)"),
	r("64:ff9b::/96", "NAT64 well-known prefix, embeds an IPv4 address (RFC 6052)"),
	r("64:ff9b:1::/48", "NAT64 local-use prefix, embeds an IPv4 address (RFC 8215)"),
	r("::/8", "reserved by the IETF (RFC 4291)"),
	r("100::/64", "discard-only (RFC 6666)"),
	r("100:0:0:1::/64", "dummy prefix (RFC 9780)"),
	r("2001::/32", "Teredo, embeds IPv4 addresses (RFC 4380)"),
	r("2001:2::/48", "benchmarking (RFC 5180)"),
	r("2001::/23", "IETF protocol assignments (RFC 2928)"),
	r("2001:db8::/32", "documentation (RFC 3849)"),
	r("2002::/16", "6to4, embeds an IPv4 address (RFC 3056)"),
	r("2620:4f:8000::/48", "direct delegation AS112 service (RFC 7534)"),
	r("3fff::/20", "documentation (RFC 9637)"),
	r("5f00::/16", "segment routing SIDs (RFC 9602)"),
	r("fc00::/7", "unique local (RFC 4193)"),
	r("fe80::/10", "link-local (RFC 4291)"),
	r("fec0::/10", "site-local, deprecated (RFC 3879)"),
	r("ff00::/8", "multicast (RFC 4291)"),
}

// globalUnicast6 is IPv6 global unicast space (IANA IPv6 address space registry); every
// other IPv6 address is refused.
var globalUnicast6 = r("2000::/3", "")

// RefusedRange returns the range of RefusedRanges that holds ip, or why else the guard
// refuses it; ok is false for an address deliveries may reach (on an allowed port).
func RefusedRange(ip netip.Addr) (AddressRange, bool) {
	ip = ip.WithZone("")
	for _, rr := range RefusedRanges {
		if rr.Prefix.Contains(ip) {
			return rr, true
		}
	}
	if ip.Is6() && !globalUnicast6.Prefix.Contains(ip) {
		return AddressRange{Prefix: netip.PrefixFrom(ip, 128), Name: "outside IPv6 global unicast 2000::/3"}, true
	}
	if !ip.IsValid() {
		return AddressRange{Name: "not an address"}, true
	}
	return AddressRange{}, false
}

// control refuses, at dial time, connections to addresses the guard does not allow.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	return g.CheckAddress(address)
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
