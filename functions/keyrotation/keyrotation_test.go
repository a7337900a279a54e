package keyrotation

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alerttest"
	"github.com/kmsguard/kmsguard/functions/internal/fakekms"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

func key(state kmstypes.KeyState, mut func(*kmstypes.KeyMetadata)) kmskey.Key {
	m := kmstypes.KeyMetadata{KeyState: state, KeyManager: kmstypes.KeyManagerTypeCustomer, KeySpec: kmstypes.KeySpecSymmetricDefault, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt, Origin: kmstypes.OriginTypeAwsKms}
	if mut != nil {
		mut(&m)
	}
	return kmskey.Key{Found: true, Meta: m, Tags: map[string]string{}}
}

// Input is the decision's input in these tables.
type Input struct {
	Key      kmskey.Key
	Rotation Rotation
	Mode     guardrail.Mode
	Settings Settings
}

func TestDecide(t *testing.T) {
	en := kmstypes.KeyStateEnabled
	tests := []struct {
		name     string
		in       Input
		want     guardrail.Kind
		severity guardrail.Severity
		reason   string
	}{
		{"gone", Input{}, guardrail.Ignore, "", "does not exist"},
		{"AWS managed", Input{Key: key(en, func(m *kmstypes.KeyMetadata) { m.KeyManager = kmstypes.KeyManagerTypeAws })}, guardrail.Ignore, "", "AWS rotates"},
		{"asymmetric", Input{Key: key(en, func(m *kmstypes.KeyMetadata) {
			m.KeySpec = kmstypes.KeySpecRsa2048
			m.KeyUsage = kmstypes.KeyUsageTypeSignVerify
		}), Mode: guardrail.ModeRemediate}, guardrail.Notify, guardrail.SeverityInfo, "asymmetric"},
		{"HMAC", Input{Key: key(en, func(m *kmstypes.KeyMetadata) {
			m.KeySpec = kmstypes.KeySpecHmac256
			m.KeyUsage = kmstypes.KeyUsageTypeGenerateVerifyMac
		}), Mode: guardrail.ModeRemediate}, guardrail.Notify, guardrail.SeverityInfo, "HMAC"},
		{"imported material", Input{Key: key(en, func(m *kmstypes.KeyMetadata) { m.Origin = kmstypes.OriginTypeExternal }), Mode: guardrail.ModeRemediate}, guardrail.Notify, guardrail.SeverityInfo, "imported"},
		{"CloudHSM key store", Input{Key: key(en, func(m *kmstypes.KeyMetadata) { m.Origin = kmstypes.OriginTypeAwsCloudhsm }), Mode: guardrail.ModeRemediate}, guardrail.Notify, guardrail.SeverityInfo, "custom key store"},
		{"external key store", Input{Key: key(en, func(m *kmstypes.KeyMetadata) { m.Origin = kmstypes.OriginTypeExternalKeyStore }), Mode: guardrail.ModeRemediate}, guardrail.Notify, guardrail.SeverityInfo, "custom key store"},
		{"disabled", Input{Key: key(kmstypes.KeyStateDisabled, nil), Mode: guardrail.ModeRemediate}, guardrail.Notify, guardrail.SeverityWarning, "Disabled"},
		{"pending deletion", Input{Key: key(kmstypes.KeyStatePendingDeletion, nil), Mode: guardrail.ModeRemediate}, guardrail.Notify, guardrail.SeverityWarning, "PendingDeletion"},
		{"rotation off, remediate", Input{Key: key(en, nil), Mode: guardrail.ModeRemediate}, guardrail.Remediate, guardrail.SeverityHigh, "rotation is off"},
		{"rotation off, alert mode", Input{Key: key(en, nil), Mode: guardrail.ModeAlert}, guardrail.Notify, guardrail.SeverityHigh, "alert mode"},
		{"period too long", Input{Key: key(en, nil), Rotation: Rotation{true, 2560}, Mode: guardrail.ModeRemediate}, guardrail.Remediate, guardrail.SeverityHigh, "2560 days, longer than the maximum of 365"},
		{"period within a raised maximum", Input{Key: key(en, nil), Rotation: Rotation{true, 730}, Mode: guardrail.ModeRemediate, Settings: Settings{MaxRotationPeriodDays: 730}}, guardrail.Ignore, "", "730 days"},
		{"period shorter than configured is fine", Input{Key: key(en, nil), Rotation: Rotation{true, 90}, Mode: guardrail.ModeRemediate}, guardrail.Ignore, "", "90 days"},
		{"rotation on, period unknown", Input{Key: key(en, nil), Rotation: Rotation{Enabled: true}, Mode: guardrail.ModeRemediate}, guardrail.Ignore, "", "default period"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(State{Key: tt.in.Key, Target: tt.in.Key, Rotation: tt.in.Rotation}, tt.in.Mode, tt.in.Settings)
			if d.Kind != tt.want || d.Severity != tt.severity || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("decide = %v/%s %q, want %v/%s containing %q", d.Kind, d.Severity, d.Reason, tt.want, tt.severity, tt.reason)
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	s, err := ParseSettings([]byte(`{"rotation_period_days":180,"max_rotation_period_days":365}`))
	if err != nil || s.period() != 180 || s.maxPeriod() != 365 {
		t.Fatalf("%+v %v", s, err)
	}
	if s, _ := ParseSettings(nil); s.period() != 365 || s.maxPeriod() != 365 {
		t.Errorf("defaults %d/%d", s.period(), s.maxPeriod())
	}
	for _, bad := range []string{`{"rotation_period_days":30}`, `{"rotation_period_days":3000}`, `{"rotation_period_days":400,"max_rotation_period_days":365}`, `{"period":1}`} {
		if _, err := ParseSettings([]byte(bad)); err == nil || !strings.Contains(err.Error(), "guardrails.key-rotation") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

type harness struct {
	kms     *fakekms.KMS
	clients *fakekms.Clients[kmsAPI]
	alerts  *alerttest.Recorder
	runner  *guardrail.Runner
}

func newHarness(modes guardrail.ModeLookup, s Settings) *harness {
	h := &harness{kms: fakekms.New(), alerts: &alerttest.Recorder{}}
	h.clients = &fakekms.Clients[kmsAPI]{API: h.kms}
	h.runner = guardrail.NewRunner(guardrail.NewDriver(Spec(), newLogic(s), h.clients, modes, "123456789012", s.ExemptionTag), h.alerts, nil)
	return h
}

func TestHandle_Fixtures(t *testing.T) {
	scenarios := map[string]struct {
		setup  func(*fakekms.KMS)
		action string
		writes []string
		period int
	}{
		"key-rotation/disable-key-rotation": {
			setup: func(f *fakekms.KMS) {
				f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, map[string]string{"team": "orders"}, "alias/orders")
			},
			action: "enable-rotation", writes: []string{"EnableKeyRotation"}, period: 365,
		},
		"key-rotation/enable-key-rotation-long-period": {
			setup: func(f *fakekms.KMS) {
				k := f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil, "alias/orders")
				k.Rotation.Enabled, k.Rotation.Period = true, 2560
			},
			action: "enable-rotation", writes: []string{"EnableKeyRotation"}, period: 365,
		},
		"key-rotation/create-key": {
			setup:  func(f *fakekms.KMS) { f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil) },
			action: "enable-rotation", writes: []string{"EnableKeyRotation"}, period: 365,
		},
		// The fake has one Region: the key stands for both copies here;
		// TestHandle_UpdatePrimaryRegion keeps them apart.
		"key-rotation/update-primary-region": {
			setup: func(f *fakekms.KMS) {
				k := f.AddKey(fixtures.FakeMRKID, kmstypes.KeyStateEnabled, nil, "alias/global-ledger")
				k.Meta.Arn = aws.String("arn:aws:kms:us-east-1:111122223333:key/" + fixtures.FakeMRKID)
				k.Meta.MultiRegionConfiguration = &kmstypes.MultiRegionConfiguration{MultiRegionKeyType: kmstypes.MultiRegionKeyTypePrimary}
			},
			action: "enable-rotation", writes: []string{"EnableKeyRotation"}, period: 365,
		},
		"key-policy/create-key-with-policy": {
			setup:  func(f *fakekms.KMS) { f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil) },
			action: "enable-rotation", writes: []string{"EnableKeyRotation"}, period: 365,
		},
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
			h := newHarness(runconfig.ModeConfig{}, Settings{})
			sc.setup(h.kms)
			out, err := h.runner.Handle(context.Background(), f.Raw)
			alerttest.CallsAllowed(t, Spec(), "kms", h.kms.Calls)
			if err != nil || out.Action != sc.action || !slices.Equal(h.kms.Writes(), sc.writes) {
				t.Fatalf("outcome %+v, writes %v, err %v", out, h.kms.Writes(), err)
			}
			k := h.kms.Keys[fixtures.FakeKeyID]
			if k == nil {
				k = h.kms.Keys[fixtures.FakeMRKID]
			}
			if !k.Rotation.Enabled || k.Rotation.Period != sc.period {
				t.Errorf("rotation %+v", k.Rotation)
			}
			if len(h.alerts.Msgs) != 1 {
				t.Fatalf("%d alerts", len(h.alerts.Msgs))
			}
			alerttest.Check(t, h.alerts.Msgs[0])
			alerttest.Golden(t, filepath.Base(f.Name), h.alerts.Msgs[0])
		})
	}
}

