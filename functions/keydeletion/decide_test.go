package keydeletion

import (
	"context"
	"strings"
	"testing"
	"time"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

func key(state kmstypes.KeyState, manager kmstypes.KeyManagerType) State {
	return State{Key: kmskey.Key{Found: true, Meta: kmstypes.KeyMetadata{KeyState: state, KeyManager: manager}}}
}

// event is a CloudTrail record of name made by actor (an assumed-role
// session of issuer when issuer is set); "" makes the native deletion event.
func event(name, actor, issuer string) *cloudtrail.Event {
	if name == "" {
		return &cloudtrail.Event{Envelope: cloudtrail.Envelope{DetailType: EventKeyDeleted}}
	}
	u := cloudtrail.UserIdentity{ARN: actor}
	if issuer != "" {
		u.SessionContext = &cloudtrail.SessionContext{SessionIssuer: &cloudtrail.SessionIssuer{Type: "Role", ARN: issuer}}
	}
	return &cloudtrail.Event{Record: &cloudtrail.Record{EventName: name, UserIdentity: u}}
}

func TestDecide(t *testing.T) {
	cust := kmstypes.KeyManagerTypeCustomer
	pending := key(kmstypes.KeyStatePendingDeletion, cust)
	sched := event(EventScheduleKeyDeletion, "arn:aws:iam::111122223333:user/alice", "")
	allow := Settings{AllowedPrincipals: []string{"arn:aws:iam::*:role/KeyRetirement", "arn:aws:sts::111122223333:assumed-role/Break?Glass/*"}}
	rem, alrt := guardrail.ModeRemediate, guardrail.ModeAlert
	tests := []struct {
		name      string
		in        Input
		settings  Settings
		want      guardrail.Kind
		severity  guardrail.Severity
		reasonHas string
	}{
		{"native deletion is too late", Input{Event: event("", "", "")}, Settings{}, guardrail.Notify, guardrail.SeverityCritical, "cannot be recovered"},
		{"key gone", Input{Event: sched}, Settings{}, guardrail.Ignore, "", "does not exist"},
		{"AWS managed key", Input{Event: sched, State: key(kmstypes.KeyStatePendingDeletion, kmstypes.KeyManagerTypeAws)}, Settings{}, guardrail.Ignore, "", "AWS managed"},
		{"pending, remediate", Input{Event: sched, State: pending, Mode: rem}, Settings{}, guardrail.Remediate, guardrail.SeverityCritical, "without an exemption"},
		{"pending replica deletion, remediate", Input{Event: sched, State: key(kmstypes.KeyStatePendingReplicaDeletion, cust), Mode: rem}, Settings{}, guardrail.Remediate, guardrail.SeverityCritical, ""},
		{"pending, alert mode", Input{Event: sched, State: pending, Mode: alrt}, Settings{}, guardrail.Notify, guardrail.SeverityCritical, "alert mode"},
		{"pending, empty mode never remediates", Input{Event: sched, State: pending}, Settings{}, guardrail.Notify, guardrail.SeverityCritical, "alert mode"},
		{"already cancelled", Input{Event: sched, State: key(kmstypes.KeyStateEnabled, cust), Mode: rem}, Settings{}, guardrail.Ignore, "", "no longer pending deletion (it is Enabled"},
		{"cancelled and still disabled", Input{Event: sched, State: key(kmstypes.KeyStateDisabled, cust), Mode: rem}, Settings{}, guardrail.Ignore, "", "Disabled"},
		{"allow-listed role via session", Input{Event: event(EventScheduleKeyDeletion, "arn:aws:sts::111122223333:assumed-role/KeyRetirement/s", "arn:aws:iam::111122223333:role/KeyRetirement"), State: pending, Mode: rem}, allow, guardrail.Notify, guardrail.SeverityInfo, "allow-listed"},
		{"allow-listed session pattern", Input{Event: event(EventScheduleKeyDeletion, "arn:aws:sts::111122223333:assumed-role/Break1Glass/alice", ""), State: pending, Mode: rem}, allow, guardrail.Notify, guardrail.SeverityInfo, "allow-listed"},
		{"not allow-listed", Input{Event: event(EventScheduleKeyDeletion, "arn:aws:iam::111122223333:user/KeyRetirement", ""), State: pending, Mode: rem}, allow, guardrail.Remediate, guardrail.SeverityCritical, ""},
		{"allow-list in alert mode still allows", Input{Event: event(EventScheduleKeyDeletion, "", "arn:aws:iam::444455556666:role/KeyRetirement"), State: pending, Mode: alrt}, allow, guardrail.Notify, guardrail.SeverityInfo, ""},
		{"disable key, still disabled", Input{Event: event(EventDisableKey, "", ""), State: key(kmstypes.KeyStateDisabled, cust), Mode: rem}, Settings{}, guardrail.Notify, guardrail.SeverityWarning, "does not undo them"},
		// DisableKey's owner is key-deletion (concern "key state"): reported;
		// undone only with reenable_disabled_keys, in remediate mode, for a
		// caller not allow-listed.
		{"disable, re-enable on", Input{Event: event(EventDisableKey, "arn:aws:iam::111122223333:user/alice", ""), State: key(kmstypes.KeyStateDisabled, cust), Mode: rem}, Settings{ReenableDisabledKeys: true}, guardrail.Remediate, guardrail.SeverityHigh, "reenable_disabled_keys is on"},
		{"disable, re-enable on, alert mode", Input{Event: event(EventDisableKey, "arn:aws:iam::111122223333:user/alice", ""), State: key(kmstypes.KeyStateDisabled, cust), Mode: alrt}, Settings{ReenableDisabledKeys: true}, guardrail.Notify, guardrail.SeverityWarning, "alert mode"},
		{"late disable: a newer state change is on record", Input{Event: event(EventDisableKey, "arn:aws:iam::111122223333:user/alice", ""), State: State{Key: key(kmstypes.KeyStateDisabled, cust).Key, Later: guardrail.KeyStateSeen{State: "Disabled", At: time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)}}, Mode: rem}, Settings{ReenableDisabledKeys: true}, guardrail.Notify, guardrail.SeverityWarning, "later change"},
		{"disable by an allow-listed role", Input{Event: event(EventDisableKey, "arn:aws:sts::111122223333:assumed-role/KeyRetirement/s", "arn:aws:iam::111122223333:role/KeyRetirement"), State: key(kmstypes.KeyStateDisabled, cust), Mode: rem}, Settings{ReenableDisabledKeys: true, AllowedPrincipals: allow.AllowedPrincipals}, guardrail.Notify, guardrail.SeverityWarning, "stays Disabled"},
		{"disable key, enabled again", Input{Event: event(EventDisableKey, "", ""), State: key(kmstypes.KeyStateEnabled, cust)}, Settings{}, guardrail.Ignore, "", "Enabled"},
		{"disable key, now pending deletion", Input{Event: event(EventDisableKey, "", ""), State: pending}, Settings{}, guardrail.Ignore, "", "PendingDeletion"},
		{"unknown event", Input{Event: event("PutKeyPolicy", "", ""), State: pending, Mode: rem}, Settings{}, guardrail.Ignore, "", "not handled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(tt.in, tt.settings)
			if d.Kind != tt.want || d.Severity != tt.severity {
				t.Errorf("decide = %v/%s, want %v/%s (%s)", d.Kind, d.Severity, tt.want, tt.severity, d.Reason)
			}
			if d.Reason == "" {
				t.Error("decision without a reason")
			}
			if tt.want != guardrail.Ignore && d.Verdict == "" {
				t.Error("alerting decision without a verdict")
			}
			if !strings.Contains(d.Reason, tt.reasonHas) {
				t.Errorf("reason %q does not mention %q", d.Reason, tt.reasonHas)
			}
		})
	}
}

