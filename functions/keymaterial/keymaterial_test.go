package keymaterial

import (
	"context"
	"encoding/json"
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
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

// now is the time of the events in the decide tables.
var now = time.Date(2026, 3, 22, 9, 0, 0, 0, time.UTC)

func key(state kmstypes.KeyState, mut func(*kmstypes.KeyMetadata)) kmskey.Key {
	m := kmstypes.KeyMetadata{KeyId: aws.String(fixtures.FakeKeyID), KeyState: state, KeyManager: kmstypes.KeyManagerTypeCustomer,
		KeySpec: kmstypes.KeySpecSymmetricDefault, Origin: kmstypes.OriginTypeExternal}
	if mut != nil {
		mut(&m)
	}
	return kmskey.Key{Found: true, Described: true, Meta: m}
}

// expires sets the material to expire after d.
func expires(d time.Duration) func(*kmstypes.KeyMetadata) {
	return func(m *kmstypes.KeyMetadata) {
		m.ExpirationModel, m.ValidTo = kmstypes.ExpirationModelTypeKeyMaterialExpires, aws.Time(now.Add(d))
	}
}

// event is an event of the given name at now; requestParameters as given.
func event(name, params string) *cloudtrail.Event {
	if name == EventExpired {
		return &cloudtrail.Event{Envelope: cloudtrail.Envelope{DetailType: EventExpired, Time: now}}
	}
	return &cloudtrail.Event{Envelope: cloudtrail.Envelope{DetailType: cloudtrail.DetailTypeAPICall},
		Record: &cloudtrail.Record{EventName: name, EventTime: now, RequestParameters: json.RawMessage(params),
			UserIdentity: cloudtrail.UserIdentity{Type: "IAMUser", UserName: "alice", ARN: "arn:aws:iam::111122223333:user/alice"}}}
}

func TestDecide(t *testing.T) {
	day := 24 * time.Hour
	pi, en := kmstypes.KeyStatePendingImport, kmstypes.KeyStateEnabled
	sweep := func() *cloudtrail.Event {
		return guardrail.SweepEvent(fixtures.Account, "eu-west-1", "kms.amazonaws.com", EventImport, "k", now)
	}
	tests := []struct {
		name     string
		ev       *cloudtrail.Event
		key      kmskey.Key
		horizon  int
		want     guardrail.Kind
		severity guardrail.Severity
		reason   string
	}{
		{"gone", event(EventDelete, `{}`), kmskey.Key{}, 30, guardrail.Ignore, "", "does not exist"},
		{"AWS managed", event(EventImport, `{}`), key(en, func(m *kmstypes.KeyMetadata) { m.KeyManager = kmstypes.KeyManagerTypeAws }), 30, guardrail.Ignore, "", "AWS managed"},
		{"KMS generated material", event(EventDelete, `{}`), key(en, func(m *kmstypes.KeyMetadata) { m.Origin = kmstypes.OriginTypeAwsKms }), 30, guardrail.Ignore, "", "origin AWS_KMS"},

		// DeleteImportedKeyMaterial: the key's state now says what it did.
		{"deleted: PendingImport", event(EventDelete, `{"keyId":"k"}`), key(pi, nil), 30, guardrail.Notify, guardrail.SeverityCritical, "the same key material is imported again"},
		{"deleted on a key pending deletion", event(EventDelete, `{"keyId":"k"}`), key(kmstypes.KeyStatePendingDeletion, nil), 30, guardrail.Notify, guardrail.SeverityHigh, "cancelling the deletion now leaves it without material"},
		{"deleted a non-current material", event(EventDelete, `{"keyId":"k","keyMaterialId":"aaa"}`), key(en, func(m *kmstypes.KeyMetadata) { m.CurrentKeyMaterialId = aws.String("bbb") }), 30, guardrail.Notify, guardrail.SeverityHigh, "not the key's current material"},
		{"deleted, re-imported since", event(EventDelete, `{"keyId":"k"}`), key(en, nil), 30, guardrail.Notify, guardrail.SeverityWarning, "imported again since"},
		{"deleted the current material, re-imported since", event(EventDelete, `{"keyId":"k","keyMaterialId":"bbb"}`), key(en, func(m *kmstypes.KeyMetadata) { m.CurrentKeyMaterialId = aws.String("bbb") }), 30, guardrail.Notify, guardrail.SeverityWarning, "imported again since"},
		{"deleted, requestParameters not an object", event(EventDelete, `[1]`), key(pi, nil), 30, guardrail.Notify, guardrail.SeverityCritical, "PendingImport"},

		// ImportKeyMaterial: the expiry DescribeKey reports, not the event's.
		{"import, expires in 10 days", event(EventImport, `{}`), key(en, expires(10*day)), 30, guardrail.Notify, guardrail.SeverityHigh, "in 10 days (within the horizon of 30 days)"},
		{"import, expires in 10 days, horizon 7", event(EventImport, `{}`), key(en, expires(10*day)), 7, guardrail.Ignore, "", "beyond the horizon of 7 days"},
		{"import, expires exactly at the horizon", event(EventImport, `{}`), key(en, expires(30*day)), 30, guardrail.Notify, guardrail.SeverityHigh, "in 30 days"},
		{"import, expires in 31 days", event(EventImport, `{}`), key(en, expires(31*day)), 30, guardrail.Ignore, "", "beyond the horizon"},
		{"import, expires in hours", event(EventImport, `{}`), key(en, expires(5*time.Hour)), 30, guardrail.Notify, guardrail.SeverityHigh, "less than a day"},
		{"import, already expired", event(EventImport, `{}`), key(en, expires(-time.Minute)), 30, guardrail.Notify, guardrail.SeverityHigh, "KMS deletes it any moment"},
		{"import, does not expire", event(EventImport, `{"expirationModel":"KEY_MATERIAL_EXPIRES"}`), key(en, func(m *kmstypes.KeyMetadata) {
			m.ExpirationModel = kmstypes.ExpirationModelTypeKeyMaterialDoesNotExpire
		}), 30, guardrail.Ignore, "", "does not expire"},
		{"import, expiry model without a date", event(EventImport, `{}`), key(en, func(m *kmstypes.KeyMetadata) {
			m.ExpirationModel = kmstypes.ExpirationModelTypeKeyMaterialExpires
		}), 30, guardrail.Ignore, "", "does not expire"},
		{"import, material gone again since", event(EventImport, `{}`), key(pi, nil), 30, guardrail.Ignore, "", "has its own alert"},
		{"import on a disabled key, expires soon", event(EventImport, `{}`), key(kmstypes.KeyStateDisabled, expires(2*day)), 30, guardrail.Notify, guardrail.SeverityHigh, "in 2 days"},

		// KMS's native event after it deleted expired material.
		{"expired: PendingImport", event(EventExpired, ""), key(pi, nil), 30, guardrail.Notify, guardrail.SeverityCritical, "expired and KMS deleted it"},
		{"expired, re-imported since", event(EventExpired, ""), key(en, expires(100*day)), 30, guardrail.Ignore, "", "imported again after it expired"},

		// The sweep: keys without material, and material expiring soon.
		{"sweep: PendingImport", sweep(), key(pi, nil), 30, guardrail.Notify, guardrail.SeverityHigh, "no key material (PendingImport)"},
		{"sweep: expires in 20 days", sweep(), key(en, expires(20*day)), 30, guardrail.Notify, guardrail.SeverityHigh, "2026-04-11T09:00:00Z, in 20 days"},
		{"sweep: expires in 90 days", sweep(), key(en, expires(90*day)), 30, guardrail.Ignore, "", "beyond the horizon"},
		{"sweep: does not expire", sweep(), key(en, nil), 30, guardrail.Ignore, "", "does not expire"},

		{"another event", event("DisableKey", `{}`), key(en, nil), 30, guardrail.Ignore, "", "not handled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(Input{Event: tt.ev, Mode: guardrail.ModeRemediate, State: State{Key: tt.key}, Sweep: tt.ev.Record != nil && tt.ev.Record.EventType == "kmsguard-sweep"}, tt.horizon)
			if d.Kind != tt.want || d.Severity != tt.severity || !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("decide = %v/%s %q, want %v/%s containing %q", d.Kind, d.Severity, d.Reason, tt.want, tt.severity, tt.reason)
			}
			if d.Kind == guardrail.Remediate {
				t.Error("key-material never remediates")
			}
			if d.Kind == guardrail.Notify && d.Verdict == "" {
				t.Error("an alert without a verdict")
			}
		})
	}
}

