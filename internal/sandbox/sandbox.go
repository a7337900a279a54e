// Package sandbox stages a kmsguard hub and member accounts in a moto server:
// the alert topic with a queue standing in for the email inbox, the hub rules
// (rendered from events/patterns) delivering to a queue standing in for the
// Lambda trigger, and KMS clients for any account. The integration tests and
// `kmsguard demo` share it.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/internal/moto"
)

// HubAccount is the account the sandbox hub lives in (moto's default).
const HubAccount = moto.DefaultAccount

// Hub is the staged hub.
type Hub struct {
	Server   *moto.Server
	Region   string
	Config   aws.Config
	TopicARN string

	inbox, trigger          string
	forwarded, forwardedARN string
	// forwardFor is the account the forwarding rules are rendered for.
	forwardFor string
	sqs        *sqs.Client
	eb         *eventbridge.Client
}

// hubBus is the sandbox's hub bus.
const hubBus = "kmsguard"

// rule puts a rule with one SQS target on bus ("" for the default bus).
func (h *Hub) rule(ctx context.Context, bus, name string, p patterns.Pattern, queueARN string) error {
	in := &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(p.JSON())}
	tin := &eventbridge.PutTargetsInput{Rule: aws.String(name), Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(queueARN)}}}
	if bus != "" {
		in.EventBusName, tin.EventBusName = aws.String(bus), aws.String(bus)
	}
	if _, err := h.eb.PutRule(ctx, in); err != nil {
		return fmt.Errorf("put rule %s: %w", name, err)
	}
	if _, err := h.eb.PutTargets(ctx, tin); err != nil {
		return fmt.Errorf("put target %s: %w", name, err)
	}
	return nil
}

// NewHub resets the server and stages the hub: topic, inbox queue
// subscribed to it, and one rule per guardrail trigger delivering to the
// trigger queue.
func NewHub(ctx context.Context, srv *moto.Server, region string) (*Hub, error) {
	if err := srv.Reset(); err != nil {
		return nil, err
	}
	cfg, err := srv.Config(ctx, region)
	if err != nil {
		return nil, err
	}
	h := &Hub{Server: srv, Region: region, Config: cfg, sqs: sqs.NewFromConfig(cfg), eb: eventbridge.NewFromConfig(cfg)}
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("kmsguard-alerts")})
	if err != nil {
		return nil, fmt.Errorf("create topic: %w", err)
	}
	h.TopicARN = aws.ToString(topic.TopicArn)
	if h.inbox, err = h.queue(ctx, "inbox"); err != nil {
		return nil, err
	}
	inboxARN, err := h.queueARN(ctx, h.inbox)
	if err != nil {
		return nil, err
	}
	if _, err := sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(inboxARN)}); err != nil {
		return nil, fmt.Errorf("subscribe inbox: %w", err)
	}
	if h.trigger, err = h.queue(ctx, "trigger"); err != nil {
		return nil, err
	}
	triggerARN, err := h.queueARN(ctx, h.trigger)
	if err != nil {
		return nil, err
	}
	// The hub bus and its rules (one per trigger) deliver to the trigger
	// queue; the spoke's forwarding rules, rendered for each event's
	// account at delivery, sit on the default bus and deliver to the
	// forwarded queue. moto cannot forward between buses faithfully, so
	// Deliver makes the second hop itself.
	if _, err := h.eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(hubBus)}); err != nil {
		return nil, fmt.Errorf("create hub bus: %w", err)
	}
	for _, r := range catalog.HubRules(catalog.Specs()) {
		if err := h.rule(ctx, hubBus, "kmsguard-"+r.Name, r.Pattern, triggerARN); err != nil {
			return nil, err
		}
	}
	if h.forwarded, err = h.queue(ctx, "forwarded"); err != nil {
		return nil, err
	}
	if h.forwardedARN, err = h.queueARN(ctx, h.forwarded); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Hub) queue(ctx context.Context, name string) (string, error) {
	q, err := h.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(q.QueueUrl), nil
}

