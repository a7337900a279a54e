package keydeletion

import (
	"fmt"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// Settings are the guardrail's options from the runtime configuration.
type Settings struct {
	guardrail.Common
	// AllowedPrincipals may delete keys: assumed-role sessions match on the
	// session ARN or on the role ARN.
	AllowedPrincipals []string `json:"allowed_principals,omitempty" doc:"principal ARN patterns (* and ?) allowed to delete keys, e.g. arn:aws:iam::111122223333:role/KeyRetirement (one account each); a session matches on its session or role ARN"`
	// ReenableDisabledKeys: DisableKey is reported by default and never
	// undone, because disabling a key is also how incident responders stop
	// its use; a deployment that wants disables undone says so.
	ReenableDisabledKeys bool `json:"reenable_disabled_keys,omitempty" doc:"in remediate mode, enable a key again right after DisableKey, unless its caller matches allowed_principals or the key carries the exemption tag; off by default (disabling a key is also how incident responders stop its use)" default:"false"`
}

// Validate checks the patterns.
func (s Settings) Validate() error {
	for i, p := range s.AllowedPrincipals {
		if err := guardrail.CheckPrincipalPattern(fmt.Sprintf("guardrails.key-deletion.allowed_principals[%d]", i), p); err != nil {
			return err
		}
	}
	return nil
}

// ParseSettings decodes the guardrail's settings; empty input is the default.
func ParseSettings(raw []byte) (Settings, error) {
	return guardrail.DecodeSettings[Settings](raw, Spec().ID)
}
