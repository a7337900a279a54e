package keydeletion

import (
	"fmt"
	"time"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
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
	// Later is a change of the key's state recorded after the event's
	// own (a DisableKey delivered late or again); zero when none.
	Later guardrail.KeyStateSeen
	// Replicas are a multi-Region primary's replicas as kmsguard read them
	// in their Regions: the primary is deleted only after all of them.
	Replicas []Replica
}

// Replica is one replica of a multi-Region primary key.
type Replica struct {
	Region, ARN string
	// State is its key state, "" when it could not be read (Err says why).
	State        string
	DeletionDate *time.Time
	Err          string
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
		return decideDisable(in, s)
	case EventEnableKey, EventCreateKey:
		return d(guardrail.Ignore, "", "", "nothing to decide: the key's new state goes in kmsguard's ledger (where it keeps one), for a later deletion")
	case EventScheduleKeyDeletion:
	default:
		return d(guardrail.Ignore, "", "", fmt.Sprintf("event %s is not handled by this guardrail", name))
	}

	if state != kmstypes.KeyStatePendingDeletion && state != kmstypes.KeyStatePendingReplicaDeletion {
		return d(guardrail.Ignore, "", "", fmt.Sprintf("the key is no longer pending deletion (it is %s now); someone already cancelled it", state))
	}
	if who, p := allowed(in.Event.Record.UserIdentity, s); p != "" {
		return d(guardrail.Notify, guardrail.SeverityInfo, "deletion allowed",
			fmt.Sprintf("the caller %s matches the allow-listed principal pattern %s, so its deletion is allowed", who, p))
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

// decideDisable: a DisableKey is reported, and undone only when the
// deployment asks for it (reenable_disabled_keys) in remediate mode. A key
// left Disabled stays Disabled when its deletion is later cancelled (the
// ledger remembers the disable); a key kmsguard re-enabled is recorded
// Enabled, so a later cancelled deletion re-enables it too.
func decideDisable(in Input, s Settings) guardrail.Decision {
	what := "the key was disabled: nothing can encrypt or decrypt with it until it is enabled again; disabling often precedes deletion"
	report := func(verdict, why string) guardrail.Decision {
		return guardrail.Decision{Kind: guardrail.Notify, Severity: guardrail.SeverityWarning, Verdict: verdict, Reason: what + ". " + why, NoExemption: true}
	}
	if !s.ReenableDisabledKeys {
		return report("disabled", "kmsguard reports disables and does not undo them (guardrails.key-deletion.reenable_disabled_keys is off).")
	}
	if who, p := allowed(in.Event.Record.UserIdentity, s); p != "" {
		return report("disabled", fmt.Sprintf("The caller %s matches the allow-listed principal pattern %s, so the key stays Disabled.", who, p))
	}
	if in.Mode != guardrail.ModeRemediate {
		return report("NOT re-enabled", "The guardrail runs in alert mode for this account, so kmsguard did not enable it again.")
	}
	if l := in.State.Later; l.State != "" {
		// A redelivered or late DisableKey must not undo what came after
		// it (a responder's own disable, say).
		return report("disabled", fmt.Sprintf("A later change of the key's state is on record (%s at %s), so kmsguard does not act on this older event.", l.State, l.At.UTC().Format(time.RFC3339)))
	}
	// The exemption tag is key-deletion's (kmsguard:allow-deletion): it
	// must not be what keeps a key disabled, or keeping a key disabled
	// would also let it be deleted. allowed_principals says who may.
	return guardrail.Decision{Kind: guardrail.Remediate, Severity: guardrail.SeverityHigh, Verdict: "re-enabled", NoExemption: true,
		Reason: what + "; the caller is not allow-listed and guardrails.key-deletion.reenable_disabled_keys is on"}
}

// allowed returns the caller and the allow-listed pattern it matches.
func allowed(u cloudtrail.UserIdentity, s Settings) (who, pattern string) {
	for _, p := range s.AllowedPrincipals {
		for _, w := range []string{u.ARN, u.IssuerRoleARN()} {
			if w != "" && glob.Match(p, w) {
				return w, p
			}
		}
	}
	return "", ""
}
