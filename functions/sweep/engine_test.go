package sweep_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// newStore creates the run table and the items bucket in the hub, as the
// hub stack does.
func newStore(t *testing.T, sb *sandbox.Hub, name string) sweep.Store {
	t.Helper()
	ctx := context.Background()
	db, s := dynamodb.NewFromConfig(sb.Config), s3.NewFromConfig(sb.Config, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name), CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(sb.Config.Region)}}); err != nil {
		t.Fatal(err)
	}
	return sweep.Store{DB: db, S3: s, Table: name, Bucket: name}
}

// stageSmall gives a target one key pending deletion, one key without
// rotation, one compliant key, and one unencrypted log group.
func stageSmall(t *testing.T, account, region string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := srv.AccountConfig(ctx, account, region)
	if err != nil {
		t.Fatal(err)
	}
	k, l := kms.NewFromConfig(cfg), cloudwatchlogs.NewFromConfig(cfg)
	if _, err := logsKeyIn(ctx, k, account, region); err != nil {
		t.Fatal(err)
	}
	for i, kind := range []string{"pending", "norot", "fine"} {
		out, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(fmt.Sprintf("alias/%s-%d", kind, i)), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			t.Fatal(err)
		}
		switch kind {
		case "pending":
			_, err = k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: out.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)})
		case "fine":
			_, err = k.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: out.KeyMetadata.KeyId})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/app/plain")}); err != nil {
		t.Fatal(err)
	}
}

