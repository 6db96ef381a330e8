package webhooks_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"payhub/internal/webhooks"
)

// The addresses a security review got dialled (issue 15), and the IANA special-purpose
// ranges around them: the guard's decision refuses each at registration (an IP literal in the
// URL) and at dial time (the address a name resolved to). Nothing here dials anything but
// loopback: the decision is a function of the address.
func TestGuardRefusesEverySpecialPurposeAddress(t *testing.T) {
	strict, demo := webhooks.Guard{}, webhooks.Guard{AllowLoopback: true}
	for _, c := range []struct{ addr, why string }{
		// From the review: each was accepted and dialled.
		{"64:ff9b::a9fe:a9fe", "the metadata address 169.254.169.254 through NAT64"},
		{"64:ff9b::10.0.0.1", "a private address through NAT64"},
		{"2002:7f00:1::", "loopback through 6to4"},
		{"::127.0.0.1", "loopback, IPv4-compatible"},
		{"::ffff:0:127.0.0.1", "loopback, IPv4-translated (SIIT)"},
		{"fec0::1", "site-local"},
		{"0.0.0.1", `"this network"`},
		{"198.18.0.1", "benchmarking"},
		{"192.0.0.192", "IETF protocol assignments"},
		{"240.0.0.1", "reserved"},
		// The embedded-IPv4 forms, whatever they embed (here a public address).
		{"64:ff9b::808:808", "NAT64 well-known prefix"},
		{"64:ff9b:1::808:808", "NAT64 local-use prefix"},
		{"2002:808:808::1", "6to4"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"::8.8.8.8", "IPv4-compatible"},
		{"::ffff:8.8.8.8", "IPv4-mapped"},
		{"::ffff:0:8.8.8.8", "IPv4-translated"},
		{"::ffff:127.0.0.1", "loopback, IPv4-mapped"},
		{"::ffff:169.254.169.254", "metadata, IPv4-mapped"},
		// The rest of the registries' neighbourhood.
		{"169.254.169.254", "cloud metadata"},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "IPv6 loopback"},
		{"::", "unspecified"},
		{"0.0.0.0", "unspecified"},
		{"10.0.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"192.0.0.9", "PCP anycast (IETF protocol assignments)"},
		{"192.0.2.1", "TEST-NET-1"},
		{"198.51.100.1", "TEST-NET-2"},
		{"203.0.113.1", "TEST-NET-3"},
		{"192.88.99.1", "6to4 relay anycast"},
		{"192.31.196.1", "AS112-v4"},
		{"192.52.193.1", "AMT"},
		{"192.175.48.1", "AS112 direct delegation"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast (SSDP)"},
		{"255.255.255.255", "limited broadcast"},
		{"fe80::1", "link-local"},
		{"fd00:ec2::254", "unique local (the AWS metadata service over IPv6)"},
		{"fc00::1", "unique local"},
		{"ff02::1", "multicast"},
		{"100::1", "discard-only"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"2001:2::1", "benchmarking"},
		{"2001:20::1", "ORCHIDv2 (IETF protocol assignments)"},
		{"2620:4f:8000::1", "AS112 direct delegation"},
		{"5f00::1", "SRv6 SIDs"},
		{"4000::1", "outside global unicast"},
	} {
		ip := netip.MustParseAddr(c.addr)
		if _, refused := webhooks.RefusedRange(ip); !refused {
			t.Errorf("%s (%s): RefusedRange lets it through", c.addr, c.why)
		}
		for name, g := range map[string]webhooks.Guard{"strict": strict, "demo": demo} {
			if err := g.CheckAddress(net.JoinHostPort(c.addr, "443")); !errors.Is(err, webhooks.ErrEndpointURL) {
				if name == "demo" && (c.addr == "127.0.0.1" || c.addr == "127.255.255.254" || c.addr == "::1") {
					continue // loopback is the demo's and the tests' receiver
				}
				t.Errorf("%s (%s), %s guard: dial decision %v, want refused", c.addr, c.why, name, err)
			}
		}
		host := c.addr
		if ip.Is6() {
			host = "[" + host + "]"
		}
		if err := strict.CheckURL("https://" + host + "/hooks"); !errors.Is(err, webhooks.ErrEndpointURL) {
			t.Errorf("https://%s/hooks (%s): registration %v, want refused", host, c.why, err)
		}
	}
}

// Every range of the table is refused from its first address to its last, and the public
// addresses just outside the IPv4 ones are not (the table is not wider than it says).
func TestGuardRangesEndToEnd(t *testing.T) {
	g := webhooks.Guard{}
	for _, rr := range webhooks.RefusedRanges {
		first, last := rr.Prefix.Masked().Addr(), lastAddr(rr.Prefix)
		for _, ip := range []netip.Addr{first, last} {
			if err := g.CheckAddress(netip.AddrPortFrom(ip, 443).String()); !errors.Is(err, webhooks.ErrEndpointURL) {
				t.Errorf("%s of %s (%s): %v, want refused", ip, rr.Prefix, rr.Name, err)
			}
		}
		if !first.Is4() {
			continue
		}
		for _, ip := range []netip.Addr{first.Prev(), last.Next()} {
			if !ip.IsValid() {
				continue
			}
			if _, refused := webhooks.RefusedRange(ip); !refused && g.CheckAddress(netip.AddrPortFrom(ip, 443).String()) != nil {
				t.Errorf("%s, next to %s: not in the table but refused", ip, rr.Prefix)
			}
		}
	}
}

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Public addresses pass the decision on port 443 only, unless the ports are configured;
// loopback in the demo takes any port, but only as 127.0.0.0/8 or ::1 themselves.
func TestGuardPorts(t *testing.T) {
	strict, demo := webhooks.Guard{}, webhooks.Guard{AllowLoopback: true}
	alt := webhooks.Guard{Ports: []uint16{443, 8443}}
	for _, c := range []struct {
		guard webhooks.Guard
		addr  string
		ok    bool
	}{
		{strict, "8.8.8.8:443", true},
		{strict, "[2606:4700:4700::1111]:443", true},
		{strict, "8.8.8.8:22", false},
		{strict, "8.8.8.8:6379", false},
		{strict, "8.8.8.8:80", false},
		{strict, "8.8.8.8:8443", false},
		{alt, "8.8.8.8:8443", true},
		{alt, "8.8.8.8:6379", false},
		{demo, "127.0.0.1:6379", true},
		{demo, "[::1]:22", true},
		{demo, "8.8.8.8:22", false},
		{demo, "[::ffff:127.0.0.1]:8080", false},
		{strict, "127.0.0.1:443", false},
		{strict, "[fe80::1%eth0]:443", false},
	} {
		if err := c.guard.CheckAddress(c.addr); (err == nil) != c.ok {
			t.Errorf("%s with %+v: %v, want ok=%v", c.addr, c.guard, err, c.ok)
		}
	}
	for _, c := range []struct {
		guard webhooks.Guard
		url   string
		ok    bool
	}{
		{strict, "https://hooks.example.com/payhub", true},
		{strict, "https://hooks.example.com:443/payhub", true},
		{strict, "https://hooks.example.com:22/payhub", false},
		{strict, "https://hooks.example.com:6379/payhub", false},
		{strict, "https://hooks.example.com:8443/payhub", false},
		{alt, "https://hooks.example.com:8443/payhub", true},
		{strict, "https://8.8.8.8:6379/", false},
		{demo, "http://127.0.0.1:6379/hooks", true},
		{demo, "http://[::1]:8080/hooks", true},
		{demo, "http://[::ffff:127.0.0.1]:8080/hooks", false},
		{demo, "http://hooks.example.com/payhub", false},
	} {
		if err := c.guard.CheckURL(c.url); (err == nil) != c.ok {
			t.Errorf("%s with %+v: %v, want ok=%v", c.url, c.guard, err, c.ok)
		}
	}
	if ports, err := webhooks.ParsePorts(" 443, 8443 ,443"); err != nil || len(ports) != 2 || ports[1] != 8443 {
		t.Errorf("ParsePorts = %v, %v", ports, err)
	}
	for _, bad := range []string{"", "0", "65536", "https", "443,-1"} {
		if _, err := webhooks.ParsePorts(bad); err == nil {
			t.Errorf("ParsePorts(%q) accepted", bad)
		}
	}
}

// Names are checked as they are meant: lower case, without the root's trailing dot. Names
// of this host or its networks, single labels (resolved through the search domains) and
// numbers in disguise are refused at registration; every other name is checked again as
// the addresses it resolves to, when it is dialled.
func TestGuardNames(t *testing.T) {
	g := webhooks.Guard{}
	for _, host := range []string{
		"LOCALHOST", "localhost.", "Localhost.", "api.localhost", "metadata.google.internal.", "METADATA.GOOGLE.INTERNAL",
		"printer.local", "router.home.arpa", "1.0.0.127.in-addr.arpa", "metadata", "intranet", "db.corp", "box.lan",
		"2130706433", "127.1", "0x7f.1", "0x7f000001", "x.test", "x.invalid",
	} {
		if err := g.CheckURL("https://" + host + "/hooks"); !errors.Is(err, webhooks.ErrEndpointURL) {
			t.Errorf("https://%s/hooks: %v, want refused", host, err)
		}
	}
	for _, host := range []string{"hooks.example.com", "HOOKS.Example.COM", "hooks.example.com.", "store-042.pos.example.jp"} {
		if err := g.CheckURL("https://" + host + "/hooks"); err != nil {
			t.Errorf("https://%s/hooks: %v, want accepted", host, err)
		}
	}
}

// The dialer asks the guard about every connection, after DNS: a name that resolves to
// loopback is refused like the literal, and nothing reaches the listener.
func TestDialerRefusesResolvedAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	client := webhooks.NewClient(webhooks.Guard{Ports: []uint16{443}})
	// "localhost" resolves from /etc/hosts, without a DNS query leaving the machine.
	for _, u := range []string{srv.URL, "http://localhost:" + port} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, u, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, webhooks.ErrEndpointURL) {
			t.Errorf("%s: %v, want the guard's refusal", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the listener", n)
	}
}
