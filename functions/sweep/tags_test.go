package sweep_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	tagtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// callCounter counts the AWS calls made with a config, by operation, and
// refuses one operation when fail names it (as IAM would: AccessDenied).
// With awsTagging, GetResources answers as AWS does where moto does not:
// only resources that have tags (moto returns every key), less those in
// omit.
type callCounter struct {
	mu         sync.Mutex
	n          map[string]int
	fail       string
	awsTagging bool
	omit       []string
}

func (c *callCounter) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("kmsguard-test-count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		op := awsmiddleware.GetOperationName(ctx)
		c.mu.Lock()
		c.n[op]++
		fail := op == c.fail
		c.mu.Unlock()
		if fail {
			return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform " + op}
		}
		out, md, err := next.HandleInitialize(ctx, in)
		if o, ok := out.Result.(*resourcegroupstaggingapi.GetResourcesOutput); ok && c.awsTagging {
			o.ResourceTagMappingList = slices.DeleteFunc(o.ResourceTagMappingList, func(m tagtypes.ResourceTagMapping) bool {
				return len(m.Tags) == 0 || slices.Contains(c.omit, aws.ToString(m.ResourceARN))
			})
		}
		return out, md, err
	}), middleware.After)
}

// The sweep reads the tags of the keys and log groups it lists with the
// tagging API's GetResources (100 a call) and hands them to the guardrails:
// no ListResourceTags or ListTagsForResource per resource, no alias read
// per key it fixes (it listed them), one read of the logs key. An
// exemption tag read that way still exempts. When GetResources is refused,
// the guardrails read the tags per resource as before, with the same
// outcome, and the target is not failed.
func TestSweep_TagsInBulk(t *testing.T) {
	const acct, region = "232323232323", "eu-west-1"
	ctx := context.Background()
	var picked []guardrail.Entry
	for _, e := range catalog.Entries() {
		if e.Spec.ID == "key-rotation" || e.Spec.ID == "log-encryption" {
			picked = append(picked, e)
		}
	}
	type staged struct {
		sb                        *sandbox.Hub
		k                         *kms.Client
		l                         *cloudwatchlogs.Client
		plain, exempt, tagged     string // keys without rotation
		plainGroup, exemptGroup   string
		taggedGroup, encryptedGrp string
	}
	stageTags := func(t *testing.T) staged {
		sb, err := sandbox.NewHub(ctx, srv, region)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := srv.AccountConfig(ctx, acct, region)
		if err != nil {
			t.Fatal(err)
		}
		st := staged{sb: sb, k: kms.NewFromConfig(cfg), l: cloudwatchlogs.NewFromConfig(cfg)}
		logsKey, err := logsKeyIn(ctx, st.k, acct, region)
		if err != nil {
			t.Fatal(err)
		}
		key := func(tags ...kmstypes.Tag) string {
			out, err := st.k.CreateKey(ctx, &kms.CreateKeyInput{Tags: tags})
			if err != nil {
				t.Fatal(err)
			}
			return aws.ToString(out.KeyMetadata.Arn)
		}
		tag := func(k, v string) kmstypes.Tag { return kmstypes.Tag{TagKey: aws.String(k), TagValue: aws.String(v)} }
		st.plain, st.exempt, st.tagged = key(), key(tag("kmsguard:skip-rotation", "true")), key(tag("team", "payments"))
		group := func(name string, tags map[string]string, kmsKey string) string {
			in := &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(name), Tags: tags}
			if kmsKey != "" {
				in.KmsKeyId = aws.String(kmsKey)
			}
			if _, err := st.l.CreateLogGroup(ctx, in); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", region, acct, name)
		}
		st.plainGroup = group("/t/plain", nil, "")
		st.exemptGroup = group("/t/exempt", map[string]string{"kmsguard:skip-encryption": "true"}, "")
		st.taggedGroup = group("/t/tagged", map[string]string{"team": "payments"}, "")
		st.encryptedGrp = group("/t/encrypted", nil, logsKey)
		return st
	}
	sweepWith := func(t *testing.T, st staged, fail string) (*sweep.Report, map[string]int, []string) {
		c := &callCounter{n: map[string]int{}, fail: fail}
		awsCfg := st.sb.Config.Copy()
		awsCfg.APIOptions = append(awsCfg.APIOptions, c.option)
		h, err := bootstrap.Load(ctx, bootstrap.Options{Guardrails: picked, Log: slog.New(slog.DiscardHandler), AWS: &awsCfg, TopicARN: st.sb.TopicARN,
			HubAccount: sandbox.HubAccount, ConfigJSON: []byte(`{"modes":{"default":"remediate"}}`)})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var lines []string
		rep, err := sweep.Run(ctx, h, sweep.Options{Targets: []sweep.Target{{Account: acct, Region: region}},
			Progress: func(l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Errors) != 0 {
			t.Fatalf("errors: %v", rep.Errors)
		}
		return rep, c.n, lines
	}
	// Each subtest expects the same outcome: the exempt key and log group
	// left alone, the others fixed.
	check := func(t *testing.T, st staged, rep *sweep.Report) {
		t.Helper()
		acted := map[string]bool{}
		for _, f := range rep.Findings {
			if f.Error != "" {
				t.Errorf("%s %s: %s", f.Guardrail, f.Resource, f.Error)
			}
			if f.Action != "" && f.Action != guardrail.ActionNone {
				acted[f.ARN] = true
			}
		}
		for _, arn := range []string{st.plain, st.tagged, st.plainGroup, st.taggedGroup} {
			if !acted[arn] {
				t.Errorf("%s not fixed: %+v", arn, rep.Findings)
			}
		}
		for _, arn := range []string{st.exempt, st.exemptGroup, st.encryptedGrp} {
			if acted[arn] {
				t.Errorf("%s (exempt or compliant) was changed", arn)
			}
		}
		r, err := st.k.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(st.exempt)})
		if err != nil || r.KeyRotationEnabled {
			t.Errorf("exempt key: rotation %v, %v", r != nil && r.KeyRotationEnabled, err)
		}
		d, err := st.l.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/t/exempt")})
		if err != nil || len(d.LogGroups) != 1 || d.LogGroups[0].KmsKeyId != nil {
			t.Errorf("exempt log group changed (%v): %v", err, d != nil && len(d.LogGroups) == 1 && d.LogGroups[0].KmsKeyId != nil)
		}
	}

	t.Run("bulk", func(t *testing.T) {
		st := stageTags(t)
		rep, n, _ := sweepWith(t, st, "")
		check(t, st, rep)
		if n["GetResources"] < 2 {
			t.Errorf("%d GetResources calls, want one series per resource type", n["GetResources"])
		}
		if n["ListResourceTags"] != 0 || n["ListTagsForResource"] != 0 {
			t.Errorf("tags read per resource: %d ListResourceTags, %d ListTagsForResource", n["ListResourceTags"], n["ListTagsForResource"])
		}
		if n["ListAliases"] != 1 {
			t.Errorf("%d ListAliases calls, want the listing's one", n["ListAliases"])
		}
		// The sweep's key guardrail (key-rotation) is lazy: no key is
		// described up front; each of the three keys without rotation once
		// (the logs key rotates: its status settles it), and the logs key
		// once by its alias for log-encryption, however many workers need it.
		if n["DescribeKey"] != 3+1 || n["GetKeyRotationStatus"] != 4 {
			t.Errorf("%d DescribeKey calls, want 4; %d GetKeyRotationStatus, want 4", n["DescribeKey"], n["GetKeyRotationStatus"])
		}
		if rep.OrphansNotChecked == "" {
			t.Error("a sweep that describes no key does not say it looked for no orphaned key")
		}
	})

	t.Run("GetResources refused", func(t *testing.T) {
		st := stageTags(t)
		rep, n, lines := sweepWith(t, st, "GetResources")
		check(t, st, rep)
		// The tags of what a guardrail would act on are read one by one:
		// the three keys without rotation, the three unencrypted groups.
		if n["ListResourceTags"] != 3 || n["ListTagsForResource"] != 3 {
			t.Errorf("fallback: %d ListResourceTags, %d ListTagsForResource, want 3 and 3", n["ListResourceTags"], n["ListTagsForResource"])
		}
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "tag:GetResources failed") }) {
			t.Errorf("the fallback is not said: %q", lines)
		}
	})
}