func (h *Hub) queueARN(ctx context.Context, url string) (string, error) {
	a, err := h.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", fmt.Errorf("queue attributes: %w", err)
	}
	return a.Attributes["QueueArn"], nil
}

func (h *Hub) drain(ctx context.Context, url string) ([]string, error) {
	var bodies []string
	for {
		out, err := h.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		if len(out.Messages) == 0 {
			return bodies, nil
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := h.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return nil, fmt.Errorf("delete: %w", err)
			}
		}
	}
}

// Deliver puts a recorded event (EventBridge JSON) on the bus, as CloudTrail
// would, and returns the events the kmsguard rules delivered: none when no
// pattern matches.
func (h *Hub) Deliver(ctx context.Context, raw []byte) ([][]byte, error) {
	var env cloudtrail.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("event envelope: %w", err)
	}
	// First hop: the spoke of the event's account forwards it, or not.
	if env.Account != h.forwardFor {
		for _, r := range catalog.ForwardRules(catalog.Specs(), env.Account, HubAccount, "aws") {
			if err := h.rule(ctx, "", r.Name, r.Pattern, h.forwardedARN); err != nil {
				return nil, err
			}
		}
		h.forwardFor = env.Account
	}
	entry := ebtypes.PutEventsRequestEntry{
		Source: aws.String(env.Source), DetailType: aws.String(env.DetailType),
		Detail: aws.String(string(env.Detail)), Resources: env.Resources,
	}
	if err := h.put(ctx, entry); err != nil {
		return nil, err
	}
	fwd, err := h.drain(ctx, h.forwarded)
	if err != nil || len(fwd) == 0 {
		return nil, err
	}
	if len(fwd) > 1 {
		return nil, fmt.Errorf("the spoke forwarded the event %d times; each event must cross once", len(fwd))
	}
	// Second hop: the hub bus's rules invoke the guardrails.
	entry.EventBusName = aws.String(hubBus)
	if err := h.put(ctx, entry); err != nil {
		return nil, err
	}
	bodies, err := h.drain(ctx, h.trigger)
	if err != nil {
		return nil, err
	}
	events := make([][]byte, len(bodies))
	for i, b := range bodies {
		events[i] = []byte(b)
	}
	return events, nil
}

func (h *Hub) put(ctx context.Context, e ebtypes.PutEventsRequestEntry) error {
	out, err := h.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{e}})
	if err != nil {
		return fmt.Errorf("put events: %w", err)
	}
	if out.FailedEntryCount != 0 {
		return fmt.Errorf("put events: %d entries failed", out.FailedEntryCount)
	}
	return nil
}

// Alert is one message as SNS delivered it to the inbox queue.
type Alert struct {
	Subject    string
	Attributes map[string]string
	// Form is the JSON form non-email subscribers receive.
	Form map[string]any
	// Text is the email body, taken from the JSON form.
	Text string
}

// Alerts drains the inbox.
func (h *Hub) Alerts(ctx context.Context) ([]Alert, error) {
	bodies, err := h.drain(ctx, h.inbox)
	if err != nil {
		return nil, err
	}
	var out []Alert
	for _, b := range bodies {
		var env struct {
			Subject           string
			Message           string
			MessageAttributes map[string]struct{ Type, Value string }
		}
		if err := json.Unmarshal([]byte(b), &env); err != nil {
			return nil, fmt.Errorf("SNS envelope: %w", err)
		}
		a := Alert{Subject: env.Subject, Attributes: map[string]string{}}
		for k, v := range env.MessageAttributes {
			a.Attributes[k] = v.Value
		}
		if err := json.Unmarshal([]byte(env.Message), &a.Form); err != nil {
			return nil, fmt.Errorf("alert JSON form: %w", err)
		}
		a.Text, _ = a.Form["text"].(string)
		out = append(out, a)
	}
	return out, nil
}

// KMS returns a KMS client acting in account (via sts:AssumeRole).
func (h *Hub) KMS(ctx context.Context, account string) (*kms.Client, error) {
	cfg, err := h.Server.AccountConfig(ctx, account, h.Region)
	if err != nil {
		return nil, err
	}
	return kms.NewFromConfig(cfg), nil
}

