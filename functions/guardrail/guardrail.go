// Package guardrail is the contract every kmsguard guardrail follows: the
// Spec that is the one record of a guardrail (infra, the runtime, the docs
// and the meta-tests all derive from it), the Logic a guardrail package
// supplies and the one Driver that runs it (observe → decide → act →
// alert), the modes that switch remediation on and off, the Outcome each
// invocation ends in, error classes, and the Runner that turns an
// EventBridge event into one decision, one log line and at most one alert.
package guardrail

import (
	"fmt"
	"strings"
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

// ActionNone is the Outcome action when nothing was changed.
const ActionNone = "none"

// Verdicts of an invocation that failed, the end of the alert's subject.
const (
	VerdictRemediationFailed = "remediation FAILED"
	VerdictCheckFailed       = "check FAILED"
)

// Outcome is what one invocation decided and did. `kmsguard replay` prints it
// as JSON; the Lambda logs it as its decision line.
type Outcome struct {
	Guardrail string `json:"guardrail"`
	EventID   string `json:"event_id"`
	EventName string `json:"event_name"`
	Account   string `json:"account"`
	Region    string `json:"region"`
	Resource  string `json:"resource"`
	// ResourceID is the resource's stable identifier (a key's ARN, a log
	// group's name): what a finding about it is keyed by.
	ResourceID string `json:"resource_id,omitempty"`
	Actor      string `json:"actor,omitempty"`
	// Before and After are the resource's state in a few words, before
	// the event's change was handled and after (guardrail.Stater).
	Before     string   `json:"before,omitempty"`
	After      string   `json:"after,omitempty"`
	Action     string   `json:"action"`
	Reason     string   `json:"reason"`
	Mode       Mode     `json:"mode"`
	ModeSource string   `json:"mode_source,omitempty"`
	Severity   Severity `json:"severity,omitempty"`
	Findings   []string `json:"findings"`
	Alerted    bool     `json:"alerted"`
	Error      string   `json:"error,omitempty"`
}
