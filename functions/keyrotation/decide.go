package keyrotation

import (
	"fmt"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// Action is what the guardrail does.
type Action int

const (
	// Ignore: nothing to do or say.
	Ignore Action = iota
	// Notify: alert only.
	Notify
	// Enable: EnableKeyRotation with the configured period.
	Enable
)

// Decision is the pure result of decide.
type Decision struct {
	Action   Action
	Severity guardrail.Severity
	Verdict  string
	Reason   string
}

// Rotation is GetKeyRotationStatus's answer.
type Rotation struct {
	Enabled bool
	// PeriodDays is 0 when KMS did not say.
	PeriodDays int
}

// Input is what decide looks at. Key is the key rotation applies to: the
// primary for a multi-Region replica.
type Input struct {
	Key      kmskey.Key
	Rotation Rotation
	Mode     guardrail.Mode
	Settings Settings
}

// unsupported explains why KMS cannot rotate a key automatically, or "".
func unsupported(m kmstypes.KeyMetadata) string {
	switch {
	case m.KeySpec != "" && m.KeySpec != kmstypes.KeySpecSymmetricDefault:
		if m.KeyUsage == kmstypes.KeyUsageTypeGenerateVerifyMac {
			return "it is an HMAC key (" + string(m.KeySpec) + ")"
		}
		return "it is an asymmetric key (" + string(m.KeySpec) + ")"
	case m.Origin == kmstypes.OriginTypeExternal:
		return "its key material is imported (origin EXTERNAL); rotate it by hand with new material"
	case m.Origin == kmstypes.OriginTypeAwsCloudhsm || m.Origin == kmstypes.OriginTypeExternalKeyStore:
		return "it is in a custom key store (origin " + string(m.Origin) + ")"
	}
	return ""
}

func decide(in Input) Decision {
	k := in.Key
	if !k.Found {
		return Decision{Ignore, "", "", "the key does not exist in this account and Region"}
	}
	if k.AWSManaged() {
		return Decision{Ignore, "", "", "AWS managed key: AWS rotates it every year"}
	}
	if k.Exempt(in.Settings.exemptionTag()) {
		return Decision{Ignore, "", "", fmt.Sprintf("the key carries the exemption tag %s=true", in.Settings.exemptionTag())}
	}
	if why := unsupported(k.Meta); why != "" {
		return Decision{Notify, guardrail.SeverityInfo, "cannot rotate",
			"KMS cannot rotate this key automatically: " + why}
	}
	// A key not described yet (Evaluate's quick path) has no state here:
	// KMS refuses EnableKeyRotation for a state that cannot take it, and
	// the key is then read in full.
	switch k.Meta.KeyState {
	case kmstypes.KeyStateEnabled:
	case "":
		if k.Described {
			return Decision{Notify, guardrail.SeverityWarning, "key state unknown", "KMS did not say the key's state"}
		}
	case kmstypes.KeyStateDisabled:
		return Decision{Notify, guardrail.SeverityWarning, "key disabled",
			"the key is Disabled, and KMS refuses EnableKeyRotation on a disabled key; enable the key first if it is still in use"}
	default:
		return Decision{Notify, guardrail.SeverityWarning, "key " + string(k.Meta.KeyState),
			fmt.Sprintf("the key is %s, so rotation cannot be turned on", k.Meta.KeyState)}
	}
	r, want, max := in.Rotation, in.Settings.period(), in.Settings.maxPeriod()
	var problem string
	switch {
	case !r.Enabled:
		problem = "automatic rotation is off"
	case r.PeriodDays > max:
		problem = fmt.Sprintf("rotation runs every %d days, longer than the maximum of %d", r.PeriodDays, max)
	default:
		return Decision{Ignore, "", "", fmt.Sprintf("rotation is on (every %s)", periodText(r.PeriodDays))}
	}
	if in.Mode != guardrail.ModeRemediate {
		return Decision{Notify, guardrail.SeverityHigh, "NOT fixed",
			problem + " and the guardrail runs in alert mode for this account, so kmsguard did not change it"}
	}
	return Decision{Enable, guardrail.SeverityHigh, fmt.Sprintf("rotation on, %d days", want), problem}
}

func periodText(days int) string {
	if days == 0 {
		return "KMS's default period"
	}
	return fmt.Sprintf("%d days", days)
}