// KeySpec describes a key to stage.
type KeySpec struct {
	Alias       string
	Description string
	Tags        map[string]string
	// External creates the key without key material (origin EXTERNAL):
	// it is PendingImport until ImportMaterial.
	External bool
}

// CreateKey creates a customer managed key (with its alias and tags) in
// account and returns its id.
func (h *Hub) CreateKey(ctx context.Context, account string, k KeySpec) (string, error) {
	c, err := h.KMS(ctx, account)
	if err != nil {
		return "", err
	}
	in := &kms.CreateKeyInput{Description: aws.String(k.Description)}
	if k.External {
		in.Origin = kmstypes.OriginTypeExternal
	}
	for key, v := range k.Tags {
		in.Tags = append(in.Tags, kmstypes.Tag{TagKey: aws.String(key), TagValue: aws.String(v)})
	}
	out, err := c.CreateKey(ctx, in)
	if err != nil {
		return "", fmt.Errorf("create key: %w", err)
	}
	id := aws.ToString(out.KeyMetadata.KeyId)
	if k.Alias != "" {
		if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(k.Alias), TargetKeyId: aws.String(id)}); err != nil {
			return "", fmt.Errorf("create alias: %w", err)
		}
	}
	return id, nil
}

// ImportMaterial imports key material into the EXTERNAL key id in account
// as a person does (GetParametersForImport, then ImportKeyMaterial), expiring
// at validTo, or never when validTo is zero. The material is random bytes:
// the emulator cannot unwrap them (internal/moto/launcher.py).
func (h *Hub) ImportMaterial(ctx context.Context, account, id string, validTo time.Time) error {
	c, err := h.KMS(ctx, account)
	if err != nil {
		return err
	}
	p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id),
		WrappingAlgorithm: kmstypes.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: kmstypes.WrappingKeySpecRsa2048})
	if err != nil {
		return fmt.Errorf("get parameters for import: %w", err)
	}
	material := make([]byte, 256)
	if _, err := rand.Read(material); err != nil {
		return err
	}
	in := &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken, EncryptedKeyMaterial: material,
		ExpirationModel: kmstypes.ExpirationModelTypeKeyMaterialDoesNotExpire}
	if !validTo.IsZero() {
		in.ExpirationModel, in.ValidTo = kmstypes.ExpirationModelTypeKeyMaterialExpires, aws.Time(validTo)
	}
	if _, err := c.ImportKeyMaterial(ctx, in); err != nil {
		return fmt.Errorf("import key material: %w", err)
	}
	return nil
}

// KeyState reads a key's state in account.
func (h *Hub) KeyState(ctx context.Context, account, id string) (kmstypes.KeyState, error) {
	c, err := h.KMS(ctx, account)
	if err != nil {
		return "", err
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		return "", fmt.Errorf("describe key: %w", err)
	}
	return d.KeyMetadata.KeyState, nil
}

// Logs returns a CloudWatch Logs client acting in account.
func (h *Hub) Logs(ctx context.Context, account string) (*cloudwatchlogs.Client, error) {
	cfg, err := h.Server.AccountConfig(ctx, account, h.Region)
	if err != nil {
		return nil, err
	}
	return cloudwatchlogs.NewFromConfig(cfg), nil
}

