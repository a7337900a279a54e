package report

import (
	"encoding/csv"
	"io"
	"strings"
)

// CSVHeader names the columns of the CSV report.
var CSVHeader = []string{"account", "region", "guardrail", "resource", "arn", "severity", "mode", "action", "reason", "findings", "error", "what_you_can_do"}

// CSV is one row per finding under a header row (RFC 4180, as
// encoding/csv writes it). Orphaned keys, drift and the targets that
// could not be checked are not findings: they are in the text, JSON and
// HTML reports. A cell that a spreadsheet would read as a formula (it
// starts with =, +, -, @, a tab or a carriage return) is prefixed with a
// single quote, so a hostile resource name cannot run in it.
func CSV(w io.Writer, a Audit) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVHeader)
	for _, f := range a.Findings {
		row := []string{f.Account, f.Region, f.Guardrail, f.Resource, f.ARN, string(f.Severity), string(f.Mode), f.Action, f.Reason,
			strings.Join(f.Findings, "; "), f.Error, RemedyText(f.Remedy)}
		for i := range row {
			row[i] = cell(row[i])
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
