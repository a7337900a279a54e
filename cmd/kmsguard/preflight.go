package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/account"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/functions/sweep"
	kgconfig "github.com/kmsguard/kmsguard/infra/config"
)

// newAccountAPI reads accounts' Regions (AWS Account Management answers in
// us-east-1); tests replace it, as moto has no ListRegions.
var newAccountAPI = func(cfg aws.Config) sweep.AccountAPI {
	c := cfg.Copy()
	c.Region = "us-east-1"
	return account.NewFromConfig(c)
}

// check is one preflight result.
type check struct {
	ok          bool
	id          string // sweep.Check* for the checks the sweep makes too
	where, what string
	problem     string
	fix         string
}

// fromHealth turns the sweep's health checks (the same code, so preflight
// and the sweep's digest never disagree) into preflight's.
func fromHealth(hs ...sweep.Check) []check {
	out := make([]check, len(hs))
	for i, h := range hs {
		out[i] = check{ok: h.OK, id: h.ID, where: sweep.SpokeIssue{Target: h.Target}.Where(), what: h.What, problem: h.Problem, fix: h.Fix}
	}
	return out
}

func preflightCommand() *command {
	return &command{
		name:    "preflight",
		summary: "Check that kmsguard can work: trail, forwarding rules, DLQ, logs key, roles",
		help: `Checks, per account and Region, that kmsguard can work: a CloudTrail trail
is logging and records KMS write management events; the spoke's health, with
the same checks as every sweep (the forwarding rules are deployed, enabled
and target the hub bus, the forwarding DLQ is empty, the logs key is usable
by CloudWatch Logs, and, once per account, each guardrail's member role
exists and trusts its hub role); for accounts other than the hub, the hub
can assume the sweep's read-only role; and each configured opt-in Region is
enabled in the account (AWS Account Management ListRegions).
--all checks every ACTIVE account of the organization (AWS Organizations
ListAccounts: run it as the management account or a delegated
administrator, normally the hub).
PASS or FAIL per check, with the fix. Run it with the hub's credentials.`,
		setup: func(f *flags) runFunc {
			var a preflightArgs
			a.cfgFile = f.Config("kmsguard.yaml (Regions, logs key, hub account)")
			a.accounts = f.Accounts("accounts to check, comma-separated or repeated (default: the caller's account)")
			a.all = f.Bool("all", "check every ACTIVE account of the organization (AWS Organizations ListAccounts)")
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
	all               *bool
	aws               *awsFlags
}

// newOrgAPI lists the organization's accounts (AWS Organizations answers
// in us-east-1).
var newOrgAPI = func(cfg aws.Config) organizations.ListAccountsAPIClient {
	c := cfg.Copy()
	c.Region = "us-east-1"
	return organizations.NewFromConfig(c)
}

// orgAccounts lists every ACTIVE account of the caller's organization, in
// id order. The errors name the fix: ListAccounts answers only the
// management account and delegated administrators.
func orgAccounts(ctx context.Context, api organizations.ListAccountsAPIClient, me string) ([]string, error) {
	var out []string
	p := organizations.NewListAccountsPaginator(api, &organizations.ListAccountsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var ae smithy.APIError
		switch {
		case errors.As(err, &ae) && ae.ErrorCode() == "AWSOrganizationsNotInUseException":
			return nil, fmt.Errorf("--all lists the accounts of the organization, but account %s is not in an AWS Organizations organization: name the accounts with --accounts instead", me)
		case errors.As(err, &ae) && ae.ErrorCode() == "AccessDeniedException":
			return nil, fmt.Errorf("--all lists the organization's accounts, but AWS Organizations refused ListAccounts to account %s (%s): run it with the credentials of the management account, or make the hub a delegated administrator of AWS Organizations (an Organizations resource-based delegation policy allowing organizations:ListAccounts), or name the accounts with --accounts", me, ae.ErrorMessage())
		case err != nil:
			return nil, fmt.Errorf("list the organization's accounts: %w", err)
		}
		for _, a := range page.Accounts {
			if a.State == orgtypes.AccountStateActive || (a.State == "" && a.Status == orgtypes.AccountStatusActive) {
				out = append(out, aws.ToString(a.Id))
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// preflight checks that kmsguard can work in each account and Region: a
// trail logs KMS management events, the spoke is healthy (the sweep's own
// checks), and the hub can assume the sweep's read-only role.
func preflight(ctx context.Context, c *call, a preflightArgs) int {
	if *a.all && len(*a.accounts) > 0 {
		return c.usageError("give --all or --accounts, not both")
	}
	var rc runconfig.RuntimeConfig
	var file *kgconfig.Config
	regs := *a.regions
	if *a.cfgFile != "" {
		var err error
		if file, err = kgconfig.Load(*a.cfgFile); err != nil {
			return c.badInput(err)
		}
		if rc, err = file.RuntimeConfig(); err != nil {
			return c.badInput(err)
		}
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
	hub := sweep.Hub{Account: me, Region: base.Region}
	if file != nil {
		hub = sweep.Hub{Account: file.HubAccount, Region: file.HomeRegion}
	}
	accts := *a.accounts
	if *a.all {
		if file != nil && me != file.HubAccount {
			return c.failed(wrongAccount(o, me, file.HubAccount, *a.cfgFile, "preflight --all reaches the organization's accounts through the hub's role"))
		}
		if accts, err = orgAccounts(ctx, newOrgAPI(base), me); err != nil {
			return c.failed(err)
		}
	}
	if len(accts) == 0 {
		accts = []string{me}
	}
	if file != nil && me != file.HubAccount && slices.ContainsFunc(accts, func(x string) bool { return x != me }) {
		return c.failed(wrongAccount(o, me, file.HubAccount, *a.cfgFile, "preflight reaches other accounts through the hub's role"))
	}
	expect := sweep.ExpectFrom(rc, hub, catalog.Specs())
	// Accounts are checked eight at a time (an organization has hundreds),
	// and printed in order.
	results := make([][]check, len(accts))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, acct := range accts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = preflightAccount(ctx, base, me, acct, regs, expect)
		}()
	}
	wg.Wait()
	var checks []check
	for _, r := range results {
		checks = append(checks, r...)
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
			if ch.problem != "" {
				fmt.Fprintf(c.stdout, "      problem: %s\n", ch.problem)
			}
			if !ch.ok {
				fmt.Fprintf(c.stdout, "      fix: %s\n", ch.fix)
			}
		}
		fmt.Fprintf(c.stdout, "\n%d checks in %d accounts, %d failed\n", len(checks), len(accts), failed)
	}
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

// preflightAccount checks one account: the hub can assume the sweep's
// role there, its member roles (once: IAM is global), its opt-in Regions,
// then each Region's trail and spoke.
func preflightAccount(ctx context.Context, base aws.Config, me, acct string, regs []string, expect sweep.Expect) []check {
	var checks []check
	cfg := base.Copy()
	if acct != me {
		// The read-only role the sweep lists through; each guardrail's
		// own role can call only that guardrail's actions.
		role := fmt.Sprintf("arn:%s:iam::%s:role/%s", guardrail.Partition(base.Region), acct, guardrail.MemberRoleName(guardrail.SweepID))
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), role, func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "kmsguard-preflight" }))
		_, err := cfg.Credentials.Retrieve(ctx)
		checks = append(checks, check{ok: err == nil, where: acct, what: "the hub can assume " + role,
			fix: "deploy the global spoke (StackSet kmsguard-global) to this account, and run preflight with the hub's credentials: " + errText(err)})
		if err != nil {
			return checks
		}
	}
	if len(expect.MemberRoles(acct)) > 0 {
		checks = append(checks, fromHealth(sweep.RolesCheck(ctx, acct, iam.NewFromConfig(cfg), expect))...)
	}
	// Opt-in Regions the account has not enabled: kmsguard cannot be
	// there (the opt-in StackSets skip them); say so, check the rest.
	off, err := sweep.NotEnabled(ctx, newAccountAPI(base), acct, me, regs)
	if err != nil {
		checks = append(checks, check{false, "", acct, "opt-in Regions enabled", "", "give the hub account:ListRegions (as the management account or the Account Management delegated administrator): " + errText(err)})
	}
	for _, r := range off {
		checks = append(checks, check{false, "", acct + "/" + r, "opt-in Region " + r + " is enabled in the account", "",
			fmt.Sprintf("enable it (aws account enable-region --account-id %s --region-name %s, then wait for ENABLED) and redeploy the StackSet %s, or remove it from regions", acct, r, kgconfig.OptInStackSetName(r))})
	}
	for _, r := range regs {
		if slices.Contains(off, r) {
			continue
		}
		c := cfg.Copy()
		c.Region = r
		t := sweep.Target{Account: acct, Region: r}
		checks = append(checks, trailCheck(ctx, cloudtrail.NewFromConfig(c), t.Account+"/"+t.Region))
		checks = append(checks, fromHealth(sweep.RegionHealth(ctx, t, sweep.RegionAPIs{Rules: eventbridge.NewFromConfig(c), Queues: sqs.NewFromConfig(c), Keys: kms.NewFromConfig(c)}, expect)...)...)
	}
	return checks
}

// preflightReport is what preflight --format json prints.
type preflightReport struct {
	Checks []preflightCheck `json:"checks"`
	Failed int              `json:"failed"`
}

type preflightCheck struct {
	Status string `json:"status"` // PASS or FAIL
	Where  string `json:"where"`  // account or account/Region
	// ID is the spoke health check's id (sweep.Check*), as in the sweep's
	// records; "" for preflight's own checks.
	ID      string `json:"id,omitempty"`
	Check   string `json:"check"`
	Problem string `json:"problem,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

func writePreflightJSON(w io.Writer, checks []check, failed int) {
	rep := preflightReport{Checks: []preflightCheck{}, Failed: failed}
	for _, ch := range checks {
		pc := preflightCheck{Status: "PASS", Where: ch.where, ID: ch.id, Check: ch.what, Problem: ch.problem}
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