func TestHandle_Cases(t *testing.T) {
	raw := fixtures.Get("key-rotation/disable-key-rotation").Raw
	tests := []struct {
		name    string
		modes   guardrail.ModeLookup
		setup   func(*fakekms.KMS)
		wantErr bool
		action  string
		writes  []string
		alerts  int
		verdict string
	}{
		{"already on: no-op", runconfig.ModeConfig{}, func(f *fakekms.KMS) {
			k := f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil)
			k.Rotation.Enabled, k.Rotation.Period = true, 365
		}, false, "none", nil, 0, ""},
		{"exempt key: no write, no alert", runconfig.ModeConfig{}, func(f *fakekms.KMS) {
			f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, map[string]string{ExemptionTag: "True"})
		}, false, "none", nil, 0, ""},
		{"alert mode: no write", runconfig.ModeConfig{Default: guardrail.ModeAlert}, func(f *fakekms.KMS) { f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil) }, false, "none", nil, 1, "NOT fixed"},
		// KMS refuses the change on a disabled or asymmetric key; the refusal
		// sends the guardrail to read the key, which explains why.
		{"disabled key: KMS refuses, alert", runconfig.ModeConfig{}, func(f *fakekms.KMS) { f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateDisabled, nil) }, false, "none", []string{"EnableKeyRotation"}, 1, "key disabled"},
		{"key pending deletion: KMS refuses, alert", runconfig.ModeConfig{}, func(f *fakekms.KMS) { f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStatePendingDeletion, nil) }, false, "none", []string{"EnableKeyRotation"}, 1, "key PendingDeletion"},
		{"asymmetric key: KMS refuses, alert", runconfig.ModeConfig{}, func(f *fakekms.KMS) {
			f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil).Meta.KeySpec = kmstypes.KeySpecEccNistP256
		}, false, "none", []string{"EnableKeyRotation"}, 1, "cannot rotate"},
		{"enable throttled: retryable error and FAILED alert", runconfig.ModeConfig{}, func(f *fakekms.KMS) {
			f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil)
			f.Fail["EnableKeyRotation"] = []error{fakekms.Throttle()}
		}, true, "enable-rotation", []string{"EnableKeyRotation"}, 1, "remediation FAILED"},
		{"status read fails: retryable error", runconfig.ModeConfig{}, func(f *fakekms.KMS) {
			f.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil)
			f.Fail["GetKeyRotationStatus"] = []error{fakekms.Throttle()}
		}, true, "none", nil, 1, "check FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(tt.modes, Settings{})
			tt.setup(h.kms)
			out, err := h.runner.Handle(context.Background(), raw)
			if (err != nil) != tt.wantErr || (err != nil && guardrail.IsTerminal(err)) {
				t.Fatalf("err %v", err)
			}
			if out.Action != tt.action || !slices.Equal(h.kms.Writes(), tt.writes) || len(h.alerts.Msgs) != tt.alerts {
				t.Fatalf("outcome %+v writes %v alerts %d", out, h.kms.Writes(), len(h.alerts.Msgs))
			}
			if tt.alerts > 0 {
				alerttest.Check(t, h.alerts.Msgs[0])
				if h.alerts.Msgs[0].Verdict != tt.verdict {
					t.Errorf("verdict %q, want %q", h.alerts.Msgs[0].Verdict, tt.verdict)
				}
				// Every alert says what to do, the INFO one for a key KMS
				// cannot rotate included.
				_, todo, ok := strings.Cut(h.alerts.Msgs[0].Text(), "\nWhat you can do\n")
				if todo, _, _ = strings.Cut(todo, "\n\n"); !ok || strings.TrimSpace(todo) == "" {
					t.Errorf("no \"What you can do\":\n%s", h.alerts.Msgs[0].Text())
				}
				// KMS refuses rotation on a disabled key: enable it first.
				if tt.verdict == "key disabled" && !strings.Contains(todo, "aws kms enable-key --key-id") {
					t.Errorf("a disabled key's alert does not say to enable it first:\n%s", todo)
				}
				if tt.verdict == "key PendingDeletion" && !strings.Contains(todo, "aws kms cancel-key-deletion --key-id") {
					t.Errorf("a pending key's alert does not say to cancel the deletion first:\n%s", todo)
				}
			}
		})
	}
}

