package keydeletion_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/hub"
	"github.com/kmsguard/kmsguard/internal/moto"
)

const (
	region        = "eu-west-1"
	hubAccount    = moto.DefaultAccount
	memberAccount = fixtures.Account
)

var srv *moto.Server

func TestMain(m *testing.M) {
	var err error
	srv, err = moto.Start(context.Background())
	if err != nil {
		println("integration tests need the moto server:", err.Error())
		os.Exit(1)
	}
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}

// world is a hub (topic, alert queue, event rule to a queue) and a member
// account, both in moto.
type world struct {
	t          *testing.T
	ctx        context.Context
	hubCfg     aws.Config
	alertQueue string
	eventQueue string
	topicARN   string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg, err := srv.Config(ctx, region)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, hubCfg: cfg}
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("kmsguard-alerts")})
	if err != nil {
		t.Fatal(err)
	}
	w.topicARN = *topic.TopicArn
	w.alertQueue = w.queue("alerts")
	if _, err := sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(w.queueARN(w.alertQueue))}); err != nil {
		t.Fatal(err)
	}
	// The hub bus delivers through the real pattern, as in production.
	w.eventQueue = w.queue("events")
	eb := eventbridge.NewFromConfig(cfg)
	for _, r := range patterns.ForGuardrail(patterns.KeyDeletion) {
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(r.Name), EventPattern: aws.String(r.Pattern.JSON())}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(r.Name), Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(w.queueARN(w.eventQueue))}}}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) queue(name string) string {
	q, err := sqs.NewFromConfig(w.hubCfg).CreateQueue(w.ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		w.t.Fatal(err)
	}
	return *q.QueueUrl
}

func (w *world) queueARN(url string) string {
	a, err := sqs.NewFromConfig(w.hubCfg).GetQueueAttributes(w.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		w.t.Fatal(err)
	}
	return a.Attributes["QueueArn"]
}

func (w *world) drain(url string) []sqstypes.Message {
	out, err := sqs.NewFromConfig(w.hubCfg).ReceiveMessage(w.ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, m := range out.Messages {
		if _, err := sqs.NewFromConfig(w.hubCfg).DeleteMessage(w.ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			w.t.Fatal(err)
		}
	}
	return out.Messages
}

// kmsIn returns a KMS client acting in account (via sts:AssumeRole).
func (w *world) kmsIn(account string) *kms.Client {
	cfg, err := srv.AccountConfig(w.ctx, account, region)
	if err != nil {
		w.t.Fatal(err)
	}
	return kms.NewFromConfig(cfg)
}

// pendingKey creates a key with an alias and schedules its deletion.
func (w *world) pendingKey(account, alias string, tags ...kmstypes.Tag) string {
	k := w.kmsIn(account)
	key, err := k.CreateKey(w.ctx, &kms.CreateKeyInput{Description: aws.String("integration key"), Tags: tags})
	if err != nil {
		w.t.Fatal(err)
	}
	id := *key.KeyMetadata.KeyId
	if _, err := k.CreateAlias(w.ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(id)}); err != nil {
		w.t.Fatal(err)
	}
	if _, err := k.ScheduleKeyDeletion(w.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) state(account, id string) kmstypes.KeyState {
	d, err := w.kmsIn(account).DescribeKey(w.ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		w.t.Fatal(err)
	}
	return d.KeyMetadata.KeyState
}

// deliver sends a fixture through moto's EventBridge and returns what the
// hub rule delivered (the Lambda's input).
func (w *world) deliver(raw []byte) []byte {
	var env cloudtrail.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		w.t.Fatal(err)
	}
	out, err := eventbridge.NewFromConfig(w.hubCfg).PutEvents(w.ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String(env.Source), DetailType: aws.String(env.DetailType), Detail: aws.String(string(env.Detail)), Resources: env.Resources,
	}}})
	if err != nil || out.FailedEntryCount != 0 {
		w.t.Fatalf("PutEvents: %v", err)
	}
	msgs := w.drain(w.eventQueue)
	if len(msgs) != 1 {
		w.t.Fatalf("the hub rule delivered %d events, want 1", len(msgs))
	}
	return []byte(*msgs[0].Body)
}

