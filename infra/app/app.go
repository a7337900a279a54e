// Package app composes the kmsguard CDK app from a validated configuration:
// the hub stack always; in single-account mode the global and regional
// spokes as ordinary stacks of the hub account; in organization mode the
// organization stack with its two StackSets, plus the spokes as plain stacks
// for the management account, which service-managed StackSets skip.
package app

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/infra/config"
	infrahub "github.com/kmsguard/kmsguard/infra/hub"
	"github.com/kmsguard/kmsguard/infra/org"
	"github.com/kmsguard/kmsguard/infra/spoke"
)

// Stack names.
const (
	HubStack      = "kmsguard-hub"
	GlobalStack   = "kmsguard-global"
	RegionalStack = "kmsguard-regional-" // + Region
	OrgStack      = "kmsguard-org"
	MgmtGlobal    = "kmsguard-management-global"
	MgmtRegional  = "kmsguard-management-regional-" // + Region
)

// Values of the config.ComponentTag tag.
const (
	ComponentHub           = "hub"
	ComponentSpokeGlobal   = "spoke-global"
	ComponentSpokeRegional = "spoke-regional"
	ComponentOrg           = "org"
)

// Tag adds the configuration's tags and config.ComponentTag, naming the
// component, to scope: a stack (its own tags, which CloudFormation also
// passes on to its resources) and every taggable resource in it. A tag
// added to a narrower scope (a StackSet in the org stack) overrides the
// stack's: its priority is higher.
func Tag(scope constructs.IConstruct, component string, tags map[string]string) {
	props := &awscdk.TagProps{Priority: jsii.Number(100)}
	if _, isStack := scope.(awscdk.Stack); !isStack {
		props.Priority = jsii.Number(200)
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		awscdk.Tags_Of(scope).Add(jsii.String(k), jsii.String(tags[k]), props)
	}
	awscdk.Tags_Of(scope).Add(jsii.String(config.ComponentTag), jsii.String(component), props)
}

