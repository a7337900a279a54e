package keygrants

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alerttest"
	"github.com/kmsguard/kmsguard/functions/internal/fakekms"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
	"github.com/kmsguard/kmsguard/functions/internal/trust"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

const (
	own      = "111122223333"
	outsider = "999988887777"
	sibling  = "444455556666"
	partner  = "777788889999"
)

var model = trust.Model{Account: own, TrustedAccounts: []string{partner}, Members: []string{sibling}, MembersAsked: true}

func TestAnalyze(t *testing.T) {
	role := func(acct string) string { return "arn:aws:iam::" + acct + ":role/App" }
	tests := []struct {
		name      string
		g         Grant
		unsure    Unsure
		codes     []string
		critical  bool
		removable bool
		service   bool
	}{
		{"own role", Grant{Grantee: role(own), Operations: []string{"Decrypt"}}, nil, nil, false, false, false},
		{"own account root", Grant{Grantee: own, Operations: []string{"Decrypt"}}, nil, nil, false, false, false},
		{"trusted account", Grant{Grantee: role(partner), Operations: []string{"Decrypt"}}, nil, nil, false, false, false},
		{"organization member", Grant{Grantee: role(sibling), Operations: []string{"Decrypt"}}, nil, nil, false, false, false},
		{"outsider decrypts, no constraint", Grant{Grantee: role(outsider), Operations: []string{"Decrypt", "GenerateDataKey"}}, nil, []string{CodeExternalGrantee}, true, true, false},
		{"outsider re-encrypts", Grant{Grantee: role(outsider), Operations: []string{"ReEncryptFrom"}}, nil, []string{CodeExternalGrantee}, true, true, false},
		{"outsider may grant", Grant{Grantee: role(outsider), Operations: []string{"CreateGrant"}}, nil, []string{CodeExternalGrantee}, true, true, false},
		{"outsider signs as the key's owner", Grant{Grantee: role(outsider), Operations: []string{"Sign", "Verify"}}, nil, []string{CodeExternalGrantee}, true, true, false},
		{"outsider decrypts within a context", Grant{Grantee: role(outsider), Operations: []string{"Decrypt"}, Constraints: "the encryption context includes tenant=acme"}, nil, []string{CodeExternalGrantee}, false, true, false},
		{"outsider encrypts only", Grant{Grantee: role(outsider), Operations: []string{"Encrypt", "DescribeKey"}}, nil, []string{CodeExternalGrantee}, false, true, false},
		{"outsider's session", Grant{Grantee: "arn:aws:sts::" + outsider + ":assumed-role/App/x", Operations: []string{"Decrypt"}}, nil, []string{CodeExternalGrantee}, true, true, false},
		{"membership unknown: reported, not revoked", Grant{Grantee: role(outsider), Operations: []string{"Decrypt"}}, Unsure{outsider}, []string{CodeExternalGrantee}, true, false, false},
		{"outside retiring principal only: reported, not revoked", Grant{Grantee: role(own), Retiring: role(outsider), Operations: []string{"Decrypt"}}, nil, []string{CodeExternalRetiree}, false, false, false},
		{"outside grantee and retiree", Grant{Grantee: role(outsider), Retiring: role(outsider), Operations: []string{"Encrypt"}}, nil, []string{CodeExternalGrantee, CodeExternalRetiree}, false, true, false},
		{"unique id: cannot attribute", Grant{Grantee: "AROAEXAMPLEROLEID1234", Operations: []string{"Decrypt"}}, nil, []string{CodeUnattributed}, true, false, false},
		{"wildcard account", Grant{Grantee: "arn:aws:iam::*:role/App", Operations: []string{"Decrypt"}}, nil, []string{CodeUnattributed}, true, false, false},
		// invokedBy alone is no proof: a grant to an outside role made
		// through a service is checked like any other.
		{"outside role, made through a service", Grant{Grantee: role(outsider), Operations: []string{"Decrypt"}, ViaService: "AWS Internal"}, nil, []string{CodeExternalGrantee}, true, true, false},
		{"EBS grantee made by EBS", Grant{Grantee: own + ":aws:ec2-infrastructure:i-0a1b", ViaService: "AWS Internal"}, nil, nil, false, false, true},
		{"EBS infrastructure grantee", Grant{Grantee: own + ":aws:ec2-infrastructure:i-0a1b2c3d4e5f67890"}, nil, nil, false, false, true},
		{"service principal grantee", Grant{Grantee: "rds.eu-west-1.amazonaws.com", Operations: []string{"Decrypt"}}, nil, nil, false, false, true},
		{"service grantee, outside retiree", Grant{Grantee: "rds.eu-west-1.amazonaws.com", Retiring: role(outsider)}, nil, []string{CodeExternalRetiree}, false, false, false},
		{"AWS-reserved role session", Grant{Grantee: "arn:aws:sts::" + own + ":assumed-role/aws:ec2-infrastructure/i-0a1b"}, nil, nil, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.g
			g.ID = "g-1"
			v := Analyze(g, model, tt.unsure)
			if !slices.Equal(v.Codes(), tt.codes) || v.Critical != tt.critical || v.Removable() != tt.removable || (v.Service != "") != tt.service {
				t.Errorf("codes %v critical %v removable %v service %q; want %v %v %v %v\n%+v", v.Codes(), v.Critical, v.Removable(), v.Service, tt.codes, tt.critical, tt.removable, tt.service, v.Findings)
			}
			for _, f := range v.Findings {
				if f.Message == "" || f.Principal == "" {
					t.Errorf("finding without a message or principal: %+v", f)
				}
			}
		})
	}
	// Without an organization, an account outside is outside "this account
	// and the trusted accounts"; when the hub cannot read the organization,
	// the alert says it does not know.
	v := Analyze(Grant{ID: "g", Grantee: "arn:aws:iam::" + outsider + ":root", Operations: []string{"Decrypt"}}, trust.Model{Account: own, NoOrganization: true}, nil)
	if len(v.Findings) != 1 || strings.Contains(v.Findings[0].Message, "organization") {
		t.Errorf("%+v", v.Findings)
	}
	v = Analyze(Grant{ID: "g", Grantee: "arn:aws:iam::" + outsider + ":root", Operations: []string{"Decrypt"}}, trust.Model{Account: own}, nil)
	if len(v.Findings) != 1 || !strings.Contains(v.Findings[0].Message, "does not know whether it is in the organization") {
		t.Errorf("%+v", v.Findings)
	}
}

