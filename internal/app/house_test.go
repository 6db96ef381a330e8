package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The rules of the house (docs/design.md, the house) over the module's import graph, as
// `go list` sees it. .golangci.yml states the same rules for depguard, which checks each
// file's imports; this test also follows dependencies through other packages and runs with
// `go test` alone.
func TestHouseRules(t *testing.T) {
	pkgs := listModule(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages of payhub: the test does not see the module", len(pkgs))
	}

	// payhub's own packages among paths, without the standard library and third parties.
	own := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			if p == "payhub" || strings.HasPrefix(p, "payhub/") {
				out = append(out, p)
			}
		}
		return out
	}
	under := func(p string, roots ...string) bool {
		for _, r := range roots {
			if p == r || strings.HasPrefix(p, r+"/") {
				return true
			}
		}
		return false
	}

	for _, p := range pkgs {
		// What the package builds with (Deps: every package it reaches, not only its imports),
		// and what its tests import directly.
		deps := own(p.Deps)
		tests := own(slices.Concat(p.TestImports, p.XTestImports))
		switch {
		case under(p.ImportPath, "payhub/contracts"):
			// contracts imports only the standard library and its own generated code.
			for _, d := range slices.Concat(deps, tests) {
				if !under(d, "payhub/contracts") {
					t.Errorf("%s depends on %s: contracts uses nothing of payhub but contracts", p.ImportPath, d)
				}
			}
		case under(p.ImportPath, "payhub/adapters"):
			// An adapter is contracts over the partner's wire API: never internal/, mocks/ or
			// another adapter.
			for _, d := range deps {
				if !under(d, "payhub/contracts") {
					t.Errorf("%s depends on %s: an adapter uses only payhub/contracts", p.ImportPath, d)
				}
			}
			for _, d := range tests {
				if !under(d, "payhub/contracts", "payhub/adapters/adaptertest") && d != p.ImportPath {
					t.Errorf("%s's tests import %s: an adapter's tests use only contracts and adaptertest", p.ImportPath, d)
				}
			}
		case under(p.ImportPath, "payhub/mocks"):
			// A simulator is an independent implementation of the partner's side.
			for _, d := range slices.Concat(deps, tests) {
				if under(d, "payhub/adapters", "payhub/internal", "payhub/cmd") {
					t.Errorf("%s depends on %s: a simulator never uses an adapter or payhub's internals", p.ImportPath, d)
				}
			}
		case under(p.ImportPath, "payhub/internal") &&
			!under(p.ImportPath, "payhub/internal/app", "payhub/internal/config", "payhub/internal/lab"):
			// The engine never names a partner: only the wiring knows adapters and simulators.
			for _, d := range deps {
				if under(d, "payhub/adapters", "payhub/mocks") {
					t.Errorf("%s depends on %s: outside the wiring, internal/ reaches partners only through contracts", p.ImportPath, d)
				}
			}
		}

		// Who may import what, directly, in the code that is built (tests may do more).
		for _, imp := range p.Imports {
			switch {
			case imp == "payhub/internal/config" &&
				!under(p.ImportPath, "payhub/cmd", "payhub/internal/app"):
				t.Errorf("%s imports internal/config: only cmd/* and internal/app read configuration", p.ImportPath)
			case under(imp, "payhub/internal/lab") && p.ImportPath != "payhub/cmd/payhub-lab":
				t.Errorf("%s imports %s: internal/lab is imported only by cmd/payhub-lab", p.ImportPath, imp)
			case under(imp, "github.com/tsenart/vegeta") && !under(p.ImportPath, "payhub/internal/lab"):
				t.Errorf("%s imports %s: the load generator belongs to internal/lab", p.ImportPath, imp)
			}
		}
		for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
			if under(imp, "payhub/internal/lab") && !under(p.ImportPath, "payhub/internal/lab", "payhub/cmd/payhub-lab") {
				t.Errorf("%s's tests import %s: internal/lab is imported only by cmd/payhub-lab", p.ImportPath, imp)
			}
		}
	}
}

// listedPackage is what TestHouseRules reads of `go list -json`.
type listedPackage struct {
	ImportPath   string
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
}

// listModule lists every package of the module with its imports and dependencies.
func listModule(t *testing.T) []listedPackage {
	t.Helper()
	// go test puts its own go first on PATH.
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Deps,TestImports,XTestImports", "payhub/...")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list payhub/...: %v\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}
