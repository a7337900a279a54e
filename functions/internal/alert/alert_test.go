package alert

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	tests := map[string]struct {
		in   string
		max  int
		want string
	}{
		"plain":            {"alias/payments", 50, "alias/payments"},
		"newlines":         {"a\r\nb\nc", 50, "a b c"},
		"bidi and nul":     {"x\u202ey\x00z\u200b", 50, "x y z"},
		"escape sequences": {"\x1b[31mred", 50, "[31mred"},
		"invalid utf8":     {"a\xffb", 50, "a b"},
		"truncate":         {"abcdefgh", 5, "abcd…"},
		"zero":             {"abc", 0, ""},
		"collapse spaces":  {"a \t\t b", 50, "a b"},
	}
	for name, tt := range tests {
		if got := Clean(tt.in, tt.max); got != tt.want {
			t.Errorf("%s: Clean(%q) = %q, want %q", name, tt.in, got, tt.want)
		}
	}
}

func TestSubject_AlwaysFits(t *testing.T) {
	for _, res := range []string{"", "alias/x", strings.Repeat("ü", 300), "line\nbreak", strings.Repeat("alias/very-long-", 20)} {
		m := Message{Severity: "CRITICAL", Guardrail: "key-deletion", Account: "111122223333", Region: "ap-southeast-2", Resource: res, Verdict: "remediation FAILED"}
		s := m.Subject()
		if n := utf8.RuneCountInString(s); n > MaxSubject {
			t.Errorf("subject %d runes: %q", n, s)
		}
		if strings.ContainsAny(s, "\n\r") {
			t.Errorf("subject has a newline: %q", s)
		}
		if !strings.HasSuffix(s, "— remediation FAILED") {
			t.Errorf("verdict cut from %q", s)
		}
	}
}

func TestStructureAndBounds(t *testing.T) {
	m := Message{Severity: "HIGH", Guardrail: "g", Account: "1", Region: "r", Resource: "k", Action: "none", Verdict: "v", Body: strings.Repeat("x\n", MaxBody)}
	var s map[string]string
	if err := json.Unmarshal([]byte(m.Structure()), &s); err != nil {
		t.Fatal(err)
	}
	if utf8.RuneCountInString(s["email"]) > MaxBody {
		t.Error("body not bounded")
	}
	if len(m.Structure()) > 256*1024 {
		t.Errorf("structure is %d bytes, over SNS's limit", len(m.Structure()))
	}
	var j map[string]any
	if err := json.Unmarshal([]byte(s["default"]), &j); err != nil || j["subject"] == "" || j["severity"] != "HIGH" {
		t.Errorf("JSON form %v (%v)", j, err)
	}
}

func TestBody(t *testing.T) {
	var b Body
	b.Para("Key %s was %s.", "alias/x\nInjected: yes", "deleted")
	b.Section("Key")
	b.Field("ARN", "arn:aws:kms:eu-west-1:111122223333:key/1")
	b.Field("Empty", "")
	b.Command("aws kms enable-key --key-id k")
	got := b.String()
	want := "Key alias/x Injected: yes was deleted.\n\nKey\n  ARN:          arn:aws:kms:eu-west-1:111122223333:key/1\n    aws kms enable-key --key-id k\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestCleanText_KeepsLayout(t *testing.T) {
	in := "Title\r\n  Label:   value\u202e\n    cmd --x\x00"
	want := "Title\n  Label:   value \n    cmd --x "
	if got := CleanText(in, 1000); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/subjects.golden")

// TestSubject_Golden pins how subjects read with real and with very long
// names: the actor, the alias and the account's name share the room, the
// longest cut first; root always shows.
func TestSubject_Golden(t *testing.T) {
	base := Message{Severity: "CRITICAL", Guardrail: "key-deletion", Account: "111122223333", Region: "eu-west-1", Verdict: "cancelled, key re-enabled"}
	long := strings.Repeat("x", 60)
	cases := []struct {
		name string
		edit func(m *Message)
	}{
		{"typical", func(m *Message) {
			m.Resource, m.AccountName, m.Actor = "alias/orders", "payments-prod", "jane.doe"
		}},
		{"short verdict", func(m *Message) {
			m.Resource, m.AccountName, m.Actor, m.Verdict = "alias/orders", "payments-prod", "jane.doe", "NOT cancelled"
		}},
		{"no name, no alias, sweep", func(m *Message) { m.Resource = "1234abcd-12ab-34cd-56ef-1234567890ab" }},
		{"long alias", func(m *Message) {
			m.Resource, m.AccountName, m.Actor = "alias/"+long, "payments-prod", "jane.doe"
		}},
		{"long account name", func(m *Message) {
			m.Resource, m.AccountName, m.Actor = "alias/orders", "Payments Production EU (regulated, PCI-DSS scope) "+long, "jane.doe"
		}},
		{"long actor", func(m *Message) {
			m.Resource, m.AccountName, m.Actor = "alias/orders", "payments-prod", "OrganizationAccountAccessRole/"+long
		}},
		{"everything long", func(m *Message) {
			m.Resource, m.AccountName, m.Actor = "alias/"+long, "Payments "+long, "Deployer/"+long
			m.Severity, m.Guardrail, m.Region, m.Verdict = "CRITICAL", "log-encryption", "ap-southeast-5", "remediation FAILED"
		}},
		{"root, everything long", func(m *Message) {
			m.Resource, m.AccountName, m.Actor = "alias/"+long, "Payments "+long, "ROOT"
			m.Verdict = "deletion allowed"
		}},
		{"hostile", func(m *Message) {
			m.Resource, m.AccountName, m.Actor = "alias/a\nBcc: x@evil", "acct\u202e", "eve\r\n"
		}},
	}
	var b strings.Builder
	for _, c := range cases {
		m := base
		c.edit(&m)
		s := m.Subject()
		if n := utf8.RuneCountInString(s); n > MaxSubject {
			t.Errorf("%s: %d runes: %q", c.name, n, s)
		}
		if !strings.HasSuffix(s, "— "+m.Verdict) {
			t.Errorf("%s: verdict cut: %q", c.name, s)
		}
		if m.Actor == "ROOT" && !strings.Contains(s, " by ROOT ") {
			t.Errorf("%s: root not flagged: %q", c.name, s)
		}
		fmt.Fprintf(&b, "%s (%d)\n  %s\n", c.name, utf8.RuneCountInString(s), s)
	}
	golden := filepath.Join("testdata", "subjects.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./functions/internal/alert -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("subjects changed (go test ./functions/internal/alert -update):\n%s", b.String())
	}
}
