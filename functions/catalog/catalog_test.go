package catalog_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// hubAccount is the hub in these tests; the fixtures' account is a member.
const hubAccount = "123456789012"

// Every spec validates, and the catalog as a whole follows the overlap rule.
func TestCatalog_Validates(t *testing.T) {
	for _, s := range catalog.Specs() {
		t.Run(s.ID, func(t *testing.T) {
			if err := s.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
	if err := catalog.Validate(catalog.Specs()); err != nil {
		t.Error(err)
	}
}

// Two guardrails that claim the same event for the same concern fail by
// name; for different concerns they share it.
func TestCatalog_OverlapRule(t *testing.T) {
	specs := catalog.Specs()
	rotation := specs[1]
	if rotation.ID != "key-rotation" {
		t.Fatalf("catalog order changed: %s", rotation.ID)
	}
	disable := rotation
	disable.ID, disable.Concern = "key-disable", "key state"
	disable.Triggers = []patterns.Trigger{{Name: "key-disable-api", Description: "DisableKey", EventSource: "kms.amazonaws.com", EventNames: []string{"DisableKey"}}}
	err := catalog.Validate(append(slices.Clone(specs), disable))
	if err == nil || !strings.Contains(err.Error(), "kms.amazonaws.com:DisableKey is claimed by key-deletion and key-disable") {
		t.Errorf("an unresolved overlap passed: %v", err)
	}
	disable.Concern = "availability"
	if err := catalog.Validate(append(slices.Clone(specs), disable)); err != nil {
		t.Errorf("different concerns share an event: %v", err)
	}
	dup := specs[0]
	if err := catalog.Validate(append(slices.Clone(specs), dup)); err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Errorf("a duplicate id passed: %v", err)
	}
}

func route(t *testing.T, raw []byte) []string {
	t.Helper()
	var env cloudtrail.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	rules, err := catalog.Route(catalog.Specs(), raw, env.Account, hubAccount)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rules {
		if !slices.Contains(ids, r.Owner) {
			ids = append(ids, r.Owner)
		}
	}
	slices.Sort(ids)
	return ids
}

// Every fixture takes the production path (the spoke of its account
// forwards it or not, then the hub rules select) to exactly its owners.
func TestFixtures_RouteToExactlyTheirOwners(t *testing.T) {
	for _, f := range fixtures.All() {
		t.Run(f.Name, func(t *testing.T) {
			want := slices.Clone(f.Guardrails)
			slices.Sort(want)
			if got := route(t, f.Raw); !slices.Equal(got, want) {
				t.Errorf("routed to %v, want %v", got, want)
			}
		})
	}
}

// Every trigger of every guardrail has a fixture that reaches it.
func TestTriggers_HaveFixtures(t *testing.T) {
	for _, s := range catalog.Specs() {
		for _, trig := range s.Triggers {
			found := false
			for _, f := range fixtures.All() {
				if m, err := patterns.Match(trig.HubRule(s.ID).Pattern, f.Raw); err == nil && m && slices.Contains(route(t, f.Raw), s.ID) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s: trigger %s has no fixture that reaches it", s.ID, trig.Name)
			}
		}
	}
}

// Rules fit EventBridge's limits, drop failed calls, and exclude kmsguard's
// own sessions only for the events its guardrails' actions can cause.
func TestRules_WellFormed(t *testing.T) {
	specs := catalog.Specs()
	// The longest names a deployment can have: a 12-digit account and the
	// longest partition.
	fwd := catalog.ForwardRules(specs, "999999999999", "888888888888", "aws-us-gov")
	names := map[string]bool{}
	for _, r := range append(catalog.HubRules(specs), fwd...) {
		if names[r.Name] {
			t.Errorf("duplicate rule name %s", r.Name)
		}
		names[r.Name] = true
		js := r.Pattern.JSON()
		if len(js) > patterns.MaxPatternChars {
			t.Errorf("rule %s pattern is %d chars, over EventBridge's %d", r.Name, len(js), patterns.MaxPatternChars)
		}
		if strings.Contains(js, "via CloudTrail") && !strings.Contains(js, `"errorCode":[{"exists":false}]`) {
			t.Errorf("rule %s does not drop failed calls", r.Name)
		}
	}
	excluded := map[string][]string{}
	for _, r := range fwd {
		var p struct {
			Detail struct {
				EventName []string `json:"eventName"`
				Or        []any    `json:"$or"`
			} `json:"detail"`
		}
		if err := json.Unmarshal([]byte(r.Pattern.JSON()), &p); err != nil {
			t.Fatal(err)
		}
		for _, n := range p.Detail.EventName {
			if len(p.Detail.Or) > 0 {
				excluded[n] = append(excluded[n], r.Name)
			}
		}
		if strings.Contains(r.Pattern.JSON(), "sessionIssuer") || strings.Contains(r.Pattern.JSON(), `"userName"`) {
			t.Errorf("rule %s filters on a role name", r.Name)
		}
	}
	var got []string
	for n := range excluded {
		got = append(got, n)
	}
	slices.Sort(got)
	if want := []string{"EnableKey", "EnableKeyRotation", "PutKeyPolicy"}; !slices.Equal(got, want) {
		t.Errorf("kmsguard's own calls are excluded for %v, want exactly %v (the triggers its actions cause)", got, want)
	}
	// Each event is forwarded by one rule (an event a trigger scopes with
	// Where is sampled inside that scope).
	seen := map[patterns.Event]map[string]any{}
	for _, s := range specs {
		for _, trig := range s.Triggers {
			for _, e := range trig.Events() {
				seen[e] = sample(trig.Where)
			}
		}
	}
	for e, req := range seen {
		n := 0
		for _, r := range fwd {
			ev := map[string]any{"source": e.Source, "detail-type": e.DetailType, "detail": map[string]any{"eventSource": e.EventSource, "eventName": e.EventName, "requestParameters": req}}
			raw, _ := json.Marshal(ev)
			if m, _ := patterns.Match(r.Pattern, raw); m {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s is forwarded by %d rules, want 1", e, n)
		}
	}
}

// The exact session ARNs are kmsguard's; look-alikes are not.
func TestOwnCall(t *testing.T) {
	const member = "111122223333"
	ids := catalog.IDs()
	for arn, want := range map[string]string{
		"arn:aws:sts::111122223333:assumed-role/kmsguard-remediator-key-rotation/kmsguard-key-rotation": "key-rotation",
		"arn:aws:sts::111122223333:assumed-role/kmsguard-remediator-key-rotation/kmsguard-sweep":        "key-rotation",
		"arn:aws:sts::123456789012:assumed-role/kmsguard-sweep/kmsguard-sweep":                          "key-deletion",
		"arn:aws:sts::111122223333:assumed-role/kmsguard-remediator-key-rotation/attacker":              "",
		"arn:aws:sts::111122223333:assumed-role/kmsguard-remediator/kmsguard-key-rotation":              "",
		"arn:aws:sts::123456789012:assumed-role/kmsguard-key-policy/kmsguard-key-policy":                "key-policy",
		"arn:aws:sts::111122223333:assumed-role/kmsguard-key-deletion/kmsguard-key-deletion":            "",
		"arn:aws:sts::111122223333:assumed-role/Deployer/kmsguard-key-policy":                           "",
		"arn:aws:sts::111122223333:assumed-role/kmsguard-remediator-other/kmsguard-other":               "",
		"arn:aws:sts::444455556666:assumed-role/kmsguard-remediator-key-rotation/kmsguard-key-rotation": "",
		"arn:aws:iam::111122223333:user/kmsguard-remediator":                                            "",
		"": "",
	} {
		got, ok := guardrail.OwnCall(arn, member, hubAccount, ids)
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q %v, want %q", arn, got, ok, want)
		}
	}
}

// Any session of kmsguard's roles is kmsguard's role (for the misuse
// alert); look-alikes are not.
func TestOwnRole(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:sts::111122223333:assumed-role/kmsguard-remediator-key-rotation/anything": "kmsguard-remediator-key-rotation",
		"arn:aws:sts::123456789012:assumed-role/kmsguard-key-policy/x":                     "kmsguard-key-policy",
		"arn:aws:sts::111122223333:assumed-role/kmsguard-key-policy/x":                     "",
		"arn:aws:sts::444455556666:assumed-role/kmsguard-remediator-key-rotation/x":        "",
		"arn:aws:iam::111122223333:user/kmsguard-remediator-key-rotation":                  "",
	} {
		if got := guardrail.OwnRole(arn, "111122223333", hubAccount); arn[13:25] == "123456789012" {
			if got := guardrail.OwnRole(arn, hubAccount, hubAccount); got != want {
				t.Errorf("%s in the hub: %q, want %q", arn, got, want)
			}
		} else if got != want {
			t.Errorf("%s: %q, want %q", arn, got, want)
		}
	}
}

// sample is requestParameters that satisfy a trigger's Where: a prefix
// condition gets the prefix, a list of values its first.
func sample(where map[string]any) map[string]any {
	out := map[string]any{}
	req, _ := where["requestParameters"].(map[string]any)
	for field, cond := range req {
		list, _ := cond.([]any)
		if len(list) == 0 {
			continue
		}
		switch v := list[0].(type) {
		case string:
			out[field] = v
		case map[string]any:
			if p, ok := v["prefix"].(string); ok {
				out[field] = p + "sample"
			}
		}
	}
	return out
}
