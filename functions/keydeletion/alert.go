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

// A is what the key-deletion alert is written from.
type A = guardrail.Alert[State]

func (l *logic) Headline(a *A) string {
	name := a.Outcome.Resource
	disable := a.Outcome.EventName == EventDisableKey
	switch {
	case disable && a.Acted && a.Failed():
		return fmt.Sprintf("KMS key %s was disabled, and kmsguard FAILED to enable it again.", name)
	case disable && a.Acted:
		return fmt.Sprintf("KMS key %s was disabled; kmsguard enabled it again.", name)
	case a.Acted && a.Failed():
		return fmt.Sprintf("kmsguard tried to stop the deletion of KMS key %s and FAILED. Act now: the key may still be pending deletion or Disabled.", name)
	case a.Acted && a.State.Rem != nil && !a.State.Rem.Enabled && a.State.Rem.FinalState == kmstypes.KeyStateDisabled:
		return fmt.Sprintf("kmsguard cancelled the scheduled deletion of KMS key %s and left it Disabled, as it was before.", name)
	case a.Acted:
		return fmt.Sprintf("kmsguard cancelled the scheduled deletion of KMS key %s and re-enabled it.", name)
	case a.Failed():
		return fmt.Sprintf("kmsguard could not check KMS key %s after %s. The key may be pending deletion and unprotected.", name, a.Outcome.EventName)
	case a.Outcome.EventName == EventKeyDeleted:
		return fmt.Sprintf("KMS key %s was deleted. Anything still encrypted under it can no longer be decrypted.", name)
	case a.Outcome.EventName == EventDisableKey:
		return fmt.Sprintf("KMS key %s was disabled.", name)
	case a.Decision.Severity == guardrail.SeverityInfo:
		return fmt.Sprintf("KMS key %s is scheduled for deletion, and the deletion is allowed.", name)
	}
	return fmt.Sprintf("KMS key %s is scheduled for deletion. kmsguard did NOT cancel it.", name)
}

func (l *logic) Happened(b *alert.Body, a *A) {
	if rec := a.Event.Record; rec != nil {
		if req, _, kerr := rec.KMS(); kerr == nil && req.PendingWindowInDays > 0 {
			b.Field("Waiting", fmt.Sprintf("%d days requested", req.PendingWindowInDays))
		}
	}
	if a.Outcome.EventName == EventScheduleKeyDeletion || a.Event.Record == nil && a.State.Key.Found {
		b.Field("State before", beforeWords(a.State.Before))
	}
	key := a.State.Key
	if key.Found && key.Meta.DeletionDate != nil && !a.Acted {
		b.Field("Deletes on", key.Meta.DeletionDate.UTC().Format(time.RFC3339))
	}
	if key.Found && key.Meta.KeyState == kmstypes.KeyStatePendingReplicaDeletion && !a.Acted {
		b.Field("Deletes on", "after its replicas are deleted, then the waiting period")
	}
}

func (l *logic) Did(b *alert.Body, a *A) {
	rem := a.State.Rem
	switch {
	case !a.Acted || rem == nil:
		return
	case a.Outcome.EventName == EventDisableKey:
		if !a.Failed() {
			b.Line("Called EnableKey; KMS accepted it: the key is Enabled again.")
			b.Line("Why: %s.", a.Decision.Reason)
		}
		return
	case a.Failed():
	case rem.Enabled && a.State.Before.State == "":
		b.Line("Called CancelKeyDeletion, then EnableKey (cancelling leaves a key Disabled). KMS accepted both: the key is Enabled again.")
		b.Line("kmsguard could not tell whether the key was Enabled or Disabled before it was scheduled, so it re-enabled it (its documented default: a key pending deletion is already unusable, and enabling it restores what used it).")
	case rem.Enabled:
		b.Line("Called CancelKeyDeletion, then EnableKey (cancelling leaves a key Disabled). KMS accepted both: the key is Enabled again, as it was before it was scheduled.")
	case rem.FinalState == kmstypes.KeyStateDisabled && !rem.Enabled:
		b.Line("Called CancelKeyDeletion, and not EnableKey: the key was Disabled before it was scheduled, so it stays Disabled.")
	default:
		b.Line("Called CancelKeyDeletion, then EnableKey (cancelling leaves a key Disabled). The key is %s now.", string(rem.FinalState))
	}
	if rem.Note != "" {
		b.Line("Note: %s.", rem.Note)
	}
	if !a.Failed() {
		b.Line("Why: %s.", a.Decision.Reason)
	}
}

func (l *logic) Details(b *alert.Body, a *A) {
	key, rem := a.State.Key, a.State.Rem
	keyARN, keyID := keyIdentity(a.Outcome, a.Event, key)
	b.Section("Key")
	if key.Found {
		shown, label := key, "State"
		if rem != nil && rem.FinalState != "" {
			shown.Meta.KeyState, label = rem.FinalState, "State now"
		}
		shown.Describe(b, label)
	} else {
		b.Field("ARN", keyARN)
	}
	if a.Outcome.EventName != EventKeyDeleted {
		b.Field("Console", kmskey.ConsoleURL(a.Outcome.Region, keyID))
	}
	if len(a.State.Replicas) > 0 {
		b.Section("Replicas")
		for _, r := range a.State.Replicas {
			b.Line("%s: %s", r.Region, replicaWords(r))
		}
	}
	commands(b, a, keyARN, a.Outcome.Region)
}

