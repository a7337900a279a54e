package keydeletion

import (
	"fmt"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/glob"
)

// Event names this guardrail handles.
const (
	EventScheduleKeyDeletion = "ScheduleKeyDeletion"
	EventDisableKey          = "DisableKey"
	EventKeyDeleted          = "KMS CMK Deletion"
)

// Action is what the guardrail does about an event.
type Action int

const (
	// Ignore: nothing to do and nothing to say.
	Ignore Action = iota
	// Notify: alert only, no write call.
	Notify
	// Cancel: CancelKeyDeletion, then EnableKey.
	Cancel
)

// Decision is the pure result of decide, with the reason a person reads.
type Decision struct {
	Action   Action
	Severity guardrail.Severity
	// Verdict is the short outcome for the alert subject.
	Verdict string
	Reason  string
}

// Input is everything decide looks at.
type Input struct {
	EventName string
	// ActorARN is the calling principal; IssuerRoleARN the role behind an
	// assumed-role session, when there is one.
	ActorARN      string
	IssuerRoleARN string
	Observed      Observed
	Mode          guardrail.Mode
	Settings      Settings
}

// decide is pure: no I/O, no clock, no logging.
func decide(in Input) Decision {
	if in.EventName == EventKeyDeleted {
		return Decision{Notify, guardrail.SeverityCritical, "deleted",
			"KMS deleted the key at the end of its waiting period; it cannot be recovered. Data still encrypted under it is unrecoverable."}
	}
	obs := in.Observed
	if !obs.Found {
		return Decision{Ignore, "", "", "the key does not exist in this account and Region (already deleted, or the event named another account's key)"}
	}
	if obs.AWSManaged() {
		return Decision{Ignore, "", "", "AWS managed key: AWS controls its lifecycle and it cannot be scheduled for deletion or disabled"}
	}
	state := obs.Meta.KeyState
	switch in.EventName {
	case EventDisableKey:
		if state != kmstypes.KeyStateDisabled {
			return Decision{Ignore, "", "", fmt.Sprintf("the key is %s now, no longer Disabled", state)}
		}
		return Decision{Notify, guardrail.SeverityWarning, "disabled",
			"the key was disabled: nothing can encrypt or decrypt with it until it is enabled again; disabling often precedes deletion. kmsguard does not re-enable disabled keys."}
	case EventScheduleKeyDeletion:
	default:
		return Decision{Ignore, "", "", fmt.Sprintf("event %s is not handled by this guardrail", in.EventName)}
	}

	if state != kmstypes.KeyStatePendingDeletion && state != kmstypes.KeyStatePendingReplicaDeletion {
		return Decision{Ignore, "", "", fmt.Sprintf("the key is no longer pending deletion (it is %s now); someone already cancelled it", state)}
	}
	tag := in.Settings.exemptionTag()
	if obs.Exempt(tag) {
		return Decision{Notify, guardrail.SeverityInfo, "deletion allowed",
			fmt.Sprintf("the key carries the exemption tag %s=true, so its deletion is allowed", tag)}
	}
	for _, p := range in.Settings.AllowedPrincipals {
		for _, who := range []string{in.ActorARN, in.IssuerRoleARN} {
			if who != "" && glob.Match(p, who) {
				return Decision{Notify, guardrail.SeverityInfo, "deletion allowed",
					fmt.Sprintf("the caller %s matches the allow-listed principal pattern %s, so its deletion is allowed", who, p)}
			}
		}
	}
	if in.Mode != guardrail.ModeRemediate {
		return Decision{Notify, guardrail.SeverityCritical, "NOT cancelled",
			"the key is pending deletion and the guardrail runs in alert mode for this account, so kmsguard did not cancel it"}
	}
	return Decision{Cancel, guardrail.SeverityCritical, "cancelled",
		"the key was scheduled for deletion without an exemption tag or an allow-listed caller"}
}
