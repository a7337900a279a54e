package cloudtrail_test

import (
	"testing"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/catalog"
)

func BenchmarkParse_ScheduleKeyDeletion(b *testing.B) {
	raw := fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cloudtrail.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSelect_PutKeyPolicy(b *testing.B) {
	raw := fixtures.Get("key-policy/put-key-policy-public").Raw
	rules := catalog.HubRules(catalog.Specs())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := patterns.Select(raw, rules); err != nil {
			b.Fatal(err)
		}
	}
}
