package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// Per target (account × Region): 250 keys and 500 log groups.
const (
	keysPerTarget    = 250
	pendingPerTarget = 10 // scheduled for deletion
	noRotPerTarget   = 40 // rotation off (the rest have it on)
	publicPerTarget  = 15 // key policy open to "*"
	orphanPerTarget  = 25 // enabled, no alias
	groupsPerTarget  = 500
	plainPerTarget   = 200 // unencrypted
	exemptPerTarget  = 20  // unencrypted but tagged kmsguard:skip-encryption=true
)

var publicPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"},{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}`

// stage creates one target's mix of compliant and non-compliant resources.
func stage(t *testing.T, sb *sandbox.Hub, account, region string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := srv.AccountConfig(ctx, account, region)
	if err != nil {
		t.Fatal(err)
	}
	// moto answers the odd concurrent write with HTTP 500: retry those.
	cfg.RetryMaxAttempts = 5
	k, l := kms.NewFromConfig(cfg), cloudwatchlogs.NewFromConfig(cfg)
	logsKey, err := logsKeyIn(ctx, k, account, region)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, keysPerTarget+groupsPerTarget)
	sem := make(chan struct{}, 4)
	do := func(fn func() error) {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); defer func() { <-sem }(); errs <- fn() }()
	}
	for i := 1; i < keysPerTarget; i++ { // the logs key is the first
		i := i
		do(func() error {
			out, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				return err
			}
			id := out.KeyMetadata.KeyId
			if i >= orphanPerTarget {
				var exists *kmstypes.AlreadyExistsException
				if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(fmt.Sprintf("alias/app-%d", i)), TargetKeyId: id}); err != nil && !errors.As(err, &exists) {
					return err
				}
			}
			switch {
			case i < pendingPerTarget+1:
				_, err = k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(7)})
				return err
			case i < pendingPerTarget+1+noRotPerTarget:
				return nil // rotation stays off
			case i < pendingPerTarget+1+noRotPerTarget+publicPerTarget:
				if _, err := k.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("default"), Policy: aws.String(fmt.Sprintf(publicPolicy, account))}); err != nil {
					return err
				}
			}
			_, err = k.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: id, RotationPeriodInDays: aws.Int32(365)})
			return err
		})
	}
	for i := 0; i < groupsPerTarget; i++ {
		i := i
		do(func() error {
			in := &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(fmt.Sprintf("/app/svc-%04d", i))}
			switch {
			case i < plainPerTarget:
			case i < plainPerTarget+exemptPerTarget:
				in.Tags = map[string]string{"kmsguard:skip-encryption": "true"}
			default:
				in.KmsKeyId = aws.String(logsKey)
			}
			_, err := l.CreateLogGroup(ctx, in)
			return err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func logsKeyIn(ctx context.Context, k *kms.Client, account, region string) (string, error) {
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%[1]s:root"},"Action":"kms:*","Resource":"*"},{"Sid":"Logs","Effect":"Allow","Principal":{"Service":"logs.%[2]s.amazonaws.com"},"Action":["kms:Encrypt*","kms:Decrypt*","kms:ReEncrypt*","kms:GenerateDataKey*","kms:Describe*"],"Resource":"*","Condition":{"ArnLike":{"kms:EncryptionContext:aws:logs:arn":"arn:aws:logs:%[2]s:%[1]s:*"}}}]}`, account, region)
	out, err := k.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(policy)})
	if err != nil {
		return "", err
	}
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/kmsguard/logs"), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		return "", err
	}
	if _, err := k.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: out.KeyMetadata.KeyId}); err != nil {
		return "", err
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// TestSweep_FindsExactlyTheNonCompliantAndFixesPerMode: 1,000 keys and
// 2,000 log groups across 2 accounts × 2 Regions. Account A remediates every
// guardrail; account B is in alert mode. The first sweep finds exactly what
// was staged and fixes A's; the second finds nothing left to fix.
func TestSweep_FindsExactlyTheNonCompliantAndFixesPerMode(t *testing.T) {
	const a, b = "111122223333", "444455556666"
	sb, err := sandbox.NewHub(context.Background(), srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	var targets []sweep.Target
	for _, acct := range []string{a, b} {
		for _, r := range []string{"eu-west-1", "us-east-1"} {
			stage(t, sb, acct, r)
			targets = append(targets, sweep.Target{Account: acct, Region: r})
		}
	}
	cfg := fmt.Sprintf(`{"modes":{"default":"remediate","guardrails":{"key-policy":"remediate"},"accounts":{%q:{"mode":"alert"}}}}`, b)
	h, err := bootstrap.Load(context.Background(), bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &sb.Config, TopicARN: sb.TopicARN, HubAccount: sandbox.HubAccount, ConfigJSON: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}

	type key struct{ account, guardrail string }
	count := func(r *sweep.Report) (map[key]int, map[key]int) {
		found, acted := map[key]int{}, map[key]int{}
		for _, f := range r.Findings {
			if f.Error != "" {
				t.Errorf("error on %s %s/%s %s: %s", f.Guardrail, f.Account, f.Region, f.Resource, f.Error)
			}
			found[key{f.Account, f.Guardrail}]++
			if f.Action != "none" {
				acted[key{f.Account, f.Guardrail}]++
			}
		}
		return found, acted
	}

	first, err := sweep.Run(context.Background(), h, sweep.Options{Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Errors) != 0 {
		t.Fatalf("errors: %v", first.Errors)
	}
	if first.Keys != 4*keysPerTarget || first.Groups != 4*groupsPerTarget {
		t.Errorf("checked %d keys and %d log groups", first.Keys, first.Groups)
	}
	// A cancelled deletion leaves an enabled key without rotation: in A the
	// same sweep turns its rotation on; in B the key stays pending.
	want := map[string]map[string]int{
		a: {"key-deletion": 2 * pendingPerTarget, "key-rotation": 2 * (noRotPerTarget + pendingPerTarget), "key-policy": 2 * publicPerTarget, "log-encryption": 2 * plainPerTarget},
		b: {"key-deletion": 2 * pendingPerTarget, "key-rotation": 2 * noRotPerTarget, "key-policy": 2 * publicPerTarget, "log-encryption": 2 * plainPerTarget},
	}
	found, acted := count(first)
	for acct, gs := range want {
		for g, n := range gs {
			if found[key{acct, g}] != n {
				t.Errorf("first sweep: %s in %s: %d findings, want %d", g, acct, found[key{acct, g}], n)
			}
			wantActed := n
			if acct == b {
				wantActed = 0
			}
			if acted[key{acct, g}] != wantActed {
				t.Errorf("first sweep: %s in %s: %d actions, want %d", g, acct, acted[key{acct, g}], wantActed)
			}
		}
	}
	// Keys 1..orphanPerTarget-1 have no alias; the pending ones are not Enabled.
	if want := 4 * (orphanPerTarget - 1 - pendingPerTarget); len(first.Orphans) != want {
		t.Errorf("%d orphaned keys, want %d", len(first.Orphans), want)
	}
	alerts, _ := sb.Alerts(context.Background())
	if len(alerts) != first.Actions() {
		t.Errorf("%d alerts for %d actions", len(alerts), first.Actions())
	}

	second, err := sweep.Run(context.Background(), h, sweep.Options{Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	found, acted = count(second)
	for g, n := range want[b] {
		if found[key{a, g}] != 0 || acted[key{a, g}] != 0 || acted[key{b, g}] != 0 {
			t.Errorf("second sweep: %s: %d findings left in A, actions %d/%d", g, found[key{a, g}], acted[key{a, g}], acted[key{b, g}])
		}
		if found[key{b, g}] != n {
			t.Errorf("second sweep: %s in B (alert mode): %d findings, want %d still reported", g, found[key{b, g}], n)
		}
	}
}

// Every finding of a sweep is a Security Hub finding in its account and
// Region, RESOLVED where the sweep fixed it; a Region without Security Hub
// is noted, not an error.
func TestSweep_FindingsToSecurityHub(t *testing.T) {
	const a = "777788889999"
	ctx := context.Background()
	sb, err := sandbox.NewHub(ctx, srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	targets := []sweep.Target{{Account: a, Region: "eu-west-1"}, {Account: a, Region: "us-east-1"}}
	for _, tg := range targets {
		stage(t, sb, tg.Account, tg.Region)
	}
	mcfg, err := srv.AccountConfig(ctx, a, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	sh := securityhub.NewFromConfig(mcfg)
	if _, err := sh.EnableSecurityHub(ctx, &securityhub.EnableSecurityHubInput{}); err != nil {
		t.Fatal(err)
	}
	h, err := bootstrap.Load(ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &sb.Config, TopicARN: sb.TopicARN,
		HubAccount: sandbox.HubAccount, ConfigJSON: []byte(`{"security_hub":true,"modes":{"default":"remediate","guardrails":{"key-policy":"alert"}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	rep, err := sweep.Run(ctx, h, sweep.Options{Targets: targets, Findings: h.Findings, Progress: func(l string) { lines = append(lines, l) }})
	if err != nil || len(rep.Errors) != 0 {
		t.Fatalf("%v %v", err, rep.Errors)
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, a+"/us-east-1") && strings.Contains(l, "not enabled") }) {
		t.Errorf("no note on the Region without Security Hub: %v", lines)
	}
	want, fixed := map[string]bool{}, map[string]bool{}
	for _, f := range rep.Findings {
		if f.Region == "eu-west-1" {
			want[f.ARN] = true
			fixed[f.ARN] = fixed[f.ARN] || f.Action != guardrail.ActionNone
		}
	}
	got := map[string]shtypes.WorkflowStatus{}
	p := securityhub.NewGetFindingsPaginator(sh, &securityhub.GetFindingsInput{})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.Findings {
			n++
			got[aws.ToString(f.Resources[0].Id)] = f.Workflow.Status
		}
	}
	if len(want) == 0 || n < len(want) {
		t.Fatalf("%d findings in Security Hub for %d resources with findings", n, len(want))
	}
	for arn := range want {
		st, ok := got[arn]
		switch {
		case !ok:
			t.Errorf("no finding for %s", arn)
		case fixed[arn] && st != shtypes.WorkflowStatusResolved:
			t.Errorf("%s was fixed, finding %s", arn, st)
		}
	}
}
