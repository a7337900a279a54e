// Package org builds the organization stack: two service-managed StackSets,
// "global" (home Region only: IAM roles) and "regional" (every Region:
// forwarding rules and the logs key), auto-deployed to the configured OUs.
package org

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudformation"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/infra/config"
)

// MaxTemplateBody is CloudFormation's limit on a StackSet TemplateBody.
const MaxTemplateBody = 51200

// StackSet names.
const (
	GlobalStackSetName   = "kmsguard-global"
	RegionalStackSetName = config.RegionalStackSetName
)

// Props configure the organization stack.
type Props struct {
	awscdk.StackProps
	Org        config.Organization
	HomeRegion string
	Regions    []string
	// GlobalTemplate and RegionalTemplate are the synthesized spoke
	// templates (JSON), at most MaxTemplateBody bytes each.
	GlobalTemplate, RegionalTemplate string
}

// NewStack builds the organization stack. Deploy it in the management
// account, or in a delegated administrator account with call_as
// DELEGATED_ADMIN.
func NewStack(parent constructs.Construct, id string, props *Props) awscdk.Stack {
	sp := props.StackProps
	sp.AnalyticsReporting = jsii.Bool(false)
	if sp.Description == nil {
		sp.Description = jsii.String("kmsguard organization: StackSets that deploy the kmsguard spokes to every target account")
	}
	stack := awscdk.NewStack(parent, &id, &sp)
	stackSet(stack, "Global", GlobalStackSetName, "kmsguard global spoke: a role per guardrail, the sweep's read-only role and the event-forwarding role", props.GlobalTemplate, []string{props.HomeRegion}, props)
	// Regions enabled by default share one StackSet. Each opt-in Region
	// gets its own, which tolerates every account failing: an account that
	// has not enabled the Region fails its instance there, and with the
	// default tolerance that failure would mark the operation FAILED and
	// roll back the organization stack ("If the number of failed stacks
	// within a Region exceeds the failure tolerance, the status of the
	// operation ... is set to FAILED", CloudFormation API reference,
	// StackSetOperationSummary). kmsguard preflight and the sweep's digest
	// list the accounts where a configured Region is not enabled.
	var std []string
	for _, r := range props.Regions {
		if !runconfig.IsOptIn(r) {
			std = append(std, r)
		}
	}
	regional := stackSet(stack, "Regional", RegionalStackSetName, "kmsguard regional spoke: event forwarding and the regional logs key", props.RegionalTemplate, std, props)
	for _, r := range OptInRegions(props.Regions) {
		all := 100
		opt := *props
		opt.Org.FailureTolerancePercentage = &all
		set := stackSet(stack, OptInConstructID(r), OptInStackSetName(r), "kmsguard regional spoke in opt-in Region "+r+" (accounts that have not enabled it fail alone)", props.RegionalTemplate, []string{r}, &opt)
		// An existing deployment had this Region in the shared StackSet:
		// its instances (same rule, queue and alias names) must be gone
		// before these are created.
		set.AddDependency(regional)
	}
	if pv := props.Org.Preventive; pv != nil && pv.Enabled {
		protectionPolicy(stack, props.Org)
	}
	return stack
}

// GlobalStackSet is the global spoke's StackSet in the organization stack.
func GlobalStackSet(stack awscdk.Stack) awscloudformation.CfnStackSet {
	return stack.Node().FindChild(jsii.String("Global")).(awscloudformation.CfnStackSet)
}

// RegionalStackSet is the regional spoke's StackSet in the organization stack.
func RegionalStackSet(stack awscdk.Stack) awscloudformation.CfnStackSet {
	return stack.Node().FindChild(jsii.String("Regional")).(awscloudformation.CfnStackSet)
}

// OptInRegions are the opt-in Regions among regions, in order.
func OptInRegions(regions []string) []string {
	var out []string
	for _, r := range regions {
		if runconfig.IsOptIn(r) {
			out = append(out, r)
		}
	}
	return out
}

// OptInStackSetName names the StackSet of one opt-in Region.
func OptInStackSetName(region string) string { return config.OptInStackSetName(region) }

// OptInConstructID is the construct id of one opt-in Region's StackSet.
func OptInConstructID(region string) string { return "Regional-" + region }

// OptInStackSet is one opt-in Region's StackSet in the organization stack.
func OptInStackSet(stack awscdk.Stack, region string) awscloudformation.CfnStackSet {
	return stack.Node().FindChild(jsii.String(OptInConstructID(region))).(awscloudformation.CfnStackSet)
}

func stackSet(stack awscdk.Stack, id, name, description, template string, regions []string, props *Props) awscloudformation.CfnStackSet {
	o := props.Org
	tolerance, concurrency := 10, 25
	if o.FailureTolerancePercentage != nil {
		tolerance = *o.FailureTolerancePercentage
	}
	if o.MaxConcurrentPercentage != nil {
		concurrency = *o.MaxConcurrentPercentage
	}
	targets := &awscloudformation.CfnStackSet_DeploymentTargetsProperty{
		OrganizationalUnitIds: jsii.Strings(o.OrganizationalUnits...),
	}
	if len(o.ExcludedAccounts) > 0 {
		targets.AccountFilterType = jsii.String("DIFFERENCE")
		targets.Accounts = jsii.Strings(o.ExcludedAccounts...)
	}
	callAs := o.CallAs
	if callAs == "" {
		callAs = "SELF"
	}
	return awscloudformation.NewCfnStackSet(stack, jsii.String(id), &awscloudformation.CfnStackSetProps{
		StackSetName:    jsii.String(name),
		Description:     jsii.String(description),
		PermissionModel: jsii.String("SERVICE_MANAGED"),
		CallAs:          jsii.String(callAs),
		Capabilities:    jsii.Strings("CAPABILITY_NAMED_IAM"),
		AutoDeployment: &awscloudformation.CfnStackSet_AutoDeploymentProperty{
			Enabled:                      jsii.Bool(true),
			RetainStacksOnAccountRemoval: jsii.Bool(false),
		},
		ManagedExecution: map[string]any{"Active": true},
		OperationPreferences: &awscloudformation.CfnStackSet_OperationPreferencesProperty{
			RegionConcurrencyType:      jsii.String("PARALLEL"),
			FailureTolerancePercentage: jsii.Number(float64(tolerance)),
			MaxConcurrentPercentage:    jsii.Number(float64(concurrency)),
		},
		StackInstancesGroup: &[]any{&awscloudformation.CfnStackSet_StackInstancesProperty{
			DeploymentTargets: targets,
			Regions:           jsii.Strings(regions...),
		}},
		TemplateBody: jsii.String(template),
	})
}
