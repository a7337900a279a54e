package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The generated mains and docs follow the guardrail specs: a test fails,
// naming the files, when someone changes a spec without go generate.
func TestGenerated_UpToDate(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	files, err := generate(root)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := apply(root, files, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Errorf("stale, run go generate ./functions/catalog: %v", stale)
	}
	// Every guardrail Lambda main is generated: none is left over from a
	// guardrail that is gone.
	entries, _ := os.ReadDir(filepath.Join(root, "functions", "cmd"))
	for _, e := range entries {
		rel := filepath.Join("functions", "cmd", e.Name(), "main.go")
		if _, ok := files[rel]; !ok && e.Name() != "sweep" {
			t.Errorf("%s is not a catalog guardrail's Lambda", rel)
		}
	}
}
