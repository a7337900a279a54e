package main

import (
	"testing"

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
