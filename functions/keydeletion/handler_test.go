package keydeletion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/internal/alerttest"
	"github.com/kmsguard/kmsguard/functions/internal/fakekms"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

type harness struct {
	kms     *fakekms.KMS
	clients *fakekms.Clients[kmsAPI]
	alerts  *alerttest.Recorder
	runner  *guardrail.Runner
}

// hubAccount is the hub in these tests; the fixtures' account is a member.
const hubAccount = "123456789012"

func newHarness(modes runconfig.ModeConfig, settings Settings) *harness {
	h := &harness{kms: fakekms.New(), alerts: &alerttest.Recorder{}}
	h.clients = &fakekms.Clients[kmsAPI]{API: h.kms}
	h.runner = guardrail.NewRunner(newTestDriver(h.clients, modes, settings), h.alerts, nil)
	return h
}

// newTestDriver is the guardrail on fake clients, without backoff sleeps.
func newTestDriver(c guardrail.Clients[kmsAPI], modes guardrail.ModeLookup, s Settings) *guardrail.Driver[kmsAPI, State] {
	l := newLogic(s).(*logic)
	l.sleep = func(context.Context, time.Duration) error { return nil }
	return guardrail.NewDriver(Spec(), l, c, modes, hubAccount, s.ExemptionTag)
}

// scenario is the world a fixture meets in the handler tests.
type scenario struct {
	modes    runconfig.ModeConfig
	settings Settings
	setup    func(f *fakekms.KMS)
	// want
	action string
	writes []string
	alert  bool
	err    bool
}

var scenarios = map[string]scenario{
	"key-deletion/schedule-key-deletion-arn": {
		setup: func(f *fakekms.KMS) {
			f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, map[string]string{"team": "payments", "env": "prod"}, "alias/payments")
		},
		action: "cancel-deletion,enable-key", writes: []string{"CancelKeyDeletion", "EnableKey"}, alert: true,
	},
	"key-deletion/schedule-key-deletion-id": {
		modes: runconfig.ModeConfig{Accounts: map[string]runconfig.AccountModes{"111122223333": {Guardrails: map[string]guardrail.Mode{"key-deletion": guardrail.ModeAlert}}}},
		setup: func(f *fakekms.KMS) {
			f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil, "alias/orders")
		},
		action: "none", alert: true,
	},
	"key-deletion/schedule-key-deletion-root": {
		setup: func(f *fakekms.KMS) {
			k := f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, map[string]string{ExemptionTag: "true"})
			k.Meta.Arn = aws.String("arn:aws:kms:us-east-1:111122223333:key/" + fixtures.FakeKeyID)
		},
		action: "none", alert: true,
	},
	"key-deletion/schedule-key-deletion-mrk-primary": {
		setup: func(f *fakekms.KMS) {
			k := f.AddKey(fixtures.FakeMRKID, kmstypes.KeyStatePendingReplicaDeletion, nil, "alias/global-ledger")
			k.Meta.Arn = aws.String("arn:aws:kms:us-east-1:111122223333:key/" + fixtures.FakeMRKID)
			k.Meta.MultiRegionConfiguration = &kmstypes.MultiRegionConfiguration{
				MultiRegionKeyType: kmstypes.MultiRegionKeyTypePrimary,
				ReplicaKeys: []kmstypes.MultiRegionKey{
					{Region: aws.String("eu-west-1"), Arn: aws.String("arn:aws:kms:eu-west-1:111122223333:key/" + fixtures.FakeMRKID)},
					{Region: aws.String("ap-southeast-2"), Arn: aws.String("arn:aws:kms:ap-southeast-2:111122223333:key/" + fixtures.FakeMRKID)},
				},
			}
			// The replicas: one scheduled for deletion too, one still Enabled.
			for _, r := range []struct {
				region string
				state  kmstypes.KeyState
			}{{"eu-west-1", kmstypes.KeyStatePendingDeletion}, {"ap-southeast-2", kmstypes.KeyStateEnabled}} {
				rk := f.AddKey(fixtures.FakeMRKID+"@"+r.region, r.state, nil)
				rk.Meta.KeyId = aws.String(fixtures.FakeMRKID)
				rk.Meta.Arn = aws.String("arn:aws:kms:" + r.region + ":111122223333:key/" + fixtures.FakeMRKID)
				rk.Meta.MultiRegionConfiguration = &kmstypes.MultiRegionConfiguration{MultiRegionKeyType: kmstypes.MultiRegionKeyTypeReplica,
					PrimaryKey: &kmstypes.MultiRegionKey{Arn: k.Meta.Arn, Region: aws.String("us-east-1")}}
			}
		},
		action: "cancel-deletion,enable-key", writes: []string{"CancelKeyDeletion", "EnableKey"}, alert: true,
	},
	"key-deletion/disable-key": {
		setup: func(f *fakekms.KMS) {
			f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateDisabled, nil, "alias/payments")
		},
		action: "none", alert: true,
	},
	"key-deletion/kms-cmk-deletion": {
		action: "none", alert: true,
	},
	// A member role named like a hub role hides nothing.
	"key-deletion/schedule-key-deletion-by-lookalike-role": {
		setup: func(f *fakekms.KMS) {
			f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil, "alias/payments")
		},
		action: "cancel-deletion,enable-key", writes: []string{"CancelKeyDeletion", "EnableKey"}, alert: true,
	},
	// kmsguard's own remediator session never schedules deletions: such a
	// call is not kmsguard's remediation and is handled like anyone's.
	"key-deletion/schedule-key-deletion-by-remediator": {
		setup: func(f *fakekms.KMS) {
			f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil, "alias/payments")
		},
		action: "cancel-deletion,enable-key", writes: []string{"CancelKeyDeletion", "EnableKey"}, alert: true,
	},
}

