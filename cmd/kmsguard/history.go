package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/ledger"
)

func historyCommand() *command {
	return &command{
		name:    "history",
		summary: "What kmsguard did and saw, from its ledger (list, clear)",
		help: `kmsguard records every outcome in its ledger in the hub (DynamoDB table
` + ledger.TableName + `, kept 400 days): what a guardrail found, what it did, who made
the change, the state before and after. The loop breaker reads it too:
after repeated fixes of one resource that someone keeps undoing, kmsguard
steps back from it until the window passes or you clear it.`,
		subs: []*command{historyListCommand(), historyClearCommand()},
	}
}

// ledgerFlags are the flags every history command shares.
type ledgerFlags struct {
	table, region, cfgFile *string
	aws                    *awsFlags
}

func historyFlags(f *flags) *ledgerFlags {
	return &ledgerFlags{
		table:   f.String("table", "NAME", ledger.TableName, "the hub's ledger table"),
		region:  f.Region("the hub's home Region (default: the configuration's home_region, else the AWS environment's)"),
		cfgFile: f.Config("kmsguard.yaml: its home_region and hub_account say where the ledger is"),
		aws:     f.AWS(),
	}
}

// open connects to the hub's ledger; nil and the exit code on failure.
func (p *ledgerFlags) open(ctx context.Context, c *call) (*ledger.Ledger, int) {
	h, code, ok := connectHub(ctx, c, p.aws, *p.region, *p.cfgFile, "the ledger is in the hub account", "")
	if !ok {
		return nil, code
	}
	return ledger.New(dynamodb.NewFromConfig(h.cfg), *p.table), exitOK
}

// resourceRefs are the ledger references a RESOURCE argument names: a KMS
// key ARN carries its account and Region; a key id or a log group name
// needs --account and --region. Without --guardrail, every guardrail's.
func resourceRefs(resource, account, region, id string) ([]ledger.Ref, error) {
	if p := strings.Split(resource, ":"); len(p) >= 6 && p[0] == "arn" {
		if account == "" {
			account = p[4]
		}
		if region == "" {
			region = p[3]
		}
	}
	if !guardrail.ValidAccountID(account) || region == "" {
		return nil, fmt.Errorf("%q names no account and Region: give its ARN, or --account and --region", resource)
	}
	ids := catalog.IDs()
	if id != "" {
		ids = []string{id}
	}
	var refs []ledger.Ref
	for _, g := range ids {
		refs = append(refs, ledger.Ref{Guardrail: g, Account: account, Region: region, Resource: resource})
	}
	return refs, nil
}

func historyListCommand() *command {
	return &command{
		name:    "list",
		args:    "[RESOURCE]",
		maxArgs: 1,
		summary: "List what kmsguard did, for a resource or an account",
		help: `Lists the ledger's outcomes, newest first: for one RESOURCE (a key ARN; a key
id or log group name with --account and --region), or for every resource
of --account. --since bounds how far back (default 7 days).`,
		setup: func(f *flags) runFunc {
			p := historyFlags(f)
			account := f.Account("the account whose outcomes to list (or the RESOURCE's, when it is no ARN)")
			id := f.Enum("guardrail", "", "only this guardrail's outcomes", catalog.IDs(), nil)
			since := f.String("since", "DURATION", "168h", "how far back: a Go duration such as 24h or 720h")
			limit := f.Int("limit", "N", 100, "at most N outcomes")
			format := f.Format("text", "text", "json")
			return func(ctx context.Context, c *call) int {
				d, err := time.ParseDuration(*since)
				if err != nil || d <= 0 {
					return c.usageError("--since %q: use a duration such as 24h or 720h", *since)
				}
				if *limit < 1 {
					return c.usageError("--limit must be 1 or more")
				}
				if len(c.args) == 0 && *account == "" {
					return c.usageError("give a RESOURCE or --account")
				}
				var refs []ledger.Ref
				if len(c.args) == 1 {
					if refs, err = resourceRefs(c.args[0], *account, *p.region, *id); err != nil {
						return c.usageError("%v", err)
					}
				}
				l, code := p.open(ctx, c)
				if l == nil {
					return code
				}
				from := time.Now().Add(-d)
				var entries []ledger.Entry
				if refs == nil {
					if entries, err = l.AccountOutcomes(ctx, *account, from, *limit); err != nil {
						return c.failed(fmt.Errorf("read the ledger: %w", err))
					}
				}
				for _, r := range refs {
					if r.Region == "" {
						r.Region = *p.region
					}
					es, err := l.Outcomes(ctx, r, from)
					if err != nil {
						return c.failed(fmt.Errorf("read the ledger: %w", err))
					}
					entries = append(entries, es...)
				}
				if *id != "" {
					kept := entries[:0]
					for _, e := range entries {
						if e.Guardrail == *id {
							kept = append(kept, e)
						}
					}
					entries = kept
				}
				sortNewest(entries)
				if len(entries) > *limit {
					entries = entries[:*limit]
				}
				if *format == "json" {
					if entries == nil {
						entries = []ledger.Entry{}
					}
					enc := json.NewEncoder(c.stdout)
					enc.SetIndent("", "  ")
					_ = enc.Encode(entries)
					return exitOK
				}
				printHistory(c.stdout, entries)
				return exitOK
			}
		},
	}
}

func sortNewest(es []ledger.Entry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].At.After(es[j-1].At); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

func printHistory(w io.Writer, es []ledger.Entry) {
	if len(es) == 0 {
		fmt.Fprintln(w, "No outcomes in that time.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tGUARDRAIL\tACCOUNT/REGION\tRESOURCE\tRESULT\tACTION\tBEFORE → AFTER\tBY")
	for _, e := range es {
		name := e.Name
		if name == "" {
			name = e.Resource
		}
		states := ""
		if e.Before != "" || e.After != "" {
			states = e.Before + " → " + e.After
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.Guardrail, e.Account, e.Region,
			clip(name, 40), e.Result, e.Action, clip(states, 40), clip(e.Actor, 60))
	}
	tw.Flush()
}

func historyClearCommand() *command {
	return &command{
		name:    "clear",
		args:    "RESOURCE",
		minArgs: 1,
		maxArgs: 1,
		summary: "Let kmsguard act on a resource it stepped back from",
		help: `After kmsguard stepped back from a resource (the loop breaker: someone kept
undoing its fixes), lets it act on it again now and restarts the count.
RESOURCE is a key ARN, or a key id or log group name with --account and
--region. The alert that announced the step back gives the exact command.`,
		setup: func(f *flags) runFunc {
			p := historyFlags(f)
			account := f.Account("the RESOURCE's account, when it is no ARN")
			id := f.Enum("guardrail", "", "the guardrail that stepped back (required)", catalog.IDs(), nil)
			return func(ctx context.Context, c *call) int {
				if *id == "" {
					return c.usageError("give --guardrail: the guardrail that stepped back")
				}
				region := *p.region
				refs, err := resourceRefs(c.args[0], *account, region, *id)
				if err != nil {
					return c.usageError("%v", err)
				}
				l, code := p.open(ctx, c)
				if l == nil {
					return code
				}
				if err := l.Clear(ctx, refs[0]); err != nil {
					return c.failed(fmt.Errorf("clear %s: %w", refs[0].Resource, err))
				}
				fmt.Fprintf(c.stdout, "%s may act on %s in %s/%s again.\n", refs[0].Guardrail, refs[0].Resource, refs[0].Account, refs[0].Region)
				return exitOK
			}
		},
	}
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
