package hub_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/hub"
)

// Every guardrail in the contract has a valid spec whose rules are exactly
// the contract's, and at least one positive and one negative fixture exist.
func TestSpecs_MatchTheContract(t *testing.T) {
	specs := catalog.Specs()
	if len(specs) != len(patterns.GuardrailIDs) {
		t.Fatalf("%d specs for %d guardrail ids", len(specs), len(patterns.GuardrailIDs))
	}
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		want := patterns.ForGuardrail(s.ID)
		if len(s.Rules) != len(want) {
			t.Errorf("%s: %d rules, contract has %d", s.ID, len(s.Rules), len(want))
		}
		for i := range want {
			if i < len(s.Rules) && s.Rules[i].Pattern.JSON() != want[i].Pattern.JSON() {
				t.Errorf("%s: rule %s differs from events/patterns", s.ID, want[i].Name)
			}
		}
		if len(fixtures.For(s.ID)) == 0 {
			t.Errorf("%s has no positive fixture", s.ID)
		}
	}
}

func TestLoad_Errors(t *testing.T) {
	cfg := aws.Config{Region: "eu-west-1"}
	tests := []struct {
		name string
		o    hub.Options
		want string
	}{
		{"bad config", hub.Options{Guardrails: catalog.Entries(), AWS: &cfg, HubAccount: "123456789012", ConfigJSON: []byte(`{"modes":{"default":"on"}}`)}, "modes.default"},
		{"unknown guardrail settings", hub.Options{Guardrails: catalog.Entries(), AWS: &cfg, HubAccount: "123456789012", ConfigJSON: []byte(`{"guardrails":{"nope":{}}}`)}, "guardrails.nope"},
		{"bad hub account", hub.Options{Guardrails: catalog.Entries(), AWS: &cfg, HubAccount: "12345"}, "KMSGUARD_HUB_ACCOUNT"},
		{"bad topic", hub.Options{Guardrails: catalog.Entries(), AWS: &cfg, HubAccount: "123456789012", TopicARN: "arn:aws:sqs:eu-west-1:123456789012:q"}, "KMSGUARD_TOPIC_ARN"},
		{"bad mode override", hub.Options{Guardrails: catalog.Entries(), AWS: &cfg, HubAccount: "123456789012", Mode: "enforce"}, "enforce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := hub.Load(context.Background(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	h, err := hub.Load(context.Background(), hub.Options{Guardrails: catalog.Entries(), AWS: &cfg, HubAccount: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Runner("nope"); err == nil {
		t.Error("unknown guardrail accepted")
	}
	if _, err := h.Runner(patterns.KeyDeletion); err != nil {
		t.Error(err)
	}
}
