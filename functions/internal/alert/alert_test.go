package alert

import (
	"encoding/json"
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
