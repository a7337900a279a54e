// Command docgen writes what follows from the guardrail catalog, so that a
// new guardrail is its package plus one catalog line:
//
//   - functions/cmd/<id>/main.go, each guardrail Lambda's wiring (it links
//     only its own guardrail);
//   - the guardrail table in README.md;
//   - the guardrail section of docs/configuration.md.
//
// Run it with `go generate ./functions/catalog`; with -check it writes
// nothing and exits 1 naming the stale files (the test does the same).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
)

const module = "github.com/kmsguard/kmsguard"

func main() {
	check := flag.Bool("check", false, "write nothing; exit 1 if a generated file is stale")
	flag.Parse()
	root, err := repoRoot()
	if err != nil {
		fail(err)
	}
	files, err := generate(root)
	if err != nil {
		fail(err)
	}
	stale, err := apply(root, files, !*check)
	if err != nil {
		fail(err)
	}
	if *check && len(stale) > 0 {
		fail(fmt.Errorf("stale (run go generate ./functions/catalog): %s", strings.Join(stale, ", ")))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "docgen:", err)
	os.Exit(1)
}

// repoRoot walks up to go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// apply compares each file with what is on disk and, when write is set,
// writes the ones that differ. It returns the stale paths.
func apply(root string, files map[string][]byte, write bool) ([]string, error) {
	var stale []string
	for _, rel := range sortedKeys(files) {
		path := filepath.Join(root, rel)
		old, err := os.ReadFile(path)
		if err == nil && bytes.Equal(old, files[rel]) {
			continue
		}
		stale = append(stale, rel)
		if write {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, files[rel], 0o644); err != nil {
				return nil, err
			}
		}
	}
	return stale, nil
}

// generate returns every generated file's content, by path from root.
func generate(root string) (map[string][]byte, error) {
	specs := catalog.Specs()
	if err := catalog.Validate(specs); err != nil {
		return nil, err
	}
	pkgs, err := entryPackages(filepath.Join(root, "functions", "catalog", "catalog.go"))
	if err != nil {
		return nil, err
	}
	if len(pkgs) != len(specs) {
		return nil, fmt.Errorf("catalog.go lists %d entries, the catalog has %d specs", len(pkgs), len(specs))
	}
	out := map[string][]byte{}
	for i, s := range specs {
		out[filepath.Join("functions", "cmd", s.ID, "main.go")] = mainFile(s, pkgs[i])
	}
	for rel, block := range map[string]string{"README.md": readmeTable(specs), filepath.Join("docs", "configuration.md"): settingsSection(specs)} {
		old, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			return nil, err
		}
		updated, err := replaceBlock(string(old), block)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		out[rel] = []byte(updated)
	}
	// Excerpts of what the tests produce (golden alerts, the dashboard's
	// layout), so the docs show real output, never a hand-drawn one.
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, path := range append([]string{filepath.Join(root, "README.md")}, docs...) {
		rel, _ := filepath.Rel(root, path)
		doc, ok := out[rel]
		if !ok {
			var err error
			if doc, err = os.ReadFile(path); err != nil {
				return nil, err
			}
		}
		updated, n, err := fillExcerpts(root, string(doc))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		if n > 0 {
			out[rel] = []byte(updated)
		}
	}
	return out, nil
}

// excerptMark opens a block filled with a file the tests write:
// "<!-- BEGIN excerpt PATH -->" ... "<!-- END excerpt -->", PATH from the
// repository root.
const (
	excerptMark = "<!-- BEGIN excerpt "
	excerptEnd  = "<!-- END excerpt -->"
)

// fillExcerpts fills every excerpt block of doc with its file, fenced, and
// returns how many it filled.
func fillExcerpts(root, doc string) (string, int, error) {
	var b strings.Builder
	n := 0
	for {
		i := strings.Index(doc, excerptMark)
		if i < 0 {
			b.WriteString(doc)
			return b.String(), n, nil
		}
		head := doc[i:]
		close := strings.Index(head, " -->")
		end := strings.Index(head, excerptEnd)
		if close < 0 || end < close {
			return "", 0, fmt.Errorf("an excerpt block without %q", excerptEnd)
		}
		rel := strings.TrimSpace(head[len(excerptMark):close])
		content, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return "", 0, fmt.Errorf("excerpt %s: %w", rel, err)
		}
		b.WriteString(doc[:i])
		b.WriteString(head[:close+len(" -->")])
		b.WriteString("\n```text\n" + strings.TrimRight(string(content), "\n") + "\n```\n")
		b.WriteString(excerptEnd)
		doc = head[end+len(excerptEnd):]
		n++
	}
}

