package app

import (
	"net"
	"net/http"
	"time"
)

// partnerHTTPClient is the HTTP client every partner adapter shares: one connection pool
// that keeps enough idle connections per partner host for a lunch peak (Go's default keeps
// two, so under load most partner calls would open a new TCP connection). Adapters bound
// each call by their own timeouts, so the client has none.
func PartnerHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t}
}