// The mode changes nothing: every decision is the same in alert and
// remediate mode.
func TestDecide_ModeChangesNothing(t *testing.T) {
	for _, ev := range []*cloudtrail.Event{event(EventDelete, `{}`), event(EventImport, `{}`), event(EventExpired, "")} {
		for _, k := range []kmskey.Key{key(kmstypes.KeyStatePendingImport, nil), key(kmstypes.KeyStateEnabled, expires(time.Hour))} {
			a := decide(Input{Event: ev, Mode: guardrail.ModeAlert, State: State{Key: k}}, 30)
			r := decide(Input{Event: ev, Mode: guardrail.ModeRemediate, State: State{Key: k}}, 30)
			if a.Kind != r.Kind || a.Severity != r.Severity || a.Reason != r.Reason {
				t.Errorf("%s on %s: alert %+v, remediate %+v", ev.Name(), k.Meta.KeyState, a, r)
			}
		}
	}
}

func TestParseSettings(t *testing.T) {
	s, err := ParseSettings([]byte(`{"expiry_horizon_days":7}`))
	if err != nil || s.horizon() != 7 {
		t.Fatalf("%+v %v", s, err)
	}
	if s, _ := ParseSettings(nil); s.horizon() != DefaultHorizonDays {
		t.Errorf("default horizon %d", s.horizon())
	}
	for _, bad := range []string{`{"expiry_horizon_days":-1}`, `{"expiry_horizon_days":366}`, `{"expiry_horizon_days":"30"}`, `{"horizon":30}`} {
		_, err := ParseSettings([]byte(bad))
		if err == nil || !strings.Contains(err.Error(), "guardrails.key-material") {
			t.Errorf("%s: %v", bad, err)
		}
		if strings.Contains(bad, "expiry_horizon_days\":-") || strings.Contains(bad, "366") {
			if !strings.Contains(err.Error(), "guardrails.key-material.expiry_horizon_days") {
				t.Errorf("%s: the error does not name the field: %v", bad, err)
			}
		}
	}
}

