package keydeletion

import (
	"strings"
	"testing"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

func key(state kmstypes.KeyState, manager kmstypes.KeyManagerType, tags map[string]string) Observed {
	return Observed{Found: true, Meta: kmstypes.KeyMetadata{KeyState: state, KeyManager: manager}, Tags: tags}
}

func TestDecide(t *testing.T) {
	cust := kmstypes.KeyManagerTypeCustomer
	pending := key(kmstypes.KeyStatePendingDeletion, cust, nil)
	allow := Settings{AllowedPrincipals: []string{"arn:aws:iam::*:role/KeyRetirement", "arn:aws:sts::111122223333:assumed-role/Break?Glass/*"}}
	tests := []struct {
		name      string
		in        Input
		want      Action
		severity  guardrail.Severity
		reasonHas string
	}{
		{"native deletion is too late", Input{EventName: EventKeyDeleted}, Notify, guardrail.SeverityCritical, "cannot be recovered"},
		{"key gone", Input{EventName: EventScheduleKeyDeletion, Observed: Observed{}}, Ignore, "", "does not exist"},
		{"AWS managed key", Input{EventName: EventScheduleKeyDeletion, Observed: key(kmstypes.KeyStatePendingDeletion, kmstypes.KeyManagerTypeAws, nil)}, Ignore, "", "AWS managed"},
		{"pending, remediate", Input{EventName: EventScheduleKeyDeletion, Observed: pending, Mode: guardrail.ModeRemediate}, Cancel, guardrail.SeverityCritical, "without an exemption"},
		{"pending replica deletion, remediate", Input{EventName: EventScheduleKeyDeletion, Observed: key(kmstypes.KeyStatePendingReplicaDeletion, cust, nil), Mode: guardrail.ModeRemediate}, Cancel, guardrail.SeverityCritical, ""},
		{"pending, alert mode", Input{EventName: EventScheduleKeyDeletion, Observed: pending, Mode: guardrail.ModeAlert}, Notify, guardrail.SeverityCritical, "alert mode"},
		{"pending, empty mode never remediates", Input{EventName: EventScheduleKeyDeletion, Observed: pending}, Notify, guardrail.SeverityCritical, "alert mode"},
		{"already cancelled", Input{EventName: EventScheduleKeyDeletion, Observed: key(kmstypes.KeyStateEnabled, cust, nil), Mode: guardrail.ModeRemediate}, Ignore, "", "no longer pending deletion (it is Enabled"},
		{"cancelled and still disabled", Input{EventName: EventScheduleKeyDeletion, Observed: key(kmstypes.KeyStateDisabled, cust, nil), Mode: guardrail.ModeRemediate}, Ignore, "", "Disabled"},
		{"exempt tag", Input{EventName: EventScheduleKeyDeletion, Observed: key(kmstypes.KeyStatePendingDeletion, cust, map[string]string{ExemptionTag: "true"}), Mode: guardrail.ModeRemediate}, Notify, guardrail.SeverityInfo, "exemption tag"},
		{"exempt tag any case and spaces", Input{EventName: EventScheduleKeyDeletion, Observed: key(kmstypes.KeyStatePendingDeletion, cust, map[string]string{ExemptionTag: " TRUE "}), Mode: guardrail.ModeRemediate}, Notify, guardrail.SeverityInfo, "exemption tag"},
		{"exempt tag false", Input{EventName: EventScheduleKeyDeletion, Observed: key(kmstypes.KeyStatePendingDeletion, cust, map[string]string{ExemptionTag: "false"}), Mode: guardrail.ModeRemediate}, Cancel, guardrail.SeverityCritical, ""},
		{"exempt tag key is case sensitive", Input{EventName: EventScheduleKeyDeletion, Observed: key(kmstypes.KeyStatePendingDeletion, cust, map[string]string{"KMSGUARD:ALLOW-DELETION": "true"}), Mode: guardrail.ModeRemediate}, Cancel, guardrail.SeverityCritical, ""},
		{"custom exemption tag", Input{EventName: EventScheduleKeyDeletion, Observed: key(kmstypes.KeyStatePendingDeletion, cust, map[string]string{"retire": "true"}), Mode: guardrail.ModeRemediate, Settings: Settings{ExemptionTag: "retire"}}, Notify, guardrail.SeverityInfo, "retire=true"},
		{"allow-listed role via session", Input{EventName: EventScheduleKeyDeletion, Observed: pending, Mode: guardrail.ModeRemediate, ActorARN: "arn:aws:sts::111122223333:assumed-role/KeyRetirement/s", IssuerRoleARN: "arn:aws:iam::111122223333:role/KeyRetirement", Settings: allow}, Notify, guardrail.SeverityInfo, "allow-listed"},
		{"allow-listed session pattern", Input{EventName: EventScheduleKeyDeletion, Observed: pending, Mode: guardrail.ModeRemediate, ActorARN: "arn:aws:sts::111122223333:assumed-role/Break1Glass/alice", Settings: allow}, Notify, guardrail.SeverityInfo, "allow-listed"},
		{"not allow-listed", Input{EventName: EventScheduleKeyDeletion, Observed: pending, Mode: guardrail.ModeRemediate, ActorARN: "arn:aws:iam::111122223333:user/KeyRetirement", Settings: allow}, Cancel, guardrail.SeverityCritical, ""},
		{"allow-list in alert mode still allows", Input{EventName: EventScheduleKeyDeletion, Observed: pending, Mode: guardrail.ModeAlert, IssuerRoleARN: "arn:aws:iam::444455556666:role/KeyRetirement", Settings: allow}, Notify, guardrail.SeverityInfo, ""},
		{"disable key, still disabled", Input{EventName: EventDisableKey, Observed: key(kmstypes.KeyStateDisabled, cust, nil), Mode: guardrail.ModeRemediate}, Notify, guardrail.SeverityWarning, "does not re-enable"},
		{"disable key, enabled again", Input{EventName: EventDisableKey, Observed: key(kmstypes.KeyStateEnabled, cust, nil)}, Ignore, "", "Enabled"},
		{"disable key, now pending deletion", Input{EventName: EventDisableKey, Observed: pending}, Ignore, "", "PendingDeletion"},
		{"unknown event", Input{EventName: "PutKeyPolicy", Observed: pending, Mode: guardrail.ModeRemediate}, Ignore, "", "not handled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(tt.in)
			if d.Action != tt.want || d.Severity != tt.severity {
				t.Errorf("decide = %v/%s, want %v/%s (%s)", d.Action, d.Severity, tt.want, tt.severity, d.Reason)
			}
			if d.Reason == "" {
				t.Error("decision without a reason")
			}
			if tt.want != Ignore && d.Verdict == "" {
				t.Error("alerting decision without a verdict")
			}
			if !strings.Contains(d.Reason, tt.reasonHas) {
				t.Errorf("reason %q does not mention %q", d.Reason, tt.reasonHas)
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	if s, err := ParseSettings(nil); err != nil || s.exemptionTag() != ExemptionTag {
		t.Errorf("empty settings: %v, %+v", err, s)
	}
	if _, err := ParseSettings([]byte(`{"allowed_principals":["arn:aws:iam::*:role/KeyRetirement"]}`)); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{`{"allowed_principals":["*"]}`, `{"allowed_principals":["arn:*"]}`, `{"allowed_principal":[]}`, `[`} {
		if _, err := ParseSettings([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		} else if !strings.Contains(err.Error(), "key-deletion") {
			t.Errorf("error %q does not name the field", err)
		}
	}
}
