// Package keydeletion is the key-deletion guardrail: it stops KMS keys from
// being deleted. On ScheduleKeyDeletion it re-reads the key and, in remediate
// mode, cancels the deletion and re-enables the key (CancelKeyDeletion leaves
// a key Disabled); DisableKey and the native "KMS CMK Deletion" event are
// alert-only.
package keydeletion

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// ExemptionTag exempts a key when set to "true".
const ExemptionTag = "kmsguard:allow-deletion"

// Event names this guardrail handles.
const (
	EventScheduleKeyDeletion = "ScheduleKeyDeletion"
	EventDisableKey          = "DisableKey"
	EventEnableKey           = "EnableKey"
	EventCreateKey           = "CreateKey"
	EventKeyDeleted          = "KMS CMK Deletion"
)

// Spec declares the guardrail.
func Spec() guardrail.Spec {
	return guardrail.Spec{
		ID:       "key-deletion",
		Summary:  "Cancels scheduled deletion of customer managed KMS keys and restores the state they had before (re-enabled unless they were Disabled); owns DisableKey (reported; undone only with reenable_disabled_keys) and alerts on completed deletions.",
		Details:  "AWS managed keys are skipped; allow-listed principal patterns may delete (and disable); a replica is cancelled like any key, in its own Region; a multi-Region primary in `PendingReplicaDeletion` is cancelled too, and the alert lists every replica Region and its state.",
		Concern:  "deletion",
		Resource: "KMS key",
		Triggers: []patterns.Trigger{
			{Name: "key-deletion-api", Description: "KMS ScheduleKeyDeletion calls", EventSource: "kms.amazonaws.com", EventNames: []string{EventScheduleKeyDeletion}},
			{Name: "key-deletion-disable", Description: "KMS DisableKey calls (reported: disabling often precedes deletion; undone only with reenable_disabled_keys)", EventSource: "kms.amazonaws.com", EventNames: []string{EventDisableKey}, Concern: "key state"},
			{Name: "key-deletion-state", Description: "KMS EnableKey and CreateKey calls (recorded in the ledger: the state a key had before a deletion)", EventSource: "kms.amazonaws.com", EventNames: []string{EventEnableKey, EventCreateKey}, Concern: "key state"},
			{Name: "key-deletion-native", Description: "KMS deleted a key at the end of its waiting period", Source: "aws.kms", DetailType: EventKeyDeleted},
		},
		// cloudtrail:LookupEvents: the key's state before its deletion was
		// scheduled, when the ledger does not know it.
		Actions:         []string{"kms:DescribeKey", "kms:ListResourceTags", "kms:ListAliases", "kms:CancelKeyDeletion", "kms:EnableKey", "cloudtrail:LookupEvents"},
		Exemption:       guardrail.Exemption{Tag: ExemptionTag, Alert: true, Verdict: "deletion allowed", Effect: "so its deletion is allowed"},
		DefaultMode:     guardrail.ModeRemediate,
		Severity:        guardrail.SeverityCritical,
		FailureSeverity: guardrail.SeverityCritical,
		Reads:           "the key",
		Settings:        Settings{},
		Sweep:           guardrail.SweepSpec{Kind: guardrail.KindKMSKey, EventName: EventScheduleKeyDeletion, Refresh: true},
		Example: guardrail.Example{Fixture: "key-deletion/schedule-key-deletion-arn",
			Calls: []string{"DescribeKey", "ListResourceTags", "CancelKeyDeletion", "EnableKey"}, Verdict: "cancelled"},
	}
}

// Entry is the guardrail's catalog line.
func Entry() guardrail.Entry {
	return guardrail.Define(Spec(), func(c aws.Config) kmsAPI { return kms.NewFromConfig(c) }, newLogic)
}
