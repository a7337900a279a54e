package runconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// Environment variables of every guardrail Lambda. Infra sets them; the
// runtime reads them once at cold start.
const (
	// EnvTopicARN is the SNS topic alerts go to.
	EnvTopicARN = "KMSGUARD_TOPIC_ARN"
	// EnvHubAccount is the account the Lambda runs in; events from it are
	// handled with the Lambda's own role instead of the remediator role.
	EnvHubAccount = "KMSGUARD_HUB_ACCOUNT"
	// EnvConfig is the runtime configuration as JSON (RuntimeConfig), for
	// local runs; deployed Lambdas read EnvConfigParameter.
	EnvConfig = "KMSGUARD_CONFIG"
	// EnvConfigParameter names the SSM parameter holding the runtime
	// configuration; it is read at cold start and its modes every minute.
	EnvConfigParameter = "KMSGUARD_CONFIG_PARAMETER"
	// EnvSweepTable and EnvSweepBucket are the organization sweep's run
	// records (DynamoDB) and work items (S3), set on the sweep Lambda.
	EnvSweepTable = "KMSGUARD_SWEEP_TABLE"
	// EnvLedgerTable is the hub's ledger (DynamoDB), set on every hub
	// Lambda.
	EnvLedgerTable = "KMSGUARD_LEDGER_TABLE"
	EnvSweepBucket = "KMSGUARD_SWEEP_BUCKET"
)

// RuntimeConfig is what a guardrail reads at cold start: modes and each
// guardrail's own settings, keyed by guardrail id.
type RuntimeConfig struct {
	Modes      ModeConfig                 `json:"modes"`
	Guardrails map[string]json.RawMessage `json:"guardrails,omitempty"`
	// Sweep says what the scheduled sweep covers.
	Sweep *SweepScope `json:"sweep,omitempty"`
	// Unmanaged are accounts where kmsguard has no role for the listed
	// guardrails (the management account, for those not opted in): their
	// events are reported from the event alone, nothing is read or fixed.
	Unmanaged map[string][]string `json:"unmanaged,omitempty"`
	// OrganizationID is set in organization mode: only then are rules per
	// organizational unit looked up.
	OrganizationID string `json:"organization_id,omitempty"`
	// SecurityHub copies every alert to AWS Security Hub as a finding, in
	// the resource's account and Region (alerts.security_hub).
	SecurityHub bool `json:"security_hub,omitempty"`
	// LoopBreaker is when kmsguard steps back from a resource another
	// actor keeps changing back (loop_breaker); nil: the default.
	LoopBreaker *LoopBreaker `json:"loop_breaker,omitempty"`
}

// LoopBreaker: MaxFixes remediations of one resource by one guardrail
// within WindowMinutes make kmsguard step back from it (0 MaxFixes: never).
type LoopBreaker struct {
	MaxFixes      int `json:"max_fixes"`
	WindowMinutes int `json:"window_minutes"`
}

// LoopBreakerOrDefault is the loop breaker in force.
func (c RuntimeConfig) LoopBreakerOrDefault() guardrail.LoopBreaker {
	if c.LoopBreaker == nil {
		return guardrail.DefaultLoopBreaker
	}
	w := time.Duration(c.LoopBreaker.WindowMinutes) * time.Minute
	if w <= 0 {
		w = guardrail.DefaultLoopBreaker.Window
	}
	return guardrail.LoopBreaker{Max: c.LoopBreaker.MaxFixes, Window: w}
}

// SweepScope is every account and Region the scheduled sweep reconciles:
// the listed accounts, plus the active accounts found under the
// organizational units (children included) at each run, minus the excluded.
type SweepScope struct {
	Accounts            []string `json:"accounts"`
	Regions             []string `json:"regions"`
	OrganizationalUnits []string `json:"organizational_units,omitempty"`
	ExcludedAccounts    []string `json:"excluded_accounts,omitempty"`
	// ItemAlerts is the least severity of a sweep finding that gets its
	// own alert at once (CRITICAL, HIGH, WARNING, INFO or none); the rest
	// are in the digest only. Empty: CRITICAL.
	ItemAlerts string `json:"item_alerts,omitempty"`
}

// ItemAlertLevels are the values sweep.item_alerts takes.
var ItemAlertLevels = []string{"CRITICAL", "HIGH", "WARNING", "INFO", "none"}

// ParseRuntimeConfig decodes and validates a runtime configuration. Empty
// input is the default configuration. guardrailIDs are the catalog's; nil
// does not check guardrail ids.
func ParseRuntimeConfig(data []byte, guardrailIDs []string) (RuntimeConfig, error) {
	var c RuntimeConfig
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return RuntimeConfig{}, fmt.Errorf("kmsguard configuration: %w", err)
	}
	var problems []string
	if err := c.Modes.Validate(guardrailIDs); err != nil {
		problems = append(problems, err.Error())
	}
	known := map[string]bool{}
	for _, id := range guardrailIDs {
		known[id] = true
	}
	var ids []string
	for id := range c.Guardrails {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if guardrailIDs != nil && !known[id] {
			problems = append(problems, fmt.Sprintf("guardrails.%s: unknown guardrail; known: %s", id, strings.Join(guardrailIDs, ", ")))
		}
	}
	for _, acct := range sortedKeys(c.Unmanaged) {
		if !guardrail.ValidAccountID(acct) {
			problems = append(problems, fmt.Sprintf("unmanaged.%s: account id must be 12 digits", acct))
		}
		for _, id := range c.Unmanaged[acct] {
			if guardrailIDs != nil && !known[id] {
				problems = append(problems, fmt.Sprintf("unmanaged.%s: unknown guardrail %s", acct, id))
			}
		}
	}
	if c.Sweep != nil {
		if v := c.Sweep.ItemAlerts; v != "" && !slices.Contains(ItemAlertLevels, v) {
			problems = append(problems, fmt.Sprintf("sweep.item_alerts: %q is not one of %s", v, strings.Join(ItemAlertLevels, ", ")))
		}
		for i, a := range c.Sweep.Accounts {
			if !guardrail.ValidAccountID(a) {
				problems = append(problems, fmt.Sprintf("sweep.accounts[%d]: %q must be a 12-digit account id", i, a))
			}
		}
	}
	if len(problems) > 0 {
		return RuntimeConfig{}, fmt.Errorf("kmsguard configuration:\n%s", strings.Join(problems, "\n"))
	}
	return c, nil
}

// FixedMode forces one mode everywhere (`kmsguard replay --mode`).
type FixedMode struct {
	Mode   guardrail.Mode
	Source string
}

// Resolve returns the fixed mode.
func (f FixedMode) Resolve(string, string, guardrail.Mode) guardrail.ResolvedMode {
	return guardrail.ResolvedMode{Mode: f.Mode, Source: f.Source}
}
