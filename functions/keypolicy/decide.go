package keypolicy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// severity ranks the worst finding.
func severity(codes []string) guardrail.Severity {
	switch {
	case slices.Contains(codes, CodePublic), slices.Contains(codes, CodeLockout):
		return guardrail.SeverityCritical
	case slices.Contains(codes, CodeExternal), slices.Contains(codes, CodeUnparseable):
		return guardrail.SeverityHigh
	case len(codes) > 0:
		return guardrail.SeverityWarning
	}
	return ""
}

// decide is pure: no I/O, no clock, no logging. The exemption tag is the
// driver's.
func decide(in guardrail.Input[State]) guardrail.Decision {
	d := func(k guardrail.Kind, sev guardrail.Severity, verdict, reason string) guardrail.Decision {
		return guardrail.Decision{Kind: k, Severity: sev, Verdict: verdict, Reason: reason, Findings: in.State.Analysis.Codes()}
	}
	k := in.State.Key
	if !k.Found {
		return d(guardrail.Ignore, "", "", "the key does not exist in this account and Region")
	}
	if k.AWSManaged() {
		return d(guardrail.Ignore, "", "", "AWS managed key: its policy is set by AWS")
	}
	codes := in.State.Analysis.Codes()
	if len(codes) == 0 {
		return d(guardrail.Ignore, "", "", "the key policy has no findings")
	}
	sev := severity(codes)
	summary := strings.Join(codes, ", ")
	removable := in.State.Analysis.Removable()
	if in.Mode != guardrail.ModeRemediate {
		return d(guardrail.Notify, sev, summary+" (alert mode)",
			fmt.Sprintf("the key policy has %s findings and the guardrail runs in alert mode for this account, so kmsguard did not change it", summary))
	}
	if len(removable) == 0 {
		return d(guardrail.Notify, sev, summary,
			fmt.Sprintf("the key policy has %s findings that kmsguard does not remove automatically (LOCKOUT and BROAD-ADMIN are alert-only; a statement that grants the account itself is never removed)", summary))
	}
	return d(guardrail.Remediate, sev, "statements removed",
		fmt.Sprintf("the key policy had %s findings; %d statement(s) granting public or untrusted access are removable", summary, len(removable)))
}
