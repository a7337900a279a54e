package lambdamain_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/kmsguard/kmsguard/functions/catalog"
)

// deps lists the packages a main package links.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// Each guardrail Lambda links its own guardrail and no other, nor the sweep:
// package init of the others would be cold-start time and memory for
// nothing. The CLI links no aws-lambda-go RPC mode.
func TestMains_LinkOnlyWhatTheyRun(t *testing.T) {
	const mod = "github.com/kmsguard/kmsguard/functions/"
	// The guardrail packages are what the catalog imports, bar the contract
	// and the runtime configuration.
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, mod+"catalog").Output()
	if err != nil {
		t.Fatal(err)
	}
	guardrails := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, mod) && p != mod+"guardrail" && p != mod+"runconfig" {
			guardrails[p] = true
		}
	}
	if len(guardrails) != len(catalog.IDs()) {
		t.Fatalf("the catalog imports %d guardrail packages for %d guardrails", len(guardrails), len(catalog.IDs()))
	}
	for _, id := range catalog.IDs() {
		linked := 0
		for _, p := range deps(t, mod+"cmd/"+id) {
			if guardrails[p] {
				linked++
			}
			if p == mod+"sweep" || p == mod+"catalog" {
				t.Errorf("%s links %s", id, p)
			}
		}
		if linked != 1 {
			t.Errorf("%s links %d guardrail packages, want its own only", id, linked)
		}
	}
	for _, p := range deps(t, "github.com/kmsguard/kmsguard/cmd/kmsguard") {
		if p == "github.com/aws/aws-lambda-go/lambda" || p == "net/rpc" {
			t.Errorf("the CLI links %s", p)
		}
	}
}
