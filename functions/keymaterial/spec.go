// Package keymaterial is the key-material guardrail: it watches KMS keys
// whose key material was imported (origin EXTERNAL). Such a key becomes
// unusable when its material is deleted (DeleteImportedKeyMaterial) or
// expires (KMS deletes it at ValidTo), and only importing the same material
// again brings it back. The guardrail alerts on a deletion (CRITICAL), on an
// expiry (CRITICAL), and on an import whose material expires within the
// configured horizon (HIGH); the sweep lists every such key with its date.
//
// It never remediates: the material is held by its owner outside AWS, and
// kmsguard has neither it nor the right to import it. Its IAM actions are
// reads only, so its spec is alert-only (guardrail.Spec.AlertOnly).
package keymaterial

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// ExemptionTag exempts a key when set to "true": its material may be
// deleted or expire (the alert is then INFO).
const ExemptionTag = "kmsguard:allow-material-deletion"

// Events this guardrail handles.
const (
	EventImport = "ImportKeyMaterial"
	EventDelete = "DeleteImportedKeyMaterial"
	// EventExpired is KMS's native event after it deleted expired
	// material. The same expiry is also recorded in CloudTrail as the
	// service event DeleteExpiredKeyMaterial ("AWS Service Event via
	// CloudTrail"), which kmsguard does not watch: one expiry, one alert.
	EventExpired = "KMS Imported Key Material Expiration"
)

// Expiry horizons: the default, and KMS's own bound (ValidTo is at most
// 365 days after the import, so a longer horizon would mean "always").
const (
	DefaultHorizonDays = 30
	MaxHorizonDays     = 365
)

// Spec declares the guardrail.
func Spec() guardrail.Spec {
	return guardrail.Spec{
		ID:       "key-material",
		Summary:  "Alerts when the imported key material of a KMS key (origin EXTERNAL) is deleted or has expired, which leaves the key unusable, and when an import sets material that expires within the configured horizon; the sweep lists every such key with its date.",
		Details:  "Alert only: only importing the same material again makes the key usable, and its owner holds it outside AWS. Each replica of a multi-Region key has its own copy of the material and is reported on its own.",
		Concern:  "key material",
		Resource: "KMS key",
		Triggers: []patterns.Trigger{
			{Name: "key-material-api", Description: "KMS ImportKeyMaterial and DeleteImportedKeyMaterial calls", EventSource: "kms.amazonaws.com", EventNames: []string{EventImport, EventDelete}},
			{Name: "key-material-expired", Description: "KMS deleted expired imported key material", Source: "aws.kms", DetailType: EventExpired},
		},
		Actions:         []string{"kms:DescribeKey", "kms:ListResourceTags", "kms:ListAliases"},
		Exemption:       guardrail.Exemption{Tag: ExemptionTag, Alert: true, Verdict: "material loss allowed", Effect: "so deleting its key material, or letting it expire, is allowed"},
		DefaultMode:     guardrail.ModeAlert,
		Severity:        guardrail.SeverityCritical,
		FailureSeverity: guardrail.SeverityHigh,
		Reads:           "the key",
		Settings:        Settings{},
		// The sweep's synthetic event is the import a key without material,
		// or with material about to expire, is waiting for.
		Sweep: guardrail.SweepSpec{Kind: guardrail.KindKMSKey, EventName: EventImport},
		Example: guardrail.Example{Fixture: "key-material/delete-imported-key-material",
			Calls: []string{"DescribeKey", "ListResourceTags"}, Verdict: "material deleted"},
	}
}

// Settings are the guardrail's options from the runtime configuration.
type Settings struct {
	guardrail.Common
	ExpiryHorizonDays int `json:"expiry_horizon_days,omitempty" doc:"imported key material that expires within this many days is reported (on import and by the sweep), 1-365" default:"30"`
}

func (s Settings) horizon() int {
	if s.ExpiryHorizonDays == 0 {
		return DefaultHorizonDays
	}
	return s.ExpiryHorizonDays
}

// Validate checks the horizon against KMS's range.
func (s Settings) Validate() error {
	if h := s.ExpiryHorizonDays; h < 0 || h > MaxHorizonDays {
		return fmt.Errorf("guardrails.key-material.expiry_horizon_days: %d is outside 1-%d days (KMS lets imported key material live at most %d days)", h, MaxHorizonDays, MaxHorizonDays)
	}
	return nil
}

// ParseSettings decodes and validates the settings; empty input is the default.
func ParseSettings(raw []byte) (Settings, error) {
	return guardrail.DecodeSettings[Settings](raw, Spec().ID)
}

// kmsAPI is every KMS call this guardrail makes: reads only.
type kmsAPI = kmskey.ReadAPI

var _ kmsAPI = (*kms.Client)(nil)

// Entry is the guardrail's catalog line.
func Entry() guardrail.Entry {
	return guardrail.Define(Spec(), func(c aws.Config) kmsAPI { return kms.NewFromConfig(c) }, newLogic)
}