// GetResources returns only resources that have or had tags: a key absent
// from its answer has none, and its tags are not read again. A key that is
// not Enabled is the exception: absent from the answer, its tags are read
// directly before a guardrail acts on it, so a deletion allowed on purpose
// (kmsguard:allow-deletion=true) is left alone even if the tagging API
// missed the key.
func TestSweep_TagsInBulk_AbsentKeys(t *testing.T) {
	const acct, region = "242424242424", "eu-west-1"
	ctx := context.Background()
	sb, err := sandbox.NewHub(ctx, srv, region)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := srv.AccountConfig(ctx, acct, region)
	if err != nil {
		t.Fatal(err)
	}
	k := kms.NewFromConfig(cfg)
	plain, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := k.CreateKey(ctx, &kms.CreateKeyInput{Tags: []kmstypes.Tag{{TagKey: aws.String("kmsguard:allow-deletion"), TagValue: aws.String("true")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: pending.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	var picked []guardrail.Entry
	for _, e := range catalog.Entries() {
		if e.Spec.ID == "key-deletion" || e.Spec.ID == "key-rotation" {
			picked = append(picked, e)
		}
	}
	c := &callCounter{n: map[string]int{}, awsTagging: true, omit: []string{aws.ToString(pending.KeyMetadata.Arn)}}
	awsCfg := sb.Config.Copy()
	awsCfg.APIOptions = append(awsCfg.APIOptions, c.option)
	h, err := bootstrap.Load(ctx, bootstrap.Options{Guardrails: picked, Log: slog.New(slog.DiscardHandler), AWS: &awsCfg, TopicARN: sb.TopicARN,
		HubAccount: sandbox.HubAccount, ConfigJSON: []byte(`{"modes":{"default":"remediate"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := sweep.Run(ctx, h, sweep.Options{Targets: []sweep.Target{{Account: acct, Region: region}}})
	if err != nil || len(rep.Errors) != 0 {
		t.Fatalf("%v %v", err, rep.Errors)
	}
	var rotated bool
	for _, f := range rep.Findings {
		switch {
		case f.ARN == aws.ToString(plain.KeyMetadata.Arn) && f.Guardrail == "key-rotation":
			rotated = f.Action != guardrail.ActionNone && f.Error == ""
		case f.ARN == aws.ToString(pending.KeyMetadata.Arn) && f.Action != guardrail.ActionNone:
			t.Errorf("the key whose deletion is allowed was changed: %+v", f)
		}
	}
	if !rotated {
		t.Errorf("the untagged key's rotation was not turned on: %+v", rep.Findings)
	}
	if d, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: pending.KeyMetadata.KeyId}); err != nil || d.KeyMetadata.KeyState != kmstypes.KeyStatePendingDeletion {
		t.Errorf("the deletion allowed on purpose was cancelled: %v", err)
	}
	// Only the key pending deletion, absent from the answer, had its tags
	// read on its own.
	if c.n["ListResourceTags"] != 1 {
		t.Errorf("%d ListResourceTags calls, want 1 (the key pending deletion)", c.n["ListResourceTags"])
	}
}
