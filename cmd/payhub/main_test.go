package main

import (
	"bytes"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// The product binary carries none of the proving binary's code: neither internal/lab nor the
// load generator is among its dependencies (docs/design.md, the house: cmd/payhub-lab is
// never shipped as payhub). depguard checks each import; this checks what the binary links.
func TestBinaryLinksNoLab(t *testing.T) {
	// go test puts its own go first on PATH.
	out, err := exec.Command("go", "list", "-deps", "payhub/cmd/payhub").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps payhub/cmd/payhub: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "payhub/internal/app") {
		t.Fatalf("go list -deps payhub/cmd/payhub lists no payhub/internal/app; got:\n%s", out)
	}
	for _, dep := range deps {
		if dep == "payhub/internal/lab" || strings.HasPrefix(dep, "payhub/internal/lab/") ||
			strings.HasPrefix(dep, "github.com/tsenart/vegeta") {
			t.Errorf("payhub links %s: the lab belongs to payhub-lab only", dep)
		}
	}
}

// payhub --help lists the product's commands and nothing else: no hidden command and none
// of payhub-lab's.
func TestHelpListsOnlyProductCommands(t *testing.T) {
	root := rootCommand(io.Discard)
	var help bytes.Buffer
	root.SetOut(&help)
	root.SetErr(&help)
	root.SetArgs([]string{"--help"})
	if err := root.Execute(); err != nil {
		t.Fatalf("payhub --help: %v", err)
	}

	// The command names under "Available Commands:", up to the next blank line.
	var listed []string
	inList := false
	for line := range strings.Lines(help.String()) {
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "Available Commands:":
			inList = true
		case inList && strings.TrimSpace(line) == "":
			inList = false
		case inList:
			listed = append(listed, strings.Fields(line)[0])
		}
	}
	slices.Sort(listed)
	want := []string{"audit", "client", "compensate", "completion", "demo", "help", "ledger", "migrate", "ops", "secrets", "serve", "sim", "token"}
	if !slices.Equal(listed, want) {
		t.Errorf("payhub --help lists %v, want %v\n%s", listed, want, help.String())
	}

	lab := []string{"crashtest", "bench", "webhookbench", "passthrough", "profiled-serve"}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden {
				t.Errorf("payhub has a hidden command %q", sub.CommandPath())
			}
			if slices.Contains(lab, sub.Name()) {
				t.Errorf("payhub has payhub-lab's command %q", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
}