// Build adds every stack of the deployment to app.
func Build(app awscdk.App, cfg *config.Config, assetDir string) error {
	if err := catalog.Validate(catalog.Specs()); err != nil {
		return err
	}
	rc, err := cfg.RuntimeConfigJSON()
	if err != nil {
		return err
	}
	h := spoke.Hub{Account: cfg.HubAccount, HomeRegion: cfg.HomeRegion}
	env := func(account, region string) *awscdk.Environment {
		return &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	}
	orgID := ""
	if cfg.Organization != nil {
		orgID = cfg.Organization.ID
	}
	hub := infrahub.NewStack(app, HubStack, &infrahub.Props{
		StackProps:        awscdk.StackProps{Env: env(cfg.HubAccount, cfg.HomeRegion), TerminationProtection: jsii.Bool(cfg.TerminationProtected())},
		Specs:             catalog.Specs(),
		AssetDir:          assetDir,
		AlertEmails:       cfg.Alerts.Emails,
		OrganizationID:    orgID,
		RuntimeConfigJSON: rc,
		Regions:           cfg.Regions,
		SweepSchedule:     cfg.Sweep.ScheduleExpression(),
		SecurityHub:       cfg.Alerts.SecurityHubOn(),
		SweepConcurrency:  cfg.Sweep.Concurrency(),
	})
	Tag(hub, ComponentHub, cfg.Tags)
	// Stacks without assets need no CDK bootstrap: only the hub's account
	// and home Region must be bootstrapped.
	bootstrapless := func() awscdk.IStackSynthesizer {
		return awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{})
	}
	spokes := func(account, globalName, regionalPrefix string, specs []guardrail.Spec, unmanaged []string) {
		g := spoke.NewGlobalStack(app, globalName, &spoke.GlobalProps{StackProps: awscdk.StackProps{Env: env(account, cfg.HomeRegion), Synthesizer: bootstrapless()},
			Hub: h, Specs: specs, Regions: cfg.Regions, Sweep: len(specs) > 0, SecurityHub: cfg.Alerts.SecurityHubOn()})
		Tag(g, ComponentSpokeGlobal, cfg.Tags)
		for _, r := range cfg.Regions {
			rs := spoke.NewRegionalStack(app, regionalPrefix+r, &spoke.RegionalProps{
				StackProps: awscdk.StackProps{Env: env(account, r), Synthesizer: bootstrapless()}, Hub: h, Specs: catalog.Specs(),
				CreateLogsKey: cfg.LogsKey.Create(), LogsKeyAlias: config.DefaultLogsKeyAlias, Unmanaged: unmanaged,
			})
			Tag(rs, ComponentSpokeRegional, cfg.Tags)
		}
	}
	if cfg.SingleAccount() {
		spokes(cfg.HubAccount, GlobalStack, RegionalStack, catalog.Specs(), nil)
		return nil
	}
	global, regional, err := Templates(cfg)
	if err != nil {
		return err
	}
	if pv := cfg.Organization.Preventive; pv != nil && pv.Enabled {
		if _, err := org.ProtectionPolicy(*pv); err != nil {
			return err
		}
	}
	orgStack := org.NewStack(app, OrgStack, &org.Props{
		StackProps: awscdk.StackProps{Env: &awscdk.Environment{Region: jsii.String(cfg.HomeRegion)}, Synthesizer: bootstrapless(),
			TerminationProtection: jsii.Bool(cfg.TerminationProtected())},
		Org: *cfg.Organization, HomeRegion: cfg.HomeRegion, Regions: cfg.Regions,
		GlobalTemplate: global, RegionalTemplate: regional,
	})
	Tag(orgStack, ComponentOrg, cfg.Tags)
	// Tags on a StackSet propagate to its stack instances and their
	// resources: each StackSet carries its spoke's component.
	Tag(org.GlobalStackSet(orgStack), ComponentSpokeGlobal, nil)
	Tag(org.RegionalStackSet(orgStack), ComponentSpokeRegional, nil)
	for _, r := range org.OptInRegions(cfg.Regions) {
		Tag(org.OptInStackSet(orgStack, r), ComponentSpokeRegional, nil)
	}
	// The management account gets roles only for the guardrails the
	// configuration opts in (organization.management_account_guardrails).
	var mgmt []guardrail.Spec
	var unmanaged []string
	for _, s := range catalog.Specs() {
		if slices.Contains(cfg.Organization.ManagementAccountGuardrails, s.ID) {
			mgmt = append(mgmt, s)
		} else {
			unmanaged = append(unmanaged, s.ID)
		}
	}
	spokes(cfg.Organization.ManagementAccount, MgmtGlobal, MgmtRegional, mgmt, unmanaged)
	return nil
}

// Templates synthesizes the global and regional spoke templates for the
// StackSets: environment-agnostic, without the CDK bootstrap check (member
// accounts are not bootstrapped), each within the TemplateBody limit.
func Templates(cfg *config.Config) (global, regional string, err error) {
	dir, err := os.MkdirTemp("", "kmsguard-stacksets-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(dir)
	a := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir), AnalyticsReporting: jsii.Bool(false)})
	h := spoke.Hub{Account: cfg.HubAccount, HomeRegion: cfg.HomeRegion}
	synth := func() awscdk.IStackSynthesizer {
		return awscdk.NewBootstraplessSynthesizer(&awscdk.BootstraplessSynthesizerProps{})
	}
	spoke.NewGlobalStack(a, "global", &spoke.GlobalProps{StackProps: awscdk.StackProps{Synthesizer: synth()}, Hub: h, Specs: catalog.Specs(), Regions: cfg.Regions, Sweep: true, SecurityHub: cfg.Alerts.SecurityHubOn()})
	spoke.NewRegionalStack(a, "regional", &spoke.RegionalProps{StackProps: awscdk.StackProps{Synthesizer: synth()}, Hub: h, Specs: catalog.Specs(),
		CreateLogsKey: cfg.LogsKey.Create(), LogsKeyAlias: config.DefaultLogsKeyAlias})
	asm := a.Synth(nil)
	out := make([]string, 2)
	for i, name := range []string{"global", "regional"} {
		b, err := json.Marshal(asm.GetStackByName(jsii.String(name)).Template())
		if err != nil {
			return "", "", err
		}
		if len(b) > org.MaxTemplateBody {
			return "", "", fmt.Errorf("the %s spoke template is %d bytes, over the %d-byte StackSet TemplateBody limit", name, len(b), org.MaxTemplateBody)
		}
		out[i] = string(b)
	}
	return out[0], out[1], nil
}