func replicaWords(r Replica) string {
	switch {
	case r.Err != "":
		return "could not be read: " + r.Err
	case r.DeletionDate != nil:
		return fmt.Sprintf("%s, deletes on %s (%s)", r.State, r.DeletionDate.UTC().Format(time.RFC3339), r.ARN)
	}
	return r.State + " (" + r.ARN + ")"
}

// pendingReplicas are the replicas scheduled for deletion.
func pendingReplicas(rs []Replica) []Replica {
	var out []Replica
	for _, r := range rs {
		if r.State == string(kmstypes.KeyStatePendingDeletion) && alert.ShellSafe(r.ARN) && alert.ShellSafe(r.Region) {
			out = append(out, r)
		}
	}
	return out
}

// beforeWords says what the key's state was before it was scheduled and
// how kmsguard knows.
func beforeWords(s guardrail.KeyStateSeen) string {
	if s.State == "" {
		why := s.Source
		if why == "" {
			why = "neither kmsguard's ledger nor CloudTrail recorded a change"
		}
		return "unknown (" + why + ")"
	}
	w := s.State + " (" + s.Source
	if !s.At.IsZero() {
		w += ", since " + s.At.UTC().Format(time.RFC3339)
	}
	if s.By != "" {
		w += ", by " + s.By
	}
	return w + ")"
}

// commands tells the reader the exact command to undo what kmsguard did or
// to do what it did not.
func commands(b *alert.Body, a *A, keyARN, region string) {
	out, d, acted, failed := a.Outcome, a.Decision, a.Acted, a.Failed()
	if keyARN == "" || !alert.ShellSafe(keyARN) || !alert.ShellSafe(region) {
		return
	}
	k := fmt.Sprintf("--key-id %s --region %s", keyARN, region)
	b.Section("What you can do")
	switch {
	case out.EventName == EventKeyDeleted:
		b.Line("A deleted key cannot be restored. Find what used it in CloudTrail (90 days):")
		b.Command(fmt.Sprintf("aws cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue=%s --region %s", keyARN, region))
	case out.EventName == EventDisableKey && acted && !failed:
		b.Line("If the key must stay disabled (an incident, a retirement), disable it again as a principal in guardrails.key-deletion.allowed_principals (or turn reenable_disabled_keys off), so that kmsguard leaves the disable alone; do not tag it %s, which would also let it be deleted:", a.ExemptionTag)
		b.Command("aws kms disable-key " + k)
	case out.EventName == EventDisableKey:
		b.Line("If it should not be disabled, enable it:")
		b.Command("aws kms enable-key " + k)
	case acted && failed, !acted && d.Kind == guardrail.Notify && d.Severity != guardrail.SeverityInfo:
		b.Line("To cancel the deletion and re-enable the key yourself:")
		b.Command("aws kms cancel-key-deletion " + k)
		b.Command("aws kms enable-key " + k)
	case acted && a.State.Rem != nil && !a.State.Rem.Enabled:
		b.Line("If the key should be usable again, enable it:")
		b.Command("aws kms enable-key " + k)
		b.Line("If it really must be deleted, exempt it and schedule the deletion again:")
		b.Command(fmt.Sprintf("aws kms tag-resource %s --tags TagKey=%s,TagValue=true", k, a.ExemptionTag))
		b.Command("aws kms schedule-key-deletion " + k + " --pending-window-in-days 30")
	case acted:
		b.Line("If the key was disabled on purpose before it was scheduled, disable it again:")
		b.Command("aws kms disable-key " + k)
		b.Line("If it really must be deleted, exempt it and schedule the deletion again:")
		b.Command(fmt.Sprintf("aws kms tag-resource %s --tags TagKey=%s,TagValue=true", k, a.ExemptionTag))
		b.Command("aws kms schedule-key-deletion " + k + " --pending-window-in-days 30")
	case d.Severity == guardrail.SeverityInfo:
		b.Line("To stop the deletion anyway:")
		b.Command("aws kms cancel-key-deletion " + k)
		b.Command("aws kms enable-key " + k)
	}
	if pend := pendingReplicas(a.State.Replicas); len(pend) > 0 {
		b.Line("KMS deletes the primary only after every replica, and replicas are scheduled one by one: the replicas pending deletion listed above are on their way out, and once the last copy goes the key material is lost everywhere. kmsguard cancels each when its own ScheduleKeyDeletion reaches it (in a Region kmsguard is deployed to); to cancel them yourself:")
		for _, r := range pend {
			b.Command(fmt.Sprintf("aws kms cancel-key-deletion --key-id %s --region %s", r.ARN, r.Region))
			b.Command(fmt.Sprintf("aws kms enable-key --key-id %s --region %s", r.ARN, r.Region))
		}
	}
}

func keyIdentity(out guardrail.Outcome, ev *cloudtrail.Event, obs kmskey.Key) (arn, id string) {
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