func key() kmskey.Key {
	return kmskey.Key{Found: true, Described: true, Meta: kmstypes.KeyMetadata{KeyId: aws.String(fixtures.FakeKeyID),
		Arn: aws.String("arn:aws:kms:eu-west-1:" + own + ":key/" + fixtures.FakeKeyID), KeyManager: kmstypes.KeyManagerTypeCustomer, KeyState: kmstypes.KeyStateEnabled}}
}

func TestDecide(t *testing.T) {
	ext := Grant{ID: "g1", Grantee: "arn:aws:iam::" + outsider + ":role/App", Operations: []string{"Decrypt"}}
	ctxd := Grant{ID: "g2", Grantee: "arn:aws:iam::" + outsider + ":role/App", Operations: []string{"Decrypt"}, Constraints: "the encryption context includes a=b"}
	in := Grant{ID: "g3", Grantee: "arn:aws:iam::" + own + ":role/App", Operations: []string{"Decrypt"}}
	managed := key()
	managed.Meta.KeyManager = kmstypes.KeyManagerTypeAws
	tests := []struct {
		name     string
		st       State
		mode     guardrail.Mode
		kind     guardrail.Kind
		severity guardrail.Severity
		verdict  string
		reason   string
	}{
		{"no key", State{Grants: []Grant{ext}}, guardrail.ModeRemediate, guardrail.Ignore, "", "", "does not exist"},
		{"AWS managed key", State{Key: managed, Grants: []Grant{ext}}, guardrail.ModeRemediate, guardrail.Ignore, "", "", "AWS managed"},
		{"inside", State{Key: key(), Model: model, Grants: []Grant{in}}, guardrail.ModeRemediate, guardrail.Ignore, "", "", "inside"},
		{"AWS service", State{Key: key(), Model: model, Grants: []Grant{{Grantee: "rds.eu-west-1.amazonaws.com", ViaService: "rds.amazonaws.com"}}}, guardrail.ModeRemediate, guardrail.Ignore, "", "", "AWS service rds.eu-west-1.amazonaws.com"},
		{"no grant id in the record: reported", State{Key: key(), Model: model, Grants: []Grant{{Grantee: ext.Grantee, Operations: []string{"Decrypt"}}}}, guardrail.ModeRemediate, guardrail.Notify, guardrail.SeverityCritical, "NOT revoked", "never revoked"},
		{"outsider, remediate", State{Key: key(), Model: model, Grants: []Grant{ext}}, guardrail.ModeRemediate, guardrail.Remediate, guardrail.SeverityCritical, "grant revoked", "no encryption context constraint"},
		{"outsider, alert mode", State{Key: key(), Model: model, Grants: []Grant{ext}}, guardrail.ModeAlert, guardrail.Notify, guardrail.SeverityCritical, "NOT revoked", "alert mode"},
		{"outsider within a context", State{Key: key(), Model: model, Grants: []Grant{ctxd}}, guardrail.ModeRemediate, guardrail.Remediate, guardrail.SeverityHigh, "grant revoked", "a=b"},
		{"unsure membership", State{Key: key(), Model: model, Unsure: Unsure{outsider}, Grants: []Grant{ext}}, guardrail.ModeRemediate, guardrail.Notify, guardrail.SeverityCritical, "NOT revoked", "never revoked"},
		{"gone already", State{Key: key(), Model: model, Grants: []Grant{ext}, Gone: true}, guardrail.ModeRemediate, guardrail.Notify, guardrail.SeverityWarning, "grant already gone", "may have been used"},
		{"sweep: two grants", State{Key: key(), Model: model, Grants: []Grant{ext, ctxd}}, guardrail.ModeRemediate, guardrail.Remediate, guardrail.SeverityCritical, "2 grants revoked", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(tt.st, tt.mode)
			if d.Kind != tt.kind || d.Severity != tt.severity || d.Verdict != tt.verdict || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("decide = %v/%s %q %q, want %v/%s %q containing %q", d.Kind, d.Severity, d.Verdict, d.Reason, tt.kind, tt.severity, tt.verdict, tt.reason)
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	if _, err := ParseSettings([]byte(`{"trusted_accounts":["777788889999"]}`)); err != nil {
		t.Fatal(err)
	}
	for bad, field := range map[string]string{
		`{"trusted_accounts":["12345"]}`: "guardrails.key-grants.trusted_accounts[0]",
		// No organization_id: membership is Organizations' answer.
		`{"organization_id":"o-a1b2c3d4e5"}`: "guardrails.key-grants",
		`{"trusted":["777788889999"]}`:       "guardrails.key-grants",
	} {
		if _, err := ParseSettings([]byte(bad)); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// org is a fake organization: members, and accounts it cannot tell about.
type org struct {
	members, unknown []string
	asked            []string
}

func (o *org) Member(_ context.Context, account string) (bool, bool) {
	o.asked = append(o.asked, account)
	if slices.Contains(o.unknown, account) {
		return false, false
	}
	return slices.Contains(o.members, account), true
}

type harness struct {
	kms    *fakekms.KMS
	alerts *alerttest.Recorder
	org    *org
	driver *guardrail.Driver[kmsAPI, State]
	runner *guardrail.Runner
}

func newHarness(modes guardrail.ModeLookup, s Settings) *harness {
	h := &harness{kms: fakekms.New(), alerts: &alerttest.Recorder{}, org: &org{}}
	h.driver = guardrail.NewDriver(Spec(), newLogic(s), &fakekms.Clients[kmsAPI]{API: h.kms}, modes, "123456789012", s.ExemptionTag)
	h.driver.SetOrganization(h.org)
	h.runner = guardrail.NewRunner(h.driver, h.alerts, nil)
	return h
}

// grant adds the grant a fixture's event made to the fake key.
func grant(k *fakekms.Key, raw []byte) {
	ev := mustParse(raw)
	g, err := grantFromEvent(ev)
	if err != nil {
		panic(err)
	}
	e := kmstypes.GrantListEntry{GrantId: aws.String(g.ID), GranteePrincipal: aws.String(g.Grantee), KeyId: k.Meta.Arn, IssuingAccount: aws.String("arn:aws:iam::" + own + ":root")}
	if g.Name != "" {
		e.Name = aws.String(g.Name)
	}
	if g.Retiring != "" {
		e.RetiringPrincipal = aws.String(g.Retiring)
	}
	for _, op := range g.Operations {
		e.Operations = append(e.Operations, kmstypes.GrantOperation(op))
	}
	if req, _, _ := ev.KMS(); req.Constraints != nil {
		e.Constraints = &kmstypes.GrantConstraints{EncryptionContextSubset: req.Constraints.EncryptionContextSubset, EncryptionContextEquals: req.Constraints.EncryptionContextEquals}
	}
	k.Grants = append(k.Grants, e)
}

func TestHandle_Fixtures(t *testing.T) {
	scenarios := map[string]struct {
		mode     guardrail.Mode
		action   string
		writes   []string
		calls    []string
		severity guardrail.Severity
		alerts   int
	}{
		"key-grants/create-grant-external-role": {guardrail.ModeRemediate, "revoke-grant", []string{"RevokeGrant"},
			[]string{"DescribeKey", "ListGrants", "ListResourceTags", "RevokeGrant", "ListAliases"}, guardrail.SeverityCritical, 1},
		"key-grants/create-grant-encryption-context": {guardrail.ModeAlert, "none", nil,
			[]string{"DescribeKey", "ListGrants", "ListResourceTags", "ListAliases"}, guardrail.SeverityHigh, 1},
		// An EBS grant is settled from the event: no call, no alert.
		"key-grants/create-grant-ebs": {guardrail.ModeRemediate, "none", nil, nil, "", 0},
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
			h := newHarness(runconfig.ModeConfig{Default: sc.mode}, Settings{})
			k := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, map[string]string{"team": "payments"}, "alias/payments")
			grant(k, f.Raw)
			out, err := h.runner.Handle(context.Background(), f.Raw)
			alerttest.CallsAllowed(t, Spec(), "kms", h.kms.Calls)
			if err != nil || out.Action != sc.action || !slices.Equal(h.kms.Writes(), sc.writes) || !slices.Equal(h.kms.Calls, sc.calls) {
				t.Fatalf("outcome %+v, writes %v, calls %v, err %v", out, h.kms.Writes(), h.kms.Calls, err)
			}
			if len(h.alerts.Msgs) != sc.alerts {
				t.Fatalf("%d alerts", len(h.alerts.Msgs))
			}
			if sc.alerts == 0 {
				return
			}
			m := h.alerts.Msgs[0]
			if m.Severity != string(sc.severity) {
				t.Errorf("severity %s, want %s", m.Severity, sc.severity)
			}
			if sc.writes != nil && len(k.Grants) != 0 {
				t.Errorf("grant not revoked: %v", k.Grants)
			}
			alerttest.Check(t, m)
			alerttest.Golden(t, filepath.Base(f.Name), m)
		})
	}
}

func TestHandle_Cases(t *testing.T) {
	raw := fixtures.Get("key-grants/create-grant-external-role").Raw
	tests := []struct {
		name    string
		setup   func(*harness, *fakekms.Key)
		wantErr bool
		writes  []string
		alerts  int
		verdict string
	}{
		{"exempt key: INFO alert, no write", func(h *harness, k *fakekms.Key) {
			k.Tags[ExemptionTag] = "true"
			grant(k, raw)
		}, false, nil, 1, "exempt: EXTERNAL-GRANTEE"},
		{"grant gone already: warning, no write", func(h *harness, k *fakekms.Key) {}, false, nil, 1, "grant already gone"},
		{"grantee account is in the organization: nothing", func(h *harness, k *fakekms.Key) {
			h.org.members = []string{outsider}
			grant(k, raw)
		}, false, nil, 0, ""},
		{"organization cannot tell: reported, not revoked", func(h *harness, k *fakekms.Key) {
			h.org.unknown = []string{outsider}
			grant(k, raw)
		}, false, nil, 1, "NOT revoked"},
		{"revoke throttled: retryable error and FAILED alert", func(h *harness, k *fakekms.Key) {
			grant(k, raw)
			h.kms.Fail["RevokeGrant"] = []error{fakekms.Throttle()}
		}, true, []string{"RevokeGrant"}, 1, "remediation FAILED"},
		{"grant read fails: retryable error", func(h *harness, k *fakekms.Key) {
			grant(k, raw)
			h.kms.Fail["ListGrants"] = []error{fakekms.Throttle()}
		}, true, nil, 1, "check FAILED"},
		{"revoked meanwhile: NotFound on revoke is done", func(h *harness, k *fakekms.Key) {
			grant(k, raw)
			h.kms.Fail["RevokeGrant"] = []error{&kmstypes.NotFoundException{Message: aws.String("Grant ID not found")}}
		}, false, []string{"RevokeGrant"}, 1, "grant revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(runconfig.ModeConfig{Default: guardrail.ModeRemediate}, Settings{})
			k := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil, "alias/payments")
			tt.setup(h, k)
			_, err := h.runner.Handle(context.Background(), raw)
			if (err != nil) != tt.wantErr || (err != nil && guardrail.IsTerminal(err)) {
				t.Fatalf("err %v", err)
			}
			if !slices.Equal(h.kms.Writes(), tt.writes) || len(h.alerts.Msgs) != tt.alerts {
				t.Fatalf("writes %v alerts %d", h.kms.Writes(), len(h.alerts.Msgs))
			}
			if tt.alerts > 0 {
				alerttest.Check(t, h.alerts.Msgs[0])
				if v := h.alerts.Msgs[0].Verdict; v != tt.verdict {
					t.Errorf("verdict %q, want %q\n%s", v, tt.verdict, h.alerts.Msgs[0].Text())
				}
			}
		})
	}
}