// entryPackages reads the import path behind each pkg.Entry() of the
// Entries function in catalog.go, in order.
func entryPackages(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	imports := map[string]string{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = p
	}
	var pkgs []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "Entries" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Entry" {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok {
				pkgs = append(pkgs, imports[id.Name])
			}
			return false
		})
		return false
	})
	return pkgs, nil
}

func mainFile(s guardrail.Spec, pkg string) []byte {
	name := pkg[strings.LastIndex(pkg, "/")+1:]
	rel := strings.TrimPrefix(pkg, module+"/")
	return []byte(fmt.Sprintf(`// Code generated by internal/docgen from functions/catalog; DO NOT EDIT.

// Command %[1]s is the Lambda of the %[1]s guardrail: wiring only. The logic
// lives in %[2]s, the runtime in functions/bootstrap and
// functions/lambdamain. It links no other guardrail, so it initialises only
// the AWS clients it uses.
package main

import (
	%[3]s
)

func main() { lambdamain.Guardrail(%[4]s.Entry()) }
`, s.ID, rel, imports(module+"/functions/lambdamain", pkg), name))
}

const (
	beginMark = "<!-- BEGIN generated from the guardrail specs (go generate ./functions/catalog); do not edit -->"
	endMark   = "<!-- END generated -->"
)

// replaceBlock puts block between the markers of doc.
func replaceBlock(doc, block string) (string, error) {
	i := strings.Index(doc, beginMark)
	j := strings.Index(doc, endMark)
	if i < 0 || j < i {
		return "", fmt.Errorf("no %q ... %q markers", beginMark, endMark)
	}
	return doc[:i+len(beginMark)] + "\n" + block + doc[j:], nil
}

// writes are the actions that change something, for the docs.
func writes(s guardrail.Spec) []string {
	var out []string
	for _, a := range s.Writes() {
		out = append(out, "`"+a[strings.Index(a, ":")+1:]+"`")
	}
	if len(out) == 0 {
		return []string{"none (alerts only)"}
	}
	return out
}

func triggers(s guardrail.Spec) string {
	var out []string
	for _, t := range s.Triggers {
		if t.APICall() {
			for _, n := range t.EventNames {
				item := "`" + n + "`"
				if t.Where != nil {
					item += " (" + t.Description + ")"
				}
				out = append(out, item)
			}
		} else {
			out = append(out, fmt.Sprintf("%q event (%s)", t.DetailType, t.Source))
		}
	}
	return strings.Join(out, ", ")
}

func readmeTable(specs []guardrail.Spec) string {
	var b strings.Builder
	b.WriteString("| guardrail | what it does | triggers | remediation (mode `remediate`) | default mode | exemption tag | worst alert |\n|---|---|---|---|---|---|---|\n")
	for _, s := range specs {
		what := s.Summary
		if s.Details != "" {
			what += " " + s.Details
		}
		tag := "none"
		if s.Exemption.Tag != "" {
			tag = "`" + s.Exemption.Tag + "=true`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | `%s` | %s | %s |\n", s.ID, what, triggers(s), strings.Join(writes(s), ", "), s.DefaultMode, tag, s.Severity)
	}
	return b.String()
}

func settingsSection(specs []guardrail.Spec) string {
	var b strings.Builder
	b.WriteString("| guardrail | setting | type | default | meaning |\n|---|---|---|---|---|\n")
	for _, s := range specs {
		schema, _ := guardrail.SettingsSchema(s.Settings)
		for _, st := range schema {
			def := st.Default
			if st.Name == "exemption_tag" {
				def = "`" + s.Exemption.Tag + "`"
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", s.ID, st.Name, st.Type, def, st.Doc)
		}
	}
	b.WriteString("\nBuilt-in default modes (used when `modes` says nothing): ")
	var modes []string
	for _, s := range specs {
		modes = append(modes, fmt.Sprintf("%s `%s`", s.ID, s.DefaultMode))
	}
	b.WriteString(strings.Join(modes, ", ") + ".\n")
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// imports renders import paths in gofmt's order.
func imports(paths ...string) string {
	sort.Strings(paths)
	for i, p := range paths {
		paths[i] = strconv.Quote(p)
	}
	return strings.Join(paths, "\n\t")
}
