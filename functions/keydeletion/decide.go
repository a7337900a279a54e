package keydeletion

import (
	"fmt"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/glob"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// State is the key as read after the event and, once kmsguard acted, what
// its remediation did.
type State struct {
	Key kmskey.Key
	Rem *remediation
	// Before is the key's state before its deletion was scheduled, and how
	// kmsguard learned it (guardrail.KeyStates).
	Before guardrail.KeyStateSeen
}

// reEnable says whether the remediation enables the key after cancelling
// its deletion: unless it was Disabled before it was scheduled. When
// kmsguard cannot tell, it re-enables it (the documented default): a key
// pending deletion is already unusable, so re-enabling restores what used
// it, and the alert says how to disable it again.
func (s State) reEnable() bool { return s.Before.State != "Disabled" }

// Input is what decide looks at: the event, the mode and the key.
type Input = guardrail.Input[State]

// decide is pure: no I/O, no clock, no logging. The exemption tag is the
// driver's (it reads tags only if this says act or alert).
func decide(in Input, s Settings) guardrail.Decision {
	d := func(k guardrail.Kind, sev guardrail.Severity, verdict, reason string) guardrail.Decision {
		return guardrail.Decision{Kind: k, Severity: sev, Verdict: verdict, Reason: reason}
	}
	if in.Event.Record == nil {
		out := d(guardrail.Notify, guardrail.SeverityCritical, "deleted",
			"KMS deleted the key at the end of its waiting period; it cannot be recovered. Data still encrypted under it is unrecoverable.")
		out.NoExemption = true
		return out
	}
	key := in.State.Key
	if !key.Found {
		return d(guardrail.Ignore, "", "", "the key does not exist in this account and Region (already deleted, or the event named another account's key)")
	}
	if key.AWSManaged() {
		return d(guardrail.Ignore, "", "", "AWS managed key: AWS controls its lifecycle and it cannot be scheduled for deletion or disabled")
	}
	state := key.Meta.KeyState
	switch name := in.Event.Record.EventName; name {
	case EventDisableKey:
		if state != kmstypes.KeyStateDisabled {
			return d(guardrail.Ignore, "", "", fmt.Sprintf("the key is %s now, no longer Disabled", state))
		}
		out := d(guardrail.Notify, guardrail.SeverityWarning, "disabled",
			"the key was disabled: nothing can encrypt or decrypt with it until it is enabled again; disabling often precedes deletion. kmsguard does not re-enable disabled keys.")
		out.NoExemption = true
		return out
	case EventEnableKey, EventCreateKey:
		return d(guardrail.Ignore, "", "", "nothing to decide: the key's new state goes in kmsguard's ledger (where it keeps one), for a later deletion")
	case EventScheduleKeyDeletion:
	default:
		return d(guardrail.Ignore, "", "", fmt.Sprintf("event %s is not handled by this guardrail", name))
	}

	if state != kmstypes.KeyStatePendingDeletion && state != kmstypes.KeyStatePendingReplicaDeletion {
		return d(guardrail.Ignore, "", "", fmt.Sprintf("the key is no longer pending deletion (it is %s now); someone already cancelled it", state))
	}
	u := in.Event.Record.UserIdentity
	for _, p := range s.AllowedPrincipals {
		for _, who := range []string{u.ARN, u.IssuerRoleARN()} {
			if who != "" && glob.Match(p, who) {
				return d(guardrail.Notify, guardrail.SeverityInfo, "deletion allowed",
					fmt.Sprintf("the caller %s matches the allow-listed principal pattern %s, so its deletion is allowed", who, p))
			}
		}
	}
	if in.Mode != guardrail.ModeRemediate {
		return d(guardrail.Notify, guardrail.SeverityCritical, "NOT cancelled",
			"the key is pending deletion and the guardrail runs in alert mode for this account, so kmsguard did not cancel it")
	}
	if !in.State.reEnable() {
		return d(guardrail.Remediate, guardrail.SeverityCritical, "cancelled, left Disabled",
			"the key was scheduled for deletion without an exemption tag or an allow-listed caller; it was Disabled before, so kmsguard leaves it Disabled")
	}
	return d(guardrail.Remediate, guardrail.SeverityCritical, "cancelled",
		"the key was scheduled for deletion without an exemption tag or an allow-listed caller")
}
