package app

import (
	"net"
	"net/http"
	"time"

	linepayadapter "payhub/adapters/linepay"
	paypayadapter "payhub/adapters/paypay"
	"payhub/internal/config"
)

// PartnersFromEnv reads the PayPay and LINE Pay adapters' configuration from the
// environment as serve does (LINE Pay nil when unconfigured), for the lab's bare
// pass-through, which must call the partners exactly as serve would.
func PartnersFromEnv() (paypayadapter.Config, *linepayadapter.Config, error) {
	pp, err := config.PayPay()
	if err != nil {
		return pp, nil, err
	}
	lp, err := config.LinePay()
	return pp, lp, err
}

// PartnerHTTPClient is the HTTP client every partner adapter shares: one connection pool
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
