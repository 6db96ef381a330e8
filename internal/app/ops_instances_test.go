package app

import (
	"strings"
	"testing"
)

// `payhub ops instances` lists the demo's one instance, alive and answering, to a viewer.
func TestOpsInstancesAgainstTheDemo(t *testing.T) {
	clearOpsEnv(t)
	dir := t.TempDir()
	startDemo(t, dir)
	out := mustOps(t, as(dir, "alice", "--role", "viewer", "instances")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[1], "ins_") ||
		!strings.Contains(lines[1], "alive (answering)") {
		t.Fatalf("instances:\n%s", out)
	}
}
