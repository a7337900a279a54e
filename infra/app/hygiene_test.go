package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/infra/app"
	"github.com/kmsguard/kmsguard/infra/config"
	"github.com/kmsguard/kmsguard/infra/internal/tpltest"
	"github.com/kmsguard/kmsguard/infra/org"
)

// tagsOf reads a resource's Tags property, a list of {Key, Value} or (SSM
// parameters, for example) a mapping.
func tagsOf(p map[string]any) (map[string]string, bool) {
	raw, ok := p["Tags"]
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	switch v := raw.(type) {
	case []any:
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				out[fmt.Sprint(m["Key"])] = fmt.Sprint(m["Value"])
			}
		}
	case map[string]any:
		for k, x := range v {
			out[k] = fmt.Sprint(x)
		}
	}
	return out, true
}

// Every resource that takes tags, in every template, carries the
// configuration's tags and kmsguard:component naming its component; the
// StackSets carry their spoke's component, which propagates to the stack
// instances.
func TestTags_EveryTaggableResource(t *testing.T) {
	component := map[string]string{
		app.HubStack: app.ComponentHub, app.GlobalStack: app.ComponentSpokeGlobal, app.MgmtGlobal: app.ComponentSpokeGlobal,
		app.RegionalStack + "eu-west-1": app.ComponentSpokeRegional, app.RegionalStack + "us-east-1": app.ComponentSpokeRegional,
		app.MgmtRegional + "eu-west-1": app.ComponentSpokeRegional, app.MgmtRegional + "us-east-1": app.ComponentSpokeRegional,
		app.OrgStack: app.ComponentOrg,
	}
	for _, name := range []string{"single", "org"} {
		y := singleYAML
		if name == "org" {
			y = orgYAML
		}
		cfg, err := config.Parse([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Tags) == 0 {
			t.Fatalf("%s: the test configuration has no tags", name)
		}
		for stack, tpl := range synth(t, name, y).templates {
			tagged := 0
			res, _ := tpl["Resources"].(map[string]any)
			for id, x := range res {
				r, _ := x.(map[string]any)
				tags, ok := tagsOf(props(r))
				if !ok {
					if r["Type"] == "AWS::CloudFormation::StackSet" {
						t.Errorf("%s %s/%s: a StackSet without tags", name, stack, id)
					}
					continue
				}
				tagged++
				want := component[stack]
				if r["Type"] == "AWS::CloudFormation::StackSet" {
					switch props(r)["StackSetName"] {
					case org.GlobalStackSetName:
						want = app.ComponentSpokeGlobal
					case org.RegionalStackSetName:
						want = app.ComponentSpokeRegional
					}
				}
				if got := tags[config.ComponentTag]; got != want || want == "" {
					t.Errorf("%s %s/%s (%v): %s=%q, want %q", name, stack, id, r["Type"], config.ComponentTag, got, want)
				}
				for k, v := range cfg.Tags {
					if tags[k] != v {
						t.Errorf("%s %s/%s (%v): tag %s=%q, want %q", name, stack, id, r["Type"], k, tags[k], v)
					}
				}
			}
			if tagged == 0 {
				t.Errorf("%s %s: no resource has tags", name, stack)
			}
		}
	}
}

// The hub and organization stacks are protected from deletion unless the
// configuration says termination_protection: false; the spokes are not.
func TestTerminationProtection(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       bool
	}{
		{"default", orgYAML, true},
		{"off", strings.Replace(orgYAML, "termination_protection: true", "termination_protection: false", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			a := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
			if err := app.Build(a, cfg, tpltest.StubAssets(t)); err != nil {
				t.Fatal(err)
			}
			asm := a.Synth(nil)
			for _, s := range *asm.Stacks() {
				name := *s.StackName()
				want := tc.want && (name == app.HubStack || name == app.OrgStack)
				got := s.TerminationProtection() != nil && *s.TerminationProtection()
				if got != want {
					t.Errorf("%s: termination protection %v, want %v", name, got, want)
				}
			}
		})
	}
}
