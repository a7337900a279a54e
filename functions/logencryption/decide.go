package logencryption

import (
	"fmt"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// needsKey reports whether the decision depends on the logs key; the
// guardrail reads the key only then.
func needsKey(g LogGroup, s Settings) bool {
	return excluded(g, s) == "" && g.Found && g.KMSKeyID == ""
}

// excluded explains why a log group's name puts it out of scope, or "".
// The exemption tag is the driver's.
func excluded(g LogGroup, s Settings) string {
	for _, p := range s.ExcludedPrefixes {
		if strings.HasPrefix(g.Name, p) {
			return fmt.Sprintf("the log group name starts with the excluded prefix %q", p)
		}
	}
	return ""
}

// keyProblem is the decision when the logs key cannot be used.
func keyProblem(k *LogsKey) guardrail.Decision {
	why := "the logs key was not checked"
	if k != nil {
		why = k.Problem
	}
	return guardrail.Decision{Kind: guardrail.Notify, Severity: guardrail.SeverityHigh, Verdict: "NOT encrypted (logs key unusable)",
		Reason: "the log group is not encrypted with a customer managed key and kmsguard cannot fix it: " + why}
}

// decide is pure: no I/O, no clock, no logging.
func decide(in guardrail.Input[State], s Settings) guardrail.Decision {
	d := func(k guardrail.Kind, sev guardrail.Severity, verdict, reason string) guardrail.Decision {
		return guardrail.Decision{Kind: k, Severity: sev, Verdict: verdict, Reason: reason}
	}
	g := in.State.Group
	if !g.Found {
		return d(guardrail.Ignore, "", "", "the log group no longer exists")
	}
	if g.KMSKeyID != "" {
		if in.Event.Record != nil && in.Event.Name() == "CreateLogGroup" && !in.Sweep {
			if req, _ := in.Event.Record.Logs(); req.KMSKeyID != "" {
				return d(guardrail.Ignore, "", "", "the log group was created with a KMS key")
			}
		}
		return d(guardrail.Ignore, "", "", "the log group is already encrypted with "+g.KMSKeyID)
	}
	if why := excluded(g, s); why != "" {
		return d(guardrail.Ignore, "", "", why)
	}
	if k := in.State.Key; k == nil || k.Problem != "" {
		return keyProblem(k)
	}
	if in.Mode != guardrail.ModeRemediate {
		return d(guardrail.Notify, guardrail.SeverityWarning, "NOT encrypted",
			"the log group is not encrypted with a customer managed key and the guardrail runs in alert mode for this account, so kmsguard did not change it")
	}
	return d(guardrail.Remediate, guardrail.SeverityWarning, "encrypted",
		"the log group was not encrypted with a customer managed key")
}
