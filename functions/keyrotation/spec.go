// Package keyrotation is the key-rotation guardrail: it keeps automatic
// rotation on for customer managed symmetric KMS keys, with the configured
// rotation period, after DisableKeyRotation, a CreateKey, or an
// EnableKeyRotation whose period is longer than the configured maximum.
package keyrotation

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// EventUpdatePrimaryRegion moves a multi-Region key's primary: it is
// reported, and rotation is checked on the new primary.
const EventUpdatePrimaryRegion = "UpdatePrimaryRegion"

// ExemptionTag exempts a key when set to "true".
const ExemptionTag = "kmsguard:skip-rotation"

// Rotation periods KMS accepts, and the default.
const (
	MinPeriodDays     = 90
	MaxPeriodDays     = 2560
	DefaultPeriodDays = 365
)

// Spec declares the guardrail.
func Spec() guardrail.Spec {
	return guardrail.Spec{
		ID:       "key-rotation",
		Summary:  "Turns automatic rotation back on, with the configured period, for customer managed symmetric KMS keys.",
		Details:  "Asymmetric, HMAC, imported-material and custom-key-store keys, and disabled or pending keys, alert only; a multi-Region replica is fixed on its primary, and the sweep checks primaries only; UpdatePrimaryRegion is reported with the new primary's rotation.",
		Concern:  "rotation",
		Resource: "KMS key",
		Triggers: []patterns.Trigger{{
			Name: "key-rotation-api", Description: "KMS DisableKeyRotation, EnableKeyRotation (period checked by the guardrail) and CreateKey calls",
			EventSource: "kms.amazonaws.com", EventNames: []string{"DisableKeyRotation", "EnableKeyRotation", "CreateKey"},
		}, {
			Name: "key-rotation-primary", Description: "KMS UpdatePrimaryRegion calls: a multi-Region key's primary moved, and rotation is the primary's",
			EventSource: "kms.amazonaws.com", EventNames: []string{EventUpdatePrimaryRegion},
		}},
		Actions:         []string{"kms:DescribeKey", "kms:ListResourceTags", "kms:ListAliases", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation"},
		Exemption:       guardrail.Exemption{Tag: ExemptionTag},
		DefaultMode:     guardrail.ModeRemediate,
		Severity:        guardrail.SeverityHigh,
		FailureSeverity: guardrail.SeverityHigh,
		Reads:           "the key or its rotation status",
		Settings:        Settings{},
		Sweep:           guardrail.SweepSpec{Kind: guardrail.KindKMSKey, EventName: "DisableKeyRotation", Lazy: true},
		Example: guardrail.Example{Fixture: "key-rotation/disable-key-rotation",
			Calls: []string{"GetKeyRotationStatus", "ListResourceTags", "EnableKeyRotation"}, Verdict: "rotation on, 365 days"},
	}
}

// Settings are the guardrail's options from the runtime configuration.
type Settings struct {
	guardrail.Common
	RotationPeriodDays    int `json:"rotation_period_days,omitempty" doc:"the rotation period kmsguard sets, in days (90-2560)" default:"365"`
	MaxRotationPeriodDays int `json:"max_rotation_period_days,omitempty" doc:"the longest period accepted without action, in days (90-2560)" default:"rotation_period_days"`
}

func (s Settings) period() int {
	if s.RotationPeriodDays == 0 {
		return DefaultPeriodDays
	}
	return s.RotationPeriodDays
}

func (s Settings) maxPeriod() int {
	if s.MaxRotationPeriodDays == 0 {
		return s.period()
	}
	return s.MaxRotationPeriodDays
}

// ParseSettings decodes and validates the settings; empty input is the default.
func ParseSettings(raw []byte) (Settings, error) {
	return guardrail.DecodeSettings[Settings](raw, Spec().ID)
}

// Validate checks the periods against KMS's range and each other.
func (s Settings) Validate() error {
	if p := s.RotationPeriodDays; p != 0 && (p < MinPeriodDays || p > MaxPeriodDays) {
		return fmt.Errorf("guardrails.key-rotation.rotation_period_days: %d is outside KMS's %d-%d days", p, MinPeriodDays, MaxPeriodDays)
	}
	if m := s.MaxRotationPeriodDays; m != 0 && (m < MinPeriodDays || m > MaxPeriodDays) {
		return fmt.Errorf("guardrails.key-rotation.max_rotation_period_days: %d is outside KMS's %d-%d days", m, MinPeriodDays, MaxPeriodDays)
	}
	if s.MaxRotationPeriodDays != 0 && s.MaxRotationPeriodDays < s.period() {
		return fmt.Errorf("guardrails.key-rotation.max_rotation_period_days: %d is shorter than rotation_period_days %d; raise it or lower the period", s.MaxRotationPeriodDays, s.period())
	}
	return nil
}

// Entry is the guardrail's catalog line.
func Entry() guardrail.Entry {
	return guardrail.Define(Spec(), func(c aws.Config) kmsAPI { return kms.NewFromConfig(c) }, newLogic)
}
