package sweep

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/account"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

// MaxDigestItems bounds the worst items listed in a digest.
const MaxDigestItems = 25

// Digest renders the one alert a scheduled sweep sends: counts per account,
// Region and guardrail, and the worst items.
func Digest(r *Report) alert.Message {
	sev := guardrail.SeverityInfo
	for _, f := range r.Findings {
		if rank(f.Severity) < rank(sev) {
			sev = f.Severity
		}
	}
	if len(r.Errors) > 0 && rank(sev) > rank(guardrail.SeverityHigh) {
		sev = guardrail.SeverityHigh
	}
	if len(r.Spoke) > 0 && rank(sev) > rank(guardrail.SeverityHigh) {
		sev = guardrail.SeverityHigh
	}
	if len(r.NotEnabled) > 0 && rank(sev) > rank(guardrail.SeverityWarning) {
		sev = guardrail.SeverityWarning
	}
	fixed := r.Actions()
	var b alert.Body
	switch {
	case len(r.Findings) == 0 && len(r.Errors) == 0:
		b.Para("The kmsguard sweep checked %d keys and %d log groups in %d account-Regions and found nothing to report.", r.Keys, r.Groups, len(r.Targets))
	default:
		b.Para("The kmsguard sweep checked %d keys and %d log groups in %d account-Regions: %d findings, %d fixed (each fix also has its own alert), %d left for you.", r.Keys, r.Groups, len(r.Targets), len(r.Findings), fixed, len(r.Findings)-fixed)
	}
	b.Section("What happened")
	b.Field("Started", r.Started.Format("2006-01-02T15:04:05Z"))
	b.Field("Finished", r.Finished.Format("2006-01-02T15:04:05Z"))

	b.Section("What kmsguard did")
	b.Line("Reconciled every key and log group with the guardrails' own rules and modes; remediated where the mode is remediate.")

	counts := map[string]int{}
	for _, f := range r.Findings {
		counts[fmt.Sprintf("%s %s %s", f.Account, f.Region, f.Guardrail)]++
	}
	if len(counts) > 0 {
		b.Section("Findings per account, Region and guardrail")
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b.Line("%s: %d", k, counts[k])
		}
	}
	if len(r.Findings) > 0 {
		b.Section("Worst items")
		for i, f := range r.Findings {
			if i == MaxDigestItems {
				b.Line("… and %d more: run kmsguard audit for the full list.", len(r.Findings)-MaxDigestItems)
				break
			}
			b.Line("%s %s %s/%s %s — %s: %s", f.Severity, f.Guardrail, f.Account, f.Region, f.Resource, f.Action, f.Reason)
		}
	}
	if len(r.Orphans) > 0 {
		b.Section("Orphaned keys")
		b.Line("%d customer managed keys are Enabled and have no alias (often left by failed deployments); kmsguard audit lists them.", len(r.Orphans))
	}
	spokeSection(&b, r.Spoke)
	if len(r.NotEnabled) > 0 {
		b.Section("Regions not enabled")
		b.Line("%d account-Regions were not swept: the account has not enabled the opt-in Region, so kmsguard is not deployed there and nothing there can be used. Enable the Region (aws account enable-region --account-id ACCOUNT --region-name REGION) to guard it, or remove it from regions.", len(r.NotEnabled))
		for i, t := range r.NotEnabled {
			if i == MaxDigestItems {
				b.Line("… and %d more.", len(r.NotEnabled)-MaxDigestItems)
				break
			}
			b.Line("%s/%s", t.Account, t.Region)
		}
	}
	if len(r.Errors) > 0 {
		b.Section("Not checked")
		for i, e := range r.Errors {
			if i == MaxDigestItems {
				b.Line("… and %d more.", len(r.Errors)-MaxDigestItems)
				break
			}
			b.Line("%s", e)
		}
	}
	b.Where("all", "", "all")
	b.Section("Event")
	b.Field("Event id", "sweep-"+r.Started.Format("20060102T150405Z"))
	b.Field("Guardrail", "sweep")

	verdict := fmt.Sprintf("%d findings, %d fixed", len(r.Findings), fixed)
	if len(r.Errors) > 0 {
		verdict += fmt.Sprintf(", %d not checked", len(r.Errors))
	}
	if len(r.Spoke) > 0 {
		verdict += fmt.Sprintf(", %d spoke problems", len(r.Spoke))
	}
	if len(r.NotEnabled) > 0 {
		verdict += fmt.Sprintf(", %d Regions not enabled", len(r.NotEnabled))
	}
	return alert.Message{
		Severity: string(sev), Guardrail: "sweep", Account: "all", Region: "all",
		Resource: fmt.Sprintf("%d account-Regions", len(r.Targets)), Action: "digest", Verdict: verdict,
		EventID: "sweep-" + r.Started.Format("20060102T150405Z"), Body: b.String(),
		Summary: verdict + fmt.Sprintf(" in %d account-Regions", len(r.Targets)),
	}
}

// orgAPI is what account discovery calls in AWS Organizations.
type orgAPI interface {
	organizations.ListAccountsForParentAPIClient
	organizations.ListOrganizationalUnitsForParentAPIClient
}

