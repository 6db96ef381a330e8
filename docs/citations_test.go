// Package docs holds payhub's own references (design, API and security conventions, one file
// per partner wire API). It has no Go code of its own: this test keeps every citation in the
// repository's Go comments pointing at a file and a section that exist, so the repository
// stands on its own.
package docs

import (
	"bufio"
	"bytes"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// moduleRoot is the repository root, relative to this test's directory.
const moduleRoot = ".."

// citation is one reference to a markdown file in a Go comment, e.g.
// "docs/partners/paypay.md §4, §6 and §11".
type citation struct {
	Line     int      // line of the comment in its .go file
	Path     string   // the cited path as written
	Sections []string // the cited section numbers, e.g. "8", "4.1", "B3"; none for the whole file
}

// commentLine is one line of comment text (without "//", "/*" or "*/") and its line number.
type commentLine struct {
	Line int
	Text string
}

// section is a section number as docs/ headings write it: an optional capital letter (the
// nanaco file's A1, B3) and dot-separated integers ("8", "4.1").
const section = `[A-Z]?[0-9]+(?:\.[0-9]+)*`

var (
	// citeRE matches a token ending in ".md", optionally followed by "§N" and a list of more
	// sections of the same file ("§4, §6 and §11"). The path must end with a letter, digit, "_"
	// or "-" before ".md", so "*.md" globs are not citations.
	citeRE = regexp.MustCompile(`([A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md)\b((?:\s*§\s*` + section +
		`)(?:\s*(?:,\s*and|,|and|&)\s*§\s*` + section + `)*)?`)
	// leadingSectionsRE matches sections at the start of a comment line: the continuation of a
	// citation whose file name ended the line before.
	leadingSectionsRE = regexp.MustCompile(`^\s*§\s*` + section + `(?:\s*(?:,\s*and|,|and|&)\s*§\s*` +
		section + `)*`)
	sectionRE = regexp.MustCompile(`§\s*(` + section + `)`)
	// headingRE matches a markdown heading that starts with a section number: "## 8. Unknown
	// outcomes", "### 4.1 Payment statuses", "### B3. Idempotency".
	headingRE = regexp.MustCompile(`^#{1,6}\s+(` + section + `)\.?(?:\s|$)`)
)

// commentLines returns the comment text of a Go source file, line by line. It uses the Go
// scanner, so string literals are never mistaken for comments; files that do not scan cleanly
// still yield the comments found.
func commentLines(src []byte) []commentLine {
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	var s scanner.Scanner
	s.Init(file, src, func(token.Position, string) {}, scanner.ScanComments)
	var out []commentLine
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			return out
		}
		if tok != token.COMMENT {
			continue
		}
		line := fset.Position(pos).Line
		if text, ok := strings.CutPrefix(lit, "//"); ok {
			out = append(out, commentLine{Line: line, Text: text})
			continue
		}
		text := strings.TrimSuffix(strings.TrimPrefix(lit, "/*"), "*/")
		for i, l := range strings.Split(text, "\n") {
			out = append(out, commentLine{Line: line + i, Text: l})
		}
	}
}

// extractCitations finds every citation of a markdown file in comment lines. A URL
// ("https://host/x.md") is not a citation. A citation whose file name ends its line takes its
// sections from the start of the next comment line.
func extractCitations(lines []commentLine) []citation {
	var out []citation
	for i, l := range lines {
		for _, m := range citeRE.FindAllStringSubmatchIndex(l.Text, -1) {
			start, end := m[2], m[3]
			if start > 0 && l.Text[start-1] == ':' {
				continue // part of a URL
			}
			c := citation{Line: l.Line, Path: l.Text[start:end]}
			if m[4] >= 0 {
				c.Sections = sectionsIn(l.Text[m[4]:m[5]])
			} else if strings.TrimSpace(l.Text[m[1]:]) == "" && i+1 < len(lines) && lines[i+1].Line == l.Line+1 {
				if lead := leadingSectionsRE.FindString(lines[i+1].Text); lead != "" {
					c.Sections = sectionsIn(lead)
				}
			}
			out = append(out, c)
		}
	}
	return out
}

