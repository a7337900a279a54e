package app_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/infra/app"
	"github.com/kmsguard/kmsguard/infra/config"
	"github.com/kmsguard/kmsguard/internal/moto"
)

// TestStackSets_DeployToMembersOnMoto deploys the two StackSet templates
// through moto's StackSet API (CreateStackSet + CreateStackInstances) to two
// member accounts: the global one in the home Region, the regional one in two
// Regions. It then checks, through each service's own API in each member
// account, the resources moto creates. What moto cannot create or enforce is
// listed in docs/testing.md.
func TestStackSets_DeployToMembersOnMoto(t *testing.T) {
	ctx := context.Background()
	srv, err := moto.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cfg, err := config.Parse([]byte(orgYAML))
	if err != nil {
		t.Fatal(err)
	}
	global, regional, err := app.Templates(cfg)
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := srv.Config(ctx, cfg.HomeRegion)
	cf := cloudformation.NewFromConfig(admin)
	members := []string{"555555555555", "666666666666"}
	deploy := func(name, body string, regions []string) {
		if _, err := cf.CreateStackSet(ctx, &cloudformation.CreateStackSetInput{StackSetName: aws.String(name), TemplateBody: aws.String(body), Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}}); err != nil {
			t.Fatalf("create StackSet %s: %v", name, err)
		}
		if _, err := cf.CreateStackInstances(ctx, &cloudformation.CreateStackInstancesInput{StackSetName: aws.String(name), Accounts: members, Regions: regions}); err != nil {
			t.Fatalf("create %s instances: %v", name, err)
		}
		out, err := cf.ListStackInstances(ctx, &cloudformation.ListStackInstancesInput{StackSetName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Summaries) != len(members)*len(regions) {
			t.Fatalf("%s: %d instances, want %d", name, len(out.Summaries), len(members)*len(regions))
		}
		for _, s := range out.Summaries {
			if s.Status != cfntypes.StackInstanceStatusCurrent {
				t.Errorf("%s in %s/%s: %s %s", name, aws.ToString(s.Account), aws.ToString(s.Region), s.Status, aws.ToString(s.StatusReason))
			}
		}
	}
	deploy("kmsguard-global", global, []string{cfg.HomeRegion})
	deploy("kmsguard-regional", regional, cfg.Regions)

	for _, acct := range members {
		c, err := srv.AccountConfig(ctx, acct, cfg.HomeRegion)
		if err != nil {
			t.Fatal(err)
		}
		c.RetryMaxAttempts = 3 // moto sometimes drops a kept-alive connection
		for _, role := range []string{guardrail.MemberRoleName("key-rotation"), guardrail.MemberRoleName(guardrail.SweepID), "kmsguard-event-forwarder"} {
			r, err := iam.NewFromConfig(c).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
			if err != nil {
				t.Errorf("%s: role %s: %v", acct, role, err)
				continue
			}
			trust, _ := url.QueryUnescape(aws.ToString(r.Role.AssumeRolePolicyDocument))
			if strings.HasPrefix(role, guardrail.MemberRolePrefix) && !strings.Contains(trust, cfg.HubAccount) {
				t.Errorf("%s: %s trust %s", acct, role, trust)
			}
		}
		for _, region := range cfg.Regions {
			rc, _ := srv.AccountConfig(ctx, acct, region)
			rc.RetryMaxAttempts = 3
			rules, err := eventbridge.NewFromConfig(rc).ListRules(ctx, &eventbridge.ListRulesInput{NamePrefix: aws.String("kmsguard-forward-")})
			if err != nil {
				t.Fatal(err)
			}
			want := len(catalog.ForwardRules(catalog.Specs(), acct, cfg.HubAccount, "aws"))
			if len(rules.Rules) != want {
				t.Errorf("%s/%s: %d forwarding rules, want %d", acct, region, len(rules.Rules), want)
			}
			for _, r := range rules.Rules {
				var p map[string]any
				if err := json.Unmarshal([]byte(aws.ToString(r.EventPattern)), &p); err != nil || p["source"] == nil {
					t.Errorf("%s/%s: rule %s pattern %s", acct, region, aws.ToString(r.Name), aws.ToString(r.EventPattern))
				}
			}
			if _, err := sqs.NewFromConfig(rc).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("kmsguard-forward-dlq")}); err != nil {
				t.Errorf("%s/%s: DLQ: %v", acct, region, err)
			}
			// moto's CloudFormation keeps KeyPolicy as an object, after which
			// its DescribeKey on that key fails (HTTP 500): only the alias is
			// checked here; the key's properties are checked on the template
			// (TestRegionalSpoke_LogsKey). See docs/testing.md.
			al, err := kms.NewFromConfig(rc).ListAliases(ctx, &kms.ListAliasesInput{})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, a := range al.Aliases {
				if aws.ToString(a.AliasName) == config.DefaultLogsKeyAlias && aws.ToString(a.TargetKeyId) != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("%s/%s: no %s", acct, region, config.DefaultLogsKeyAlias)
			}
		}
	}
}
