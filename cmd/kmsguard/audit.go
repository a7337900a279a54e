package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/functions/sweep"
	kgconfig "github.com/kmsguard/kmsguard/infra/config"
	"github.com/kmsguard/kmsguard/internal/report"
)

func auditCommand() *command {
	return &command{
		name:    "audit",
		summary: "Sweep what exists now with the guardrails' rules; read-only unless --fix",
		help: `Sweeps what exists now with the guardrails' own rules: keys pending
deletion, rotation off or too long, key policies with findings, log groups
without a key; orphaned keys (with CloudTrail last-use evidence); drift
between the configuration file and the hub parameter. Read-only unless
--fix, which remediates where the modes say remediate. Accounts other than
the caller's are reached through the kmsguard-remediator role.

--format csv (a spreadsheet), ocsf (OCSF Compliance Findings, for a SIEM)
or html (one self-contained page for a browser) write a report in which
each finding comes with the commands its guardrail's alert gives.`,
		setup: func(f *flags) runFunc {
			var a auditArgs
			a.regions = f.Regions("Regions to sweep, comma-separated or repeated (default: the configuration's, else the AWS environment's)")
			a.accounts = f.Accounts("accounts to sweep, comma-separated or repeated (default: the caller's account)")
			a.format = f.Format("text", report.Formats...)
			a.fix = f.Bool("fix", "apply remediations where the modes say remediate (default: read-only)")
			a.cfgFile = f.Config("kmsguard.yaml: Regions, modes and settings for --fix, and the drift check against the hub parameter")
			a.param = f.String("parameter", "NAME", bootstrap.ConfigParameter, "the hub's configuration parameter (modes for --fix without --config; drift check)")
			a.only = f.String("guardrails", "ID[,ID]", "", "guardrails to run (default: all); keys are listed, and orphaned keys reported, only when a key guardrail runs")
			a.lookups = f.Int("orphan-lookups", "N", MaxOrphanLookups, "CloudTrail look-ups for orphaned keys' last use (LookupEvents allows 2 per second; 0 skips them)")
			f.words["guardrails"] = catalog.IDs()
			a.aws = f.AWS()
			return func(ctx context.Context, c *call) int { return audit(ctx, c, a) }
		},
	}
}

type auditArgs struct {
	regions, accounts            *[]string
	format, cfgFile, param, only *string
	fix                          *bool
	lookups                      *int
	aws                          *awsFlags
}

