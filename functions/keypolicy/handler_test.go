package keypolicy

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alerttest"
	"github.com/kmsguard/kmsguard/functions/internal/fakekms"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

type harness struct {
	kms    *fakekms.KMS
	alerts *alerttest.Recorder
	runner *guardrail.Runner
}

func newHarness(modes guardrail.ModeLookup, s Settings) *harness {
	h := &harness{kms: fakekms.New(), alerts: &alerttest.Recorder{}}
	d := guardrail.NewDriver(Spec(), newLogic(s), &fakekms.Clients[kmsAPI]{API: h.kms}, modes, "123456789012", s.ExemptionTag)
	h.runner = guardrail.NewRunner(d, h.alerts, nil)
	return h
}

// eventPolicy is the policy string a fixture carries.
func eventPolicy(t *testing.T, raw []byte) string {
	var ev struct {
		Detail struct {
			RequestParameters struct{ Policy string } `json:"requestParameters"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev.Detail.RequestParameters.Policy
}

var remediate = runconfig.ModeConfig{Guardrails: map[string]guardrail.Mode{"key-policy": guardrail.ModeRemediate}}

func TestHandle_Fixtures(t *testing.T) {
	scenarios := map[string]struct {
		modes    guardrail.ModeLookup
		action   string
		writes   []string
		findings []string
	}{
		"key-policy/put-key-policy-public":         {remediate, "remove-statements", []string{"PutKeyPolicy"}, []string{"PUBLIC"}},
		"key-policy/put-key-policy-external":       {runconfig.ModeConfig{}, "none", nil, []string{"EXTERNAL"}},
		"key-policy/put-key-policy-lockout-bypass": {remediate, "none", nil, []string{"LOCKOUT"}},
		"key-policy/create-key-with-policy":        {runconfig.ModeConfig{}, "none", nil, []string{"PUBLIC"}},
		// A session named like kmsguard's, of another role, hides nothing.
		"key-policy/put-key-policy-forged-session": {remediate, "remove-statements", []string{"PutKeyPolicy"}, []string{"PUBLIC"}},
	}
	for _, f := range fixtures.All() {
		if !slices.Contains(f.Guardrails, Spec().ID) {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			sc, ok := scenarios[f.Name]
			if !ok {
				t.Fatal("positive fixture without a scenario")
			}
			h := newHarness(sc.modes, Settings{OrganizationID: "o-a1b2c3d4e5"})
			k := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil, "alias/orders")
			k.Policy = eventPolicy(t, f.Raw) // the call succeeded: KMS holds what the event carries
			out, err := h.runner.Handle(context.Background(), f.Raw)
			alerttest.CallsAllowed(t, Spec(), "kms", h.kms.Calls)
			if err != nil || out.Action != sc.action || !slices.Equal(h.kms.Writes(), sc.writes) || !slices.Equal(out.Findings, sc.findings) {
				t.Fatalf("outcome %+v, writes %v, err %v", out, h.kms.Writes(), err)
			}
			if len(h.alerts.Msgs) != 1 {
				t.Fatalf("%d alerts", len(h.alerts.Msgs))
			}
			alerttest.Check(t, h.alerts.Msgs[0])
			alerttest.Golden(t, filepath.Base(f.Name), h.alerts.Msgs[0])
			if strings.Contains(h.alerts.Msgs[0].Subject(), "Statement") {
				t.Error("policy text in the subject")
			}
		})
	}
}

func TestHandle_StripsToAFixedPoint(t *testing.T) {
	h := newHarness(remediate, Settings{})
	k := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil)
	k.Policy = pol(rootStmt,
		`{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`,
		`{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"kms:Decrypt","Resource":"*"}`,
		`{"Sid":"App","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:*","Resource":"*"}`)
	out, err := h.runner.Handle(context.Background(), fixtures.Get("key-policy/put-key-policy-public").Raw)
	if err != nil || out.Action != "remove-statements" {
		t.Fatalf("%+v %v", out, err)
	}
	after := Analyze(k.Policy, Context{Account: fakekms.Account})
	if codes := after.Codes(); !slices.Equal(codes, []string{CodeBroadAdmin}) {
		t.Errorf("after remediation: %v", codes)
	}
	if !strings.Contains(k.Policy, "Enable IAM User Permissions") || strings.Contains(k.Policy, `"Sid":"Public"`) || strings.Contains(k.Policy, `"Sid":"Partner"`) {
		t.Errorf("policy now %s", k.Policy)
	}
	text := h.alerts.Msgs[0].Text()
	if !strings.Contains(text, `removed: {"Sid":"Public"`) || !strings.Contains(text, "BROAD-ADMIN") {
		t.Errorf("alert does not list the removed statements and what remains:\n%s", text)
	}
	// Duplicate delivery: the policy in place is clean of removable statements.
	out, err = h.runner.Handle(context.Background(), fixtures.Get("key-policy/put-key-policy-public").Raw)
	if err != nil || out.Action != "none" || slices.Equal(h.kms.Writes(), []string{"PutKeyPolicy", "PutKeyPolicy"}) {
		t.Errorf("duplicate: %+v %v writes %v", out, err, h.kms.Writes())
	}
}

func TestHandle_NeverLocksOut(t *testing.T) {
	h := newHarness(remediate, Settings{})
	k := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil)
	// The only statement that lets anyone change the policy is the public one.
	k.Policy = pol(`{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}`, `{"Sid":"App","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:Decrypt","Resource":"*"}`)
	before := k.Policy
	out, err := h.runner.Handle(context.Background(), fixtures.Get("key-policy/put-key-policy-public").Raw)
	if err == nil || guardrail.IsTerminal(err) || k.Policy != before || len(h.kms.Writes()) != 0 {
		t.Fatalf("err %v, writes %v", err, h.kms.Writes())
	}
	if !strings.Contains(out.Reason, "nobody able to change its policy") || h.alerts.Msgs[0].Verdict != "remediation FAILED" {
		t.Errorf("reason %q verdict %q", out.Reason, h.alerts.Msgs[0].Verdict)
	}
}

func TestHandle_Cases(t *testing.T) {
	raw := fixtures.Get("key-policy/put-key-policy-public").Raw
	for _, tt := range []struct {
		name   string
		setup  func(*fakekms.Key)
		action string
		alerts int
	}{
		{"exempt key", func(k *fakekms.Key) { k.Tags[ExemptionTag] = "true" }, "none", 1},
		{"AWS managed key", func(k *fakekms.Key) { k.Meta.KeyManager = kmstypes.KeyManagerTypeAws }, "none", 0},
		{"policy already fixed by a person", func(k *fakekms.Key) { k.Policy = fakekms.DefaultPolicy }, "none", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(remediate, Settings{})
			k := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil)
			k.Policy = eventPolicy(t, raw)
			tt.setup(k)
			out, err := h.runner.Handle(context.Background(), raw)
			if err != nil || out.Action != tt.action || len(h.alerts.Msgs) != tt.alerts || len(h.kms.Writes()) != 0 {
				t.Errorf("%+v %v alerts %d writes %v", out, err, len(h.alerts.Msgs), h.kms.Writes())
			}
		})
	}
	// Without a policy in the event, the guardrail reads it from KMS.
	var ev map[string]any
	_ = json.Unmarshal(raw, &ev)
	delete(ev["detail"].(map[string]any)["requestParameters"].(map[string]any), "policy")
	noPolicy, _ := json.Marshal(ev)
	h := newHarness(runconfig.ModeConfig{}, Settings{})
	h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil).Policy = eventPolicy(t, raw)
	out, err := h.runner.Handle(context.Background(), noPolicy)
	if err != nil || !slices.Equal(out.Findings, []string{"PUBLIC"}) || !slices.Contains(h.kms.Calls, "GetKeyPolicy") {
		t.Errorf("%+v %v calls %v", out, err, h.kms.Calls)
	}
}

func TestDecide(t *testing.T) {
	k := kmskey.Key{Found: true, Meta: kmstypes.KeyMetadata{KeyManager: kmstypes.KeyManagerTypeCustomer}, Tags: map[string]string{}}
	pub := Analyze(pol(rootStmt, `{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`), ctx)
	adm := Analyze(pol(rootStmt, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/x"},"Action":"kms:*","Resource":"*"}`), ctx)
	clean := Analyze(pol(rootStmt), ctx)
	in := func(k kmskey.Key, a Analysis, m guardrail.Mode) guardrail.Input[State] {
		return guardrail.Input[State]{State: State{Key: k, Analysis: a}, Mode: m}
	}
	rem, alrt := guardrail.ModeRemediate, guardrail.ModeAlert
	tests := []struct {
		name string
		in   guardrail.Input[State]
		want guardrail.Kind
		sev  guardrail.Severity
	}{
		{"clean", in(k, clean, rem), guardrail.Ignore, ""},
		{"public, remediate", in(k, pub, rem), guardrail.Remediate, guardrail.SeverityCritical},
		{"public, alert", in(k, pub, alrt), guardrail.Notify, guardrail.SeverityCritical},
		{"broad admin only, remediate: alert-only", in(k, adm, rem), guardrail.Notify, guardrail.SeverityWarning},
		{"key gone", in(kmskey.Key{}, pub, rem), guardrail.Ignore, ""},
		{"unparseable", in(k, Analyze("{", ctx), rem), guardrail.Notify, guardrail.SeverityHigh},
	}
	for _, tt := range tests {
		d := decide(tt.in)
		if d.Kind != tt.want || d.Severity != tt.sev || d.Reason == "" {
			t.Errorf("%s: %+v", tt.name, d)
		}
	}
}

func TestParseSettings(t *testing.T) {
	if _, err := ParseSettings([]byte(`{"organization_id":"o-abc","trusted_accounts":["444455556666"],"admin_principals":["arn:aws:iam::111122223333:role/KeyAdmin"]}`)); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{`{"organization_id":"abc"}`, `{"trusted_accounts":["4444"]}`, `{"admin_principals":["*"]}`, `{"admin_principals":["arn:aws:iam::*:role/KeyAdmin"]}`, `{"x":1}`} {
		if _, err := ParseSettings([]byte(bad)); err == nil || !strings.Contains(err.Error(), "guardrails.key-policy") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// A remediation reads only what the decision needs: the policy the caller
// wrote is in the event, the policy in place is read once to fix it.
func TestHandle_Calls(t *testing.T) {
	raw := fixtures.Get("key-policy/put-key-policy-public").Raw
	for name, tt := range map[string]struct {
		modes guardrail.ModeLookup
		calls []string
	}{
		"remediate": {remediate, []string{"DescribeKey", "ListResourceTags", "GetKeyPolicy", "PutKeyPolicy", "ListAliases"}},
		"alert":     {runconfig.ModeConfig{}, []string{"DescribeKey", "ListResourceTags", "ListAliases"}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(tt.modes, Settings{})
			h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil, "alias/orders").Policy = eventPolicy(t, raw)
			if _, err := h.runner.Handle(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(h.kms.Calls, tt.calls) {
				t.Errorf("calls %v, want %v", h.kms.Calls, tt.calls)
			}
		})
	}
}

// Single-account mode names no organization: the guardrail learns it
// (once) when a statement names one, and keeps findings that depend on it
// unremovable when it cannot.
func TestHandle_LearnsTheOrganization(t *testing.T) {
	orgOnly := pol(rootStmt, `{"Sid":"Org","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`)
	ev := func(policy string) []byte {
		var m map[string]any
		_ = json.Unmarshal(fixtures.Get("key-policy/put-key-policy-public").Raw, &m)
		m["detail"].(map[string]any)["requestParameters"].(map[string]any)["policy"] = policy
		b, _ := json.Marshal(m)
		return b
	}
	for _, tt := range []struct {
		name, org string
		orgErr    bool
		action    string
		findings  []string
	}{
		{"learned: the organization's statement is fine", "o-a1b2c3d4e5", false, "none", []string{}},
		{"learned another organization: external, removed", "o-zzzzzzzzzz", false, "remove-statements", []string{"EXTERNAL"}},
		{"in no organization: external, removed", "", false, "remove-statements", []string{"EXTERNAL"}},
		{"cannot learn: reported, never removed", "", true, "none", []string{"EXTERNAL"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(remediate, Settings{})
			h.kms.Organization = tt.org
			if tt.orgErr {
				h.kms.Fail["DescribeOrganization"] = []error{errors.New("AccessDenied"), errors.New("AccessDenied")}
			}
			h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil).Policy = orgOnly
			out, err := h.runner.Handle(context.Background(), ev(orgOnly))
			if err != nil || out.Action != tt.action || !slices.Equal(out.Findings, tt.findings) {
				t.Fatalf("%+v %v (calls %v)", out, err, h.kms.Calls)
			}
			if n := strings.Count(strings.Join(h.kms.Calls, ","), "DescribeOrganization"); n < 1 {
				t.Errorf("the organization was not asked: %v", h.kms.Calls)
			}
		})
	}
}

// member is a fake organization that knows some accounts.
type member struct{ members, unknown []string }

func (m member) Member(_ context.Context, account string) (bool, bool) {
	if slices.Contains(m.unknown, account) {
		return false, false
	}
	return slices.Contains(m.members, account), true
}

// A statement naming another account of the organization is not
// external: the hub's Organizations answer settles it, as for grants.
func TestHandle_OrganizationMembers(t *testing.T) {
	raw := fixtures.Get("key-policy/put-key-policy-external").Raw
	for name, tt := range map[string]struct {
		org    member
		alerts int
		writes []string
	}{
		"member: nothing to say":             {member{members: []string{"999988887777"}}, 0, nil},
		"not a member: removed":              {member{}, 1, []string{"PutKeyPolicy"}},
		"cannot tell: reported, not removed": {member{unknown: []string{"999988887777"}}, 1, nil},
	} {
		t.Run(name, func(t *testing.T) {
			h := &harness{kms: fakekms.New(), alerts: &alerttest.Recorder{}}
			d := guardrail.NewDriver(Spec(), newLogic(Settings{}), &fakekms.Clients[kmsAPI]{API: h.kms}, remediate, "123456789012", "")
			d.SetOrganization(tt.org)
			h.runner = guardrail.NewRunner(d, h.alerts, nil)
			k := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil)
			k.Policy = eventPolicy(t, raw)
			if _, err := h.runner.Handle(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
			if len(h.alerts.Msgs) != tt.alerts || !slices.Equal(h.kms.Writes(), tt.writes) {
				t.Errorf("alerts %d, writes %v", len(h.alerts.Msgs), h.kms.Writes())
			}
		})
	}
}
