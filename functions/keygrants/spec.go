// Package keygrants is the key-grants guardrail. A KMS grant is a door to a
// key that its policy does not show: CreateGrant can hand the key's use to
// a principal in any account. The guardrail reports grants whose grantee or
// retiring principal is outside the account, the organization and the
// trusted accounts (the trust model the key-policy analyzer uses, in
// functions/internal/trust), CRITICAL when an outside grantee may decrypt,
// re-encrypt or grant without an encryption context constraint; in
// remediate mode it revokes the grant. Grants AWS services make on a
// principal's behalf (EBS, RDS: kms:GrantIsForAWSResource) are left alone.
package keygrants

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// ExemptionTag exempts a key's grants when set to "true".
const ExemptionTag = "kmsguard:allow-external-grants"

// Spec declares the guardrail. The default mode is alert, as for key
// policies: revoking a grant cuts someone's access to data.
func Spec() guardrail.Spec {
	return guardrail.Spec{
		ID:       "key-grants",
		Summary:  "Reports KMS grants to principals outside the account, the organization and the trusted accounts; revokes them in remediate mode.",
		Details:  "CRITICAL when an outside grantee may Decrypt, ReEncrypt, CreateGrant, Sign, GenerateMac or DeriveSharedSecret without an encryption context constraint. Grants AWS services make on a principal's behalf (EBS, RDS) are left alone, and a grant whose only outside principal is its retiring principal is reported, never revoked. The sweep lists every key's grants.",
		Concern:  "grants",
		Resource: "KMS key",
		Triggers: []patterns.Trigger{{
			Name: "key-grants-create", Description: "KMS CreateGrant calls",
			EventSource: "kms.amazonaws.com", EventNames: []string{"CreateGrant"},
		}},
		Actions:         []string{"kms:DescribeKey", "kms:ListResourceTags", "kms:ListAliases", "kms:ListGrants", "kms:RevokeGrant"},
		Exemption:       guardrail.Exemption{Tag: ExemptionTag, Alert: true, Verdict: "exempt", Effect: "so kmsguard leaves its grants alone"},
		DefaultMode:     guardrail.ModeAlert,
		Severity:        guardrail.SeverityCritical,
		FailureSeverity: guardrail.SeverityCritical,
		Reads:           "the key or its grants",
		Settings:        Settings{},
		Sweep:           guardrail.SweepSpec{Kind: guardrail.KindKMSKey, EventName: "CreateGrant"},
		Example: guardrail.Example{Fixture: "key-grants/create-grant-external-role", Mode: guardrail.ModeRemediate,
			Calls: []string{"DescribeKey", "ListGrants", "ListResourceTags", "RevokeGrant"}, Verdict: "grant revoked"},
	}
}

// Settings are the guardrail's options from the runtime configuration.
type Settings struct {
	guardrail.Common
	TrustedAccounts []string `json:"trusted_accounts,omitempty" doc:"accounts outside the organization that may hold grants without a finding" default:"guardrails.key-policy.trusted_accounts" from:"guardrails.key-policy.trusted_accounts"`
}

// ParseSettings decodes and validates the settings; empty input is the default.
func ParseSettings(raw []byte) (Settings, error) {
	return guardrail.DecodeSettings[Settings](raw, Spec().ID)
}

// Validate checks the accounts. The organization is what AWS
// Organizations answers through the hub (Call.Org), not a setting.
func (s Settings) Validate() error {
	for i, a := range s.TrustedAccounts {
		if !guardrail.ValidAccountID(a) {
			return fmt.Errorf("guardrails.key-grants.trusted_accounts[%d]: %q must be a 12-digit account id (quote it in YAML)", i, a)
		}
	}
	return nil
}

// Entry is the guardrail's catalog line.
func Entry() guardrail.Entry {
	return guardrail.Define(Spec(), func(c aws.Config) kmsAPI { return kms.NewFromConfig(c) }, newLogic)
}
