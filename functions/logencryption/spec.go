// Package logencryption is the log-encryption guardrail: a CloudWatch Logs
// log group created without a KMS key, or whose key was disassociated, is
// associated with the regional logs key (alias/kmsguard/logs by default)
// once that key is checked to be usable by CloudWatch Logs.
package logencryption

import (
	"fmt"
	"strings"

	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/hub"
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
		ID:      patterns.LogEncryption,
		Summary: "Associates the regional logs KMS key with CloudWatch Logs log groups created without one, or whose key was removed.",
		Rules:   patterns.ForGuardrail(patterns.LogEncryption),
		Actions: []string{
			"logs:DescribeLogGroups",
			"logs:ListTagsForResource",
			"logs:AssociateKmsKey",
			"kms:DescribeKey",
			"kms:GetKeyPolicy",
		},
		ExemptionTag: ExemptionTag,
		DefaultMode:  guardrail.ModeRemediate,
	}
}

// Settings are the guardrail's options from the runtime configuration.
type Settings struct {
	// KeyAlias names the regional logs key (default alias/kmsguard/logs).
	KeyAlias string `json:"key_alias,omitempty"`
	// ExcludedPrefixes are log group name prefixes left alone.
	ExcludedPrefixes []string `json:"excluded_prefixes,omitempty"`
	// DelaySeconds waits before acting (0-30), for tools that create a log
	// group and associate their own key right after; the state is re-read
	// after the wait.
	DelaySeconds int `json:"delay_seconds,omitempty"`
	// ExemptionTag overrides the tag key that exempts a log group.
	ExemptionTag string `json:"exemption_tag,omitempty"`
}

func (s Settings) keyAlias() string {
	if s.KeyAlias != "" {
		return s.KeyAlias
	}
	return DefaultKeyAlias
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
	if s.KeyAlias != "" && !strings.HasPrefix(s.KeyAlias, "alias/") {
		return s, fmt.Errorf("guardrails.log-encryption.key_alias: %q must start with alias/", s.KeyAlias)
	}
	if strings.HasPrefix(s.KeyAlias, "alias/aws/") {
		return s, fmt.Errorf("guardrails.log-encryption.key_alias: %q is an AWS managed key, which CloudWatch Logs cannot use; name a customer managed key", s.KeyAlias)
	}
	if s.DelaySeconds < 0 || s.DelaySeconds > MaxDelaySeconds {
		return s, fmt.Errorf("guardrails.log-encryption.delay_seconds: %d is outside 0-%d", s.DelaySeconds, MaxDelaySeconds)
	}
	for i, p := range s.ExcludedPrefixes {
		if p == "" {
			return s, fmt.Errorf("guardrails.log-encryption.excluded_prefixes[%d]: an empty prefix would exclude every log group; remove it", i)
		}
	}
	return s, nil
}

// Entry is the guardrail as a runtime builds it.
func Entry() hub.Entry { return hub.EntryOf(Spec(), ParseSettings, New) }