func TestHandle_Fixtures(t *testing.T) {
	for _, f := range fixtures.All() {
		t.Run(f.Name, func(t *testing.T) {
			sc, positive := scenarios[f.Name]
			if f.Guardrail == Spec().ID && !positive {
				t.Fatalf("positive fixture %s has no scenario", f.Name)
			}
			if f.Guardrail != Spec().ID && f.Guardrail != "" {
				t.Skip("another guardrail's fixture")
			}
			h := newHarness(sc.modes, sc.settings)
			if sc.setup != nil {
				sc.setup(h.kms)
			}
			out, err := h.runner.Handle(context.Background(), f.Raw)
			alerttest.CallsAllowed(t, Spec(), "kms", h.kms.Calls)
			if !positive {
				// Negative fixtures reach a handler only if a pattern fails;
				// the handler must still do nothing and say nothing.
				if len(h.alerts.Msgs) != 0 || len(h.kms.Writes()) != 0 {
					t.Fatalf("negative fixture alerted %d times, wrote %v", len(h.alerts.Msgs), h.kms.Writes())
				}
				if out.Action != guardrail.ActionNone || out.Reason == "" {
					t.Errorf("outcome %+v", out)
				}
				if err != nil && !guardrail.IsTerminal(err) {
					t.Errorf("retryable error on a negative fixture: %v", err)
				}
				return
			}
			if (err != nil) != sc.err {
				t.Fatalf("err = %v", err)
			}
			if out.Action != sc.action {
				t.Errorf("action = %q, want %q (reason: %s)", out.Action, sc.action, out.Reason)
			}
			if !slices.Equal(h.kms.Writes(), sc.writes) {
				t.Errorf("writes = %v, want %v", h.kms.Writes(), sc.writes)
			}
			if got := len(h.alerts.Msgs) == 1; got != sc.alert || out.Alerted != sc.alert {
				t.Fatalf("alerts = %d, outcome.alerted = %v, want alert %v", len(h.alerts.Msgs), out.Alerted, sc.alert)
			}
			if sc.alert {
				alerttest.Check(t, h.alerts.Msgs[0])
				alerttest.Golden(t, filepath.Base(f.Name), h.alerts.Msgs[0])
			}
		})
	}
}

