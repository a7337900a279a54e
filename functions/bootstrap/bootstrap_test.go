package bootstrap_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
)

func TestLoad_Errors(t *testing.T) {
	cfg := aws.Config{Region: "eu-west-1"}
	tests := []struct {
		name string
		o    bootstrap.Options
		want string
	}{
		{"bad config", bootstrap.Options{Guardrails: catalog.Entries(), AWS: &cfg, HubAccount: "123456789012", ConfigJSON: []byte(`{"modes":{"default":"on"}}`)}, "modes.default"},
		{"unknown guardrail settings", bootstrap.Options{Guardrails: catalog.Entries(), Known: catalog.IDs(), AWS: &cfg, HubAccount: "123456789012", ConfigJSON: []byte(`{"guardrails":{"nope":{}}}`)}, "guardrails.nope"},
		{"bad hub account", bootstrap.Options{Guardrails: catalog.Entries(), AWS: &cfg, HubAccount: "12345"}, "KMSGUARD_HUB_ACCOUNT"},
		{"bad topic", bootstrap.Options{Guardrails: catalog.Entries(), AWS: &cfg, HubAccount: "123456789012", TopicARN: "arn:aws:sqs:eu-west-1:123456789012:q"}, "KMSGUARD_TOPIC_ARN"},
		{"bad mode override", bootstrap.Options{Guardrails: catalog.Entries(), AWS: &cfg, HubAccount: "123456789012", Mode: "enforce"}, "enforce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bootstrap.Load(context.Background(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	h, err := bootstrap.Load(context.Background(), bootstrap.Options{Guardrails: catalog.Entries(), AWS: &cfg, HubAccount: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Runner("nope"); err == nil {
		t.Error("unknown guardrail accepted")
	}
	if _, err := h.Runner("key-deletion"); err != nil {
		t.Error(err)
	}
}
