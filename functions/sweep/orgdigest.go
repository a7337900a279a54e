package sweep

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/account"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
)

// OrgDigest is the one alert an organization sweep sends: counts per
// guardrail, account and Region, the worst items, and the items that
// failed and why.
func OrgDigest(o Org) alert.Message {
	sev := guardrail.SeverityInfo
	for _, f := range o.Worst {
		if rank(f.Severity) < rank(sev) {
			sev = f.Severity
		}
	}
	unchecked := o.Failed + o.Missing + len(o.Errors) + len(o.Spoke)
	if unchecked > 0 && rank(sev) > rank(guardrail.SeverityHigh) {
		sev = guardrail.SeverityHigh
	}
	if len(o.Meta.NotEnabled) > 0 && rank(sev) > rank(guardrail.SeverityWarning) {
		sev = guardrail.SeverityWarning
	}
	id := "sweep-" + o.Meta.Run
	var b alert.Body
	b.Para("The kmsguard organization sweep checked %d keys and %d log groups in %d of %d account-Regions: %d findings, %d fixed, %d left for you.",
		o.Keys, o.Groups, o.Done, o.Meta.Planned, o.Findings, o.Fixed, o.Findings-o.Fixed)
	if o.Failed+o.Missing > 0 {
		b.Para("%d account-Regions could not be swept (listed under \"Not swept\"): their keys and log groups were not checked this time.", o.Failed+o.Missing)
	}
	b.Section("What happened")
	b.Field("Run", o.Meta.Run)
	b.Field("Started", o.Meta.Started.UTC().Format(time.RFC3339))
	if !o.Meta.Finished.IsZero() {
		b.Field("Finished", o.Meta.Finished.UTC().Format(time.RFC3339))
	}
	if o.Meta.Execution != "" {
		b.Field("Execution", o.Meta.Execution)
	}

	b.Section("What kmsguard did")
	b.Line("Swept every account-Region as its own work item on AWS Step Functions, with the guardrails' own rules and modes; remediated where the mode is remediate. Critical findings also had their own alert; the rest are only here.")

	counts := func(title string, m map[string]Count, limit int) {
		if len(m) == 0 {
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if m[keys[i]].Findings != m[keys[j]].Findings {
				return m[keys[i]].Findings > m[keys[j]].Findings
			}
			return keys[i] < keys[j]
		})
		b.Section(title)
		for i, k := range keys {
			if limit > 0 && i == limit {
				b.Line("… and %d more (kmsguard sweep status --run %s --format json has them all)", len(keys)-limit, o.Meta.Run)
				break
			}
			if sev := severities(m[k].BySeverity); sev != "" {
				b.Line("%s: %d findings, %d fixed (%s)", k, m[k].Findings, m[k].Fixed, sev)
			} else {
				b.Line("%s: %d findings, %d fixed", k, m[k].Findings, m[k].Fixed)
			}
		}
	}
	counts("Per guardrail", o.PerGuardrail, 0)
	counts("Per account (most findings first)", o.PerAccount, MaxDigestItems)
	counts("Per Region", o.PerRegion, 0)
	if len(o.Worst) > 0 {
		b.Section("Worst items")
		for _, f := range o.Worst {
			b.Line("%s %s %s/%s %s — %s: %s", f.Severity, f.Guardrail, f.Account, f.Region, f.Resource, f.Action, f.Reason)
		}
		if o.Findings > len(o.Worst) {
			b.Line("… and %d more: kmsguard audit --accounts ACCOUNT --regions REGION lists an account-Region's.", o.Findings-len(o.Worst))
		}
	}
	if o.Orphans > 0 {
		b.Section("Orphaned keys")
		b.Line("%d customer managed keys are Enabled and have no alias (often left by failed deployments); kmsguard audit lists them.", o.Orphans)
	}
	if o.Failed+o.Missing > 0 {
		b.Section("Not swept")
		for i, f := range o.FailedItems {
			if i == MaxDigestItems {
				b.Line("… and %d more.", len(o.FailedItems)-MaxDigestItems)
				break
			}
			b.Line("%s", f)
		}
		if o.Missing > 0 {
			b.Line("%d work items left no record (the run was stopped, or they failed before recording): see the execution's failed child executions.", o.Missing)
		}
	}
	spokeSection(&b, o.Spoke)
	if len(o.Meta.NotEnabled) > 0 {
		b.Section("Regions not enabled")
		b.Line("%d account-Regions were not swept: the account has not enabled the opt-in Region, so kmsguard is not deployed there and nothing there can be used.", len(o.Meta.NotEnabled))
	}
	if len(o.Errors) > 0 {
		b.Section("Not checked")
		for i, e := range o.Errors {
			if i == MaxDigestItems {
				b.Line("… and %d more.", len(o.Errors)-MaxDigestItems)
				break
			}
			b.Line("%s", e)
		}
	}
	b.Where("all", "", "all")
	b.Section("Event")
	b.Field("Event id", id)
	b.Field("Guardrail", "sweep")

	verdict := fmt.Sprintf("%d findings, %d fixed", o.Findings, o.Fixed)
	if n := o.Failed + o.Missing; n > 0 {
		verdict += fmt.Sprintf(", %d not swept", n)
	}
	if len(o.Spoke) > 0 {
		verdict += fmt.Sprintf(", %d spoke problems", len(o.Spoke))
	}
	if len(o.Meta.NotEnabled) > 0 {
		verdict += fmt.Sprintf(", %d Regions not enabled", len(o.Meta.NotEnabled))
	}
	return alert.Message{
		Severity: string(sev), Guardrail: "sweep", Account: "all", Region: "all",
		Resource: fmt.Sprintf("%d account-Regions", o.Meta.Planned), Action: "digest", Verdict: verdict, EventID: id, Body: b.String(),
		Summary: verdict + fmt.Sprintf(" in %d account-Regions", o.Meta.Planned),
	}
}