func audit(ctx context.Context, c *call, a auditArgs) int {
	var picked []guardrail.Entry
	if ids := split(*a.only); len(ids) > 0 {
		for _, e := range catalog.Entries() {
			if slices.Contains(ids, e.Spec.ID) {
				picked = append(picked, e)
			}
		}
		if len(picked) != len(ids) {
			return c.usageError("--guardrails %q: known guardrails are %s", *a.only, strings.Join(catalog.IDs(), ", "))
		}
	}
	if *a.lookups < 0 {
		return c.usageError("--orphan-lookups must be 0 or more")
	}
	var file *kgconfig.Config
	var fileJSON string
	if *a.cfgFile != "" {
		var err error
		if file, err = kgconfig.Load(*a.cfgFile); err != nil {
			return c.badInput(err)
		}
		fileJSON, _ = file.RuntimeConfigJSON()
	}
	regs := *a.regions
	if len(regs) == 0 && file != nil {
		regs = file.Regions
	}

	o := a.aws.options(c.stderr)
	awsCfg, err := loadAWS(ctx, o)
	if err != nil {
		return c.failed(err)
	}
	if awsCfg.Region == "" && len(regs) > 0 {
		awsCfg.Region = regs[0]
	}
	me, err := whoAmI(ctx, awsCfg, o.profile)
	if err != nil {
		return c.failed(err)
	}
	if len(regs) == 0 {
		regs = []string{awsCfg.Region}
	}
	opts := bootstrap.FromEnv()
	if opts.HubAccount == "" {
		opts.HubAccount = me
	}
	accts := *a.accounts
	if len(accts) == 0 {
		accts = []string{opts.HubAccount}
	}
	if file != nil && me != file.HubAccount && slices.ContainsFunc(accts, func(x string) bool { return x != me }) {
		return c.failed(wrongAccount(o, me, file.HubAccount, *a.cfgFile, "audit reaches other accounts through the hub's role"))
	}
	hubCfg := awsCfg.Copy() // the parameter and the mode store are in the hub's home Region
	if file != nil {
		hubCfg.Region = file.HomeRegion
	}
	paramJSON, paramErr := readParam(ctx, hubCfg, *a.param)

	opts.Guardrails, opts.Known = catalog.Entries(), catalog.IDs()
	if picked != nil {
		opts.Guardrails = picked
	}
	opts.AWS = &awsCfg
	opts.Log = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts.ConfigParameter = ""
	switch {
	case file != nil:
		opts.ConfigJSON = []byte(fileJSON)
	case paramErr == nil:
		opts.ConfigJSON = []byte(paramJSON)
	case *a.fix:
		return c.badInput(fmt.Errorf("--fix: no modes to follow: pass --config kmsguard.yaml, or deploy the hub (%s)", brief(explainAWS(paramErr, o.profile))))
	}
	if !*a.fix {
		opts.Mode = guardrail.ModeAlert // read-only: every decision is alert-only
	} else if file != nil || paramErr == nil {
		// The mode store's rules (kmsguard mode set) apply on top of the
		// file's, as they do in the Lambdas; a store that cannot be read
		// makes the accounts it would decide alert only.
		opts.ModeStore, opts.ModeStoreRegion = true, hubCfg.Region
	}
	h, err := bootstrap.Load(ctx, opts)
	if err != nil {
		return c.badInput(err)
	}

	var targets []sweep.Target
	for _, acct := range accts {
		for _, r := range regs {
			targets = append(targets, sweep.Target{Account: acct, Region: r})
		}
	}
	rep, err := sweep.Run(ctx, h, sweep.Options{Targets: targets, Progress: func(l string) { fmt.Fprintln(c.stderr, c.path+":", l) },
		Accounts: newAccountAPI(awsCfg), Self: me})
	if err != nil {
		return c.failed(err)
	}
	out := report.Audit{Report: rep, Fix: *a.fix, Drift: drift(fileJSON, paramJSON, paramErr, *a.param), LastUse: map[string]string{}}
	for _, e := range opts.Guardrails {
		if e.Spec.Sweep.Kind != "" {
			out.Guardrails = append(out.Guardrails, e.Spec.ID)
		}
	}
	for i, o := range rep.Orphans {
		if i >= *a.lookups {
			break
		}
		c := awsCfg.Copy()
		c.Region = o.Region
		c.RetryMaxAttempts = 2 // evidence, not a fix: do not wait long for it
		if o.Account != opts.HubAccount {
			out.LastUse[o.KeyID] = "last use not looked up (run audit with that account's credentials)"
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out.LastUse[o.KeyID] = lastUse(lctx, cloudtrail.NewFromConfig(c), o.ARN)
		cancel()
	}
	_ = report.Write(c.stdout, *a.format, out, report.Options{})
	if *a.format == "csv" || *a.format == "ocsf" {
		// These formats hold findings only: what could not be checked
		// (which makes the exit code 1 too) is said on stderr.
		for _, e := range rep.Errors {
			fmt.Fprintln(c.stderr, c.path+": not checked: "+e)
		}
	}
	if len(rep.Findings) > 0 || len(rep.Errors) > 0 {
		return exitFailed
	}
	return exitOK
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func readParam(ctx context.Context, cfg aws.Config, name string) (string, error) {
	out, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Parameter.Value), nil
}

// drift compares the modes in the file with the ones in the parameter (a
// deployment not made yet, or the parameter changed by hand; the rules of
// `kmsguard mode set` live in the mode store, not in the parameter).
func drift(fileJSON, paramJSON string, paramErr error, name string) []string {
	if fileJSON == "" {
		return []string{}
	}
	if paramErr != nil {
		return []string{fmt.Sprintf("cannot compare with %s: %s", name, brief(paramErr))}
	}
	var f, p runconfig.RuntimeConfig
	_ = json.Unmarshal([]byte(fileJSON), &f)
	if err := json.Unmarshal([]byte(paramJSON), &p); err != nil {
		return []string{fmt.Sprintf("%s is not valid JSON: %v", name, err)}
	}
	var out []string
	fm, _ := json.Marshal(f.Modes)
	pm, _ := json.Marshal(p.Modes)
	if string(fm) != string(pm) {
		out = append(out, fmt.Sprintf("modes differ: file %s, parameter %s", fm, pm))
	}
	fg, _ := json.Marshal(f.Guardrails)
	pg, _ := json.Marshal(p.Guardrails)
	if string(fg) != string(pg) {
		out = append(out, fmt.Sprintf("guardrail settings differ: file %s, parameter %s", fg, pg))
	}
	if out == nil {
		out = []string{}
	}
	return out
}