// The sweep lists every grant, page by page, and revokes the outside ones.
func TestSweep_ListsEveryGrant(t *testing.T) {
	h := newHarness(runconfig.ModeConfig{Default: guardrail.ModeRemediate}, Settings{})
	k := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil, "alias/payments")
	for i := 0; i < 230; i++ {
		k.Grants = append(k.Grants, kmstypes.GrantListEntry{GrantId: aws.String(fmt.Sprintf("in-%03d", i)), GranteePrincipal: aws.String("arn:aws:iam::" + own + ":role/App"), Operations: []kmstypes.GrantOperation{"Decrypt"}})
	}
	k.Grants = append(k.Grants,
		kmstypes.GrantListEntry{GrantId: aws.String("out-1"), GranteePrincipal: aws.String("arn:aws:iam::" + outsider + ":role/App"), Operations: []kmstypes.GrantOperation{"Decrypt"}},
		kmstypes.GrantListEntry{GrantId: aws.String("svc-1"), GranteePrincipal: aws.String("rds.eu-west-1.amazonaws.com"), Operations: []kmstypes.GrantOperation{"Decrypt"}})
	listed := kmskey.Key{Found: true, Described: true, Meta: k.Meta, TagsRead: true, Tags: map[string]string{}, AliasesRead: true, Aliases: []string{"alias/payments"}}
	res, err := h.driver.Reconcile(context.Background(), own, fakekms.Region, listed, fixtureTime)
	if err != nil {
		t.Fatal(err)
	}
	pages := 0
	for _, c := range h.kms.Calls {
		if c == "ListGrants" {
			pages++
		}
	}
	if pages != 3 || res.Outcome.Action != "revoke-grant" || len(k.Grants) != 231 || slices.ContainsFunc(k.Grants, func(g kmstypes.GrantListEntry) bool { return aws.ToString(g.GrantId) == "out-1" }) {
		t.Errorf("pages %d, outcome %+v, %d grants left", pages, res.Outcome, len(k.Grants))
	}
}

var fixtureTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func mustParse(raw []byte) *cloudtrail.Record {
	ev, err := cloudtrail.Parse(raw)
	if err != nil || ev.Record == nil {
		panic(fmt.Sprintf("fixture: %v", err))
	}
	return ev.Record
}
