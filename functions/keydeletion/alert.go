package keydeletion

import (
	"fmt"
	"time"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

func renderAlert(out guardrail.Outcome, ev *cloudtrail.Event, d Decision, obs Observed, rem *remediation, err error) alert.Message {
	var b alert.Body
	name := out.Resource
	keyARN, keyID := keyIdentity(out, ev, obs)
	region := out.Region

	switch {
	case rem != nil && err != nil:
		b.Para("kmsguard tried to stop the deletion of KMS key %s and FAILED. Act now: the key may still be pending deletion or Disabled.", name)
	case rem != nil:
		b.Para("kmsguard cancelled the scheduled deletion of KMS key %s and re-enabled it.", name)
	case err != nil:
		b.Para("kmsguard could not check KMS key %s after %s. The key may be pending deletion and unprotected.", name, out.EventName)
	case out.EventName == EventKeyDeleted:
		b.Para("KMS key %s was deleted. Anything still encrypted under it can no longer be decrypted.", name)
	case out.EventName == EventDisableKey:
		b.Para("KMS key %s was disabled.", name)
	case d.Severity == guardrail.SeverityInfo:
		b.Para("KMS key %s is scheduled for deletion, and the deletion is allowed.", name)
	default:
		b.Para("KMS key %s is scheduled for deletion. kmsguard did NOT cancel it.", name)
	}

	b.Section("What happened")
	b.Field("Event", out.EventName)
	b.Field("When", ev.When().UTC().Format(time.RFC3339))
	if ev.Record != nil {
		if req, _, kerr := ev.Record.KMS(); kerr == nil && req.PendingWindowInDays > 0 {
			b.Field("Waiting", fmt.Sprintf("%d days requested", req.PendingWindowInDays))
		}
	}
	if obs.Found && obs.Meta.DeletionDate != nil && rem == nil {
		b.Field("Deletes on", obs.Meta.DeletionDate.UTC().Format(time.RFC3339))
	}
	if obs.Found && obs.Meta.KeyState == kmstypes.KeyStatePendingReplicaDeletion && rem == nil {
		b.Field("Deletes on", "after its replicas are deleted, then the waiting period")
	}

	b.Section("What kmsguard did")
	switch {
	case rem != nil && err != nil:
		b.Line("Remediation failed: %s", err.Error())
		b.Line("Lambda retries the event; if it keeps failing the event lands in the kmsguard dead-letter queue.")
	case rem != nil && rem.Enabled:
		b.Line("Called CancelKeyDeletion, then EnableKey (cancelling leaves a key Disabled). KMS accepted both: the key is Enabled again.")
	case rem != nil:
		b.Line("Called CancelKeyDeletion, then EnableKey (cancelling leaves a key Disabled). The key is %s now.", string(rem.FinalState))
	case err != nil:
		b.Line("Nothing: %s", err.Error())
	default:
		b.Line("Nothing. %s", alert.Sentence(d.Reason))
	}
	if rem != nil && rem.Note != "" {
		b.Line("Note: %s.", rem.Note)
	}
	if rem != nil && err == nil {
		b.Line("Why: %s.", d.Reason)
	}
	if out.EventName != EventKeyDeleted {
		b.Field("Mode", fmt.Sprintf("%s (set by %s)", out.Mode, out.ModeSource))
	}

	b.Actor(ev.Record)
	b.Where(out.Account, region)

	b.Section("Key")
	if obs.Found {
		shown := obs
		label := "State"
		if rem != nil && rem.FinalState != "" {
			shown.Meta.KeyState, label = rem.FinalState, "State now"
		}
		shown.Describe(&b, label)
	} else {
		b.Field("ARN", keyARN)
	}
	if out.EventName != EventKeyDeleted {
		b.Field("Console", kmskey.ConsoleURL(region, keyID))
	}

	commands(&b, out, d, rem, err, keyARN, region)

	b.Section("Event")
	b.Field("Event id", out.EventID)
	b.Field("Guardrail", Spec().ID)

	return alert.Message{
		Severity:  string(out.Severity),
		Guardrail: Spec().ID,
		Account:   out.Account,
		Region:    region,
		Resource:  name,
		Action:    out.Action,
		Verdict:   verdict(d, rem, err),
		EventID:   out.EventID,
		Findings:  out.Findings,
		Body:      b.String(),
	}
}

func verdict(d Decision, rem *remediation, err error) string {
	switch {
	case rem != nil && err != nil:
		return guardrail.VerdictRemediationFailed
	case err != nil:
		return guardrail.VerdictCheckFailed
	}
	return d.Verdict
}

// commands tells the reader the exact command to undo what kmsguard did or
// to do what it did not.
func commands(b *alert.Body, out guardrail.Outcome, d Decision, rem *remediation, err error, keyARN, region string) {
	if keyARN == "" || !alert.ShellSafe(keyARN) || !alert.ShellSafe(region) {
		return
	}
	k := fmt.Sprintf("--key-id %s --region %s", keyARN, region)
	b.Section("What you can do")
	switch {
	case out.EventName == EventKeyDeleted:
		b.Line("A deleted key cannot be restored. Find what used it in CloudTrail (90 days):")
		b.Command(fmt.Sprintf("aws cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue=%s --region %s", keyARN, region))
	case out.EventName == EventDisableKey:
		b.Line("If it should not be disabled, enable it:")
		b.Command("aws kms enable-key " + k)
	case rem != nil && err != nil, d.Action == Notify && d.Severity != guardrail.SeverityInfo:
		b.Line("To cancel the deletion and re-enable the key yourself:")
		b.Command("aws kms cancel-key-deletion " + k)
		b.Command("aws kms enable-key " + k)
	case rem != nil:
		b.Line("If the key was disabled on purpose before it was scheduled, disable it again:")
		b.Command("aws kms disable-key " + k)
		b.Line("If it really must be deleted, exempt it and schedule the deletion again:")
		b.Command(fmt.Sprintf("aws kms tag-resource %s --tags TagKey=%s,TagValue=true", k, ExemptionTag))
		b.Command("aws kms schedule-key-deletion " + k + " --pending-window-in-days 30")
	case d.Severity == guardrail.SeverityInfo:
		b.Line("To stop the deletion anyway:")
		b.Command("aws kms cancel-key-deletion " + k)
		b.Command("aws kms enable-key " + k)
	}
}

func keyIdentity(out guardrail.Outcome, ev *cloudtrail.Event, obs Observed) (arn, id string) {
	if obs.Found {
		return obs.ARN(), obs.ID()
	}
	if ev.Record == nil {
		id = ev.NativeKeyID
		for _, r := range ev.Resources {
			if ref := cloudtrail.ParseKeyRef(r); ref.ARN != "" {
				return ref.ARN, ref.ID
			}
		}
		return "", id
	}
	if ref, err := ev.Record.KeyRef(); err == nil {
		return ref.ARN, ref.ID
	}
	return "", out.Resource
}
