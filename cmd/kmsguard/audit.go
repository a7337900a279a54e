package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/functions/sweep"
	kgconfig "github.com/kmsguard/kmsguard/infra/config"
)

// auditReport is what `kmsguard audit --format json` prints.
type auditReport struct {
	*sweep.Report
	Fix   bool     `json:"fix"`
	Drift []string `json:"drift"`
	// LastUse maps an orphaned key id to its last-use evidence.
	LastUse map[string]string `json:"orphan_last_use"`
}

func audit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	regions := fs.String("regions", "", "comma-separated Regions (default: the configuration's, else the AWS environment's)")
	accounts := fs.String("accounts", "", "comma-separated account ids (default: the caller's account)")
	format := fs.String("format", "table", "table or json")
	fix := fs.Bool("fix", false, "apply remediations where the modes say remediate (default: read-only)")
	cfgFile := fs.String("config", "", "kmsguard.yaml: modes and settings for --fix, and the drift check against the hub parameter")
	param := fs.String("parameter", bootstrap.ConfigParameter, "the hub's configuration parameter (modes for --fix without --config; drift check)")
	only := fs.String("guardrails", "", "comma-separated guardrail ids to run (default: all); keys are listed, and orphaned keys reported, only when a key guardrail runs")
	lookups := fs.Int("orphan-lookups", MaxOrphanLookups, "CloudTrail look-ups for orphaned keys' last use (LookupEvents allows 2 per second; 0 skips them)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitBadInput
	}
	if *format != "table" && *format != "json" {
		fmt.Fprintln(stderr, "kmsguard audit: --format must be table or json")
		return exitBadInput
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard audit:", err)
		return exitFailed
	}
	var file *kgconfig.Config
	var fileJSON string
	if *cfgFile != "" {
		if file, err = kgconfig.Load(*cfgFile); err != nil {
			fmt.Fprintln(stderr, "kmsguard audit:", err)
			return exitBadInput
		}
		fileJSON, _ = file.RuntimeConfigJSON()
	}
	paramJSON, paramErr := readParam(ctx, awsCfg, *param)

	opts := bootstrap.FromEnv()
	opts.Guardrails, opts.Known = catalog.Entries(), catalog.IDs()
	if ids := split(*only); len(ids) > 0 {
		var picked []guardrail.Entry
		for _, e := range opts.Guardrails {
			if slices.Contains(ids, e.Spec.ID) {
				picked = append(picked, e)
			}
		}
		if len(picked) != len(ids) {
			fmt.Fprintf(stderr, "kmsguard audit: --guardrails %q: known guardrails are %s\n", *only, strings.Join(catalog.IDs(), ", "))
			return exitBadInput
		}
		opts.Guardrails = picked
	}
	opts.AWS = &awsCfg
	opts.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts.ConfigParameter = ""
	switch {
	case file != nil:
		opts.ConfigJSON = []byte(fileJSON)
	case paramErr == nil:
		opts.ConfigJSON = []byte(paramJSON)
	case *fix:
		fmt.Fprintf(stderr, "kmsguard audit --fix: no modes to follow: pass --config kmsguard.yaml, or deploy the hub (%v)\n", paramErr)
		return exitBadInput
	}
	if !*fix {
		opts.Mode = guardrail.ModeAlert // read-only: every decision is alert-only
	}
	if opts.HubAccount == "" {
		id, err := sts.NewFromConfig(awsCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			fmt.Fprintln(stderr, "kmsguard audit: who am I:", err)
			return exitFailed
		}
		opts.HubAccount = aws.ToString(id.Account)
	}
	h, err := bootstrap.Load(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard audit:", err)
		return exitBadInput
	}

	accts := split(*accounts)
	if len(accts) == 0 {
		accts = []string{opts.HubAccount}
	}
	regs := split(*regions)
	if len(regs) == 0 && file != nil {
		regs = file.Regions
	}
	if len(regs) == 0 {
		regs = []string{awsCfg.Region}
	}
	var targets []sweep.Target
	for _, a := range accts {
		if !guardrail.ValidAccountID(a) {
			fmt.Fprintf(stderr, "kmsguard audit: --accounts: %q is not a 12-digit account id\n", a)
			return exitBadInput
		}
		for _, r := range regs {
			targets = append(targets, sweep.Target{Account: a, Region: r})
		}
	}
	rep, err := sweep.Run(ctx, h, sweep.Options{Targets: targets, Progress: func(l string) { fmt.Fprintln(stderr, "kmsguard audit:", l) }})
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard audit:", err)
		return exitFailed
	}
	out := auditReport{Report: rep, Fix: *fix, Drift: drift(fileJSON, paramJSON, paramErr, *param), LastUse: map[string]string{}}
	for i, o := range rep.Orphans {
		if i >= *lookups {
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
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		printTable(stdout, out)
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

// drift compares the modes in the file with the ones in the parameter
// (changed by `kmsguard mode set`, or a deployment not made yet).
func drift(fileJSON, paramJSON string, paramErr error, name string) []string {
	if fileJSON == "" {
		return []string{}
	}
	if paramErr != nil {
		return []string{fmt.Sprintf("cannot compare with %s: %v", name, paramErr)}
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

func printTable(w io.Writer, r auditReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tGUARDRAIL\tACCOUNT\tREGION\tRESOURCE\tACTION\tREASON")
	for _, f := range r.Findings {
		reason := f.Reason
		if f.Error != "" {
			reason = "ERROR: " + f.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Guardrail, f.Account, f.Region, f.Resource, f.Action, truncate(reason, 110))
	}
	_ = tw.Flush()
	if len(r.Orphans) > 0 {
		fmt.Fprintf(w, "\nOrphaned keys (Enabled, no alias; often left by failed deployments): %d\n", len(r.Orphans))
		for _, o := range r.Orphans {
			fmt.Fprintf(w, "  %s %s %s created %s", o.Account, o.Region, o.KeyID, o.Created.Format("2006-01-02"))
			if u := r.LastUse[o.KeyID]; u != "" {
				fmt.Fprintf(w, "; %s", u)
			}
			fmt.Fprintln(w)
		}
	}
	for _, d := range r.Drift {
		fmt.Fprintln(w, "\nDrift between the configuration file and the hub parameter: "+d)
	}
	for _, e := range r.Errors {
		fmt.Fprintln(w, "\nNot checked: "+e)
	}
	mode := "read-only"
	if r.Fix {
		mode = fmt.Sprintf("fix: %d remediated", r.Actions())
	}
	fmt.Fprintf(w, "\n%d findings in %d keys and %d log groups across %d account-Regions (%s)\n", len(r.Findings), r.Keys, r.Groups, len(r.Targets), mode)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