func TestHandle_Cases(t *testing.T) {
	raw := fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw
	tests := []struct {
		name     string
		modes    runconfig.ModeConfig
		setup    func(f *fakekms.KMS, c *fakekms.Clients[kmsAPI])
		wantErr  bool
		terminal bool
		action   string
		writes   []string
		alerts   int
		verdict  string
		state    kmstypes.KeyState
	}{
		{
			name: "someone already cancelled: no-op",
			setup: func(f *fakekms.KMS, _ *fakekms.Clients[kmsAPI]) {
				f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil)
			},
			action: "none", state: kmstypes.KeyStateEnabled,
		},
		{
			name: "AWS managed key: skipped without reading tags",
			setup: func(f *fakekms.KMS, _ *fakekms.Clients[kmsAPI]) {
				f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil).Meta.KeyManager = kmstypes.KeyManagerTypeAws
			},
			action: "none", state: kmstypes.KeyStatePendingDeletion,
		},
		{
			name:   "key not found: no-op",
			setup:  func(*fakekms.KMS, *fakekms.Clients[kmsAPI]) {},
			action: "none",
		},
		{
			name:  "kill switch: alert only, no writes",
			modes: runconfig.ModeConfig{KillSwitch: true, Default: guardrail.ModeRemediate},
			setup: func(f *fakekms.KMS, _ *fakekms.Clients[kmsAPI]) {
				f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil)
			},
			action: "none", alerts: 1, verdict: "NOT cancelled", state: kmstypes.KeyStatePendingDeletion,
		},
		{
			name: "eventual consistency: EnableKey retried until the key settles",
			setup: func(f *fakekms.KMS, _ *fakekms.Clients[kmsAPI]) {
				f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil)
				f.LagEnable = 2
			},
			action: "cancel-deletion,enable-key", writes: []string{"CancelKeyDeletion", "EnableKey", "EnableKey", "EnableKey"}, alerts: 1, verdict: "cancelled", state: kmstypes.KeyStateEnabled,
		},
		{
			name: "EnableKey keeps failing: retryable error and a FAILED alert; deletion stays cancelled",
			setup: func(f *fakekms.KMS, _ *fakekms.Clients[kmsAPI]) {
				f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil)
				f.LagEnable = 100
			},
			wantErr: true, action: "cancel-deletion", writes: []string{"CancelKeyDeletion", "EnableKey", "EnableKey", "EnableKey", "EnableKey", "EnableKey", "EnableKey"}, alerts: 1, verdict: "remediation FAILED", state: kmstypes.KeyStateDisabled,
		},
		{
			name: "cancel throttled: retryable error and a FAILED alert",
			setup: func(f *fakekms.KMS, _ *fakekms.Clients[kmsAPI]) {
				f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil)
				f.Fail["CancelKeyDeletion"] = []error{fakekms.Throttle()}
			},
			wantErr: true, action: "cancel-deletion", writes: []string{"CancelKeyDeletion"}, alerts: 1, verdict: "remediation FAILED", state: kmstypes.KeyStatePendingDeletion,
		},
		{
			name: "describe throttled: retryable error and a check FAILED alert",
			setup: func(f *fakekms.KMS, _ *fakekms.Clients[kmsAPI]) {
				f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil)
				f.Fail["DescribeKey"] = []error{fakekms.Throttle()}
			},
			wantErr: true, action: "none", alerts: 1, verdict: "check FAILED", state: kmstypes.KeyStatePendingDeletion,
		},
		{
			name: "role cannot be assumed: retryable error and an alert",
			setup: func(f *fakekms.KMS, c *fakekms.Clients[kmsAPI]) {
				f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil)
				c.Err = errors.New("AccessDenied: not authorized to perform sts:AssumeRole")
			},
			wantErr: true, action: "none", alerts: 1, verdict: "check FAILED", state: kmstypes.KeyStatePendingDeletion,
		},
		{
			name: "imported key without material: cancelled, left PendingImport",
			setup: func(f *fakekms.KMS, _ *fakekms.Clients[kmsAPI]) {
				k := f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil)
				k.Meta.Origin, k.NoMaterial = kmstypes.OriginTypeExternal, true
			},
			action: "cancel-deletion", writes: []string{"CancelKeyDeletion", "EnableKey", "EnableKey", "EnableKey", "EnableKey", "EnableKey", "EnableKey"}, alerts: 1, verdict: "cancelled", state: kmstypes.KeyStatePendingImport,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(tt.modes, Settings{})
			tt.setup(h.kms, h.clients)
			out, err := h.runner.Handle(context.Background(), raw)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && guardrail.IsTerminal(err) != tt.terminal {
				t.Errorf("terminal = %v, want %v", guardrail.IsTerminal(err), tt.terminal)
			}
			if out.Action != tt.action {
				t.Errorf("action = %q, want %q (%s)", out.Action, tt.action, out.Reason)
			}
			if !slices.Equal(h.kms.Writes(), tt.writes) {
				t.Errorf("writes = %v, want %v", h.kms.Writes(), tt.writes)
			}
			if len(h.alerts.Msgs) != tt.alerts {
				t.Fatalf("alerts = %d, want %d", len(h.alerts.Msgs), tt.alerts)
			}
			if tt.alerts > 0 {
				alerttest.Check(t, h.alerts.Msgs[0])
				if h.alerts.Msgs[0].Verdict != tt.verdict {
					t.Errorf("verdict = %q, want %q", h.alerts.Msgs[0].Verdict, tt.verdict)
				}
			}
			if k := h.kms.Keys[fixtures.FakeKeyID]; k != nil && k.Meta.KeyState != tt.state {
				t.Errorf("key state = %s, want %s", k.Meta.KeyState, tt.state)
			}
		})
	}
}

