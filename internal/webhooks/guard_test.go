package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"payhub/internal/webhooks"
)

func TestGuardChecksEndpointURLs(t *testing.T) {
	strict, local := webhooks.Guard{}, webhooks.Guard{AllowLoopback: true}
	for _, c := range []struct {
		url         string
		guard       webhooks.Guard
		ok          bool
		description string
	}{
		{"https://hooks.example.com/payhub", strict, true, "public https"},
		{"http://hooks.example.com/payhub", strict, false, "plain http"},
		{"http://127.0.0.1:8080/hooks", local, true, "loopback in demo and tests"},
		{"http://127.0.0.1:8080/hooks", strict, false, "loopback in production"},
		{"https://[::1]/hooks", strict, false, "IPv6 loopback"},
		{"https://10.1.2.3/hooks", local, false, "private"},
		{"https://192.168.0.10/hooks", local, false, "private"},
		{"https://169.254.169.254/latest/meta-data", local, false, "cloud metadata"},
		{"https://100.64.0.1/", local, false, "carrier-grade NAT"},
		{"https://0.0.0.0/", local, false, "unspecified"},
		{"https://[::ffff:10.0.0.1]/", local, false, "mapped private"},
		{"https://localhost/hooks", local, false, "a name for this host"},
		{"https://user:pass@hooks.example.com/", strict, false, "credentials"},
		{"hooks.example.com/payhub", strict, false, "not absolute"},
		{"https://hooks.example.com/#frag", strict, false, "fragment"},
	} {
		err := c.guard.CheckURL(c.url)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, webhooks.ErrEndpointURL)) {
			t.Errorf("%s (%s): %v, want ok=%v", c.url, c.description, err, c.ok)
		}
	}
}

// The client checks the address it dials, after DNS, so a URL cannot reach inward.
func TestClientRefusesToDialInward(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, nil)
	if _, err := webhooks.NewClient(webhooks.Guard{}).Do(req); !errors.Is(err, webhooks.ErrEndpointURL) {
		t.Fatalf("strict client reached loopback: %v", err)
	}
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, nil)
	resp, err := webhooks.NewClient(webhooks.Guard{AllowLoopback: true}).Do(req)
	if err != nil {
		t.Fatalf("demo client: %v", err)
	}
	resp.Body.Close()
}