// spokeSection lists the spokes whose events may not reach the hub.
func spokeSection(b *alert.Body, issues []SpokeIssue) {
	if len(issues) == 0 {
		return
	}
	b.Section("Spoke health")
	b.Line("Events from these account-Regions may not reach the hub, or their guardrails may not be able to act there (a separate HIGH alert lists the same problems):")
	for i, s := range issues {
		if i == MaxDigestItems {
			b.Line("… and %d more (kmsguard sweep status lists them all).", len(issues)-MaxDigestItems)
			break
		}
		b.Line("%s: %s. Fix: %s.", s.Where(), s.Problem, s.Fix)
	}
}

func severities(m map[string]int) string {
	var parts []string
	for _, s := range []guardrail.Severity{guardrail.SeverityCritical, guardrail.SeverityHigh, guardrail.SeverityWarning, guardrail.SeverityInfo} {
		if n := m[string(s)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

// DefaultItemAlerts is the least severity that gets its own alert during
// an organization sweep: what cannot wait for the digest.
const DefaultItemAlerts = string(guardrail.SeverityCritical)

// Phase runs one part of an organization sweep (see engine.go): in.Phase
// is plan, item or digest.
func Phase(ctx context.Context, h *bootstrap.Env, s Store, in Input) (any, error) {
	now := time.Now()
	switch in.Phase {
	case "plan":
		orgCfg := h.AWS().Copy()
		orgCfg.Region = "us-east-1" // AWS Organizations and Account Management answer in us-east-1
		targets, err := Targets(ctx, h.RuntimeConfig().Sweep, organizations.NewFromConfig(orgCfg))
		if err != nil {
			return nil, err
		}
		if len(targets) == 0 {
			return nil, fmt.Errorf("the configuration has no sweep scope (sweep.accounts and regions)")
		}
		run := in.Run
		if run == "" {
			run = now.UTC().Format("20060102T150405Z")
		}
		return Plan(ctx, s, targets, account.NewFromConfig(orgCfg), h.HubAccount(), run, in.Execution, now)
	case "item":
		if !guardrail.ValidAccountID(in.Account) || in.Region == "" || in.Run == "" {
			return nil, fmt.Errorf("an item needs run, a 12-digit account and a Region, got %+v", in)
		}
		alerts := DefaultItemAlerts
		if sc := h.RuntimeConfig().Sweep; sc != nil && sc.ItemAlerts != "" {
			alerts = sc.ItemAlerts
		}
		sweepOne := func(ctx context.Context, t Target) (*Report, error) {
			o := Options{Targets: []Target{t}, ItemAlerts: alerts, Health: true, Recorder: h.Recorder()}
			if sc := h.RuntimeConfig().Sweep; sc != nil {
				// One item per account checks its member roles.
				o.RolesRegion = RolesRegion(sc.Regions, h.AWS().Region)
			}
			if h.RuntimeConfig().SecurityHub {
				o.Findings = h.Findings
			}
			return Run(ctx, h, o)
		}
		r, err := ItemSweep(ctx, sweepOne, s, in.Run, Target{Account: in.Account, Region: in.Region}, now.Add(RecordsFor))
		if err != nil {
			return nil, err
		}
		return map[string]any{"status": r.Status, "findings": len(r.Worst) + r.MoreWorst}, nil
	case "digest":
		meta, items, err := Records(ctx, s, in.Run)
		if err != nil {
			return nil, err
		}
		meta.Finished, meta.State = now.UTC(), "finished"
		o := Aggregate(meta, items)
		sum := o.Summary()
		meta.Summary = &sum
		if h.Alerts() != nil {
			if err := h.Alerts().Publish(ctx, OrgDigest(o)); err != nil {
				return nil, fmt.Errorf("publish the sweep digest: %w", err)
			}
			if m, ok := SpokeAlert(meta.Run, o.Spoke); ok {
				if err := h.Alerts().Publish(ctx, m); err != nil {
					return nil, fmt.Errorf("publish the spoke health alert: %w", err)
				}
			}
		}
		if err := s.put(ctx, runKey(meta.Run), "meta", meta.State, meta, now.Add(RecordsFor)); err != nil {
			return nil, fmt.Errorf("record the finished run: %w", err)
		}
		logSummary(ctx, h, sum)
		return sum, nil
	}
	return nil, fmt.Errorf("unknown sweep phase %q (plan, item, digest)", in.Phase)
}
