// Package keypolicy is the key-policy guardrail. Its pure analyzer reads a
// KMS key policy and reports PUBLIC, EXTERNAL, LOCKOUT and BROAD-ADMIN
// findings; in remediate mode the guardrail removes the Allow statements
// behind PUBLIC and EXTERNAL findings (never the one that grants the account
// itself) with PutKeyPolicy. LOCKOUT and BROAD-ADMIN are alert-only.
package keypolicy

import (
	"fmt"
	"strings"

	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/hub"
)

// ExemptionTag exempts a key when set to "true".
const ExemptionTag = "kmsguard:allow-policy"

// Spec declares the guardrail. The default mode is alert: rewriting a key
// policy is the remediation most likely to surprise its owner.
func Spec() guardrail.Spec {
	return guardrail.Spec{
		ID:      patterns.KeyPolicy,
		Summary: "Analyzes KMS key policies on PutKeyPolicy and CreateKey; removes public and untrusted-account statements in remediate mode.",
		Rules:   patterns.ForGuardrail(patterns.KeyPolicy),
		Actions: []string{
			"kms:DescribeKey",
			"kms:ListResourceTags",
			"kms:ListAliases",
			"kms:GetKeyPolicy",
			"kms:PutKeyPolicy",
		},
		ExemptionTag: ExemptionTag,
		DefaultMode:  guardrail.ModeAlert,
	}
}

// Settings are the guardrail's options from the runtime configuration.
type Settings struct {
	// OrganizationID is the organization whose accounts are not external.
	OrganizationID string `json:"organization_id,omitempty"`
	// TrustedAccounts may hold rights on keys without a finding.
	TrustedAccounts []string `json:"trusted_accounts,omitempty"`
	// AdminPrincipals are ARN patterns allowed administrative rights.
	AdminPrincipals []string `json:"admin_principals,omitempty"`
	// ExemptionTag overrides the tag key that exempts a key.
	ExemptionTag string `json:"exemption_tag,omitempty"`
}

func (s Settings) exemptionTag() string {
	if s.ExemptionTag != "" {
		return s.ExemptionTag
	}
	return ExemptionTag
}

// ParseSettings decodes and validates the settings; empty input is the default.
func ParseSettings(raw []byte) (Settings, error) {
	s, err := guardrail.DecodeSettings[Settings](raw, Spec().ID)
	if err != nil {
		return s, err
	}
	if s.OrganizationID != "" && !strings.HasPrefix(s.OrganizationID, "o-") {
		return s, fmt.Errorf("guardrails.key-policy.organization_id: %q must look like o-xxxxxxxxxx", s.OrganizationID)
	}
	for i, a := range s.TrustedAccounts {
		if !guardrail.ValidAccountID(a) {
			return s, fmt.Errorf("guardrails.key-policy.trusted_accounts[%d]: %q must be a 12-digit account id (quote it in YAML)", i, a)
		}
	}
	for i, p := range s.AdminPrincipals {
		if !strings.HasPrefix(p, "arn:") || strings.Trim(p, "*") == "arn:" {
			return s, fmt.Errorf("guardrails.key-policy.admin_principals[%d]: %q must be a principal ARN pattern such as arn:aws:iam::*:role/KeyAdmin", i, p)
		}
	}
	return s, nil
}

// Entry is the guardrail as a runtime builds it.
func Entry() hub.Entry { return hub.EntryOf(Spec(), ParseSettings, New) }