// The same event three times: one cancellation, then no-ops.
func TestHandle_Duplicates(t *testing.T) {
	h := newHarness(runconfig.ModeConfig{}, Settings{})
	h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil)
	raw := fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw
	for i := 0; i < 3; i++ {
		if _, err := h.runner.Handle(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(h.kms.Writes(), []string{"CancelKeyDeletion", "EnableKey"}) || len(h.alerts.Msgs) != 1 {
		t.Errorf("writes %v, alerts %d", h.kms.Writes(), len(h.alerts.Msgs))
	}
}

// A member account must not steer kmsguard at another account's keys.
func TestHandle_ForgedAccount(t *testing.T) {
	for name, mutate := range map[string]func(map[string]any){
		"envelope account differs": func(ev map[string]any) { ev["account"] = "444455556666" },
		"key ARN in another account": func(ev map[string]any) {
			ev["detail"].(map[string]any)["requestParameters"].(map[string]any)["keyId"] = "arn:aws:kms:eu-west-1:444455556666:key/" + fixtures.FakeKeyID
		},
		"account not 12 digits": func(ev map[string]any) {
			ev["account"] = "x:role/Admin"
			ev["detail"].(map[string]any)["recipientAccountId"] = "x:role/Admin"
		},
	} {
		t.Run(name, func(t *testing.T) {
			var ev map[string]any
			if err := json.Unmarshal(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, &ev); err != nil {
				t.Fatal(err)
			}
			mutate(ev)
			raw, _ := json.Marshal(ev)
			h := newHarness(runconfig.ModeConfig{}, Settings{})
			h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil)
			h.clients.Err = nil
			g := newTestDriver(&validatingClients{h.clients}, runconfig.ModeConfig{}, Settings{})
			out, err := guardrail.NewRunner(g, h.alerts, nil).Handle(context.Background(), raw)
			if err == nil || !guardrail.IsTerminal(err) {
				t.Fatalf("err = %v, want a terminal rejection", err)
			}
			if len(h.kms.Calls) != 0 || len(h.alerts.Msgs) != 0 || !strings.HasPrefix(out.Reason, "rejected:") {
				t.Errorf("calls %v, alerts %d, reason %q", h.kms.Calls, len(h.alerts.Msgs), out.Reason)
			}
		})
	}
}

