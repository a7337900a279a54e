package catalog_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every golden alert of every guardrail is actionable: a "What you can do"
// section with at least one line, and no finding without its place in the
// policy ("statement -"). The sweep's digest is a summary, not an alert
// about one resource.
func TestGoldenAlerts_AlwaysSayWhatToDo(t *testing.T) {
	files, err := filepath.Glob("../*/testdata/alerts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden alerts found: %v", err)
	}
	for _, f := range files {
		if strings.Contains(f, "/sweep/") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		_, after, ok := strings.Cut(text, "\nWhat you can do\n")
		if !ok {
			t.Errorf("%s has no \"What you can do\"", f)
			continue
		}
		section, _, _ := strings.Cut(after, "\n\n")
		if strings.TrimSpace(section) == "" {
			t.Errorf("%s: \"What you can do\" is empty", f)
		}
		if strings.Contains(text, "(statement -)") {
			t.Errorf("%s: a finding does not say where it is", f)
		}
	}
}