// The spec is alert-only: reads only, default mode alert.
func TestSpec_AlertOnly(t *testing.T) {
	s := Spec()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if !s.AlertOnly() || s.DefaultMode != guardrail.ModeAlert {
		t.Errorf("writes %v, default mode %s", s.Writes(), s.DefaultMode)
	}
}

type harness struct {
	kms    *fakekms.KMS
	alerts *alerttest.Recorder
	runner *guardrail.Runner
}

func newHarness(modes guardrail.ModeLookup, s Settings) *harness {
	h := &harness{kms: fakekms.New(), alerts: &alerttest.Recorder{}}
	clients := &fakekms.Clients[kmsAPI]{API: h.kms}
	h.runner = guardrail.NewRunner(guardrail.NewDriver(Spec(), newLogic(s), clients, modes, "123456789012", s.ExemptionTag), h.alerts, nil)
	return h
}

// externalKey adds the fixtures' key with imported material in state.
func externalKey(f *fakekms.KMS, state kmstypes.KeyState, validTo *time.Time, tags map[string]string) *fakekms.Key {
	k := f.AddKey(fixtures.FakeKeyID, state, tags, "alias/hsm-payments")
	k.Meta.Origin = kmstypes.OriginTypeExternal
	k.Meta.Description = aws.String("payments key, material from the on-premises HSM")
	if validTo != nil {
		k.Meta.ExpirationModel, k.Meta.ValidTo = kmstypes.ExpirationModelTypeKeyMaterialExpires, validTo
	}
	return k
}

