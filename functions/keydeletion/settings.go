package keydeletion

import (
	"fmt"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// Settings are the guardrail's options from the runtime configuration.
type Settings struct {
	// AllowedPrincipals are IAM-style patterns (* and ?) of principal ARNs
	// allowed to delete keys, e.g. "arn:aws:iam::*:role/KeyRetirement".
	// Assumed-role sessions match on the session ARN or on the role ARN.
	AllowedPrincipals []string `json:"allowed_principals,omitempty"`
	// ExemptionTag overrides the tag key that exempts a key.
	ExemptionTag string `json:"exemption_tag,omitempty"`
}

func (s Settings) exemptionTag() string {
	if s.ExemptionTag != "" {
		return s.ExemptionTag
	}
	return ExemptionTag
}

// ParseSettings decodes the guardrail's settings; empty input is the default.
func ParseSettings(raw []byte) (Settings, error) {
	s, err := guardrail.DecodeSettings[Settings](raw, Spec().ID)
	if err != nil {
		return s, err
	}
	for i, p := range s.AllowedPrincipals {
		if !strings.HasPrefix(p, "arn:") || p == "arn:*" || strings.Trim(p, "*") == "" {
			return s, fmt.Errorf("guardrails.key-deletion.allowed_principals[%d]: %q must be a principal ARN pattern such as arn:aws:iam::*:role/KeyRetirement", i, p)
		}
	}
	return s, nil
}
