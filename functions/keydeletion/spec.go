// Package keydeletion is the key-deletion guardrail: it stops KMS keys from
// being deleted. On ScheduleKeyDeletion it re-reads the key and, in remediate
// mode, cancels the deletion and re-enables the key (CancelKeyDeletion leaves
// a key Disabled); DisableKey and the native "KMS CMK Deletion" event are
// alert-only.
package keydeletion

import (
	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/hub"
)

// ExemptionTag exempts a key when set to "true".
const ExemptionTag = "kmsguard:allow-deletion"

// Spec declares the guardrail.
func Spec() guardrail.Spec {
	return guardrail.Spec{
		ID:      patterns.KeyDeletion,
		Summary: "Cancels scheduled deletion of customer managed KMS keys and re-enables them; alerts on DisableKey and on completed deletions.",
		Rules:   patterns.ForGuardrail(patterns.KeyDeletion),
		Actions: []string{
			"kms:DescribeKey",
			"kms:ListResourceTags",
			"kms:ListAliases",
			"kms:CancelKeyDeletion",
			"kms:EnableKey",
		},
		ExemptionTag: ExemptionTag,
		DefaultMode:  guardrail.ModeRemediate,
	}
}

// Entry is the guardrail as a runtime builds it.
func Entry() hub.Entry { return hub.EntryOf(Spec(), ParseSettings, New) }
