// Package report renders what `kmsguard audit` found in the formats people
// and tools read: a text table, JSON, CSV, OCSF Compliance Findings and one
// self-contained HTML page. The advice in each ("What you can do") is the
// guardrails' own, carried on each finding by the sweep (sweep.Remedy).
package report

import (
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
)

// Audit is what `kmsguard audit` found: the sweep's report and what the
// audit adds to it. `--format json` prints it as it is.
type Audit struct {
	*sweep.Report
	Fix   bool     `json:"fix"`
	Drift []string `json:"drift"`
	// LastUse maps an orphaned key id to its last-use evidence.
	LastUse map[string]string `json:"orphan_last_use"`
	// Guardrails are the ids of the guardrails that ran.
	Guardrails []string `json:"guardrails,omitempty"`
}

// Formats are the values of `kmsguard audit --format`, the default first.
var Formats = []string{"text", "json", "csv", "ocsf", "html"}

// Options are what a report says about the program that wrote it.
type Options struct {
	// Version is kmsguard's version (OCSF metadata.product.version, the
	// HTML footer); BuildVersion when empty.
	Version string
}

// Write renders a in format (one of Formats).
func Write(w io.Writer, format string, a Audit, o Options) error {
	if o.Version == "" {
		o.Version = BuildVersion()
	}
	switch format {
	case "text":
		return Text(w, a)
	case "json":
		return JSON(w, a)
	case "csv":
		return CSV(w, a)
	case "ocsf":
		return OCSF(w, a, o)
	case "html":
		return HTML(w, a, o)
	}
	return fmt.Errorf("unknown report format %q (known: %s)", format, strings.Join(Formats, ", "))
}

// BuildVersion is the module version the binary was built from: a release
// tag, else the commit (with +dirty for uncommitted changes), else "dev".
func BuildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "dev"
	}
	return rev + dirty
}

// Severities are the guardrails' severities, highest first.
var Severities = []guardrail.Severity{guardrail.SeverityCritical, guardrail.SeverityHigh, guardrail.SeverityWarning, guardrail.SeverityInfo}

// Row counts the findings of one account, Region or guardrail.
type Row struct {
	Name string
	// Detail is what the name stands for (a guardrail's summary).
	Detail string
	// BySeverity follows Severities.
	BySeverity []int
	Total      int
	// Fixed are the findings kmsguard remediated (--fix); Failed the ones
	// whose check or remediation failed.
	Fixed, Failed int
}

// Summary is the report's overview.
type Summary struct {
	Accounts, Regions, Guardrails []Row
	Total                         Row
}

// Summarize counts the findings per account, Region and guardrail. Every
// account and Region swept, and every guardrail that ran, has a row, with
// zeros when nothing was found there.
func Summarize(a Audit) Summary {
	var accounts, regions []string
	for _, t := range a.Targets {
		if !slices.Contains(accounts, t.Account) {
			accounts = append(accounts, t.Account)
		}
		if !slices.Contains(regions, t.Region) {
			regions = append(regions, t.Region)
		}
	}
	guardrails := slices.Clone(a.Guardrails)
	for _, f := range a.Findings {
		if !slices.Contains(accounts, f.Account) {
			accounts = append(accounts, f.Account)
		}
		if !slices.Contains(regions, f.Region) {
			regions = append(regions, f.Region)
		}
		if !slices.Contains(guardrails, f.Guardrail) {
			guardrails = append(guardrails, f.Guardrail)
		}
	}
	sort.Strings(accounts)
	sort.Strings(regions)
	order := catalog.IDs()
	sort.SliceStable(guardrails, func(i, j int) bool { return position(order, guardrails[i]) < position(order, guardrails[j]) })

	rows := func(names []string, key func(sweep.Finding) string) []Row {
		out := make([]Row, len(names))
		for i, n := range names {
			out[i] = count(n, a.Findings, func(f sweep.Finding) bool { return key(f) == n })
		}
		return out
	}
	s := Summary{
		Accounts:   rows(accounts, func(f sweep.Finding) string { return f.Account }),
		Regions:    rows(regions, func(f sweep.Finding) string { return f.Region }),
		Guardrails: rows(guardrails, func(f sweep.Finding) string { return f.Guardrail }),
		Total:      count("All", a.Findings, func(sweep.Finding) bool { return true }),
	}
	for i := range s.Guardrails {
		if spec, ok := specOf(s.Guardrails[i].Name); ok {
			s.Guardrails[i].Detail = spec.Summary
		}
	}
	return s
}

func count(name string, findings []sweep.Finding, match func(sweep.Finding) bool) Row {
	r := Row{Name: name, BySeverity: make([]int, len(Severities))}
	for _, f := range findings {
		if !match(f) {
			continue
		}
		r.Total++
		if i := slices.Index(Severities, f.Severity); i >= 0 {
			r.BySeverity[i]++
		}
		if Fixed(f) {
			r.Fixed++
		}
		if f.Error != "" {
			r.Failed++
		}
	}
	return r
}

func position(order []string, id string) int {
	if i := slices.Index(order, id); i >= 0 {
		return i
	}
	return len(order)
}

// Fixed reports a finding kmsguard remediated.
func Fixed(f sweep.Finding) bool {
	return f.Action != "" && f.Action != guardrail.ActionNone && f.Error == ""
}

func specOf(id string) (guardrail.Spec, bool) {
	for _, s := range catalog.Specs() {
		if s.ID == id {
			return s, true
		}
	}
	return guardrail.Spec{}, false
}

// RemedyText is a finding's "What you can do" as plain text: each step's
// words on a line, its commands on the lines below, indented four spaces
// as in the alert.
func RemedyText(steps []sweep.Step) string {
	var b strings.Builder
	for _, s := range steps {
		if s.Text != "" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(s.Text)
		}
		for _, c := range s.Commands {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString("    " + c)
		}
	}
	return b.String()
}

// Mode is the audit's mode in words.
func Mode(a Audit) string {
	if a.Fix {
		return fmt.Sprintf("fix: %d remediated", a.Actions())
	}
	return "read-only"
}