// Every positive fixture: the state AWS leaves the key in after the event,
// the fake KMS, the expected verdict and its golden alert. Nothing is
// ever written.
func TestHandle_Fixtures(t *testing.T) {
	scenarios := map[string]struct {
		setup    func(*fakekms.KMS)
		severity guardrail.Severity
		verdict  string
	}{
		"key-material/delete-imported-key-material": {
			setup: func(f *fakekms.KMS) {
				externalKey(f, kmstypes.KeyStatePendingImport, nil, map[string]string{"team": "payments"})
			},
			severity: guardrail.SeverityCritical, verdict: VerdictDeleted,
		},
		"key-material/import-key-material-expiring": {
			setup: func(f *fakekms.KMS) {
				externalKey(f, kmstypes.KeyStateEnabled, aws.Time(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)), map[string]string{"team": "payments"})
			},
			severity: guardrail.SeverityHigh, verdict: "expires 2026-04-01",
		},
		"key-material/kms-imported-key-material-expiration": {
			setup:    func(f *fakekms.KMS) { externalKey(f, kmstypes.KeyStatePendingImport, nil, nil) },
			severity: guardrail.SeverityCritical, verdict: VerdictExpired,
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
			if err != nil || out.Action != guardrail.ActionNone || len(h.kms.Writes()) != 0 || out.Severity != sc.severity {
				t.Fatalf("outcome %+v, writes %v, err %v", out, h.kms.Writes(), err)
			}
			if len(h.alerts.Msgs) != 1 {
				t.Fatalf("%d alerts", len(h.alerts.Msgs))
			}
			m := h.alerts.Msgs[0]
			if m.Verdict != sc.verdict {
				t.Errorf("verdict %q, want %q", m.Verdict, sc.verdict)
			}
			alerttest.Check(t, m)
			alerttest.Golden(t, filepath.Base(f.Name), m)
		})
	}
}

func TestHandle_Cases(t *testing.T) {
	del := fixtures.Get("key-material/delete-imported-key-material").Raw
	imp := fixtures.Get("key-material/import-key-material-expiring").Raw
	tests := []struct {
		name     string
		raw      []byte
		settings Settings
		setup    func(*fakekms.KMS)
		wantErr  bool
		alerts   int
		severity guardrail.Severity
		verdict  string
		todo     string
	}{
		{"deleted: the alert says how to re-import and who used the key", del, Settings{}, func(f *fakekms.KMS) { externalKey(f, kmstypes.KeyStatePendingImport, nil, nil) },
			false, 1, guardrail.SeverityCritical, VerdictDeleted, "aws kms import-key-material --key-id"},
		{"exempt key: INFO, the deletion was allowed", del, Settings{}, func(f *fakekms.KMS) {
			externalKey(f, kmstypes.KeyStatePendingImport, nil, map[string]string{ExemptionTag: "true"})
		}, false, 1, guardrail.SeverityInfo, "material loss allowed", "aws kms untag-resource"},
		{"a configured exemption tag", del, Settings{Common: guardrail.Common{ExemptionTag: "kmsguard:shred-ok"}}, func(f *fakekms.KMS) {
			externalKey(f, kmstypes.KeyStatePendingImport, nil, map[string]string{"kmsguard:shred-ok": "TRUE", ExemptionTag: "false"})
		}, false, 1, guardrail.SeverityInfo, "material loss allowed", "--tag-keys kmsguard:shred-ok"},
		{"re-imported since: WARNING", del, Settings{}, func(f *fakekms.KMS) { externalKey(f, kmstypes.KeyStateEnabled, nil, nil) },
			false, 1, guardrail.SeverityWarning, VerdictReimportedSince, "aws cloudtrail lookup-events"},
		{"import beyond a short horizon: nothing", imp, Settings{ExpiryHorizonDays: 7}, func(f *fakekms.KMS) {
			externalKey(f, kmstypes.KeyStateEnabled, aws.Time(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)), nil)
		}, false, 0, "", "", ""},
		{"import that does not expire: nothing", imp, Settings{}, func(f *fakekms.KMS) { externalKey(f, kmstypes.KeyStateEnabled, nil, nil) },
			false, 0, "", "", ""},
		{"import expiring soon: how to extend it", imp, Settings{}, func(f *fakekms.KMS) {
			externalKey(f, kmstypes.KeyStateEnabled, aws.Time(time.Date(2026, 3, 25, 9, 0, 0, 0, time.UTC)), nil)
		}, false, 1, guardrail.SeverityHigh, "expires 2026-03-25", "aws kms delete-imported-key-material --key-id"},
		{"key gone: nothing", del, Settings{}, func(*fakekms.KMS) {}, false, 0, "", "", ""},
		{"describe throttled: retryable error and check FAILED", del, Settings{}, func(f *fakekms.KMS) {
			externalKey(f, kmstypes.KeyStatePendingImport, nil, nil)
			f.Fail["DescribeKey"] = []error{fakekms.Throttle()}
		}, true, 1, guardrail.SeverityHigh, guardrail.VerdictCheckFailed, "aws kms describe-key"},
		{"tags unreadable: retryable error and check FAILED", del, Settings{}, func(f *fakekms.KMS) {
			externalKey(f, kmstypes.KeyStatePendingImport, nil, nil)
			f.Fail["ListResourceTags"] = []error{fakekms.Throttle()}
		}, true, 1, guardrail.SeverityHigh, guardrail.VerdictCheckFailed, "aws kms describe-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(runconfig.ModeConfig{}, tt.settings)
			tt.setup(h.kms)
			out, err := h.runner.Handle(context.Background(), tt.raw)
			if (err != nil) != tt.wantErr || (err != nil && guardrail.IsTerminal(err)) {
				t.Fatalf("err %v", err)
			}
			if out.Action != guardrail.ActionNone || len(h.kms.Writes()) != 0 || len(h.alerts.Msgs) != tt.alerts || out.Severity != tt.severity {
				t.Fatalf("outcome %+v writes %v alerts %d", out, h.kms.Writes(), len(h.alerts.Msgs))
			}
			alerttest.CallsAllowed(t, Spec(), "kms", h.kms.Calls)
			if tt.alerts == 0 {
				return
			}
			m := h.alerts.Msgs[0]
			alerttest.Check(t, m)
			if m.Verdict != tt.verdict {
				t.Errorf("verdict %q, want %q", m.Verdict, tt.verdict)
			}
			_, todo, ok := strings.Cut(m.Text(), "\nWhat you can do\n")
			if todo, _, _ = strings.Cut(todo, "\n\n"); !ok || !strings.Contains(todo, tt.todo) {
				t.Errorf("\"What you can do\" lacks %q:\n%s", tt.todo, m.Text())
			}
		})
	}
}

