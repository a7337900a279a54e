package lambdamain_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/kmsguard/kmsguard/events/patterns"
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
	own := map[string]string{"key-deletion": "keydeletion", "key-rotation": "keyrotation", "key-policy": "keypolicy", "log-encryption": "logencryption"}
	for _, id := range patterns.GuardrailIDs {
		for _, p := range deps(t, "github.com/kmsguard/kmsguard/functions/cmd/"+id) {
			for other, pkg := range own {
				if other != id && p == mod+pkg {
					t.Errorf("%s links %s", id, p)
				}
			}
			if p == mod+"sweep" || p == mod+"catalog" {
				t.Errorf("%s links %s", id, p)
			}
		}
	}
	for _, p := range deps(t, "github.com/kmsguard/kmsguard/cmd/kmsguard") {
		if p == "github.com/aws/aws-lambda-go/lambda" || p == "net/rpc" {
			t.Errorf("the CLI links %s", p)
		}
	}
}
