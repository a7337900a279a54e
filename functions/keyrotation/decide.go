package keyrotation

import (
	"fmt"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// Rotation is GetKeyRotationStatus's answer.
type Rotation struct {
	Enabled bool
	// PeriodDays is 0 when KMS did not say.
	PeriodDays int
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

// problem says what is wrong with a rotation, or "".
func problem(r Rotation, s Settings) string {
	switch {
	case !r.Enabled:
		return "automatic rotation is off"
	case r.PeriodDays > s.maxPeriod():
		return fmt.Sprintf("rotation runs every %d days, longer than the maximum of %d", r.PeriodDays, s.maxPeriod())
	}
	return ""
}

// decide is pure: no I/O, no clock, no logging. It decides about the
// target (the primary of a replica). The exemption tag is the driver's.
func decide(st State, mode guardrail.Mode, s Settings) guardrail.Decision {
	if mv := st.Moved; mv != nil {
		return decideMove(st, mode, s)
	}
	return decideRotation(st, mode, s)
}

// decideMove reports a multi-Region key's primary moving, with the new
// primary's rotation (fixed like any other when it needs it).
func decideMove(st State, mode guardrail.Mode, s Settings) guardrail.Decision {
	mv := st.Moved
	if mv.From == "" {
		return guardrail.Decision{Kind: guardrail.Ignore, Reason: "the record in the new primary's Region (" + mv.To + "); the former primary's record names both Regions and is the one reported"}
	}
	moved := fmt.Sprintf("the primary of this multi-Region key moved from %s to %s (rotation is the primary's, shared by every copy)", mv.From, mv.To)
	info := func(why string) guardrail.Decision {
		return guardrail.Decision{Kind: guardrail.Notify, Severity: guardrail.SeverityInfo, Verdict: "primary now in " + mv.To, Reason: moved + "; " + why, NoExemption: true}
	}
	if t := st.Target; t.Found && t.Meta.KeyState == kmstypes.KeyStateUpdating {
		// Still moving: nothing is changed while KMS updates the copies.
		switch p := problem(st.Rotation, s); {
		case !st.RotationRead:
			return info("KMS is still updating the copies, so the rotation could not be read yet; the next sweep checks it")
		case p == "":
			return info(fmt.Sprintf("rotation is on (every %s)", periodText(st.Rotation.PeriodDays)))
		default:
			return guardrail.Decision{Kind: guardrail.Notify, Severity: guardrail.SeverityHigh, Verdict: "NOT fixed yet",
				Reason: moved + "; " + p + ", and KMS is still updating the copies, so kmsguard changed nothing now; the next sweep turns it on"}
		}
	}
	d := decideRotation(st, mode, s)
	switch d.Kind {
	case guardrail.Ignore:
		if !st.Target.Found || st.Target.AWSManaged() {
			return d
		}
		return info(d.Reason)
	default:
		d.Reason = moved + "; " + d.Reason
		return d
	}
}

// decideRotation decides about the target's rotation.
func decideRotation(st State, mode guardrail.Mode, s Settings) guardrail.Decision {
	d := func(k guardrail.Kind, sev guardrail.Severity, verdict, reason string) guardrail.Decision {
		return guardrail.Decision{Kind: k, Severity: sev, Verdict: verdict, Reason: reason}
	}
	k := st.Target
	if !k.Found {
		return d(guardrail.Ignore, "", "", "the key does not exist in this account and Region")
	}
	if k.AWSManaged() {
		return d(guardrail.Ignore, "", "", "AWS managed key: AWS rotates it every year")
	}
	if why := unsupported(k.Meta); why != "" {
		return d(guardrail.Notify, guardrail.SeverityInfo, "cannot rotate",
			"KMS cannot rotate this key automatically: "+why)
	}
	// A key not described yet (the quick path) has no state here: KMS
	// refuses EnableKeyRotation for a state that cannot take it, and the
	// key is then read in full.
	switch k.Meta.KeyState {
	case kmstypes.KeyStateEnabled:
	case "":
		if k.Described {
			return d(guardrail.Notify, guardrail.SeverityWarning, "key state unknown", "KMS did not say the key's state")
		}
	case kmstypes.KeyStateDisabled:
		return d(guardrail.Notify, guardrail.SeverityWarning, "key disabled",
			"the key is Disabled, and KMS refuses EnableKeyRotation on a disabled key; enable the key first if it is still in use")
	default:
		return d(guardrail.Notify, guardrail.SeverityWarning, "key "+string(k.Meta.KeyState),
			fmt.Sprintf("the key is %s, so rotation cannot be turned on", k.Meta.KeyState))
	}
	r := st.Rotation
	p := problem(r, s)
	if p == "" {
		return d(guardrail.Ignore, "", "", fmt.Sprintf("rotation is on (every %s)", periodText(r.PeriodDays)))
	}
	if mode != guardrail.ModeRemediate {
		return d(guardrail.Notify, guardrail.SeverityHigh, "NOT fixed",
			p+" and the guardrail runs in alert mode for this account, so kmsguard did not change it")
	}
	return d(guardrail.Remediate, guardrail.SeverityHigh, fmt.Sprintf("rotation on, %d days", s.period()), p)
}

func periodText(days int) string {
	if days == 0 {
		return "KMS's default period"
	}
	return fmt.Sprintf("%d days", days)
}