// validatingClients applies the account checks the real provider makes.
type validatingClients struct{ *fakekms.Clients[kmsAPI] }

func (v *validatingClients) Get(account, region string) (kmsAPI, error) {
	if !guardrail.ValidAccountID(account) {
		return nil, guardrail.Terminal(fmt.Errorf("account %q is not a 12-digit account id", account))
	}
	return v.Clients.Get(account, region)
}

// Untrusted strings cannot break the subject or smuggle lines into the body.
func TestHandle_HostileStrings(t *testing.T) {
	var ev map[string]any
	if err := json.Unmarshal(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, &ev); err != nil {
		t.Fatal(err)
	}
	d := ev["detail"].(map[string]any)
	d["userAgent"] = "evil\r\nSubject: pwned\u202e" + strings.Repeat("A", 5000)
	d["sourceIPAddress"] = "1.2.3.4\nBcc: attacker@example.com"
	raw, _ := json.Marshal(ev)
	h := newHarness(runconfig.ModeConfig{}, Settings{})
	k := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, map[string]string{"owner\n": "x\ty"}, "alias/"+strings.Repeat("long-", 60))
	k.Meta.Description = aws.String("line1\nline2\x00\x1b[31m")
	if _, err := h.runner.Handle(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	m := h.alerts.Msgs[0]
	alerttest.Check(t, m)
	text := m.Text()
	for _, bad := range []string{"\r", "\u202e", "\x00", "\x1b", "\nBcc:", "\nSubject:", "\nline2"} {
		if strings.Contains(text, bad) {
			t.Errorf("body contains %q", bad)
		}
	}
	if strings.Contains(text, strings.Repeat("A", alert.MaxField+1)) {
		t.Error("user agent not bounded")
	}
}

// A remediation reads only what the decision needs, and then the aliases
// the alert names the key by (every alert reads them, after acting).
func TestHandle_Calls(t *testing.T) {
	raw := fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw
	for name, tt := range map[string]struct {
		mode  guardrail.Mode
		calls []string
	}{
		"remediate": {guardrail.ModeRemediate, []string{"DescribeKey", "ListResourceTags", "CancelKeyDeletion", "EnableKey", "ListAliases"}},
		"alert":     {guardrail.ModeAlert, []string{"DescribeKey", "ListResourceTags", "ListAliases"}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(runconfig.ModeConfig{Default: tt.mode}, Settings{})
			h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil, "alias/payments")
			if _, err := h.runner.Handle(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(h.kms.Calls, tt.calls) {
				t.Errorf("calls %v, want %v", h.kms.Calls, tt.calls)
			}
		})
	}
}

// An account where the guardrail has no role (the management account, not
// opted in): reported from the event alone, nothing read or changed.
func TestHandle_NoRoleInTheAccount(t *testing.T) {
	h := newHarness(runconfig.ModeConfig{}, Settings{})
	d := newTestDriver(h.clients, runconfig.ModeConfig{}, Settings{})
	d.SetUnmanaged([]string{fixtures.Account})
	out, err := guardrail.NewRunner(d, h.alerts, nil).Handle(context.Background(), fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw)
	if err != nil || out.Action != guardrail.ActionNone || len(h.kms.Calls) != 0 || len(h.alerts.Msgs) != 1 {
		t.Fatalf("%+v %v calls %v alerts %d", out, err, h.kms.Calls, len(h.alerts.Msgs))
	}
	if m := h.alerts.Msgs[0]; m.Verdict != "NOT checked (no role)" || !strings.Contains(m.Text(), "no role for key-deletion") {
		t.Errorf("%s\n%s", m.Subject(), m.Text())
	}
}

type names map[string]string

func (n names) AccountName(_ context.Context, account string) string { return n[account] }

