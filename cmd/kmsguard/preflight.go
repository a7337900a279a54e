package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/logencryption"
	kgconfig "github.com/kmsguard/kmsguard/infra/config"
)

// check is one preflight result.
type check struct {
	ok          bool
	where, what string
	fix         string
}

// preflight checks that kmsguard can work in each account and Region: a
// trail logs KMS management events, the spoke rules exist, the logs key is
// usable by CloudWatch Logs, and the remediator role can be assumed.
func preflight(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("preflight", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "kmsguard.yaml (Regions, logs key, hub account)")
	accounts := fs.String("accounts", "", "comma-separated account ids (default: the caller's account)")
	regions := fs.String("regions", "", "comma-separated Regions (default: the configuration's, else the AWS environment's)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitBadInput
	}
	base, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard preflight:", err)
		return exitFailed
	}
	alias := kgconfig.DefaultLogsKeyAlias
	var regs []string
	if *cfgFile != "" {
		c, err := kgconfig.Load(*cfgFile)
		if err != nil {
			fmt.Fprintln(stderr, "kmsguard preflight:", err)
			return exitBadInput
		}
		alias, regs = c.LogsKey.Alias(), c.Regions
	}
	if r := split(*regions); len(r) > 0 {
		regs = r
	}
	if len(regs) == 0 {
		regs = []string{base.Region}
	}
	id, err := sts.NewFromConfig(base).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard preflight: who am I:", err)
		return exitFailed
	}
	me := aws.ToString(id.Account)
	accts := split(*accounts)
	if len(accts) == 0 {
		accts = []string{me}
	}
	var checks []check
	for _, acct := range accts {
		if !guardrail.ValidAccountID(acct) {
			fmt.Fprintf(stderr, "kmsguard preflight: --accounts: %q is not a 12-digit account id\n", acct)
			return exitBadInput
		}
		cfg := base.Copy()
		if acct != me {
			// The read-only role the sweep lists through; each guardrail's
			// own role can call only that guardrail's actions.
			role := fmt.Sprintf("arn:%s:iam::%s:role/%s", guardrail.Partition(base.Region), acct, guardrail.MemberRoleName(guardrail.SweepID))
			cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), role, func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "kmsguard-preflight" }))
			_, err := cfg.Credentials.Retrieve(ctx)
			checks = append(checks, check{err == nil, acct, "the hub can assume " + role,
				"deploy the global spoke (StackSet kmsguard-global) to this account, and run preflight with the hub's credentials: " + errText(err)})
			if err != nil {
				continue
			}
		}
		for _, r := range regs {
			c := cfg.Copy()
			c.Region = r
			where := acct + "/" + r
			checks = append(checks, trailCheck(ctx, cloudtrail.NewFromConfig(c), where))
			checks = append(checks, rulesCheck(ctx, eventbridge.NewFromConfig(c), where))
			checks = append(checks, keyCheck(ctx, kms.NewFromConfig(c), alias, r, acct, where))
		}
	}
	failed := 0
	for _, c := range checks {
		status := "PASS"
		if !c.ok {
			status, failed = "FAIL", failed+1
		}
		fmt.Fprintf(stdout, "%s  %-28s %s\n", status, c.where, c.what)
		if !c.ok {
			fmt.Fprintf(stdout, "      fix: %s\n", c.fix)
		}
	}
	fmt.Fprintf(stdout, "\n%d checks, %d failed\n", len(checks), failed)
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// trailCheck: a trail is logging, records management events (write events at
// least) and does not exclude kms.amazonaws.com.
func trailCheck(ctx context.Context, api *cloudtrail.Client, where string) check {
	c := check{where: where, what: "a CloudTrail trail logs management events, KMS included"}
	trails, err := api.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		c.fix = "allow cloudtrail:DescribeTrails to read the trails: " + err.Error()
		return c
	}
	var why []string
	for _, t := range trails.TrailList {
		name := aws.ToString(t.TrailARN)
		if name == "" {
			name = aws.ToString(t.Name)
		}
		st, err := api.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(name)})
		if err != nil || !aws.ToBool(st.IsLogging) {
			why = append(why, aws.ToString(t.Name)+" is not logging")
			continue
		}
		sel, err := api.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: aws.String(name)})
		if err != nil {
			why = append(why, aws.ToString(t.Name)+": "+err.Error())
			continue
		}
		if selectsKMSWrites(sel) {
			c.ok = true
			c.what += " (" + aws.ToString(t.Name) + ")"
			return c
		}
		why = append(why, aws.ToString(t.Name)+" does not record KMS write management events")
	}
	if len(trails.TrailList) == 0 {
		why = append(why, "no trail")
	}
	c.fix = strings.Join(why, "; ") + ". Without such a trail EventBridge receives no CloudTrail events and kmsguard hears nothing: create or fix an (organization) trail that logs management events, read and write, without excluding kms.amazonaws.com"
	return c
}

