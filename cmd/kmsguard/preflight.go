package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/account"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/logencryption"
	"github.com/kmsguard/kmsguard/functions/sweep"
	kgconfig "github.com/kmsguard/kmsguard/infra/config"
)

// check is one preflight result.
// newAccountAPI reads accounts' Regions (AWS Account Management answers in
// us-east-1); tests replace it, as moto has no ListRegions.
var newAccountAPI = func(cfg aws.Config) sweep.AccountAPI {
	c := cfg.Copy()
	c.Region = "us-east-1"
	return account.NewFromConfig(c)
}

type check struct {
	ok          bool
	where, what string
	fix         string
}

func preflightCommand() *command {
	return &command{
		name:    "preflight",
		summary: "Check that kmsguard can work: trail, forwarding rules, logs key, remediator role",
		help: `Checks, per account and Region, that kmsguard can work: a CloudTrail trail
is logging and records KMS write management events, the forwarding rules are
deployed and enabled, the logs key is usable by CloudWatch Logs, (for
accounts other than the caller's) the hub can assume the remediator role,
and each configured opt-in Region is enabled in the account (AWS Account
Management ListRegions).
PASS or FAIL per check, with the fix. Run it with the hub's credentials.`,
		setup: func(f *flags) runFunc {
			var a preflightArgs
			a.cfgFile = f.Config("kmsguard.yaml (Regions, logs key, hub account)")
			a.accounts = f.Accounts("accounts to check, comma-separated or repeated (default: the caller's account)")
			a.regions = f.Regions("Regions to check, comma-separated or repeated (default: the configuration's, else the AWS environment's)")
			a.format = f.Format("text", "text", "json")
			a.aws = f.AWS()
			return func(ctx context.Context, c *call) int { return preflight(ctx, c, a) }
		},
	}
}

type preflightArgs struct {
	cfgFile, format   *string
	accounts, regions *[]string
	aws               *awsFlags
}

// preflight checks that kmsguard can work in each account and Region: a
// trail logs KMS management events, the spoke rules exist, the logs key is
// usable by CloudWatch Logs, and the remediator role can be assumed.
func preflight(ctx context.Context, c *call, a preflightArgs) int {
	alias := kgconfig.DefaultLogsKeyAlias
	var file *kgconfig.Config
	regs := *a.regions
	if *a.cfgFile != "" {
		var err error
		if file, err = kgconfig.Load(*a.cfgFile); err != nil {
			return c.badInput(err)
		}
		alias = file.LogsKey.Alias()
		if len(regs) == 0 {
			regs = file.Regions
		}
	}
	o := a.aws.options(c.stderr)
	base, err := loadAWS(ctx, o)
	if err != nil {
		return c.failed(err)
	}
	if base.Region == "" && len(regs) > 0 {
		base.Region = regs[0]
	}
	me, err := whoAmI(ctx, base, o.profile)
	if err != nil {
		return c.failed(err)
	}
	if len(regs) == 0 {
		regs = []string{base.Region}
	}
	accts := *a.accounts
	if len(accts) == 0 {
		accts = []string{me}
	}
	if file != nil && me != file.HubAccount && slices.ContainsFunc(accts, func(x string) bool { return x != me }) {
		return c.failed(wrongAccount(o, me, file.HubAccount, *a.cfgFile, "preflight reaches other accounts through the hub's role"))
	}
	var checks []check
	for _, acct := range accts {
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
		// Opt-in Regions the account has not enabled: kmsguard cannot be
		// there (the opt-in StackSets skip them); say so, check the rest.
		off, err := sweep.NotEnabled(ctx, newAccountAPI(base), acct, me, regs)
		if err != nil {
			checks = append(checks, check{false, acct, "opt-in Regions enabled", "give the hub account:ListRegions (as the management account or the Account Management delegated administrator): " + errText(err)})
		}
		for _, r := range off {
			checks = append(checks, check{false, acct + "/" + r, "opt-in Region " + r + " is enabled in the account",
				fmt.Sprintf("enable it (aws account enable-region --account-id %s --region-name %s, then wait for ENABLED) and redeploy the StackSet %s, or remove it from regions", acct, r, kgconfig.OptInStackSetName(r))})
		}
		for _, r := range regs {
			if slices.Contains(off, r) {
				continue
			}
			c := cfg.Copy()
			c.Region = r
			where := acct + "/" + r
			checks = append(checks, trailCheck(ctx, cloudtrail.NewFromConfig(c), where))
			checks = append(checks, rulesCheck(ctx, eventbridge.NewFromConfig(c), where))
			checks = append(checks, keyCheck(ctx, kms.NewFromConfig(c), alias, r, acct, where))
		}
	}
	failed := 0
	for _, ch := range checks {
		if !ch.ok {
			failed++
		}
	}
	if *a.format == "json" {
		writePreflightJSON(c.stdout, checks, failed)
	} else {
		for _, ch := range checks {
			status := "PASS"
			if !ch.ok {
				status = "FAIL"
			}
			fmt.Fprintf(c.stdout, "%s  %-28s %s\n", status, ch.where, ch.what)
			if !ch.ok {
				fmt.Fprintf(c.stdout, "      fix: %s\n", ch.fix)
			}
		}
		fmt.Fprintf(c.stdout, "\n%d checks, %d failed\n", len(checks), failed)
	}
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

// preflightReport is what preflight --format json prints.
type preflightReport struct {
	Checks []preflightCheck `json:"checks"`
	Failed int              `json:"failed"`
}

type preflightCheck struct {
	Status string `json:"status"` // PASS or FAIL
	Where  string `json:"where"`  // account or account/Region
	Check  string `json:"check"`
	Fix    string `json:"fix,omitempty"`
}

func writePreflightJSON(w io.Writer, checks []check, failed int) {
	rep := preflightReport{Checks: []preflightCheck{}, Failed: failed}
	for _, ch := range checks {
		pc := preflightCheck{Status: "PASS", Where: ch.where, Check: ch.what}
		if !ch.ok {
			pc.Status, pc.Fix = "FAIL", ch.fix
		}
		rep.Checks = append(rep.Checks, pc)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
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
	missing, err := sweep.MissingRules(ctx, api, catalog.Specs())
	if err != nil {
		c.fix = "allow events:ListRules: " + err.Error()
		return c
	}
	if len(missing) == 0 {
		c.ok = true
		return c
	}
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