// A fixed key's alert names it by alias (read for every alert), the
// account by its organization name and the actor in the subject (issue 16).
func TestHandle_SubjectNamesAliasAccountAndActor(t *testing.T) {
	h := newHarness(runconfig.ModeConfig{}, Settings{})
	d := newTestDriver(h.clients, runconfig.ModeConfig{}, Settings{})
	d.SetAccountNames(names{fixtures.Account: "payments-prod"})
	h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil, "alias/payments")
	out, err := guardrail.NewRunner(d, h.alerts, nil).Handle(context.Background(), fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw)
	if err != nil || out.Action != "cancel-deletion,enable-key" || len(h.alerts.Msgs) != 1 {
		t.Fatalf("%+v %v alerts %d", out, err, len(h.alerts.Msgs))
	}
	m := h.alerts.Msgs[0]
	s := m.Subject()
	for _, want := range []string{"alias/payments", "payments-prod", m.Actor} {
		if want == "" || !strings.Contains(s, want) {
			t.Errorf("subject %q lacks %q", s, want)
		}
	}
	if !strings.Contains(m.Text(), "Account:      111122223333 (payments-prod)") {
		t.Errorf("body does not name the account:\n%s", m.Text())
	}
}

// With reenable_disabled_keys, a DisableKey is undone and the key is
// recorded Enabled; the exemption tag (allow-deletion) does not keep a key
// disabled: that would make keeping it disabled also allow its deletion.
func TestHandle_ReenableDisabledKeys(t *testing.T) {
	raw := fixtures.Get("key-deletion/disable-key").Raw
	for name, tags := range map[string]map[string]string{
		"re-enabled": nil,
		"exempt from deletion: re-enabled all the same": {ExemptionTag: "true"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(runconfig.ModeConfig{}, Settings{ReenableDisabledKeys: true})
			k := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateDisabled, tags, "alias/payments")
			if _, err := h.runner.Handle(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(h.kms.Writes(), []string{"EnableKey"}) || k.Meta.KeyState != kmstypes.KeyStateEnabled || len(h.alerts.Msgs) != 1 {
				t.Fatalf("writes %v, state %s, %d alerts", h.kms.Writes(), k.Meta.KeyState, len(h.alerts.Msgs))
			}
			m := h.alerts.Msgs[0]
			alerttest.Check(t, m)
			if m.Verdict != "re-enabled" || !strings.Contains(m.Text(), "enabled it again") || !strings.Contains(m.Text(), "aws kms disable-key") || strings.Contains(m.Text(), "tag-resource") {
				t.Errorf("verdict %q\n%s", m.Verdict, m.Text())
			}
		})
	}
}

// states is a ledger of key states for one key: what RecordKeyState wrote,
// and a change recorded later than the event (a responder's own disable).
type states struct{ later guardrail.KeyStateSeen }

func (s *states) RecordKeyState(context.Context, string, string, string, string, time.Time, string) error {
	return nil
}

func (s *states) KeyStateBefore(context.Context, string, string, string, time.Time) guardrail.KeyStateSeen {
	return s.later
}

// A DisableKey delivered late or again does not undo a change recorded
// after it.
func TestHandle_ReenableSkipsOlderDisable(t *testing.T) {
	h := &harness{kms: fakekms.New(), alerts: &alerttest.Recorder{}}
	h.clients = &fakekms.Clients[kmsAPI]{API: h.kms}
	d := newTestDriver(h.clients, runconfig.ModeConfig{}, Settings{ReenableDisabledKeys: true})
	d.SetKeyStates(&states{later: guardrail.KeyStateSeen{State: "Disabled", At: time.Date(2026, 3, 14, 11, 0, 0, 0, time.UTC), Source: "kmsguard's ledger", By: "bob"}})
	h.runner = guardrail.NewRunner(d, h.alerts, nil)
	h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateDisabled, nil, "alias/payments")
	if _, err := h.runner.Handle(context.Background(), fixtures.Get("key-deletion/disable-key").Raw); err != nil {
		t.Fatal(err)
	}
	if len(h.kms.Writes()) != 0 || len(h.alerts.Msgs) != 1 || !strings.Contains(h.alerts.Msgs[0].Text(), "later change") {
		t.Errorf("writes %v\n%v", h.kms.Writes(), h.alerts.Msgs)
	}
}
