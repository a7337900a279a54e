package runconfig

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// The mode store holds the rules `kmsguard mode set` writes, one SSM
// parameter per rule, so that per-account and per-OU rules for thousands of
// accounts never meet a parameter's size limit (4 KB standard, 8 KB
// advanced) and two operators writing at once cannot lose each other's
// change: every write replaces exactly one rule; nothing is read, merged
// and written back.
//
//	/kmsguard/modes/kill-switch                    on
//	/kmsguard/modes/mode                           remediate|alert (the default)
//	/kmsguard/modes/guardrail-<id>                 remediate|alert
//	/kmsguard/modes/accounts/<account>/mode        ...
//	/kmsguard/modes/accounts/<account>/guardrail-<id>
//	/kmsguard/modes/ous/<ou>/mode
//	/kmsguard/modes/ous/<ou>/guardrail-<id>
//
// A scope's rules are the parameters directly under its path: one
// GetParametersByPath call (at most 1 + guardrails values, one page of 10).
// Rules in the store take precedence over the same rule in kmsguard.yaml
// (the deployed configuration parameter) and survive deployments.
const ModesPath = "/kmsguard/modes"

const (
	ruleMode       = "mode"
	ruleKillSwitch = "kill-switch"
	ruleGuardrail  = "guardrail-"
)

var ouPattern = regexp.MustCompile(`^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$`)

// ValidOU reports whether s is an organizational unit id (ou-...) or a
// root id (r-...).
func ValidOU(s string) bool { return ouPattern.MatchString(s) }

// ScopePath is the path of one scope's rules: the global scope (both
// empty), an account, or an organizational unit.
func ScopePath(account, ou string) string {
	switch {
	case account != "":
		return ModesPath + "/accounts/" + account
	case ou != "":
		return ModesPath + "/ous/" + ou
	}
	return ModesPath
}

// RuleParameter names the parameter of one rule: a scope's mode, or with
// guardrailID the scope's mode for that guardrail.
func RuleParameter(account, ou, guardrailID string) string {
	if guardrailID != "" {
		return ScopePath(account, ou) + "/" + ruleGuardrail + guardrailID
	}
	return ScopePath(account, ou) + "/" + ruleMode
}

// KillSwitchParameter turns every guardrail to alert when it holds "on".
const KillSwitchParameter = ModesPath + "/" + ruleKillSwitch

// Rules are the rules of one scope in the store.
type Rules struct {
	KillSwitch bool                      `json:"kill_switch,omitempty"`
	Mode       guardrail.Mode            `json:"mode,omitempty"`
	Guardrails map[string]guardrail.Mode `json:"guardrails,omitempty"`
	// Invalid names a parameter of this scope that is not a valid rule
	// ("ON" for the kill switch, "Alert" for a mode): the scope then
	// resolves to alert rather than fall through to a rule that may
	// remediate.
	Invalid string `json:"invalid,omitempty"`
}

// Empty reports a scope with no rule.
func (r Rules) Empty() bool {
	return !r.KillSwitch && r.Mode == "" && len(r.Guardrails) == 0 && r.Invalid == ""
}

// ParseRules reads one scope's parameters (full name → value). A value that
// is not a mode, or a name that is not a rule, is a problem naming the
// parameter and the fix; the other rules still apply.
func ParseRules(scope string, params map[string]string) (Rules, []string) {
	var r Rules
	var problems []string
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v := strings.TrimSpace(params[name])
		rule, ok := strings.CutPrefix(name, scope+"/")
		if !ok || strings.Contains(rule, "/") {
			continue // a deeper scope's rule
		}
		if rule == ruleKillSwitch && scope == ModesPath {
			switch v {
			case "on":
				r.KillSwitch = true
			case "off":
			default:
				problems = append(problems, fmt.Sprintf("%s: %q is not on or off; kmsguard mode kill-switch on|off writes it", name, v))
				r.KillSwitch = true // unclear: the safe reading
				r.Invalid = name
			}
			continue
		}
		m, err := guardrail.ParseMode(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v; kmsguard mode set writes it", name, err))
			r.Invalid = name
			continue
		}
		switch {
		case rule == ruleMode:
			r.Mode = m
		case strings.HasPrefix(rule, ruleGuardrail):
			if r.Guardrails == nil {
				r.Guardrails = map[string]guardrail.Mode{}
			}
			r.Guardrails[strings.TrimPrefix(rule, ruleGuardrail)] = m
		default:
			problems = append(problems, fmt.Sprintf("%s: not a mode rule (expected %s or %s<guardrail>)", name, ruleMode, ruleGuardrail))
			r.Invalid = name
		}
	}
	return r, problems
}