// A replica's rotation is set on its primary, in the primary's Region.
func TestHandle_ReplicaActsOnPrimary(t *testing.T) {
	h := newHarness(runconfig.ModeConfig{}, Settings{RotationPeriodDays: 180})
	const primary = "mrk-1234abcd12ab34cd56ef1234567890ab"
	p := h.kms.AddKey(primary, kmstypes.KeyStateEnabled, nil, "alias/global")
	p.Meta.Arn = aws.String("arn:aws:kms:us-east-1:111122223333:key/" + primary)
	p.Meta.MultiRegionConfiguration = &kmstypes.MultiRegionConfiguration{MultiRegionKeyType: kmstypes.MultiRegionKeyTypePrimary}
	r := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil)
	r.Meta.MultiRegion = aws.Bool(true)
	r.Meta.MultiRegionConfiguration = &kmstypes.MultiRegionConfiguration{
		MultiRegionKeyType: kmstypes.MultiRegionKeyTypeReplica,
		PrimaryKey:         &kmstypes.MultiRegionKey{Arn: p.Meta.Arn, Region: aws.String("us-east-1")},
	}
	out, err := h.runner.Handle(context.Background(), fixtures.Get("key-rotation/disable-key-rotation").Raw)
	if err != nil || out.Action != "enable-rotation" {
		t.Fatalf("%+v %v", out, err)
	}
	if !p.Rotation.Enabled || p.Rotation.Period != 180 || r.Rotation.Enabled {
		t.Errorf("primary %+v, replica %+v", p.Rotation, r.Rotation)
	}
	if !slices.Contains(h.clients.Asked, "111122223333/us-east-1") {
		t.Errorf("primary Region not used: %v", h.clients.Asked)
	}
	if !strings.Contains(h.alerts.Msgs[0].Text(), "rotation is set on its primary") {
		t.Error("alert does not explain the replica")
	}
}