func selectsKMSWrites(sel *cloudtrail.GetEventSelectorsOutput) bool {
	if len(sel.EventSelectors) == 0 && len(sel.AdvancedEventSelectors) == 0 {
		return true // a trail without selectors logs all management events
	}
	for _, s := range sel.EventSelectors {
		if aws.ToBool(s.IncludeManagementEvents) && s.ReadWriteType != cttypes.ReadWriteTypeReadOnly && !slices.Contains(s.ExcludeManagementEventSources, "kms.amazonaws.com") {
			return true
		}
	}
	for _, a := range sel.AdvancedEventSelectors {
		management, excludesKMS := false, false
		for _, f := range a.FieldSelectors {
			switch aws.ToString(f.Field) {
			case "eventCategory":
				management = slices.Contains(f.Equals, "Management")
			case "eventSource":
				excludesKMS = slices.Contains(f.NotEquals, "kms.amazonaws.com") || (len(f.Equals) > 0 && !slices.Contains(f.Equals, "kms.amazonaws.com"))
			case "readOnly":
				if slices.Contains(f.Equals, "true") {
					excludesKMS = true
				}
			}
		}
		if management && !excludesKMS {
			return true
		}
	}
	return false
}

// rulesCheck: every forwarding rule of the regional spoke exists and is enabled.
func rulesCheck(ctx context.Context, api *eventbridge.Client, where string) check {
	c := check{where: where, what: "the kmsguard forwarding rules are deployed and enabled"}
	want := map[string]bool{}
	for _, r := range catalog.ForwardRules(catalog.Specs(), "ACCOUNT", "HUB", "aws") {
		want[r.Name] = true // names do not depend on the accounts
	}
	out, err := api.ListRules(ctx, &eventbridge.ListRulesInput{NamePrefix: aws.String(catalog.ForwardPrefix + "-")})
	if err != nil {
		c.fix = "allow events:ListRules: " + err.Error()
		return c
	}
	for _, r := range out.Rules {
		if r.State == "ENABLED" {
			delete(want, aws.ToString(r.Name))
		}
	}
	if len(want) == 0 {
		c.ok = true
		return c
	}
	var missing []string
	for n := range want {
		missing = append(missing, n)
	}
	slices.Sort(missing)
	c.fix = fmt.Sprintf("missing or disabled: %s; deploy the regional spoke (StackSet kmsguard-regional, or kmsguard-regional-<region>) here", strings.Join(missing, ", "))
	return c
}

// keyCheck: the logs key exists, is usable, and admits CloudWatch Logs.
func keyCheck(ctx context.Context, api *kms.Client, alias, region, account, where string) check {
	c := check{where: where, what: "the logs key " + alias + " is usable by CloudWatch Logs"}
	k, err := logencryption.CheckKey(ctx, api, alias, region, account)
	switch {
	case err != nil:
		c.fix = err.Error()
	case k.Problem != "":
		c.fix = k.Problem
		if k.Statement != "" {
			c.fix += "; add this statement to its key policy: " + k.Statement
		}
	default:
		c.ok = true
	}
	return c
}
