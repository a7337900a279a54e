package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

func TestSelectsKMSWrites(t *testing.T) {
	field := func(name string, eq, neq []string) cttypes.AdvancedFieldSelector {
		return cttypes.AdvancedFieldSelector{Field: aws.String(name), Equals: eq, NotEquals: neq}
	}
	tests := []struct {
		name string
		sel  cloudtrail.GetEventSelectorsOutput
		want bool
	}{
		{"no selectors: the default logs all management events", cloudtrail.GetEventSelectorsOutput{}, true},
		{"management, all", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{{IncludeManagementEvents: aws.Bool(true), ReadWriteType: cttypes.ReadWriteTypeAll}}}, true},
		{"management, write only", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{{IncludeManagementEvents: aws.Bool(true), ReadWriteType: cttypes.ReadWriteTypeWriteOnly}}}, true},
		{"management, read only", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{{IncludeManagementEvents: aws.Bool(true), ReadWriteType: cttypes.ReadWriteTypeReadOnly}}}, false},
		{"KMS excluded", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{{IncludeManagementEvents: aws.Bool(true), ReadWriteType: cttypes.ReadWriteTypeAll, ExcludeManagementEventSources: []string{"kms.amazonaws.com"}}}}, false},
		{"data events only", cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{{IncludeManagementEvents: aws.Bool(false)}}}, false},
		{"advanced: management", cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{field("eventCategory", []string{"Management"}, nil)}}}}, true},
		{"advanced: KMS excluded", cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{field("eventCategory", []string{"Management"}, nil), field("eventSource", nil, []string{"kms.amazonaws.com"})}}}}, false},
		{"advanced: read-only", cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{field("eventCategory", []string{"Management"}, nil), field("readOnly", []string{"true"}, nil)}}}}, false},
	}
	for _, tt := range tests {
		if got := selectsKMSWrites(&tt.sel); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

type fakeLookup struct {
	out *cloudtrail.LookupEventsOutput
	err error
	got *cloudtrail.LookupEventsInput
}

func (f *fakeLookup) LookupEvents(_ context.Context, in *cloudtrail.LookupEventsInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error) {
	f.got = in
	return f.out, f.err
}

// moto has no LookupEvents (docs/testing.md): the evidence is tested here.
func TestLastUse(t *testing.T) {
	when := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	f := &fakeLookup{out: &cloudtrail.LookupEventsOutput{Events: []cttypes.Event{{EventName: aws.String("Decrypt"), EventTime: &when, Username: aws.String("app")}}}}
	if got := lastUse(context.Background(), f, "arn:aws:kms:eu-west-1:111122223333:key/k"); got != "last named by Decrypt on 2026-08-01T12:00:00Z by app" {
		t.Errorf("%q", got)
	}
	if a := f.got.LookupAttributes[0]; a.AttributeKey != cttypes.LookupAttributeKeyResourceName || aws.ToString(a.AttributeValue) != "arn:aws:kms:eu-west-1:111122223333:key/k" {
		t.Errorf("looked up %+v", a)
	}
	if got := lastUse(context.Background(), &fakeLookup{out: &cloudtrail.LookupEventsOutput{}}, "k"); got != "no management event names it in the last 90 days" {
		t.Errorf("%q", got)
	}
	if got := lastUse(context.Background(), &fakeLookup{err: errors.New("throttled")}, "k"); got != "last use unknown (CloudTrail LookupEvents: throttled)" {
		t.Errorf("%q", got)
	}
}
