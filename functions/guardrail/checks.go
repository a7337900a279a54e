package guardrail

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/patterns"
)

// CheckRecord applies the checks every CloudTrail-triggered guardrail makes
// before reading AWS, in case an event slipped past its pattern:
//   - a failed call changed nothing: skip, with a reason;
//   - a call made by kmsguard's own roles: skip, so remediations never loop;
//   - a record whose recipientAccountId differs from the envelope's account
//     is forged or corrupt: a terminal error, because acting on it would let
//     one member account steer kmsguard at another.
func CheckRecord(ev *cloudtrail.Event) (skip string, err error) {
	rec := ev.Record
	if rec == nil {
		return "", Terminal(fmt.Errorf("event %s carries no CloudTrail record", ev.ID))
	}
	if rec.ErrorCode != "" {
		return "the call failed (" + rec.ErrorCode + "), so nothing changed", nil
	}
	if role := rec.UserIdentity.IssuerRoleName(); patterns.IsKMSGuardActor(role) {
		return "the call was made by kmsguard's own role " + role, nil
	}
	if ev.Account != "" && rec.RecipientAccountID != "" && ev.Account != rec.RecipientAccountID {
		return "", Terminal(fmt.Errorf("event account %s does not match the record's recipientAccountId %s", ev.Account, rec.RecipientAccountID))
	}
	return "", nil
}

// NewOutcome starts an outcome from the event and the resolved mode.
func NewOutcome(ev *cloudtrail.Event, mode ResolvedMode) Outcome {
	out := Outcome{
		EventID: ev.EventID(), EventName: ev.Name(),
		Account: ev.AccountID(), Region: ev.RegionName(),
		Action: ActionNone, Mode: mode.Mode, ModeSource: mode.Source,
	}
	if ev.Record != nil {
		out.Actor = ev.Record.UserIdentity.Principal()
	}
	return out
}

// Reject ends an event that no retry can fix: logged, no alert.
func Reject(out Outcome, err error) (Result, error) {
	out.Reason = "rejected: " + err.Error()
	return Result{Outcome: out}, Terminal(err)
}

// Begin starts every CloudTrail-triggered evaluation: the outcome, the
// event-name check and CheckRecord. When done is true the caller returns
// res and err as they are (a terminal rejection, or a skip with its reason).
func Begin(ev *cloudtrail.Event, spec Spec, modes ModeLookup, eventNames ...string) (out Outcome, res Result, err error, done bool) {
	out = NewOutcome(ev, modes.Resolve(ev.AccountID(), spec.ID, spec.DefaultMode))
	if ev.Record == nil || !slices.Contains(eventNames, ev.Record.EventName) {
		res, err = Reject(out, fmt.Errorf("event %q is not handled by %s", ev.Name(), spec.ID))
		return out, res, err, true
	}
	skip, err := CheckRecord(ev)
	if err != nil {
		res, err = Reject(out, err)
		return out, res, err, true
	}
	if skip != "" {
		out.Reason = skip
		return out, Result{Outcome: out}, nil, true
	}
	return out, Result{}, nil, false
}

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SweepActor is the identity a sweep's synthetic events carry.
const SweepActor = "kmsguard sweep (found in the current state, not by an event)"

// SweepEvent is the event a sweep hands a guardrail for a resource it found
// in a non-compliant state: the record of the API call that would have
// produced that state, made by SweepActor now.
func SweepEvent(account, region, eventSource, eventName, resource string, now time.Time) *cloudtrail.Event {
	now = now.UTC()
	rec := &cloudtrail.Record{
		EventTime: now, EventSource: eventSource, EventName: eventName, AWSRegion: region,
		RecipientAccountID: account, EventType: "kmsguard-sweep",
		EventID:      fmt.Sprintf("sweep-%s-%s-%s-%s", now.Format("20060102T150405Z"), account, region, resource),
		UserIdentity: cloudtrail.UserIdentity{Type: "kmsguard", InvokedBy: SweepActor},
	}
	return &cloudtrail.Event{Envelope: cloudtrail.Envelope{Account: account, Region: region, Time: now, DetailType: "kmsguard sweep"}, Record: rec}
}

// Partition returns the ARN partition of a Region.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