func (w *world) runner(configJSON string) *guardrail.Runner {
	h, err := hub.Load(w.ctx, hub.Options{Log: slog.New(slog.DiscardHandler), AWS: &w.hubCfg, TopicARN: w.topicARN, HubAccount: hubAccount, ConfigJSON: []byte(configJSON)})
	if err != nil {
		w.t.Fatal(err)
	}
	r, err := h.Runner(patterns.KeyDeletion)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// snsEnvelope is what SNS writes into an SQS queue.
type snsEnvelope struct {
	Subject           string
	Message           string
	MessageAttributes map[string]struct{ Type, Value string }
}

func (w *world) alerts() []snsEnvelope {
	var out []snsEnvelope
	for _, m := range w.drain(w.alertQueue) {
		var e snsEnvelope
		if err := json.Unmarshal([]byte(*m.Body), &e); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestIntegration_MemberAccountRemediated(t *testing.T) {
	w := newWorld(t)
	id := w.pendingKey(memberAccount, "alias/payments", kmstypes.Tag{TagKey: aws.String("team"), TagValue: aws.String("payments")})
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
	if a.Subject != "[kmsguard] CRITICAL key-deletion: alias/payments 111122223333 eu-west-1 — cancelled" {
		t.Errorf("subject %q", a.Subject)
	}
	for k, want := range map[string]string{"severity": "CRITICAL", "guardrail": "key-deletion", "account": memberAccount, "region": region, "action": "cancel-deletion,enable-key"} {
		if got := a.MessageAttributes[k].Value; got != want {
			t.Errorf("attribute %s = %q, want %q", k, got, want)
		}
	}
	var form map[string]any
	if err := json.Unmarshal([]byte(a.Message), &form); err != nil {
		t.Fatalf("SQS subscribers get the JSON form: %v", err)
	}
	if form["text"] == "" || form["event_id"] != out.EventID {
		t.Errorf("JSON form %v", form)
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
	hubKey := w.pendingKey(hubAccount, "alias/hub-key")
	memberKey := w.pendingKey(memberAccount, "alias/member-key")
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
	if len(alerts) != 2 || alerts[1].MessageAttributes["severity"].Value != "CRITICAL" {
		t.Fatalf("alerts: %+v", alerts)
	}
	if want := "[kmsguard] CRITICAL key-deletion: alias/member-key 111122223333 eu-west-1 — NOT cancelled"; alerts[1].Subject != want {
		t.Errorf("subject %q", alerts[1].Subject)
	}
}

func TestIntegration_ExemptAndDisabled(t *testing.T) {
	w := newWorld(t)
	exempt := w.pendingKey(memberAccount, "alias/retired", kmstypes.Tag{TagKey: aws.String("kmsguard:allow-deletion"), TagValue: aws.String("true")})
	r := w.runner("")
	out, err := r.Handle(w.ctx, w.deliver(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, exempt, "", "")))
	if err != nil || out.Action != guardrail.ActionNone || out.Severity != guardrail.SeverityInfo {
		t.Fatalf("exempt: %+v %v", out, err)
	}
	if s := w.state(memberAccount, exempt); s != kmstypes.KeyStatePendingDeletion {
		t.Errorf("exempt key is %s", s)
	}

	k := w.kmsIn(memberAccount)
	key, err := k.CreateKey(w.ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.DisableKey(w.ctx, &kms.DisableKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	out, err = r.Handle(w.ctx, w.deliver(fixtures.WithKey(fixtures.Get("key-deletion/disable-key").Raw, *key.KeyMetadata.KeyId, "", "")))
	if err != nil || out.Severity != guardrail.SeverityWarning || !out.Alerted {
		t.Fatalf("disabled: %+v %v", out, err)
	}
	if s := w.state(memberAccount, *key.KeyMetadata.KeyId); s != kmstypes.KeyStateDisabled {
		t.Errorf("kmsguard must not re-enable a disabled key; it is %s", s)
	}
	if n := len(w.alerts()); n != 2 {
		t.Errorf("%d alerts, want 2", n)
	}
}

func TestIntegration_RemediatorEventIgnored(t *testing.T) {
	w := newWorld(t)
	id := w.pendingKey(memberAccount, "alias/x")
	raw := fixtures.WithKey(fixtures.Get("none/schedule-key-deletion-by-remediator").Raw, id, "", "")
	// The pattern drops it ...
	var env cloudtrail.Envelope
	_ = json.Unmarshal(raw, &env)
	if _, err := eventbridge.NewFromConfig(w.hubCfg).PutEvents(w.ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String(env.Source), DetailType: aws.String(env.DetailType), Detail: aws.String(string(env.Detail))}}}); err != nil {
		t.Fatal(err)
	}
	if n := len(w.drain(w.eventQueue)); n != 0 {
		t.Errorf("the hub rule delivered a remediator event")
	}
	// ... and the handler ignores it if it arrives anyway.
	out, err := w.runner("").Handle(w.ctx, raw)
	if err != nil || out.Action != guardrail.ActionNone || out.Alerted {
		t.Errorf("%+v %v", out, err)
	}
	if s := w.state(memberAccount, id); s != kmstypes.KeyStatePendingDeletion {
		t.Errorf("key is %s", s)
	}
}