// The sweep hands key-material only keys whose material was imported; every
// other key is skipped without a call, and a listed key needs no read.
func TestFromListing(t *testing.T) {
	l := newLogic(Settings{}).(*logic)
	f := fakekms.New()
	c := &guardrail.Call[kmsAPI]{API: f, Sweep: true}
	for _, tt := range []struct {
		name     string
		key      any
		relevant bool
	}{
		{"KMS generated", key(kmstypes.KeyStateEnabled, func(m *kmstypes.KeyMetadata) { m.Origin = kmstypes.OriginTypeAwsKms }), false},
		{"CloudHSM key store", key(kmstypes.KeyStateEnabled, func(m *kmstypes.KeyMetadata) { m.Origin = kmstypes.OriginTypeAwsCloudhsm }), false},
		{"AWS managed", key(kmstypes.KeyStateEnabled, func(m *kmstypes.KeyMetadata) { m.KeyManager = kmstypes.KeyManagerTypeAws }), false},
		{"imported, PendingImport", key(kmstypes.KeyStatePendingImport, nil), true},
		{"imported, expiring", key(kmstypes.KeyStateEnabled, expires(time.Hour)), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, relevant, err := l.FromListing(context.Background(), c, tt.key)
			if err != nil || relevant != tt.relevant {
				t.Errorf("relevant %v, want %v (%v)", relevant, tt.relevant, err)
			}
		})
	}
	if len(f.Calls) != 0 {
		t.Errorf("listed keys were read again: %v", f.Calls)
	}
	if _, _, err := l.FromListing(context.Background(), c, "not a key"); err == nil {
		t.Error("a listing of another kind was accepted")
	}
}

// A native event names its key in detail.key-id or resources; a key ARN of
// another account is refused.
func TestTarget_NativeEvent(t *testing.T) {
	l := newLogic(Settings{})
	ev, err := cloudtrail.Parse(fixtures.Get("key-material/kms-imported-key-material-expiration").Raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l.Target(ev); err != nil || got != fixtures.FakeKeyID {
		t.Errorf("target %q %v", got, err)
	}
	ev.NativeKeyID = ""
	if got, err := l.Target(ev); err != nil || got != fixtures.FakeKeyID {
		t.Errorf("from resources: %q %v", got, err)
	}
	ev.Resources = []string{"arn:aws:kms:eu-west-1:999988887777:key/" + fixtures.FakeKeyID}
	if _, err := l.Target(ev); err == nil || !guardrail.IsTerminal(err) {
		t.Errorf("another account's key: %v", err)
	}
	ev.Resources = nil
	if _, err := l.Target(ev); err == nil || !guardrail.IsTerminal(err) {
		t.Errorf("no key: %v", err)
	}
}
