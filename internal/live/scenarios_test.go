package live_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/keypolicy"
)

// env is where the scenarios run: an account and Region, and credentials
// that act in it directly (the hub and the member are the same account).
type env struct {
	cfg     aws.Config
	account string
	region  string
	run     string // a unique suffix for every name this run creates
}

// world is one run's resources and handles.
type world struct {
	t    *testing.T
	ctx  context.Context
	e    env
	kms  *kms.Client
	logs *cloudwatchlogs.Client
	hub  *bootstrap.Env
	// keys are scheduled for deletion at the end.
	keys []string
}

func (e env) name(s string) string { return "kmsguard-live-" + e.run + "-" + s }

// setUp creates the alert topic and loads the hub runtime with every
// guardrail in remediate mode; cleanup removes what the run created.
func setUp(t *testing.T, e env) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, ctx: ctx, e: e, kms: kms.NewFromConfig(e.cfg), logs: cloudwatchlogs.NewFromConfig(e.cfg)}
	topic, err := sns.NewFromConfig(e.cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(e.name("alerts"))})
	if err != nil {
		t.Fatalf("create alert topic: %v", err)
	}
	t.Cleanup(func() {
		_, _ = sns.NewFromConfig(e.cfg).DeleteTopic(context.Background(), &sns.DeleteTopicInput{TopicArn: topic.TopicArn})
	})
	conf, _ := json.Marshal(map[string]any{
		"modes":      map[string]any{"default": "remediate"},
		"guardrails": map[string]any{"log-encryption": map[string]any{"key_alias": "alias/" + e.name("logs")}},
	})
	w.hub, err = bootstrap.Load(ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &e.cfg,
		TopicARN: aws.ToString(topic.TopicArn), HubAccount: e.account, ConfigJSON: conf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range w.keys {
			_, err := w.kms.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
			if err != nil {
				t.Logf("cleanup: schedule deletion of test key %s: %v (delete it by hand)", id, err)
			}
		}
	})
	return w
}

// key creates a symmetric test key, with policy when not empty.
func (w *world) key(what, policy string) string {
	w.t.Helper()
	in := &kms.CreateKeyInput{Description: aws.String("kmsguard live suite " + w.e.run + ": " + what + "; safe to delete"),
		Tags: []kmstypes.Tag{{TagKey: aws.String("kmsguard-live"), TagValue: aws.String(w.e.run)}}}
	if policy != "" {
		in.Policy = aws.String(policy)
	}
	out, err := w.kms.CreateKey(w.ctx, in)
	if err != nil {
		w.t.Fatalf("create key: %v", err)
	}
	id := aws.ToString(out.KeyMetadata.KeyId)
	w.keys = append(w.keys, id)
	return id
}

// handle runs one guardrail on a fixture rewritten for this account,
// Region and resource, as its Lambda would.
func (w *world) handle(id, fixture, keyID string, replace ...string) guardrail.Outcome {
	w.t.Helper()
	raw := fixtures.WithKey(fixtures.Get(fixture).Raw, keyID, w.e.account, w.e.region)
	for i := 0; i+1 < len(replace); i += 2 {
		raw = bytes.ReplaceAll(raw, []byte(replace[i]), []byte(replace[i+1]))
	}
	r, err := w.hub.Runner(id)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := r.Handle(w.ctx, raw)
	if err != nil {
		w.t.Fatalf("%s: %v", id, err)
	}
	return out
}

func rootPolicy(account string, extra ...string) string {
	st := []string{fmt.Sprintf(`{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"}`, account)}
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(append(st, extra...), ",") + `]}`
}

