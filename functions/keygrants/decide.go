package keygrants

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// decide is pure: no I/O, no clock, no logging. The exemption tag is the
// driver's.
func decide(st State, mode guardrail.Mode) guardrail.Decision {
	d := func(k guardrail.Kind, sev guardrail.Severity, verdict, reason string) guardrail.Decision {
		return guardrail.Decision{Kind: k, Severity: sev, Verdict: verdict, Reason: reason}
	}
	if !st.Key.Found {
		return d(guardrail.Ignore, "", "", "the key does not exist in this account and Region")
	}
	if st.Key.AWSManaged() {
		return d(guardrail.Ignore, "", "", "AWS managed key: only AWS services hold grants on it")
	}
	var (
		reasons   []string
		codes     []string
		critical  bool
		removable int
		flagged   int
		service   string
	)
	for _, g := range st.Grants {
		v := Analyze(g, st.Model, st.Unsure)
		if v.Service != "" {
			service = v.Service
		}
		if len(v.Findings) == 0 {
			continue
		}
		flagged++
		critical = critical || v.Critical
		if v.Removable() {
			removable++
		}
		for _, f := range v.Findings {
			reasons = append(reasons, f.Message)
			if !slices.Contains(codes, f.Code) {
				codes = append(codes, f.Code)
			}
		}
	}
	if flagged == 0 {
		if service != "" {
			return d(guardrail.Ignore, "", "", "the AWS service "+service+" made or holds the grant on a principal's behalf (kms:GrantIsForAWSResource)")
		}
		return d(guardrail.Ignore, "", "", "every principal of the grant is inside the account, the organization or the trusted accounts")
	}
	sev := guardrail.SeverityHigh
	if critical {
		sev = guardrail.SeverityCritical
	}
	reason := strings.Join(reasons, "; ")
	out := func(k guardrail.Kind, sev guardrail.Severity, verdict, why string) guardrail.Decision {
		x := d(k, sev, verdict, why)
		x.Findings = codes
		return x
	}
	if st.Gone {
		return out(guardrail.Notify, guardrail.SeverityWarning, "grant already gone",
			reason+"; the grant was revoked or retired before kmsguard read it, so nothing is left to revoke, but it may have been used meanwhile")
	}
	noun := "grant"
	if removable > 1 {
		noun = fmt.Sprintf("%d grants", removable)
	}
	switch {
	case removable == 0:
		return out(guardrail.Notify, sev, "NOT revoked", reason+" (reported, never revoked)")
	case mode != guardrail.ModeRemediate:
		return out(guardrail.Notify, sev, "NOT revoked", reason+", and the guardrail runs in alert mode for this account, so kmsguard did not revoke it")
	}
	return out(guardrail.Remediate, sev, noun+" revoked", reason)
}
