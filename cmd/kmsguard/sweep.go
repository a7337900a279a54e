package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kmsguard/kmsguard/functions/sweep"
)

func sweepCommand() *command {
	return &command{
		name:    "sweep",
		summary: "Follow the organization sweep (status)",
		help: `The scheduled organization sweep runs on AWS Step Functions in the hub: one
work item per account-Region, retried on transient errors, and one digest
at the end. Its run and item records are in the hub's DynamoDB table
` + sweep.TableName + ` (kept 90 days).`,
		subs: []*command{sweepStatusCommand()},
	}
}

func sweepStatusCommand() *command {
	return &command{
		name:    "status",
		summary: "Show a sweep run's progress and result (default: the latest run)",
		help: `Shows how far a sweep run has got — account-Regions swept, failed and
still without a record — and what it found: findings and fixes per
guardrail, account and Region, the worst items, and why each failed item
failed. Reads the hub's sweep table, in the hub account's home Region.`,
		setup: func(f *flags) runFunc {
			run := f.String("run", "ID", "", "the run id, as the digest and the Step Functions execution name it (default: the latest run)")
			table := f.String("table", "NAME", sweep.TableName, "the hub's sweep table")
			region := f.Region("the hub's home Region (default: the configuration's home_region, else the AWS environment's)")
			cfgFile := f.Config("kmsguard.yaml: its home_region and hub_account say where the table is")
			format := f.Format("text", "text", "json")
			awsf := f.AWS()
			return func(ctx context.Context, c *call) int {
				h, code, ok := connectHub(ctx, c, awsf, *region, *cfgFile, "the sweep's records are in the hub account", "")
				if !ok {
					return code
				}
				var err error
				store := sweep.Store{DB: dynamodb.NewFromConfig(h.cfg), Table: *table}
				id := *run
				if id == "" {
					if id, err = sweep.Latest(ctx, store); err != nil {
						return c.failed(err)
					}
				}
				meta, items, err := sweep.Records(ctx, store, id)
				if err != nil {
					return c.failed(err)
				}
				org := sweep.Aggregate(meta, items)
				if *format == "json" {
					enc := json.NewEncoder(c.stdout)
					enc.SetIndent("", "  ")
					_ = enc.Encode(statusJSON(org))
					return exitOK
				}
				printStatus(c.stdout, org)
				return exitOK
			}
		},
	}
}

type sweepStatus struct {
	Run          string                 `json:"run"`
	State        string                 `json:"state"`
	Execution    string                 `json:"execution,omitempty"`
	Started      time.Time              `json:"started"`
	Finished     *time.Time             `json:"finished,omitempty"`
	Planned      int                    `json:"planned"`
	Swept        int                    `json:"swept"`
	Failed       int                    `json:"failed"`
	NoRecord     int                    `json:"no_record"`
	NotEnabled   int                    `json:"regions_not_enabled"`
	Keys         int                    `json:"keys_checked"`
	Groups       int                    `json:"log_groups_checked"`
	Findings     int                    `json:"findings"`
	Fixed        int                    `json:"fixed"`
	PerGuardrail map[string]sweep.Count `json:"per_guardrail"`
	PerAccount   map[string]sweep.Count `json:"per_account"`
	PerRegion    map[string]sweep.Count `json:"per_region"`
	Worst        []sweep.Finding        `json:"worst"`
	FailedItems  []string               `json:"failed_items"`
	Errors       []string               `json:"not_checked"`
	Spoke        []sweep.SpokeIssue     `json:"spoke"`
}

func statusJSON(o sweep.Org) sweepStatus {
	s := sweepStatus{Run: o.Meta.Run, State: o.Meta.State, Execution: o.Meta.Execution, Started: o.Meta.Started, Planned: o.Meta.Planned,
		Swept: o.Done, Failed: o.Failed, NoRecord: o.Missing, NotEnabled: len(o.Meta.NotEnabled), Keys: o.Keys, Groups: o.Groups,
		Findings: o.Findings, Fixed: o.Fixed, PerGuardrail: o.PerGuardrail, PerAccount: o.PerAccount, PerRegion: o.PerRegion,
		Worst: o.Worst, FailedItems: o.FailedItems, Errors: o.Errors, Spoke: o.Spoke}
	if s.Spoke == nil {
		s.Spoke = []sweep.SpokeIssue{}
	}
	if !o.Meta.Finished.IsZero() {
		f := o.Meta.Finished
		s.Finished = &f
	}
	if s.Worst == nil {
		s.Worst = []sweep.Finding{}
	}
	if s.FailedItems == nil {
		s.FailedItems = []string{}
	}
	if s.Errors == nil {
		s.Errors = []string{}
	}
	return s
}

func printStatus(w io.Writer, o sweep.Org) {
	m := o.Meta
	when := "started " + m.Started.UTC().Format(time.RFC3339)
	if !m.Finished.IsZero() {
		when += ", finished " + m.Finished.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "Sweep run %s: %s (%s)\n", m.Run, m.State, when)
	if m.Execution != "" {
		fmt.Fprintf(w, "Execution: %s\n", m.Execution)
	}
	pct := 100.0
	if m.Planned > 0 {
		pct = float64(o.Done+o.Failed) * 100 / float64(m.Planned)
	}
	fmt.Fprintf(w, "Progress:  %d of %d account-Regions (%.0f%%): %d swept, %d failed, %d without a record yet\n", o.Done+o.Failed, m.Planned, pct, o.Done, o.Failed, o.Missing)
	if n := len(m.NotEnabled); n > 0 {
		fmt.Fprintf(w, "           %d account-Regions not planned: the account has not enabled the Region\n", n)
	}
	fmt.Fprintf(w, "Checked:   %d keys, %d log groups\n", o.Keys, o.Groups)
	fmt.Fprintf(w, "Findings:  %d, %d fixed\n", o.Findings, o.Fixed)
	section := func(title string, c map[string]sweep.Count) {
		if len(c) == 0 {
			return
		}
		keys := make([]string, 0, len(c))
		for k := range c {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(w, "\n%s\n", title)
		for _, k := range keys {
			fmt.Fprintf(w, "  %-16s %5d findings %5d fixed\n", k, c[k].Findings, c[k].Fixed)
		}
	}
	section("Per guardrail", o.PerGuardrail)
	section("Per Region", o.PerRegion)
	if len(o.Worst) > 0 {
		fmt.Fprintf(w, "\nWorst items\n")
		for _, f := range o.Worst {
			fmt.Fprintf(w, "  %-8s %s %s/%s %s — %s\n", f.Severity, f.Guardrail, f.Account, f.Region, f.Resource, f.Action)
		}
	}
	if len(o.FailedItems) > 0 {
		fmt.Fprintf(w, "\nNot swept\n")
		for _, f := range o.FailedItems {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	if len(o.Spoke) > 0 {
		fmt.Fprintf(w, "\nSpoke health (events may not reach the hub)\n")
		for _, s := range o.Spoke {
			fmt.Fprintf(w, "  %s: %s\n    fix: %s\n", s.Where(), s.Problem, s.Fix)
		}
	}
	if len(o.Errors) > 0 {
		fmt.Fprintf(w, "\nNot checked\n")
		for _, e := range o.Errors {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}
