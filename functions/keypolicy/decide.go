package keypolicy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// Action is what the guardrail does.
type Action int

const (
	// Ignore: nothing to do or say.
	Ignore Action = iota
	// Notify: alert only.
	Notify
	// Strip: remove the removable statements with PutKeyPolicy, then alert.
	Strip
)

// Decision is the pure result of decide.
type Decision struct {
	Action   Action
	Severity guardrail.Severity
	Verdict  string
	Reason   string
}

// Input is what decide looks at.
type Input struct {
	Key      kmskey.Key
	Analysis Analysis
	Mode     guardrail.Mode
	Settings Settings
}

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

func decide(in Input) Decision {
	k := in.Key
	if !k.Found {
		return Decision{Ignore, "", "", "the key does not exist in this account and Region"}
	}
	if k.AWSManaged() {
		return Decision{Ignore, "", "", "AWS managed key: its policy is set by AWS"}
	}
	codes := in.Analysis.Codes()
	if len(codes) == 0 {
		return Decision{Ignore, "", "", "the key policy has no findings"}
	}
	sev := severity(codes)
	summary := strings.Join(codes, ", ")
	if k.Exempt(in.Settings.exemptionTag()) {
		return Decision{Notify, guardrail.SeverityInfo, "exempt: " + summary,
			fmt.Sprintf("the key carries the exemption tag %s=true, so kmsguard leaves its policy alone", in.Settings.exemptionTag())}
	}
	removable := in.Analysis.Removable()
	if in.Mode != guardrail.ModeRemediate {
		return Decision{Notify, sev, summary + " (alert mode)",
			fmt.Sprintf("the key policy has %s findings and the guardrail runs in alert mode for this account, so kmsguard did not change it", summary)}
	}
	if len(removable) == 0 {
		return Decision{Notify, sev, summary,
			fmt.Sprintf("the key policy has %s findings that kmsguard does not remove automatically (LOCKOUT and BROAD-ADMIN are alert-only; a statement that grants the account itself is never removed)", summary)}
	}
	return Decision{Strip, sev, "statements removed",
		fmt.Sprintf("the key policy had %s findings; %d statement(s) granting public or untrusted access are removable", summary, len(removable))}
}
