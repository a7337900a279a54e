package bootstrap

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

type fakeTrail struct {
	pages [][]cttypes.Event
	calls int
}

func (f *fakeTrail) LookupEvents(_ context.Context, in *cloudtrail.LookupEventsInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error) {
	f.calls++
	out := &cloudtrail.LookupEventsOutput{}
	if f.calls <= len(f.pages) {
		out.Events = f.pages[f.calls-1]
	}
	if f.calls < len(f.pages) {
		out.NextToken = aws.String("more")
	}
	return out, nil
}

func ev(name, user string, at time.Time) cttypes.Event {
	return cttypes.Event{EventName: aws.String(name), Username: aws.String(user), EventTime: aws.Time(at)}
}

// The key's state before its deletion, from CloudTrail: the last
// state-changing event before the deletion, newest first; pages bounded
// (LookupEvents allows 2 requests per second) and paced.
func TestLookupKeyState(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	var slept []time.Duration
	sleep := func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	ctx := context.Background()

	f := &fakeTrail{pages: [][]cttypes.Event{{ev("ScheduleKeyDeletion", "bob", at), ev("TagResource", "bob", at.Add(-time.Hour))}, {ev("DisableKey", "bob", at.Add(-24*time.Hour)), ev("CreateKey", "alice", at.Add(-48*time.Hour))}}}
	got, err := lookupKeyState(ctx, f, "k", at, sleep)
	if err != nil || got.State != "Disabled" || got.By != "bob" || !strings.Contains(got.Source, "CloudTrail: DisableKey") || f.calls != 2 || len(slept) != 1 || slept[0] != lookupPause {
		t.Errorf("%+v %v, %d calls, slept %v", got, err, f.calls, slept)
	}

	f = &fakeTrail{pages: [][]cttypes.Event{{ev("TagResource", "x", at.Add(-time.Hour))}}}
	if got, _ := lookupKeyState(ctx, f, "k", at, sleep); got.State != "" || !strings.Contains(got.Source, "90 days") {
		t.Errorf("nothing found: %+v", got)
	}

	var many [][]cttypes.Event
	for i := 0; i < 10; i++ {
		many = append(many, []cttypes.Event{ev("TagResource", "x", at.Add(-time.Duration(i+1)*time.Hour))})
	}
	f = &fakeTrail{pages: many}
	if got, _ := lookupKeyState(ctx, f, "k", at, sleep); got.State != "" || f.calls != lookupPages {
		t.Errorf("bounded: %+v after %d calls", got, f.calls)
	}
}