// The engine's pieces on moto, driven as the state machine drives them:
// plan writes the work items to S3 and records the run; each item sweeps
// its account-Region and records itself (a retried item overwrites its
// record); an item that fails after its retries is recorded by the state
// machine's Catch; the digest aggregates every record into one alert for
// the organization, with the failed and the missing items named.
func TestEngine_PlanItemsDigest(t *testing.T) {
	ctx := context.Background()
	sb, err := sandbox.NewHub(ctx, srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	const a, b, c = "210987654321", "321098765432", "432109876543"
	for _, acct := range []string{a, b} {
		stageSmall(t, acct, "eu-west-1")
	}
	store := newStore(t, sb, "kmsguard-sweep-test")
	cfg := fmt.Sprintf(`{"modes":{"default":"remediate"},"sweep":{"accounts":[%q,%q,%q],"regions":["eu-west-1"]}}`, a, b, c)
	h, err := bootstrap.Load(ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &sb.Config, TopicARN: sb.TopicARN, HubAccount: sandbox.HubAccount, ConfigJSON: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	targets, _ := sweep.Targets(ctx, h.RuntimeConfig().Sweep, nil)
	now := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	plan, err := sweep.Plan(ctx, store, targets, nil, sandbox.HubAccount, "run1", "arn:aws:states:eu-west-1:123456789012:execution:kmsguard-sweep:run1", now)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := store.S3.(*s3.Client).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(plan.Bucket), Key: aws.String(plan.Key)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(obj.Body)
	var items []sweep.WorkItem
	if err := json.Unmarshal(body, &items); err != nil || len(items) != 3 || plan.Items != 3 {
		t.Fatalf("items %s (%v), plan %+v", body, err, plan)
	}

	// Account a's spoke: its DLQ holds two events that never reached the
	// hub, and (on moto) no forwarding rule is deployed anywhere.
	acfg, _ := srv.AccountConfig(ctx, a, "eu-west-1")
	q := sqs.NewFromConfig(acfg)
	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(sweep.SpokeDLQ)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: dlq.QueueUrl, MessageBody: aws.String(`{"detail-type":"AWS API Call via CloudTrail"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	runOne := func(ctx context.Context, t sweep.Target) (*sweep.Report, error) {
		return sweep.Run(ctx, h, sweep.Options{Targets: []sweep.Target{t}, ItemAlerts: "CRITICAL", Health: true})
	}
	expires := now.Add(sweep.RecordsFor)
	for _, it := range items[:2] { // a and b; c's item fails
		tg := sweep.Target{Account: it.Account, Region: it.Region}
		if _, err := sweep.ItemSweep(ctx, runOne, store, "run1", tg, expires); err != nil {
			t.Fatal(err)
		}
	}
	// A duplicate write of an item's record replaces it (the item key), it
	// never adds a second one.
	if _, recs, err := sweep.Records(ctx, store, "run1"); err != nil || len(recs) != 2 {
		t.Fatalf("%d records (%v)", len(recs), err)
	} else if err := sweep.RecordItem(ctx, store, "run1", recs[0], expires); err != nil {
		t.Fatal(err)
	}
	// Throttled past the SDK's retries: returned for the state machine to
	// retry, not recorded.
	throttled := func(context.Context, sweep.Target) (*sweep.Report, error) {
		return &sweep.Report{Errors: []string{c + "/eu-west-1: list keys: ThrottlingException: Rate exceeded"}}, nil
	}
	var tr *sweep.Transient
	if _, err := sweep.ItemSweep(ctx, throttled, store, "run1", sweep.Target{Account: c, Region: "eu-west-1"}, expires); !errors.As(err, &tr) {
		t.Fatalf("a throttled item: %v, want *Transient", err)
	}
	// After the last retry the state machine's Catch records the failure
	// (infra/hub/sweep.go writes this row with DynamoDB PutItem).
	if _, err := store.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(store.Table), Item: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "run#run1"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "item#" + c + "#eu-west-1"},
		"status": &ddbtypes.AttributeValueMemberS{Value: "failed"}, "error": &ddbtypes.AttributeValueMemberS{Value: "Transient: list keys: ThrottlingException: Rate exceeded"},
	}}); err != nil {
		t.Fatal(err)
	}
	perItem, _ := sb.Alerts(ctx)
	for _, al := range perItem {
		if al.Attributes["severity"] != "CRITICAL" {
			t.Errorf("a %s finding had its own alert during the sweep: %s", al.Attributes["severity"], al.Subject)
		}
	}
	if len(perItem) != 2 { // the two keys pending deletion, cancelled
		t.Errorf("%d per-item alerts, want 2 (CRITICAL only)", len(perItem))
	}

	meta, recs, err := sweep.Records(ctx, store, "run1")
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d records (%v)", len(recs), err)
	}
	o := sweep.Aggregate(meta, recs)
	if o.Done != 2 || o.Failed != 1 || o.Missing != 0 || o.PerGuardrail["key-deletion"].Fixed != 2 || o.PerGuardrail["log-encryption"].Fixed != 2 || o.PerAccount[a].Findings == 0 {
		t.Errorf("aggregate %+v", o)
	}
	msg := sweep.OrgDigest(o)
	for _, want := range []string{"Spoke health", a + "/eu-west-1: 2 events are in the forwarding DLQ kmsguard-forward-dlq", "forwarding rules is deployed and enabled",
		b + "/eu-west-1: the forwarding DLQ kmsguard-forward-dlq does not exist", "Not swept", c + "/eu-west-1: Transient: list keys: ThrottlingException", "Per guardrail", "key-deletion: 2 findings, 2 fixed (2 CRITICAL)", "Per Region", "eu-west-1:"} {
		if !strings.Contains(strings.Join(strings.Fields(msg.Text()), " "), want) { // the body wraps lines
			t.Errorf("digest lacks %q:\n%s", want, msg.Text())
		}
	}
	if !strings.Contains(msg.Subject(), "1 not swept") {
		t.Errorf("subject %q", msg.Subject())
	}
	latest, err := sweep.Latest(ctx, store)
	if err != nil || latest != "run1" {
		t.Errorf("latest %q %v", latest, err)
	}
	// The digest phase publishes the digest and one degraded-spoke alert
	// for the run, with the same problems.
	if _, err := sweep.Phase(ctx, h, store, sweep.Input{Phase: "digest", Run: "run1"}); err != nil {
		t.Fatal(err)
	}
	published, _ := sb.Alerts(ctx)
	if len(published) != 2 || published[0].Attributes["action"] != "digest" || published[1].Attributes["action"] != "spoke-health" || published[1].Attributes["severity"] != "HIGH" {
		t.Fatalf("%d alerts after the digest phase, want the digest then the degraded-spoke alert", len(published))
	}
	for _, want := range []string{a + "/eu-west-1:", "2 events are in the forwarding DLQ", b + "/eu-west-1:", "the forwarding DLQ kmsguard-forward-dlq does not exist", a + " (all Regions):", "member roles missing"} {
		if !strings.Contains(strings.Join(strings.Fields(published[1].Text), " "), want) {
			t.Errorf("the degraded-spoke alert lacks %q:\n%s", want, published[1].Text)
		}
	}
}

// Aggregate counts what it can and names what it cannot: a planned item
// with no record is missing, not silently dropped.
func TestAggregate_Missing(t *testing.T) {
	meta := sweep.RunMeta{Run: "r", Planned: 4}
	items := []sweep.ItemResult{
		{Account: "111111111111", Region: "eu-west-1", Status: sweep.ItemDone, Keys: 3, Counts: map[string]sweep.Count{"key-rotation": {Findings: 2, Fixed: 1, BySeverity: map[string]int{"HIGH": 2}}},
			Worst: []sweep.Finding{{Target: sweep.Target{Account: "111111111111", Region: "eu-west-1"}, Guardrail: "key-rotation", Resource: "alias/a", Severity: guardrail.SeverityHigh}}},
		{Account: "222222222222", Region: "eu-west-1", Status: sweep.ItemDone, Counts: map[string]sweep.Count{"key-deletion": {Findings: 1, BySeverity: map[string]int{"CRITICAL": 1}}},
			Worst: []sweep.Finding{{Target: sweep.Target{Account: "222222222222", Region: "eu-west-1"}, Guardrail: "key-deletion", Resource: "alias/b", Severity: guardrail.SeverityCritical}}},
		{Account: "333333333333", Region: "us-east-1", Status: sweep.ItemFailed, Errors: []string{"AccessDenied: cannot assume kmsguard-remediator-sweep"}},
	}
	o := sweep.Aggregate(meta, items)
	if o.Done != 2 || o.Failed != 1 || o.Missing != 1 || o.Findings != 3 || o.Fixed != 1 || o.Keys != 3 {
		t.Errorf("%+v", o)
	}
	if o.Worst[0].Severity != guardrail.SeverityCritical {
		t.Errorf("worst first: %+v", o.Worst)
	}
	if s := o.Summary(); s.Errors != 2 || s.Targets != 4 {
		t.Errorf("summary %+v", s)
	}
	text := sweep.OrgDigest(o).Text()
	if !strings.Contains(text, "1 work items left no record") || !strings.Contains(text, "333333333333/us-east-1: AccessDenied") {
		t.Errorf("digest:\n%s", text)
	}
}
