// Package guardrail is the contract every kmsguard guardrail follows: a Spec
// that infra builds rules and IAM policy from, the modes that switch
// remediation on and off, the Outcome each invocation ends in, error classes,
// and the Runner that turns an EventBridge event into one decision, one log
// line and at most one alert.
package guardrail

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kmsguard/kmsguard/events/patterns"
)

// Mode says whether a guardrail may change anything.
type Mode string

const (
	// ModeRemediate acts, then alerts.
	ModeRemediate Mode = "remediate"
	// ModeAlert only alerts: no write call at all.
	ModeAlert Mode = "alert"
)

// ParseMode accepts "remediate" or "alert".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.TrimSpace(s)); m {
	case ModeRemediate, ModeAlert:
		return m, nil
	}
	return "", fmt.Errorf("mode %q is not valid: use %q or %q", s, ModeRemediate, ModeAlert)
}

// Severity of an alert, highest first.
type Severity string

const (
	SeverityCritical Severity = "CRITICAL"
	SeverityHigh     Severity = "HIGH"
	SeverityWarning  Severity = "WARNING"
	SeverityInfo     Severity = "INFO"
)

// Spec declares a guardrail. Infra builds the hub rules, the spoke rules and
// the least-privilege IAM policies from it; meta-tests check it.
type Spec struct {
	// ID is the stable kebab-case name (see events/patterns).
	ID string
	// Summary is one sentence for docs and the CLI.
	Summary string
	// Rules are the triggers, straight from events/patterns.
	Rules []patterns.Rule
	// Actions are every IAM action the guardrail calls on the resources it
	// guards, reads and writes alike. Nothing else is granted.
	Actions []string
	// ExemptionTag is the tag key that exempts a resource when set to "true".
	ExemptionTag string
	// DefaultMode applies when the mode configuration says nothing.
	DefaultMode Mode
}

// Validate checks a spec for the mistakes that would break infra or safety.
func (s Spec) Validate() error {
	var problems []string
	if s.ID == "" || strings.ToLower(s.ID) != s.ID || strings.ContainsAny(s.ID, " _/") {
		problems = append(problems, fmt.Sprintf("id %q must be lower-case kebab-case", s.ID))
	}
	if !slices.Contains(patterns.GuardrailIDs, s.ID) {
		problems = append(problems, fmt.Sprintf("id %q is not in events/patterns.GuardrailIDs", s.ID))
	}
	if len(s.Rules) == 0 {
		problems = append(problems, "no trigger rules")
	}
	if len(s.Actions) == 0 {
		problems = append(problems, "no IAM actions")
	}
	for _, a := range s.Actions {
		svc, op, ok := strings.Cut(a, ":")
		if !ok || svc == "" || op == "" || strings.Contains(a, "*") {
			problems = append(problems, fmt.Sprintf("action %q must be service:Operation without wildcards", a))
		}
	}
	if _, err := ParseMode(string(s.DefaultMode)); err != nil {
		problems = append(problems, "default "+err.Error())
	}
	if s.ExemptionTag == "" || !strings.HasPrefix(s.ExemptionTag, "kmsguard:") {
		problems = append(problems, fmt.Sprintf("exemption tag %q must start with kmsguard:", s.ExemptionTag))
	}
	if len(problems) > 0 {
		return fmt.Errorf("guardrail spec %s: %s", s.ID, strings.Join(problems, "; "))
	}
	return nil
}

// ActionNone is the Outcome action when nothing was changed.
const ActionNone = "none"

// Verdicts of an invocation that failed, the end of the alert's subject.
const (
	VerdictRemediationFailed = "remediation FAILED"
	VerdictCheckFailed       = "check FAILED"
)

// RemediationFailed records on out that the write the decision called for
// failed with err: the severity becomes sev, the reason says why. It returns
// the severity and verdict for the alert.
func RemediationFailed(out *Outcome, reason string, sev Severity, err error) (Severity, string) {
	out.Severity = sev
	out.Reason = reason + "; remediation failed: " + err.Error()
	return sev, VerdictRemediationFailed
}

// Outcome is what one invocation decided and did. `kmsguard replay` prints it
// as JSON; the Lambda logs it as its decision line.
type Outcome struct {
	Guardrail  string   `json:"guardrail"`
	EventID    string   `json:"event_id"`
	EventName  string   `json:"event_name"`
	Account    string   `json:"account"`
	Region     string   `json:"region"`
	Resource   string   `json:"resource"`
	Actor      string   `json:"actor,omitempty"`
	Action     string   `json:"action"`
	Reason     string   `json:"reason"`
	Mode       Mode     `json:"mode"`
	ModeSource string   `json:"mode_source,omitempty"`
	Severity   Severity `json:"severity,omitempty"`
	Findings   []string `json:"findings"`
	Alerted    bool     `json:"alerted"`
	Error      string   `json:"error,omitempty"`
}
