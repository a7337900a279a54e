package guardrail

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
)

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
