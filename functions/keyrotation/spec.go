// Package keyrotation is the key-rotation guardrail: it keeps automatic
// rotation on for customer managed symmetric KMS keys, with the configured
// rotation period, after DisableKeyRotation, a CreateKey, or an
// EnableKeyRotation whose period is longer than the configured maximum.
package keyrotation

import (
	"fmt"

	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/hub"
)

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
		ID:      patterns.KeyRotation,
		Summary: "Turns automatic rotation back on, with the configured period, for customer managed symmetric KMS keys.",
		Rules:   patterns.ForGuardrail(patterns.KeyRotation),
		Actions: []string{
			"kms:DescribeKey",
			"kms:ListResourceTags",
			"kms:ListAliases",
			"kms:GetKeyRotationStatus",
			"kms:EnableKeyRotation",
		},
		ExemptionTag: ExemptionTag,
		DefaultMode:  guardrail.ModeRemediate,
	}
}

// Settings are the guardrail's options from the runtime configuration.
type Settings struct {
	// RotationPeriodDays is what kmsguard sets (90-2560, default 365).
	RotationPeriodDays int `json:"rotation_period_days,omitempty"`
	// MaxRotationPeriodDays is the longest period accepted without action
	// (default: RotationPeriodDays).
	MaxRotationPeriodDays int `json:"max_rotation_period_days,omitempty"`
	// ExemptionTag overrides the tag key that exempts a key.
	ExemptionTag string `json:"exemption_tag,omitempty"`
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
	if p := s.RotationPeriodDays; p != 0 && (p < MinPeriodDays || p > MaxPeriodDays) {
		return s, fmt.Errorf("guardrails.key-rotation.rotation_period_days: %d is outside KMS's %d-%d days", p, MinPeriodDays, MaxPeriodDays)
	}
	if m := s.MaxRotationPeriodDays; m != 0 && (m < MinPeriodDays || m > MaxPeriodDays) {
		return s, fmt.Errorf("guardrails.key-rotation.max_rotation_period_days: %d is outside KMS's %d-%d days", m, MinPeriodDays, MaxPeriodDays)
	}
	if s.MaxRotationPeriodDays != 0 && s.MaxRotationPeriodDays < s.period() {
		return s, fmt.Errorf("guardrails.key-rotation.max_rotation_period_days: %d is shorter than rotation_period_days %d; raise it or lower the period", s.MaxRotationPeriodDays, s.period())
	}
	return s, nil
}

// Entry is the guardrail as a runtime builds it.
func Entry() hub.Entry { return hub.EntryOf(Spec(), ParseSettings, New) }
