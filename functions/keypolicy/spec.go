// Package keypolicy is the key-policy guardrail. Its pure analyzer reads a
// KMS key policy and reports PUBLIC, EXTERNAL, LOCKOUT and BROAD-ADMIN
// findings; in remediate mode the guardrail removes the Allow statements
// behind PUBLIC and EXTERNAL findings (never the one that grants the account
// itself) with PutKeyPolicy. LOCKOUT and BROAD-ADMIN are alert-only.
package keypolicy

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// ExemptionTag exempts a key when set to "true".
const ExemptionTag = "kmsguard:allow-policy"

// Spec declares the guardrail. The default mode is alert: rewriting a key
// policy is the remediation most likely to surprise its owner.
func Spec() guardrail.Spec {
	return guardrail.Spec{
		ID:       "key-policy",
		Summary:  "Analyzes KMS key policies on PutKeyPolicy and CreateKey; removes public and untrusted-account statements in remediate mode.",
		Details:  "The pure analyzer reports PUBLIC, EXTERNAL, LOCKOUT and BROAD-ADMIN findings (60+ table-tested policies, fuzzed); remediation never removes the statement that grants the account itself and refuses a change that would lock everyone out.",
		Concern:  "policy",
		Resource: "KMS key",
		Triggers: []patterns.Trigger{
			{Name: "key-policy-put", Description: "KMS PutKeyPolicy calls", EventSource: "kms.amazonaws.com", EventNames: []string{"PutKeyPolicy"}},
			{Name: "key-policy-create", Description: "KMS CreateKey calls that set a key policy", EventSource: "kms.amazonaws.com", EventNames: []string{"CreateKey"},
				Where: map[string]any{"requestParameters": map[string]any{"policy": []any{map[string]any{"exists": true}}}}},
		},
		Actions:         []string{"kms:DescribeKey", "kms:ListResourceTags", "kms:ListAliases", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "organizations:DescribeOrganization"},
		Exemption:       guardrail.Exemption{Tag: ExemptionTag, Alert: true, Verdict: "exempt", Effect: "so kmsguard leaves its policy alone"},
		DefaultMode:     guardrail.ModeAlert,
		Severity:        guardrail.SeverityCritical,
		FailureSeverity: guardrail.SeverityCritical,
		Reads:           "the key or its policy",
		Settings:        Settings{},
		Sweep:           guardrail.SweepSpec{Kind: guardrail.KindKMSKey, EventName: "PutKeyPolicy"},
		Example: guardrail.Example{Fixture: "key-policy/put-key-policy-public", Mode: guardrail.ModeRemediate,
			Calls: []string{"DescribeKey", "ListResourceTags", "GetKeyPolicy", "PutKeyPolicy"}, Verdict: "statements removed"},
	}
}

// Settings are the guardrail's options from the runtime configuration.
type Settings struct {
	guardrail.Common
	OrganizationID  string   `json:"organization_id,omitempty" doc:"the organization whose accounts are not external" default:"organization.id of kmsguard.yaml" from:"organization.id"`
	TrustedAccounts []string `json:"trusted_accounts,omitempty" doc:"accounts outside the organization that may hold rights on keys without a finding"`
	AdminPrincipals []string `json:"admin_principals,omitempty" doc:"principal ARN patterns allowed administrative rights (kms:*, PutKeyPolicy, ScheduleKeyDeletion) without a BROAD-ADMIN finding"`
	RestorePrevious bool     `json:"restore_previous,omitempty" doc:"in remediate mode, put back the last policy kmsguard saw without findings (kept in its ledger) instead of removing statements; without one, statements are removed"`
}

// ParseSettings decodes and validates the settings; empty input is the default.
func ParseSettings(raw []byte) (Settings, error) {
	return guardrail.DecodeSettings[Settings](raw, Spec().ID)
}

// Validate checks the organization id, accounts and patterns.
func (s Settings) Validate() error {
	if s.OrganizationID != "" && !strings.HasPrefix(s.OrganizationID, "o-") {
		return fmt.Errorf("guardrails.key-policy.organization_id: %q must look like o-xxxxxxxxxx", s.OrganizationID)
	}
	for i, a := range s.TrustedAccounts {
		if !guardrail.ValidAccountID(a) {
			return fmt.Errorf("guardrails.key-policy.trusted_accounts[%d]: %q must be a 12-digit account id (quote it in YAML)", i, a)
		}
	}
	for i, p := range s.AdminPrincipals {
		if err := guardrail.CheckPrincipalPattern(fmt.Sprintf("guardrails.key-policy.admin_principals[%d]", i), p); err != nil {
			return err
		}
	}
	return nil
}

// Entry is the guardrail's catalog line.
func Entry() guardrail.Entry {
	return guardrail.Define(Spec(), func(c aws.Config) kmsAPI {
		return sdkClients{Client: kms.NewFromConfig(c), org: organizations.NewFromConfig(c)}
	}, newLogic)
}
