// Package tpltest holds what the infra tests share: stub Lambda assets,
// helpers to read synthesized templates, and cfn-lint.
package tpltest

import (
	"archive/zip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kmsguard/kmsguard/functions/catalog"
)

// StubAssets writes a tiny zip per Lambda (every guardrail and the sweep),
// so synth does not need `make build`.
func StubAssets(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, id := range append(catalog.IDs(), "sweep") {
		f, err := os.Create(filepath.Join(dir, id+".zip"))
		if err != nil {
			t.Fatal(err)
		}
		z := zip.NewWriter(f)
		w, _ := z.Create("bootstrap")
		_, _ = w.Write([]byte("stub " + id))
		_ = z.Close()
		_ = f.Close()
	}
	return dir
}

// JSON renders any value as compact JSON.
func JSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Strings reads a string-or-list template value.
func Strings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Resources returns the resources of a type, keyed by logical id.
func Resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	res, _ := tpl["Resources"].(map[string]any)
	for id, r := range res {
		if m, ok := r.(map[string]any); ok && m["Type"] == typ {
			out[id] = m
		}
	}
	return out
}

// Props is a resource's Properties.
func Props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// CfnLint runs the pinned cfn-lint on templates (written to files). W3005 is
// ignored: CDK's DependsOn on a function's role, which a GetAtt already
// implies (docs/testing.md).
func CfnLint(t *testing.T, templates map[string]any, regions ...string) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--regions"}
	args = append(args, regions...)
	args = append(args, "--ignore-checks", "W3005", "--")
	for name, tpl := range templates {
		p := filepath.Join(dir, name+".template.json")
		b, _ := json.MarshalIndent(tpl, "", " ")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatalf("cfn-lint is required (pip install cfn-lint==1.51.0): %v", err)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Errorf("cfn-lint on %d templates:\n%s", len(templates), out)
	}
}

// Unsub replaces {"Fn::Sub": "text"} in a template value by its text, so a
// synthesized pattern compares with the placeholders it was rendered from.
func Unsub(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x["Fn::Sub"].(string); ok && len(x) == 1 {
			return s
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = Unsub(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Unsub(e)
		}
		return out
	}
	return v
}