// The exemption tag is the driver's: read only when the decision would act
// or alert, and never for an alert about something already done (DisableKey).
func TestExemption(t *testing.T) {
	sched := fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw
	for _, tt := range []struct {
		name     string
		tags     map[string]string
		settings Settings
		verdict  string
		reason   string
	}{
		{"exempt tag", map[string]string{ExemptionTag: "true"}, Settings{}, "deletion allowed", "the key carries the exemption tag kmsguard:allow-deletion=true, so its deletion is allowed"},
		{"exempt tag any case and spaces", map[string]string{ExemptionTag: " TRUE "}, Settings{}, "deletion allowed", "exemption tag"},
		{"exempt tag false", map[string]string{ExemptionTag: "false"}, Settings{}, "cancelled", "without an exemption"},
		{"exempt tag key is case sensitive", map[string]string{"KMSGUARD:ALLOW-DELETION": "true"}, Settings{}, "cancelled", ""},
		{"custom exemption tag", map[string]string{"retire": "true"}, Settings{Common: guardrail.Common{ExemptionTag: "retire"}}, "deletion allowed", "retire=true"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(runconfig.ModeConfig{}, tt.settings)
			h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, tt.tags)
			out, err := h.runner.Handle(context.Background(), sched)
			if err != nil || len(h.alerts.Msgs) != 1 {
				t.Fatalf("%+v %v", out, err)
			}
			if m := h.alerts.Msgs[0]; m.Verdict != tt.verdict || !strings.Contains(out.Reason, tt.reason) {
				t.Errorf("verdict %q reason %q", m.Verdict, out.Reason)
			}
		})
	}
	h := newHarness(runconfig.ModeConfig{}, Settings{})
	h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateDisabled, map[string]string{ExemptionTag: "true"})
	out, _ := h.runner.Handle(context.Background(), fixtures.Get("key-deletion/disable-key").Raw)
	if out.Severity != guardrail.SeverityWarning || strings.Contains(strings.Join(h.kms.Calls, ","), "ListResourceTags") {
		t.Errorf("DisableKey on an exempt key: %+v, calls %v", out, h.kms.Calls)
	}
}

func TestParseSettings(t *testing.T) {
	if s, err := ParseSettings(nil); err != nil || s.ExemptionTagOr(ExemptionTag) != ExemptionTag {
		t.Errorf("empty settings: %v, %+v", err, s)
	}
	if _, err := ParseSettings([]byte(`{"allowed_principals":["arn:aws:iam::111122223333:role/KeyRetirement"]}`)); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{`{"allowed_principals":["arn:aws:iam::*:role/KeyRetirement"]}`, `{"allowed_principals":["arn:aws:iam::111122223333:*"]}`, `{"allowed_principals":["*"]}`, `{"allowed_principals":["arn:*"]}`, `{"allowed_principal":[]}`, `[`} {
		if _, err := ParseSettings([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		} else if !strings.Contains(err.Error(), "key-deletion") {
			t.Errorf("error %q does not name the field", err)
		}
	}
}