// runScenarios is the suite: each guardrail fixes the change its event
// reports, in the real account, and a second delivery is a no-op.
func runScenarios(t *testing.T, e env) {
	w := setUp(t, e)

	t.Run("key-deletion", func(t *testing.T) {
		id := w.key("key-deletion", "")
		if _, err := w.kms.ScheduleKeyDeletion(w.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Fatal(err)
		}
		out := w.handle("key-deletion", "key-deletion/schedule-key-deletion-arn", id)
		if out.Action != "cancel-deletion,enable-key" {
			t.Fatalf("%+v", out)
		}
		if s := w.state(id); s != kmstypes.KeyStateEnabled {
			t.Errorf("key is %s", s)
		}
		if again := w.handle("key-deletion", "key-deletion/schedule-key-deletion-arn", id); again.Action != guardrail.ActionNone {
			t.Errorf("second delivery: %+v", again)
		}
	})

	t.Run("key-rotation", func(t *testing.T) {
		id := w.key("key-rotation", "")
		out := w.handle("key-rotation", "key-rotation/disable-key-rotation", id)
		if out.Action != "enable-rotation" {
			t.Fatalf("%+v", out)
		}
		st, err := w.kms.GetKeyRotationStatus(w.ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
		if err != nil || !st.KeyRotationEnabled {
			t.Errorf("rotation %+v %v", st, err)
		}
		if again := w.handle("key-rotation", "key-rotation/disable-key-rotation", id); again.Action != guardrail.ActionNone {
			t.Errorf("second delivery: %+v", again)
		}
	})

	t.Run("key-policy", func(t *testing.T) {
		// A public statement limited to DescribeKey on a key that encrypts
		// nothing: the smallest exposure that is still a PUBLIC finding.
		id := w.key("key-policy", rootPolicy(e.account))
		public := rootPolicy(e.account, `{"Sid":"KmsguardLivePublic","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:DescribeKey","Resource":"*"}`)
		if _, err := w.kms.PutKeyPolicy(w.ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"), Policy: aws.String(public)}); err != nil {
			t.Fatal(err)
		}
		out := w.handle("key-policy", "key-policy/put-key-policy-public", id)
		if out.Action != "remove-statements" {
			t.Fatalf("%+v", out)
		}
		got, err := w.kms.GetKeyPolicy(w.ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default")})
		if err != nil || strings.Contains(aws.ToString(got.Policy), "KmsguardLivePublic") ||
			len(keypolicy.Analyze(aws.ToString(got.Policy), keypolicy.Context{Account: e.account}).Findings) != 0 {
			t.Errorf("policy after remediation: %v %v", aws.ToString(got.Policy), err)
		}
	})

	t.Run("log-encryption", func(t *testing.T) {
		logsStatement := fmt.Sprintf(`{"Sid":"AllowCloudWatchLogs","Effect":"Allow","Principal":{"Service":"logs.%s.amazonaws.com"},"Action":["kms:Encrypt*","kms:Decrypt*","kms:ReEncrypt*","kms:GenerateDataKey*","kms:Describe*"],"Resource":"*","Condition":{"ArnLike":{"kms:EncryptionContext:aws:logs:arn":"arn:aws:logs:%s:%s:*"}}}`, e.region, e.region, e.account)
		keyID := w.key("logs key", rootPolicy(e.account, logsStatement))
		alias := "alias/" + e.name("logs")
		if _, err := w.kms.CreateAlias(w.ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(keyID)}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = w.kms.DeleteAlias(context.Background(), &kms.DeleteAliasInput{AliasName: aws.String(alias)})
		})
		group := "/" + e.name("group")
		if _, err := w.logs.CreateLogGroup(w.ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = w.logs.DeleteLogGroup(context.Background(), &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(group)})
		})
		out := w.handle("log-encryption", "log-encryption/create-log-group", "", "/app/payments/api", group)
		if out.Action != "associate-kms-key" {
			t.Fatalf("%+v", out)
		}
		// CloudWatch Logs may take a while to show the key.
		var got string
		for i := 0; i < 10 && got == ""; i++ {
			d, err := w.logs.DescribeLogGroups(w.ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
			if err == nil && len(d.LogGroups) > 0 {
				got = aws.ToString(d.LogGroups[0].KmsKeyId)
			}
			if got == "" {
				time.Sleep(3 * time.Second)
			}
		}
		if !strings.HasSuffix(got, keyID) {
			t.Errorf("log group key %q, want the logs key %s", got, keyID)
		}
	})
}

func (w *world) state(id string) kmstypes.KeyState {
	d, err := w.kms.DescribeKey(w.ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		w.t.Fatal(err)
	}
	return d.KeyMetadata.KeyState
}
