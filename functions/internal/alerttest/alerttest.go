// Package alerttest holds the checks every guardrail's handler tests apply
// to alerts: the DESIGN §5 rules, and golden files of the rendered alert.
// Run a package's tests with -update to rewrite its golden files.
package alerttest

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
)

var update = flag.Bool("update", false, "rewrite golden alert files")

// Recorder is a publisher that keeps what it is given.
type Recorder struct{ Msgs []alert.Message }

// Publish records the message.
func (r *Recorder) Publish(_ context.Context, m alert.Message) error {
	r.Msgs = append(r.Msgs, m)
	return nil
}

// Check holds an alert to the rules every alert follows.
func Check(t *testing.T, m alert.Message) {
	t.Helper()
	subj := m.Subject()
	if n := len([]rune(subj)); n >= 100 {
		t.Errorf("subject has %d characters: %q", n, subj)
	}
	if strings.ContainsAny(subj, "\r\n\t") {
		t.Errorf("subject has a control character: %q", subj)
	}
	if !strings.HasPrefix(subj, "[kmsguard] ") {
		t.Errorf("subject %q", subj)
	}
	for _, k := range []string{"severity", "guardrail", "account", "region", "action"} {
		if m.Attributes()[k] == "" {
			t.Errorf("attribute %s empty", k)
		}
	}
	var structure map[string]string
	if err := json.Unmarshal([]byte(m.Structure()), &structure); err != nil {
		t.Fatalf("message structure is not JSON: %v", err)
	}
	if structure["email"] != m.Text() || !json.Valid([]byte(structure["default"])) {
		t.Error("message structure lacks the email text or a JSON default")
	}
	for _, must := range []string{"What happened", "What kmsguard did", "Where", "Event id"} {
		if !strings.Contains(m.Text(), must) {
			t.Errorf("body lacks %q", must)
		}
	}
}

// Render is the golden form: subject, attributes, then the email body.
func Render(m alert.Message) string {
	attrs := m.Attributes()
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "Subject: %s\n", m.Subject())
	for _, k := range keys {
		fmt.Fprintf(&b, "Attribute %s: %s\n", k, attrs[k])
	}
	b.WriteString("\n")
	b.WriteString(m.Text())
	return b.String()
}

// Golden compares the rendered alert with testdata/alerts/<name>.txt.
func Golden(t *testing.T, name string, m alert.Message) {
	t.Helper()
	path := filepath.Join("testdata", "alerts", name+".txt")
	got := Render(m)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the package's tests with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("alert differs from %s (run with -update if the change is intended)\n--- got ---\n%s", path, got)
	}
}

// CallsAllowed fails the test for every call (recorded by a fake of
// service, e.g. "kms") that the spec's Actions do not grant.
func CallsAllowed(t testing.TB, spec guardrail.Spec, service string, calls []string) {
	t.Helper()
	for _, c := range calls {
		if !slices.Contains(spec.Actions, service+":"+c) {
			t.Errorf("%s called %s:%s, which its spec's Actions do not grant", spec.ID, service, c)
		}
	}
}