// Each event reads only what its decision needs: the status settles
// "already on" alone; a fix adds the tags (exemption) and the write.
func TestHandle_Calls(t *testing.T) {
	raw := fixtures.Get("key-rotation/disable-key-rotation").Raw
	for name, tt := range map[string]struct {
		on    bool
		calls []string
	}{
		"fix":        {false, []string{"GetKeyRotationStatus", "ListResourceTags", "EnableKeyRotation", "ListAliases"}},
		"already on": {true, []string{"GetKeyRotationStatus"}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(runconfig.ModeConfig{}, Settings{})
			k := h.kms.AddKey(fixtures.FakeKeyID, kmstypes.KeyStateEnabled, nil, "alias/orders")
			k.Rotation.Enabled, k.Rotation.Period = tt.on, 365
			if _, err := h.runner.Handle(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(h.kms.Calls, tt.calls) {
				t.Errorf("calls %v, want %v", h.kms.Calls, tt.calls)
			}
		})
	}
}

// UpdatePrimaryRegion: reported from the former primary's record, with the
// rotation of the new primary in its Region (fixed there when off); the
// new primary's own record is settled without a call.
func TestHandle_UpdatePrimaryRegion(t *testing.T) {
	raw := fixtures.Get("key-rotation/update-primary-region").Raw
	for name, tt := range map[string]struct {
		on              bool
		action, verdict string
		severity        string
		state           kmstypes.KeyState
	}{
		"rotation on: reported":     {true, "none", "primary now in us-east-1", "INFO", kmstypes.KeyStateEnabled},
		"rotation off: fixed there": {false, "enable-rotation", "rotation on, 365 days", "HIGH", kmstypes.KeyStateEnabled},
		// Right after the call KMS may still be updating the copies.
		"still Updating, rotation on":  {true, "none", "primary now in us-east-1", "INFO", kmstypes.KeyStateUpdating},
		"still Updating, rotation off": {false, "none", "NOT fixed yet", "HIGH", kmstypes.KeyStateUpdating},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(runconfig.ModeConfig{}, Settings{})
			primary := fakekms.New()
			h.clients.ByRegion = map[string]kmsAPI{"us-east-1": primary}
			old := h.kms.AddKey(fixtures.FakeMRKID, kmstypes.KeyStateEnabled, nil, "alias/global-ledger")
			old.Meta.Arn = aws.String("arn:aws:kms:eu-west-1:111122223333:key/" + fixtures.FakeMRKID)
			p := primary.AddKey(fixtures.FakeMRKID, tt.state, nil)
			p.Meta.Arn = aws.String("arn:aws:kms:us-east-1:111122223333:key/" + fixtures.FakeMRKID)
			p.Rotation.Enabled, p.Rotation.Period = tt.on, 365
			out, err := h.runner.Handle(context.Background(), raw)
			if err != nil || out.Action != tt.action || len(h.alerts.Msgs) != 1 {
				t.Fatalf("%+v %v, %d alerts", out, err, len(h.alerts.Msgs))
			}
			m := h.alerts.Msgs[0]
			alerttest.Check(t, m)
			if m.Verdict != tt.verdict || m.Severity != tt.severity || !strings.Contains(m.Text(), "Primary now:  us-east-1") || !strings.Contains(m.Text(), "Primary was:  eu-west-1") {
				t.Errorf("%s/%s\n%s", m.Severity, m.Verdict, m.Text())
			}
			if p.Rotation.Enabled != (tt.on || tt.action != "none") || old.Rotation.Enabled || slices.Contains(h.kms.Writes(), "EnableKeyRotation") {
				t.Errorf("rotation: new primary %+v, former %+v", p.Rotation, old.Rotation)
			}
		})
	}
	// The same call's record in the new primary's Region: no call, no alert.
	// (https://docs.aws.amazon.com/kms/latest/developerguide/ct-update-primary-region.html:
	// the key ARN in the new Region, invoked by KMS, no response elements.)
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["region"] = "us-east-1"
	d := ev["detail"].(map[string]any)
	d["awsRegion"] = "us-east-1"
	d["requestParameters"] = map[string]any{"keyId": "arn:aws:kms:us-east-1:111122223333:key/" + fixtures.FakeMRKID, "primaryRegion": "us-east-1"}
	d["responseElements"] = nil
	d["resources"] = []any{}
	second, _ := json.Marshal(ev)
	h := newHarness(runconfig.ModeConfig{}, Settings{})
	out, err := h.runner.Handle(context.Background(), second)
	if err != nil || out.Action != "none" || len(h.alerts.Msgs) != 0 || len(h.kms.Calls) != 0 || !strings.Contains(out.Reason, "former primary's record") {
		t.Errorf("second record: %+v %v, calls %v", out, err, h.kms.Calls)
	}
}

