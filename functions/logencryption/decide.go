package logencryption

import (
	"fmt"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// Action is what the guardrail does.
type Action int

const (
	// Ignore: nothing to do or say.
	Ignore Action = iota
	// Notify: alert only.
	Notify
	// Associate: AssociateKmsKey with the regional logs key.
	Associate
)

// Decision is the pure result of decide.
type Decision struct {
	Action   Action
	Severity guardrail.Severity
	Verdict  string
	Reason   string
}

// Input is what decide looks at. Key is nil when it was not needed (the
// log group needs nothing).
type Input struct {
	Group    LogGroup
	Key      *LogsKey
	Mode     guardrail.Mode
	Settings Settings
}

// needsKey reports whether the decision depends on the logs key; the
// handler reads the key only then.
func needsKey(g LogGroup, s Settings) bool {
	return exemption(g, s) == "" && g.Found && g.KMSKeyID == ""
}

// exemption explains why a log group is left alone, or "".
func exemption(g LogGroup, s Settings) string {
	for _, p := range s.ExcludedPrefixes {
		if strings.HasPrefix(g.Name, p) {
			return fmt.Sprintf("the log group name starts with the excluded prefix %q", p)
		}
	}
	if v, ok := g.Tags[s.exemptionTag()]; ok && strings.EqualFold(strings.TrimSpace(v), "true") {
		return fmt.Sprintf("the log group carries the exemption tag %s=true", s.exemptionTag())
	}
	return ""
}

func decide(in Input) Decision {
	g := in.Group
	if !g.Found {
		return Decision{Ignore, "", "", "the log group no longer exists"}
	}
	if g.KMSKeyID != "" {
		return Decision{Ignore, "", "", "the log group is already encrypted with " + g.KMSKeyID}
	}
	if why := exemption(g, in.Settings); why != "" {
		return Decision{Ignore, "", "", why}
	}
	if in.Key == nil || in.Key.Problem != "" {
		why := "the logs key was not checked"
		if in.Key != nil {
			why = in.Key.Problem
		}
		return Decision{Notify, guardrail.SeverityHigh, "NOT encrypted (logs key unusable)",
			"the log group is not encrypted with a customer managed key and kmsguard cannot fix it: " + why}
	}
	if in.Mode != guardrail.ModeRemediate {
		return Decision{Notify, guardrail.SeverityWarning, "NOT encrypted",
			"the log group is not encrypted with a customer managed key and the guardrail runs in alert mode for this account, so kmsguard did not change it"}
	}
	return Decision{Associate, guardrail.SeverityWarning, "encrypted",
		"the log group was not encrypted with a customer managed key"}
}
