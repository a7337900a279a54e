package report

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Text is the table `kmsguard audit` prints by default: one line per
// finding, then orphaned keys, drift and what could not be checked.
func Text(w io.Writer, a Audit) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tGUARDRAIL\tACCOUNT\tREGION\tRESOURCE\tACTION\tREASON")
	for _, f := range a.Findings {
		reason := f.Reason
		if f.Error != "" {
			reason = "ERROR: " + f.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Guardrail, f.Account, f.Region, f.Resource, f.Action, truncate(reason, 110))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if a.OrphansNotChecked != "" {
		fmt.Fprintf(w, "\nOrphaned keys: not looked for: %s.\n", a.OrphansNotChecked)
	}
	if len(a.Orphans) > 0 {
		fmt.Fprintf(w, "\nOrphaned keys (Enabled, no alias; often left by failed deployments): %d\n", len(a.Orphans))
		for _, o := range a.Orphans {
			fmt.Fprintf(w, "  %s %s %s created %s", o.Account, o.Region, o.KeyID, o.Created.Format("2006-01-02"))
			if u := a.LastUse[o.KeyID]; u != "" {
				fmt.Fprintf(w, "; %s", u)
			}
			fmt.Fprintln(w)
		}
	}
	for _, d := range a.Drift {
		fmt.Fprintln(w, "\nDrift between the configuration file and the hub parameter: "+d)
	}
	for _, e := range a.Errors {
		fmt.Fprintln(w, "\nNot checked: "+e)
	}
	_, err := fmt.Fprintf(w, "\n%d findings in %d keys and %d log groups across %d account-Regions (%s)\n", len(a.Findings), a.Keys, a.Groups, len(a.Targets), Mode(a))
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// JSON is the report as one indented JSON document.
func JSON(w io.Writer, a Audit) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(a)
}
