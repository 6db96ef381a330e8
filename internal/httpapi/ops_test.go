package httpapi

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Every operator route requires a role: a route under /v1/ops registered without one (not
// through opsRoute) fails this test.
func TestEveryOpsRouteRequiresARole(t *testing.T) {
	s := New(Config{Registry: prometheus.NewRegistry()})
	n := 0
	for _, r := range s.engine.Routes() {
		if !strings.HasPrefix(r.Path, "/v1/ops") {
			continue
		}
		n++
		if role := s.opsRoles[r.Method+" "+r.Path]; role == "" {
			t.Errorf("%s %s requires no role", r.Method, r.Path)
		}
	}
	if n == 0 {
		t.Fatal("no /v1/ops route found: the walk checks nothing")
	}
}
