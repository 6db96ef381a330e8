package config

import (
	"slices"
	"strings"
	"testing"
)

// The store-notification policy comes from four variables; unset keeps the defaults, and a
// value that is not a port list or a whole number is an error naming the variable.
func TestWebhookPolicy(t *testing.T) {
	vars := []string{"PAYHUB_WEBHOOK_PORTS", "PAYHUB_WEBHOOK_MAX_ENDPOINTS", "PAYHUB_WEBHOOK_INFLIGHT_PER_ENDPOINT", "PAYHUB_WEBHOOK_INFLIGHT_PER_STORE"}
	for _, name := range vars {
		t.Setenv(name, "")
	}
	p, err := Webhooks()
	if err != nil || p.Ports != nil || p.MaxEndpointsPerStore != 0 || p.PerEndpoint != 0 || p.PerStore != 0 {
		t.Fatalf("unset: %+v, %v", p, err)
	}

	t.Setenv("PAYHUB_WEBHOOK_PORTS", "443, 8443")
	t.Setenv("PAYHUB_WEBHOOK_MAX_ENDPOINTS", "4")
	t.Setenv("PAYHUB_WEBHOOK_INFLIGHT_PER_ENDPOINT", "2")
	t.Setenv("PAYHUB_WEBHOOK_INFLIGHT_PER_STORE", "6")
	p, err = Webhooks()
	if err != nil || !slices.Equal(p.Ports, []uint16{443, 8443}) || p.MaxEndpointsPerStore != 4 || p.PerEndpoint != 2 || p.PerStore != 6 {
		t.Fatalf("set: %+v, %v", p, err)
	}

	for name, bad := range map[string]string{
		"PAYHUB_WEBHOOK_PORTS":                 "443,70000",
		"PAYHUB_WEBHOOK_MAX_ENDPOINTS":         "0",
		"PAYHUB_WEBHOOK_INFLIGHT_PER_ENDPOINT": "two",
		"PAYHUB_WEBHOOK_INFLIGHT_PER_STORE":    "-1",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, bad)
			if _, err := Webhooks(); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: %v, want an error naming the variable", name, bad, err)
			}
		})
	}
}