// Layers are every rule that can apply to one account: kmsguard.yaml's
// (File) and the store's, for the account, its organizational units and the
// organization.
type Layers struct {
	File    ModeConfig
	Global  Rules
	Account Rules
	// OUs are the account's parents, nearest first, up to the root.
	OUs []string
	// OURules are the store's rules per organizational unit.
	OURules map[string]Rules
	// OUsUnknown says the account's parents could not be read.
	OUsUnknown bool
	// StoreHasOURules says the store holds rules per organizational unit
	// (perhaps for units other than the account's).
	StoreHasOURules bool
	// StoreNote names where the store's rules came from, for the source.
	StoreNote string
}

// HasOURules reports whether any rule is set per organizational unit.
func (l Layers) HasOURules() bool {
	if len(l.File.OrganizationalUnits) > 0 || l.StoreHasOURules {
		return true
	}
	for _, r := range l.OURules {
		if !r.Empty() {
			return true
		}
	}
	return false
}

// Resolve picks the mode for one account and guardrail. Precedence, first
// match wins; at each level the store's rule beats kmsguard.yaml's:
//
//  1. the kill switch (either)
//  2. the account's rule for the guardrail, then the account's mode
//  3. each organizational unit's, nearest first: for the guardrail, then its mode
//  4. the organization's rule for the guardrail
//  5. the default
//  6. the guardrail's Spec.DefaultMode
//
// When rules per organizational unit exist and the account's units cannot
// be read, the answer is alert: the safe side, never a guess.
func (l Layers) Resolve(account, id string, specDefault guardrail.Mode) guardrail.ResolvedMode {
	store := func(s string) string {
		if l.StoreNote == "" {
			return s + " (mode store)"
		}
		return s + " (" + l.StoreNote + ")"
	}
	if l.Global.KillSwitch {
		return guardrail.ResolvedMode{Mode: guardrail.ModeAlert, Source: store("kill switch")}
	}
	if l.File.KillSwitch {
		return guardrail.ResolvedMode{Mode: guardrail.ModeAlert, Source: "kill switch"}
	}
	invalid := func(r Rules) (guardrail.ResolvedMode, bool) {
		if r.Invalid == "" {
			return guardrail.ResolvedMode{}, false
		}
		return guardrail.ResolvedMode{Mode: guardrail.ModeAlert, Source: "the mode rule " + r.Invalid + " is not valid (alert only until it is fixed with kmsguard mode set)"}, true
	}
	for _, r := range []Rules{l.Global, l.Account} {
		if m, bad := invalid(r); bad {
			return m
		}
	}
	for _, ou := range l.OUs {
		if m, bad := invalid(l.OURules[ou]); bad {
			return m
		}
	}
	type level struct {
		store, file guardrail.Mode
		source      string
	}
	var levels []level
	fa := l.File.Accounts[account]
	levels = append(levels,
		level{l.Account.Guardrails[id], fa.Guardrails[id], fmt.Sprintf("account %s, guardrail %s", account, id)},
		level{l.Account.Mode, fa.Mode, "account " + account})
	if l.OUsUnknown && l.HasOURules() {
		for _, lv := range levels {
			if m := lv.store; m != "" {
				return guardrail.ResolvedMode{Mode: m, Source: store(lv.source)}
			}
			if m := lv.file; m != "" {
				return guardrail.ResolvedMode{Mode: m, Source: lv.source}
			}
		}
		return guardrail.ResolvedMode{Mode: guardrail.ModeAlert, Source: "rules per organizational unit exist and the account's units could not be read (alert only until they can)"}
	}
	for _, ou := range l.OUs {
		so, fo := l.OURules[ou], l.File.OrganizationalUnits[ou]
		levels = append(levels,
			level{so.Guardrails[id], fo.Guardrails[id], fmt.Sprintf("organizational unit %s, guardrail %s", ou, id)},
			level{so.Mode, fo.Mode, "organizational unit " + ou})
	}
	levels = append(levels,
		level{l.Global.Guardrails[id], l.File.Guardrails[id], "guardrail " + id},
		level{l.Global.Mode, l.File.Default, "default"})
	for _, lv := range levels {
		if m := lv.store; m != "" {
			return guardrail.ResolvedMode{Mode: m, Source: store(lv.source)}
		}
		if m := lv.file; m != "" {
			return guardrail.ResolvedMode{Mode: m, Source: lv.source}
		}
	}
	return guardrail.ResolvedMode{Mode: specDefault, Source: "built-in default for " + id}
}
