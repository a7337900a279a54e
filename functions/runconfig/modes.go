package runconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// ModeConfig says, per account and per guardrail, whether kmsguard may
// remediate. Precedence, first match wins:
//
//  1. kill_switch: true            -> alert everywhere
//  2. accounts[A].guardrails[G]
//  3. accounts[A].mode
//  4. organizational_units[OU].guardrails[G], then .mode, nearest OU first
//  5. guardrails[G]
//  6. default
//  7. the guardrail's Spec.DefaultMode
//
// The mode store (store.go) adds rules at the same levels that take
// precedence over these; Layers.Resolve applies both.
type ModeConfig struct {
	KillSwitch bool                      `json:"kill_switch,omitempty"`
	Default    guardrail.Mode            `json:"default,omitempty"`
	Guardrails map[string]guardrail.Mode `json:"guardrails,omitempty"`
	Accounts   map[string]AccountModes   `json:"accounts,omitempty"`
	// OrganizationalUnits hold rules for every account under an OU
	// (children included; the nearest OU's rule wins).
	OrganizationalUnits map[string]AccountModes `json:"organizational_units,omitempty"`
}

// AccountModes overrides modes for one account or organizational unit.
type AccountModes struct {
	Mode       guardrail.Mode            `json:"mode,omitempty"`
	Guardrails map[string]guardrail.Mode `json:"guardrails,omitempty"`
}

// Resolve applies the precedence documented on ModeConfig, without the
// mode store and without knowing the account's organizational units: when
// rules per OU exist, an account without its own rule resolves to alert.
func (c ModeConfig) Resolve(account, guardrailID string, specDefault guardrail.Mode) guardrail.ResolvedMode {
	return Layers{File: c, OUsUnknown: true}.Resolve(account, guardrailID, specDefault)
}

// ParseModeConfig decodes and validates a mode configuration. Unknown fields,
// unknown guardrail ids, bad modes and bad account ids are errors naming the
// field path and the fix.
func ParseModeConfig(data []byte, guardrailIDs []string) (ModeConfig, error) {
	var c ModeConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return ModeConfig{}, fmt.Errorf("modes: %w", err)
	}
	return c, c.Validate(guardrailIDs)
}

// Validate reports every problem, each with its field path. A nil
// guardrailIDs does not check guardrail ids (a Lambda knows only its own).
func (c ModeConfig) Validate(guardrailIDs []string) error {
	known := map[string]bool{}
	for _, id := range guardrailIDs {
		known[id] = true
	}
	var problems []string
	checkMode := func(path string, m guardrail.Mode) {
		if _, err := guardrail.ParseMode(string(m)); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", path, err))
		}
	}
	checkGuardrails := func(path string, gs map[string]guardrail.Mode) {
		for _, id := range sortedKeys(gs) {
			if guardrailIDs != nil && !known[id] {
				problems = append(problems, fmt.Sprintf("%s.%s: unknown guardrail; known: %s", path, id, strings.Join(guardrailIDs, ", ")))
				continue
			}
			checkMode(path+"."+id, gs[id])
		}
	}
	if c.Default != "" {
		checkMode("modes.default", c.Default)
	}
	checkGuardrails("modes.guardrails", c.Guardrails)
	for _, acct := range sortedKeys(c.Accounts) {
		path := "modes.accounts." + acct
		if !guardrail.ValidAccountID(acct) {
			problems = append(problems, fmt.Sprintf("%s: account id must be 12 digits (quote it in YAML so leading zeros survive)", path))
		}
		a := c.Accounts[acct]
		if a.Mode != "" {
			checkMode(path+".mode", a.Mode)
		}
		checkGuardrails(path+".guardrails", a.Guardrails)
	}
	for _, ou := range sortedKeys(c.OrganizationalUnits) {
		path := "modes.organizational_units." + ou
		if !ValidOU(ou) {
			problems = append(problems, fmt.Sprintf("%s: not an organizational unit id; use ou-xxxx-xxxxxxxx or the root r-xxxx (aws organizations list-organizational-units-for-parent)", path))
		}
		o := c.OrganizationalUnits[ou]
		if o.Mode != "" {
			checkMode(path+".mode", o.Mode)
		}
		checkGuardrails(path+".guardrails", o.Guardrails)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