// Targets turns the configured scope into targets: the listed
// accounts, plus the active accounts under the organizational units
// (recursively), minus the excluded ones, in every Region.
func Targets(ctx context.Context, s *runconfig.SweepScope, org orgAPI) ([]Target, error) {
	if s == nil {
		return nil, nil
	}
	accounts := append([]string{}, s.Accounts...)
	if len(s.OrganizationalUnits) > 0 {
		found, err := discover(ctx, org, s.OrganizationalUnits)
		if err != nil {
			return nil, fmt.Errorf("list the organization's accounts (give the hub read access to AWS Organizations, or list sweep.accounts): %w", err)
		}
		accounts = append(accounts, found...)
	}
	seen := map[string]bool{}
	var out []Target
	for _, a := range accounts {
		if seen[a] || slices.Contains(s.ExcludedAccounts, a) {
			continue
		}
		seen[a] = true
		for _, r := range s.Regions {
			out = append(out, Target{Account: a, Region: r})
		}
	}
	return out, nil
}

func discover(ctx context.Context, org orgAPI, parents []string) ([]string, error) {
	var accounts []string
	queue := append([]string{}, parents...)
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		ap := organizations.NewListAccountsForParentPaginator(org, &organizations.ListAccountsForParentInput{ParentId: aws.String(parent)})
		for ap.HasMorePages() {
			page, err := ap.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, a := range page.Accounts {
				if a.State == orgtypes.AccountStateActive || (a.State == "" && a.Status == orgtypes.AccountStatusActive) {
					accounts = append(accounts, aws.ToString(a.Id))
				}
			}
		}
		op := organizations.NewListOrganizationalUnitsForParentPaginator(org, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(parent)})
		for op.HasMorePages() {
			page, err := op.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, ou := range page.OrganizationalUnits {
				queue = append(queue, aws.ToString(ou.Id))
			}
		}
	}
	return accounts, nil
}

// Summary is the scheduled sweep Lambda's response.
type Summary struct {
	Targets  int `json:"targets"`
	Keys     int `json:"keys_checked"`
	Groups   int `json:"log_groups_checked"`
	Findings int `json:"findings"`
	Fixed    int `json:"fixed"`
	Errors   int `json:"errors"`
	// NotEnabled counts account-Regions skipped: opt-in Region not enabled.
	NotEnabled int `json:"regions_not_enabled"`
}

// Scheduled sweeps the configured scope and publishes the digest.
func Scheduled(ctx context.Context, h *bootstrap.Env) (Summary, error) {
	orgCfg := h.AWS().Copy()
	orgCfg.Region = "us-east-1" // AWS Organizations answers in us-east-1
	targets, err := Targets(ctx, h.RuntimeConfig().Sweep, organizations.NewFromConfig(orgCfg))
	if err != nil {
		return Summary{}, err
	}
	if len(targets) == 0 {
		return Summary{}, fmt.Errorf("the configuration has no sweep scope (sweep.accounts and regions)")
	}
	acctCfg := h.AWS().Copy()
	acctCfg.Region = "us-east-1" // AWS Account Management answers in us-east-1
	o := Options{Targets: targets, Progress: func(l string) { h.Log().InfoContext(ctx, l) },
		Accounts: account.NewFromConfig(acctCfg), Self: h.HubAccount()}
	if h.RuntimeConfig().SecurityHub {
		o.Findings = h.Findings
	}
	o.Health, o.Recorder = true, h.Recorder()
	rep, err := Run(ctx, h, o)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Targets: len(targets), Keys: rep.Keys, Groups: rep.Groups, Findings: len(rep.Findings), Fixed: rep.Actions(), Errors: len(rep.Errors), NotEnabled: len(rep.NotEnabled)}
	logSummary(ctx, h, sum)
	if h.Alerts() != nil {
		if err := h.Alerts().Publish(ctx, Digest(rep)); err != nil {
			return sum, fmt.Errorf("publish the sweep digest: %w", err)
		}
		if m, ok := SpokeAlert(rep.Started.Format("20060102T150405Z"), rep.Spoke); ok {
			if err := h.Alerts().Publish(ctx, m); err != nil {
				return sum, fmt.Errorf("publish the spoke health alert: %w", err)
			}
		}
	}
	return sum, nil
}

// logSummary writes the sweep's summary line, which carries its metrics in
// the embedded metric format (the hub dashboard's "Sweep results").
func logSummary(ctx context.Context, h *bootstrap.Env, sum Summary) {
	h.Log().InfoContext(ctx, "sweep", "targets", sum.Targets, "keys", sum.Keys, "log_groups", sum.Groups, "findings", sum.Findings, "fixed", sum.Fixed, "errors", sum.Errors,
		"_aws", map[string]any{"Timestamp": time.Now().UnixMilli(), "CloudWatchMetrics": []any{map[string]any{
			"Namespace": guardrail.MetricsNamespace, "Dimensions": [][]string{{"Guardrail"}},
			"Metrics": []any{map[string]string{"Name": "SweepFindings", "Unit": "Count"}, map[string]string{"Name": "SweepFixed", "Unit": "Count"},
				map[string]string{"Name": "SweepErrors", "Unit": "Count"}, map[string]string{"Name": "SweepRegionsNotEnabled", "Unit": "Count"}},
		}}},
		"Guardrail", guardrail.SweepID, "SweepFindings", sum.Findings, "SweepFixed", sum.Fixed, "SweepErrors", sum.Errors, "SweepRegionsNotEnabled", sum.NotEnabled)
}