func sectionsIn(s string) []string {
	var out []string
	for _, m := range sectionRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// headingNumbers returns the section numbers of a markdown document's headings, skipping
// fenced code blocks.
func headingNumbers(md []byte) map[string]bool {
	out := map[string]bool{}
	fenced := false
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// skipDir reports whether a directory holds no Go files of the repository's own: vendored
// code, test data, Node packages, and directories the go tool ignores.
func skipDir(name string) bool {
	switch name {
	case "vendor", "testdata", "node_modules":
		return true
	}
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// checkCitation returns what is wrong with a citation, or "" when its file and sections exist.
// headings caches the headings of each cited file, keyed by its repo-relative path.
func checkCitation(root string, c citation, headings map[string]map[string]bool) string {
	p := c.Path
	if path.IsAbs(p) || filepath.IsAbs(p) {
		return "cites " + p + ": an absolute path; cite a path relative to the repository root (e.g. docs/partners/paypay.md)"
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "cites " + p + ": outside the repository; cite a path relative to the repository root (e.g. docs/api.md)"
	}
	h, ok := headings[clean]
	if !ok {
		md, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(clean)))
		if err != nil {
			headings[clean] = nil
		} else {
			headings[clean] = headingNumbers(md)
		}
		h = headings[clean]
	}
	if h == nil {
		return "cites " + p + ": no such file in the repository (paths are relative to the repository root, e.g. docs/partners/paypay.md)"
	}
	var missing []string
	for _, s := range c.Sections {
		if !h[s] {
			missing = append(missing, "§"+s)
		}
	}
	if len(missing) > 0 {
		return "cites " + p + " " + strings.Join(missing, ", ") + ": " + clean + " has no heading with that number"
	}
	return ""
}

// TestCitationsResolve walks every .go file of the repository and checks each markdown
// citation in its comments: the cited path must be a file of the repository, relative to the
// module root, and every cited §N / §N.M must be the number of a heading in that file.
func TestCitationsResolve(t *testing.T) {
	if _, err := os.Stat(filepath.Join(moduleRoot, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", moduleRoot, err)
	}
	headings := map[string]map[string]bool{}
	files, found := 0, 0
	err := filepath.WalkDir(moduleRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != moduleRoot && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(moduleRoot, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		files++
		for _, c := range extractCitations(commentLines(src)) {
			found++
			if problem := checkCitation(moduleRoot, c, headings); problem != "" {
				t.Errorf("%s:%d: %s", rel, c.Line, problem)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no .go files found under %s", moduleRoot)
	}
	t.Logf("%d citations in %d .go files checked", found, files)
}

func TestExtractCitations(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []citation
	}{
		{"file and section",
			"// verdict classifies the reply per docs/partners/paypay.md §6.\n",
			[]citation{{1, "docs/partners/paypay.md", []string{"6"}}}},
		{"subsection, trailing period",
			"// See docs/api.md §4.1.\n",
			[]citation{{1, "docs/api.md", []string{"4.1"}}}},
		{"whole file",
			"// carddata (docs/partners/gmopg.md §7, docs/security.md): refused.\n",
			[]citation{{1, "docs/partners/gmopg.md", []string{"7"}}, {1, "docs/security.md", nil}}},
		{"a list of sections of one file",
			"// Result codes payhub branches on (docs/partners/paypay.md §3, §4, §6 and §11).\n",
			[]citation{{1, "docs/partners/paypay.md", []string{"3", "4", "6", "11"}}}},
		{"two files on one line",
			"// (docs/partners/paypay.md §11; docs/partners/linepay.md §7.4; docs/partners/nanaco.md §B3).\n",
			[]citation{
				{1, "docs/partners/paypay.md", []string{"11"}},
				{1, "docs/partners/linepay.md", []string{"7.4"}},
				{1, "docs/partners/nanaco.md", []string{"B3"}},
			}},
		{"space after the section sign",
			"// the rule of docs/partners/paypay.md § 8\n",
			[]citation{{1, "docs/partners/paypay.md", []string{"8"}}}},
		{"sections continued on the next line",
			"// Amounts arrive as JSON numbers in major units (docs/partners/linepay.md\n// §7.2); parsed exactly.\n",
			[]citation{{1, "docs/partners/linepay.md", []string{"7.2"}}}},
		{"old-style citations are found too",
			"// the protocol of /work/shared/partners/card-gmopg.md and conventions/api.md §8.1\n",
			[]citation{{1, "/work/shared/partners/card-gmopg.md", nil}, {1, "conventions/api.md", []string{"8.1"}}}},
		{"block comment",
			"/*\nfirst line\nsee README.md and docs/design.md\n*/\n",
			[]citation{{3, "README.md", nil}, {3, "docs/design.md", nil}}},
		{"no citations: URLs, globs, string literals, other extensions",
			"// https://example.com/guide.md, partners/*.md, foo.mdx, §8 alone\nvar s = \"docs/api.md §9\"\n",
			nil},
		{"trailing comment after code",
			"x := 1 // docs/api.md §3\n",
			[]citation{{1, "docs/api.md", []string{"3"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := extractCitations(commentLines([]byte(tt.src)))
			if !slices.EqualFunc(got, tt.want, func(a, b citation) bool {
				return a.Line == b.Line && a.Path == b.Path && slices.Equal(a.Sections, b.Sections)
			}) {
				t.Errorf("extractCitations(%q)\n got  %+v\n want %+v", tt.src, got, tt.want)
			}
		})
	}
}

func TestHeadingNumbers(t *testing.T) {
	md := "# Title\n\n## 1. Basics\n### 4.1 Payment statuses\n### B3. Idempotency\n" +
		"## Part A. Real-world\n### EntryTran.idPass (register)\n```\n## 9. inside a fence\n```\n" +
		"text ## 10. not a heading\n#### 8.6 Endpoint safety\n"
	got := headingNumbers([]byte(md))
	want := []string{"1", "4.1", "B3", "8.6"}
	if len(got) != len(want) {
		t.Errorf("headingNumbers = %v, want exactly %v", got, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("headingNumbers misses %s: %v", w, got)
		}
	}
}

func TestCheckCitation(t *testing.T) {
	headings := map[string]map[string]bool{}
	for _, tt := range []struct {
		c    citation
		good bool
	}{
		{citation{1, "docs/api.md", []string{"4.1", "8.6"}}, true},
		{citation{1, "docs/partners/nanaco.md", []string{"B3"}}, true},
		{citation{1, "README.md", nil}, true},
		{citation{1, "docs/api.md", []string{"99"}}, false},
		{citation{1, "paypay.md", []string{"8"}}, false},
		{citation{1, "../shared/DESIGN.md", nil}, false},
		{citation{1, "/work/shared/partners/paypay.md", nil}, false},
	} {
		problem := checkCitation(moduleRoot, tt.c, headings)
		if (problem == "") != tt.good {
			t.Errorf("checkCitation(%+v) = %q, want good=%v", tt.c, problem, tt.good)
		}
	}
}
