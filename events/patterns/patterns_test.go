package patterns_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/events/patterns"
)

func TestFixtures_MatchExactlyTheirGuardrails(t *testing.T) {
	positives := map[string]int{}
	for _, f := range fixtures.All() {
		t.Run(f.Name, func(t *testing.T) {
			for id, rules := range patterns.All() {
				matched := 0
				for _, r := range rules {
					m, err := patterns.Match(r.Pattern, f.Raw)
					if err != nil {
						t.Fatalf("%s: %v", r.Name, err)
					}
					if m {
						matched++
					}
				}
				want := 0
				if slices.Contains(f.Guardrails, id) {
					want = 1
				}
				if matched != want {
					t.Errorf("matches %d rules of %s, want %d", matched, id, want)
				}
			}
			sel, err := patterns.Select(f.Raw)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range sel {
				got = append(got, s.Guardrail)
			}
			want := slices.Clone(f.Guardrails)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Select = %v, want %v", got, want)
			}
		})
		positives[f.Guardrail]++
	}
	for _, id := range patterns.GuardrailIDs {
		if positives[id] == 0 {
			t.Errorf("guardrail %s has no positive fixture", id)
		}
	}
	if positives[""] == 0 {
		t.Error("no negative fixtures")
	}
}

func TestRules_WellFormed(t *testing.T) {
	names := map[string]bool{}
	for id, rules := range patterns.All() {
		if len(rules) == 0 {
			t.Errorf("%s has no rules", id)
		}
		for _, r := range rules {
			if names[r.Name] {
				t.Errorf("duplicate rule name %s", r.Name)
			}
			names[r.Name] = true
			if !strings.HasPrefix(r.Name, id+"-") {
				t.Errorf("rule %s does not start with its guardrail id %s", r.Name, id)
			}
			js := r.Pattern.JSON()
			if len(js) > patterns.MaxPatternChars {
				t.Errorf("rule %s pattern is %d chars, over EventBridge's %d", r.Name, len(js), patterns.MaxPatternChars)
			}
			var back map[string]any
			if err := json.Unmarshal([]byte(js), &back); err != nil {
				t.Errorf("rule %s pattern does not render to JSON: %v", r.Name, err)
			}
			if _, ok := back["source"]; !ok {
				t.Errorf("rule %s has no source filter", r.Name)
			}
			// A CloudTrail rule without both safety filters would loop on kmsguard's own calls.
			if strings.Contains(js, "via CloudTrail") {
				for _, must := range []string{`"errorCode":[{"exists":false}]`, patterns.RemediatorRoleName} {
					if !strings.Contains(js, must) {
						t.Errorf("rule %s lacks %s", r.Name, must)
					}
				}
			}
		}
	}
}

func TestMatch_Semantics(t *testing.T) {
	p := patterns.Pattern{
		"detail": map[string]any{
			"name":  []any{"A", "B"},
			"error": []any{map[string]any{"exists": false}},
			"$or": []any{
				map[string]any{"who": []any{map[string]any{"exists": false}}},
				map[string]any{"who": []any{map[string]any{"anything-but": []any{"me"}}}},
			},
			"tag": []any{map[string]any{"prefix": "prod-"}},
		},
	}
	tests := []struct {
		name  string
		event string
		want  bool
	}{
		{"all conditions hold", `{"detail":{"name":"A","tag":"prod-1"}}`, true},
		{"other actor", `{"detail":{"name":"B","who":"you","tag":"prod-1"}}`, true},
		{"excluded actor", `{"detail":{"name":"A","who":"me","tag":"prod-1"}}`, false},
		{"error present", `{"detail":{"name":"A","error":"Denied","tag":"prod-1"}}`, false},
		{"error null still exists", `{"detail":{"name":"A","error":null,"tag":"prod-1"}}`, false},
		{"wrong name", `{"detail":{"name":"C","tag":"prod-1"}}`, false},
		{"array field any element", `{"detail":{"name":["X","B"],"tag":"prod-1"}}`, true},
		{"prefix miss", `{"detail":{"name":"A","tag":"dev-1"}}`, false},
		{"missing leaf", `{"detail":{"name":"A"}}`, false},
		{"missing detail", `{}`, false},
		{"detail not object", `{"detail":"A"}`, false},
		{"case matters", `{"detail":{"name":"a","tag":"prod-1"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := patterns.Match(p, []byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatch_AnythingButMissingField(t *testing.T) {
	// EventBridge (and moto) never match anything-but on an absent field;
	// this is why the actor filter needs $or with exists:false.
	p := patterns.Pattern{"who": []any{map[string]any{"anything-but": "me"}}}
	if m, _ := patterns.Match(p, []byte(`{}`)); m {
		t.Error("anything-but matched an absent field")
	}
}

func TestMatch_RejectsUnknownOperator(t *testing.T) {
	p := patterns.Pattern{"n": []any{map[string]any{"numeric": []any{">", 1}}}}
	if _, err := patterns.Match(p, []byte(`{"n":2}`)); err == nil {
		t.Error("unsupported operator accepted silently")
	}
}

func TestMatch_BadEvent(t *testing.T) {
	if _, err := patterns.Match(patterns.Pattern{}, []byte(`{`)); err == nil {
		t.Error("truncated event accepted")
	}
}

func TestActors(t *testing.T) {
	if !patterns.IsKMSGuardActor(patterns.RemediatorRoleName) || !patterns.IsKMSGuardActor(patterns.HubRoleName(patterns.KeyDeletion)) {
		t.Error("kmsguard roles not recognised")
	}
	for _, r := range []string{"", "Admin", "kmsguard-remediator-evil", "KMSGUARD-REMEDIATOR"} {
		if patterns.IsKMSGuardActor(r) {
			t.Errorf("%q taken for a kmsguard role", r)
		}
	}
}
