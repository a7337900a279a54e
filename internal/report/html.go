package report

import (
	_ "embed"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "unknown"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "unknown"
		}
		return t.UTC().Format("2006-01-02")
	},
	"lower": func(s guardrail.Severity) string { return strings.ToLower(string(s)) },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}).Parse(htmlSource))

// page is what the HTML template is written from.
type page struct {
	Audit
	Summary    Summary
	Severities []guardrail.Severity
	Accounts   []string
	Regions    []string
	Findings   []finding
	Duration   string
	Mode       string
	Version    string
}

type finding struct {
	sweep.Finding
	N     int
	Fixed bool
	// Noun is what the guardrail guards ("KMS key", "log group").
	Noun string
}

// HTML is the report as one self-contained page a person opens in a
// browser: inline CSS, no script, no external resource. html/template
// escapes every value (resource names, reasons and errors come from the
// accounts audited and are not trusted).
func HTML(w io.Writer, a Audit, o Options) error {
	p := page{Audit: a, Summary: Summarize(a), Severities: Severities, Mode: Mode(a), Version: o.Version}
	for _, r := range p.Summary.Accounts {
		p.Accounts = append(p.Accounts, r.Name)
	}
	for _, r := range p.Summary.Regions {
		p.Regions = append(p.Regions, r.Name)
	}
	if !a.Started.IsZero() && !a.Finished.IsZero() {
		p.Duration = a.Finished.Sub(a.Started).Round(time.Second).String()
	}
	for i, f := range a.Findings {
		spec, _ := specOf(f.Guardrail)
		p.Findings = append(p.Findings, finding{Finding: f, N: i + 1, Fixed: Fixed(f), Noun: spec.Resource})
	}
	return htmlTemplate.Execute(w, p)
}