// The sweep hands rotation only primaries and single-Region keys: a
// replica is swept through its primary, never reported twice.
func TestFromListing_SkipsReplicas(t *testing.T) {
	l := newLogic(Settings{}).(*logic)
	h := newHarness(runconfig.ModeConfig{}, Settings{})
	k := key(kmstypes.KeyStateEnabled, func(m *kmstypes.KeyMetadata) {
		m.KeyId = aws.String(fixtures.FakeMRKID)
		m.MultiRegionConfiguration = &kmstypes.MultiRegionConfiguration{MultiRegionKeyType: kmstypes.MultiRegionKeyTypeReplica}
	})
	k.Described = true // the listing described it (a sweep with key-deletion, say)
	c := &guardrail.Call[kmsAPI]{API: h.kms, Region: fakekms.Region, Sweep: true}
	if _, relevant, err := l.FromListing(context.Background(), c, k); relevant || err != nil || len(h.kms.Calls) != 0 {
		t.Errorf("relevant %v, err %v, calls %v", relevant, err, h.kms.Calls)
	}
}

// A lazy sweep hands undescribed keys: the rotation status settles a key
// that rotates; only a key to fix, or one KMS refuses the status for, is
// described.
func TestFromListing_Lazy(t *testing.T) {
	for name, tt := range map[string]struct {
		state    kmstypes.KeyState
		on       bool
		relevant bool
		calls    []string
	}{
		"rotating":          {kmstypes.KeyStateEnabled, true, false, []string{"GetKeyRotationStatus"}},
		"not rotating":      {kmstypes.KeyStateEnabled, false, true, []string{"GetKeyRotationStatus", "DescribeKey"}},
		"disabled: refused": {kmstypes.KeyStateDisabled, false, false, []string{"GetKeyRotationStatus", "DescribeKey"}},
		"pending: refused":  {kmstypes.KeyStatePendingDeletion, false, false, []string{"GetKeyRotationStatus", "DescribeKey"}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(runconfig.ModeConfig{}, Settings{})
			fk := h.kms.AddKey(fixtures.FakeKeyID, tt.state, nil)
			fk.Rotation.Enabled, fk.Rotation.Period = tt.on, 365
			listed := kmskey.Key{Found: true, Meta: kmstypes.KeyMetadata{KeyId: fk.Meta.KeyId, Arn: fk.Meta.Arn}, TagsRead: true, Tags: map[string]string{}}
			l := newLogic(Settings{}).(*logic)
			st, relevant, err := l.FromListing(context.Background(), &guardrail.Call[kmsAPI]{API: h.kms, Region: fakekms.Region, Sweep: true}, listed)
			if err != nil || relevant != tt.relevant || !slices.Equal(h.kms.Calls, tt.calls) {
				t.Errorf("relevant %v, err %v, calls %v", relevant, err, h.kms.Calls)
			}
			if relevant && (!st.Target.Described || !st.Target.TagsRead) {
				t.Errorf("the key to fix is not described with its listed tags: %+v", st.Target)
			}
		})
	}
}
