package keydeletion_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/keydeletion"
	"github.com/kmsguard/kmsguard/internal/moto"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

const (
	region        = "eu-west-1"
	hubAccount    = sandbox.HubAccount
	memberAccount = fixtures.Account
)

var srv *moto.Server

func TestMain(m *testing.M) { moto.RunTests(m, &srv) }

type world struct {
	*sandbox.Hub
	t   *testing.T
	ctx context.Context
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	h, err := sandbox.NewHub(ctx, srv, region)
	if err != nil {
		t.Fatal(err)
	}
	return &world{Hub: h, t: t, ctx: ctx}
}

// pendingKey creates a key with an alias and schedules its deletion.
func (w *world) pendingKey(account, alias string, tags map[string]string) string {
	id, err := w.CreateKey(w.ctx, account, sandbox.KeySpec{Alias: alias, Description: "integration key", Tags: tags})
	if err != nil {
		w.t.Fatal(err)
	}
	c, err := w.KMS(w.ctx, account)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := c.ScheduleKeyDeletion(w.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) state(account, id string) kmstypes.KeyState {
	s, err := w.KeyState(w.ctx, account, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// deliver sends a fixture through moto's EventBridge and returns the one
// event the hub rules delivered.
func (w *world) deliver(raw []byte) []byte {
	events, err := w.Deliver(w.ctx, raw)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(events) != 1 {
		w.t.Fatalf("the hub rules delivered %d events, want 1", len(events))
	}
	return events[0]
}

func (w *world) alerts() []sandbox.Alert {
	a, err := w.Alerts(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

func (w *world) runner(configJSON string) *guardrail.Runner {
	h, err := bootstrap.Load(w.ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &w.Config, TopicARN: w.TopicARN, HubAccount: hubAccount, ConfigJSON: []byte(configJSON)})
	if err != nil {
		w.t.Fatal(err)
	}
	r, err := h.Runner(keydeletion.Spec().ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func TestIntegration_MemberAccountRemediated(t *testing.T) {
	w := newWorld(t)
	id := w.pendingKey(memberAccount, "alias/payments", map[string]string{"team": "payments"})
	if s := w.state(memberAccount, id); s != kmstypes.KeyStatePendingDeletion {
		t.Fatalf("setup: key is %s", s)
	}
	event := w.deliver(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, id, "", ""))
	r := w.runner("")

	out, err := r.Handle(w.ctx, event)
	if err != nil {
		t.Fatal(err)
	}
	if out.Action != "cancel-deletion,enable-key" || out.Account != memberAccount || out.Resource != "alias/payments" || !out.Alerted {
		t.Errorf("outcome %+v", out)
	}
	if s := w.state(memberAccount, id); s != kmstypes.KeyStateEnabled {
		t.Errorf("key is %s after remediation, want Enabled", s)
	}
	alerts := w.alerts()
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1", len(alerts))
	}
	a := alerts[0]
	// Every alert names the key by its alias, also when kmsguard fixed it,
	// and the actor.
	if want := "[kmsguard] CRITICAL key-deletion: alias/payments 111122223333 eu-west-1 by alice — cancelled"; a.Subject != want {
		t.Errorf("subject %q", a.Subject)
	}
	for k, want := range map[string]string{"severity": "CRITICAL", "guardrail": "key-deletion", "account": memberAccount, "region": region, "action": "cancel-deletion,enable-key"} {
		if got := a.Attributes[k]; got != want {
			t.Errorf("attribute %s = %q, want %q", k, got, want)
		}
	}
	if a.Text == "" || a.Form["event_id"] != out.EventID || a.Form["subject"] != a.Subject {
		t.Errorf("JSON form %v", a.Form)
	}

	// The same event again: the key is fine now, nothing to do or say.
	out, err = r.Handle(w.ctx, event)
	if err != nil || out.Action != guardrail.ActionNone || out.Alerted {
		t.Errorf("duplicate: %+v, %v", out, err)
	}
	if n := len(w.alerts()); n != 0 {
		t.Errorf("duplicate sent %d alerts", n)
	}
}

func TestIntegration_HubAccountAndAlertMode(t *testing.T) {
	w := newWorld(t)
	hubKey := w.pendingKey(hubAccount, "alias/hub-key", nil)
	memberKey := w.pendingKey(memberAccount, "alias/member-key", nil)
	cfg := `{"modes":{"accounts":{"111122223333":{"guardrails":{"key-deletion":"alert"}}}}}`
	r := w.runner(cfg)

	// Hub account: remediated with the hub's own credentials.
	out, err := r.Handle(w.ctx, w.deliver(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-id").Raw, hubKey, hubAccount, "")))
	if err != nil || out.Action != "cancel-deletion,enable-key" {
		t.Fatalf("hub key: %+v %v", out, err)
	}
	if s := w.state(hubAccount, hubKey); s != kmstypes.KeyStateEnabled {
		t.Errorf("hub key is %s", s)
	}
	// Member in alert mode: no write, the key stays pending deletion.
	out, err = r.Handle(w.ctx, w.deliver(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-id").Raw, memberKey, "", "")))
	if err != nil || out.Action != guardrail.ActionNone || out.Mode != guardrail.ModeAlert || !out.Alerted {
		t.Fatalf("member key: %+v %v", out, err)
	}
	if s := w.state(memberAccount, memberKey); s != kmstypes.KeyStatePendingDeletion {
		t.Errorf("alert mode changed the key: %s", s)
	}
	alerts := w.alerts()
	if len(alerts) != 2 {
		t.Fatalf("%d alerts, want 2", len(alerts))
	}
	if want := "[kmsguard] CRITICAL key-deletion: alias/member-key 111122223333 eu-west-1 by bob — NOT cancelled"; alerts[1].Subject != want {
		t.Errorf("subject %q", alerts[1].Subject)
	}
}

func TestIntegration_ExemptAndDisabled(t *testing.T) {
	w := newWorld(t)
	exempt := w.pendingKey(memberAccount, "alias/retired", map[string]string{"kmsguard:allow-deletion": "true"})
	r := w.runner("")
	out, err := r.Handle(w.ctx, w.deliver(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, exempt, "", "")))
	if err != nil || out.Action != guardrail.ActionNone || out.Severity != guardrail.SeverityInfo {
		t.Fatalf("exempt: %+v %v", out, err)
	}
	if s := w.state(memberAccount, exempt); s != kmstypes.KeyStatePendingDeletion {
		t.Errorf("exempt key is %s", s)
	}

	id, err := w.CreateKey(w.ctx, memberAccount, sandbox.KeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := w.KMS(w.ctx, memberAccount)
	if _, err := c.DisableKey(w.ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	out, err = r.Handle(w.ctx, w.deliver(fixtures.WithKey(fixtures.Get("key-deletion/disable-key").Raw, id, "", "")))
	if err != nil || out.Severity != guardrail.SeverityWarning || !out.Alerted {
		t.Fatalf("disabled: %+v %v", out, err)
	}
	if s := w.state(memberAccount, id); s != kmstypes.KeyStateDisabled {
		t.Errorf("kmsguard must not re-enable a disabled key; it is %s", s)
	}
	if n := len(w.alerts()); n != 2 {
		t.Errorf("%d alerts, want 2", n)
	}
}

// kmsguard's own remediator session never schedules deletions, and a
// member role named like a hub role is not kmsguard: neither hides a
// deletion. Both cross the spoke (rules rendered for the member account),
// reach the hub rule and are cancelled.
func TestIntegration_OwnNamesHideNothing(t *testing.T) {
	for _, name := range []string{"key-deletion/schedule-key-deletion-by-remediator", "key-deletion/schedule-key-deletion-by-lookalike-role"} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			id := w.pendingKey(memberAccount, "alias/x", nil)
			raw := fixtures.WithKey(fixtures.Get(name).Raw, id, "", "")
			events, err := w.Deliver(w.ctx, raw)
			if err != nil || len(events) != 1 {
				t.Fatalf("the rules delivered %d events (%v)", len(events), err)
			}
			out, err := w.runner("").Handle(w.ctx, events[0])
			if err != nil || out.Action != "cancel-deletion,enable-key" || !out.Alerted {
				t.Errorf("%+v %v", out, err)
			}
			if s := w.state(memberAccount, id); s != kmstypes.KeyStateEnabled {
				t.Errorf("key is %s", s)
			}
		})
	}
}

// Multi-Region keys on the emulator (the launcher makes moto behave as
// KMS does): a primary scheduled while it has replicas is
// PendingReplicaDeletion, is cancelled, and its alert lists every replica
// Region and state; a replica scheduled for deletion is cancelled like any
// key, in its own Region.
func TestIntegration_MultiRegion(t *testing.T) {
	w := newWorld(t)
	c, err := w.KMS(w.ctx, memberAccount)
	if err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateKey(w.ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), Description: aws.String("global ledger")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(created.KeyMetadata.KeyId)
	for _, r := range []string{"us-east-1", "ap-southeast-2"} {
		if _, err := c.ReplicateKey(w.ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String(r)}); err != nil {
			t.Fatal(err)
		}
	}
	replica := func(r string) *kms.Client {
		cfg, err := w.Server.AccountConfig(w.ctx, memberAccount, r)
		if err != nil {
			t.Fatal(err)
		}
		return kms.NewFromConfig(cfg)
	}
	// One replica is on its way out too.
	if _, err := replica("ap-southeast-2").ScheduleKeyDeletion(w.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	sched, err := c.ScheduleKeyDeletion(w.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	if err != nil || sched.KeyState != kmstypes.KeyStatePendingReplicaDeletion || sched.DeletionDate != nil {
		t.Fatalf("schedule: %+v %v", sched, err)
	}
	r := w.runner("")
	out, err := r.Handle(w.ctx, w.deliver(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-id").Raw, id, "", "")))
	if err != nil || out.Action != "cancel-deletion,enable-key" {
		t.Fatalf("primary: %+v %v", out, err)
	}
	if s := w.state(memberAccount, id); s != kmstypes.KeyStateEnabled {
		t.Errorf("primary is %s", s)
	}
	alerts := w.alerts()
	if len(alerts) != 1 {
		t.Fatalf("%d alerts", len(alerts))
	}
	for _, want := range []string{"Replicas\n", "us-east-1: Enabled", "ap-southeast-2: PendingDeletion, deletes on", "aws kms cancel-key-deletion --key-id arn:aws:kms:ap-southeast-2:"} {
		if !strings.Contains(alerts[0].Text, want) {
			t.Errorf("the primary's alert lacks %q:\n%s", want, alerts[0].Text)
		}
	}

	// The replica's own event, in its Region: cancelled like any key.
	ev := fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-id").Raw, id, "", "ap-southeast-2")
	out, err = r.Handle(w.ctx, ev)
	if err != nil || out.Action != "cancel-deletion,enable-key" || out.Region != "ap-southeast-2" {
		t.Fatalf("replica: %+v %v", out, err)
	}
	d, err := replica("ap-southeast-2").DescribeKey(w.ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil || d.KeyMetadata.KeyState != kmstypes.KeyStateEnabled || d.KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType != kmstypes.MultiRegionKeyTypeReplica {
		t.Errorf("replica after: %+v %v", d.KeyMetadata, err)
	}
	p, _ := c.DescribeKey(w.ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if p.KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType != kmstypes.MultiRegionKeyTypePrimary {
		t.Errorf("the primary turned into %s", p.KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType)
	}
}