// LogsKey creates the regional logs key (alias/kmsguard/logs) in account,
// with the key policy statement CloudWatch Logs needs, and returns its ARN.
func (h *Hub) LogsKey(ctx context.Context, account string) (string, error) {
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[`+
		`{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%[1]s:root"},"Action":"kms:*","Resource":"*"},`+
		`{"Sid":"AllowCloudWatchLogs","Effect":"Allow","Principal":{"Service":"logs.%[2]s.amazonaws.com"},"Action":["kms:Encrypt*","kms:Decrypt*","kms:ReEncrypt*","kms:GenerateDataKey*","kms:Describe*"],"Resource":"*","Condition":{"ArnLike":{"kms:EncryptionContext:aws:logs:arn":"arn:aws:logs:%[2]s:%[1]s:*"}}}]}`, account, h.Region)
	c, err := h.KMS(ctx, account)
	if err != nil {
		return "", err
	}
	if d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/kmsguard/logs")}); err == nil {
		return aws.ToString(d.KeyMetadata.Arn), nil // staged already
	}
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("kmsguard regional logs key"), Policy: aws.String(policy)})
	if err != nil {
		return "", fmt.Errorf("create logs key: %w", err)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/kmsguard/logs"), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		return "", fmt.Errorf("create logs key alias: %w", err)
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// LogGroupKey returns the KMS key associated with a log group ("" for none).
func (h *Hub) LogGroupKey(ctx context.Context, account, name string) (string, error) {
	c, err := h.Logs(ctx, account)
	if err != nil {
		return "", err
	}
	out, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(name)})
	if err != nil {
		return "", err
	}
	for _, g := range out.LogGroups {
		if aws.ToString(g.LogGroupName) == name {
			return aws.ToString(g.KmsKeyId), nil
		}
	}
	return "", fmt.Errorf("log group %s not found", name)
}

// HubBusARN is the sandbox hub bus's ARN: the target of every forwarding
// rule Spoke deploys.
func (h *Hub) HubBusARN() string {
	return fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", h.Region, HubAccount, hubBus)
}

// Spoke deploys in account, in the hub's Region, what the regional and
// global spokes put there and the spoke health checks look for: the
// forwarding rules on the default bus, each targeting the hub bus; their
// DLQ; the logs key, rotating; and (outside the hub account) each guardrail's member
// role, trusting the hub account narrowed to its hub Lambda role and the
// sweep's, as infra/spoke builds it. Run again for another Region: the
// roles, being global, are created once.
func (h *Hub) Spoke(ctx context.Context, account string) error {
	cfg, err := h.Server.AccountConfig(ctx, account, h.Region)
	if err != nil {
		return err
	}
	eb := eventbridge.NewFromConfig(cfg)
	forwarder := fmt.Sprintf("arn:aws:iam::%s:role/kmsguard-event-forwarder", account)
	for _, r := range catalog.ForwardRules(catalog.Specs(), account, HubAccount, "aws") {
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(r.Name), EventPattern: aws.String(r.Pattern.JSON())}); err != nil {
			return fmt.Errorf("put rule %s: %w", r.Name, err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(r.Name), Targets: []ebtypes.Target{{Id: aws.String("hub"), Arn: aws.String(h.HubBusARN()), RoleArn: aws.String(forwarder)}}}); err != nil {
			return fmt.Errorf("put target of %s: %w", r.Name, err)
		}
	}
	if _, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("kmsguard-forward-dlq")}); err != nil {
		return fmt.Errorf("create the forwarding DLQ: %w", err)
	}
	key, err := h.LogsKey(ctx, account)
	if err != nil {
		return err
	}
	// The regional spoke's key rotates (infra/spoke).
	if _, err := kms.NewFromConfig(cfg).EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(key[strings.LastIndex(key, "/")+1:])}); err != nil {
		return fmt.Errorf("enable rotation of the logs key: %w", err)
	}
	if account == HubAccount {
		return nil
	}
	c := iam.NewFromConfig(cfg)
	for _, s := range catalog.Specs() {
		if s.EventOnly {
			continue
		}
		trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%[1]s:root"},"Action":"sts:AssumeRole","Condition":{"ArnEquals":{"aws:PrincipalArn":["arn:aws:iam::%[1]s:role/%[2]s","arn:aws:iam::%[1]s:role/%[3]s"]}}}]}`,
			HubAccount, guardrail.HubRoleName(s.ID), guardrail.HubRoleName(guardrail.SweepID))
		_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(guardrail.MemberRoleName(s.ID)), AssumeRolePolicyDocument: aws.String(trust)})
		var exists *iamtypes.EntityAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("create role %s: %w", guardrail.MemberRoleName(s.ID), err)
		}
	}
	return nil
}
