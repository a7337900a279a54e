// Package logencryption is the log-encryption guardrail: a CloudWatch Logs
// log group created without a KMS key, or whose key was disassociated, is
// associated with the regional logs key (alias/kmsguard/logs by default)
// once that key is checked to be usable by CloudWatch Logs.
package logencryption

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// ExemptionTag exempts a log group when set to "true".
const ExemptionTag = "kmsguard:skip-encryption"

// DefaultKeyAlias is the regional logs key the spokes create.
const DefaultKeyAlias = "alias/kmsguard/logs"

// MaxDelaySeconds bounds the optional wait before acting, well inside the
// Lambda timeout.
const MaxDelaySeconds = 30

// Spec declares the guardrail.
func Spec() guardrail.Spec {
	return guardrail.Spec{
		ID:       "log-encryption",
		Summary:  "Associates the regional logs KMS key with CloudWatch Logs log groups created without one, or whose key was removed.",
		Details:  "The logs key is checked first (Enabled, symmetric, customer managed); when CloudWatch Logs refuses it, the alert carries the exact key-policy statement to add. Exact-name lookup, excluded prefixes, optional delay.",
		Concern:  "encryption",
		Resource: "log group",
		Triggers: []patterns.Trigger{
			{Name: "log-encryption-create", Description: "CloudWatch Logs CreateLogGroup calls without a KMS key", EventSource: "logs.amazonaws.com", EventNames: []string{"CreateLogGroup"},
				Where: map[string]any{"requestParameters": map[string]any{"kmsKeyId": []any{map[string]any{"exists": false}}}}},
			{Name: "log-encryption-disassociate", Description: "CloudWatch Logs DisassociateKmsKey calls", EventSource: "logs.amazonaws.com", EventNames: []string{"DisassociateKmsKey"}},
		},
		Actions:         []string{"logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:AssociateKmsKey", "kms:DescribeKey", "kms:GetKeyPolicy"},
		Exemption:       guardrail.Exemption{Tag: ExemptionTag},
		DefaultMode:     guardrail.ModeRemediate,
		Severity:        guardrail.SeverityHigh,
		FailureSeverity: guardrail.SeverityHigh,
		Reads:           "the log group or the logs key",
		Settings:        Settings{},
		Sweep:           guardrail.SweepSpec{Kind: guardrail.KindLogGroup, EventName: "CreateLogGroup"},
		Example: guardrail.Example{Fixture: "log-encryption/create-log-group",
			Calls: []string{"DescribeLogGroups", "ListTagsForResource", "DescribeKey", "AssociateKmsKey"}, Verdict: "encrypted"},
	}
}

// Settings are the guardrail's options from the runtime configuration.
type Settings struct {
	guardrail.Common
	KeyAlias         string   `json:"key_alias,omitempty" doc:"alias of the regional logs key kmsguard associates" default:"the logs_key of kmsguard.yaml (alias/kmsguard/logs)" from:"logs_key.alias"`
	ExcludedPrefixes []string `json:"excluded_prefixes,omitempty" doc:"log group name prefixes left alone"`
	DelaySeconds     int      `json:"delay_seconds,omitempty" doc:"seconds to wait (0-30) before acting, for tools that create a log group and associate their own key right after; the state is read after the wait" default:"0"`
}

func (s Settings) keyAlias() string {
	if s.KeyAlias != "" {
		return s.KeyAlias
	}
	return DefaultKeyAlias
}

// ParseSettings decodes and validates the settings; empty input is the default.
func ParseSettings(raw []byte) (Settings, error) {
	return guardrail.DecodeSettings[Settings](raw, Spec().ID)
}

// Validate checks the alias, the delay and the prefixes.
func (s Settings) Validate() error {
	if s.KeyAlias != "" && !strings.HasPrefix(s.KeyAlias, "alias/") {
		return fmt.Errorf("guardrails.log-encryption.key_alias: %q must start with alias/", s.KeyAlias)
	}
	if strings.HasPrefix(s.KeyAlias, "alias/aws/") {
		return fmt.Errorf("guardrails.log-encryption.key_alias: %q is an AWS managed key, which CloudWatch Logs cannot use; name a customer managed key", s.KeyAlias)
	}
	if s.DelaySeconds < 0 || s.DelaySeconds > MaxDelaySeconds {
		return fmt.Errorf("guardrails.log-encryption.delay_seconds: %d is outside 0-%d", s.DelaySeconds, MaxDelaySeconds)
	}
	for i, p := range s.ExcludedPrefixes {
		if p == "" {
			return fmt.Errorf("guardrails.log-encryption.excluded_prefixes[%d]: an empty prefix would exclude every log group; remove it", i)
		}
	}
	return nil
}

// Entry is the guardrail's catalog line.
func Entry() guardrail.Entry {
	return guardrail.Define(Spec(), func(c aws.Config) api { return api{logs: cloudwatchlogs.NewFromConfig(c), kms: kms.NewFromConfig(c)} }, newLogic)
}
