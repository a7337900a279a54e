// Package spoke builds what every guarded account needs: the regional spoke
// (every Region: rules on the default bus that forward the guardrails'
// events to the hub bus in one hop, their DLQ, the regional logs key) and the
// global spoke (home Region only: the kmsguard-remediator role the hub
// assumes, and the role EventBridge uses to forward). Both are
// environment-agnostic, so one template serves every account and Region of
// a StackSet.
package spoke

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/infra/scope"
)

// ForwarderRoleName is the role EventBridge assumes to put events on the
// hub bus. It is global (IAM), so the global spoke creates it once.
const ForwarderRoleName = "kmsguard-event-forwarder"

// HubBusName is the hub's event bus (the spoke health check looks for it
// among each forwarding rule's targets).
const HubBusName = sweep.HubBusName

// Hub locates the hub: the account and home Region of its bus and roles.
type Hub struct {
	Account    string
	HomeRegion string
}

// BusARN is the hub bus ARN, in the deploying stack's partition.
func (h Hub) BusARN() *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(fmt.Sprintf(":events:%s:%s:event-bus/%s", h.HomeRegion, h.Account, HubBusName))})
}

// RegionalProps configure the regional spoke.
type RegionalProps struct {
	awscdk.StackProps
	Hub   Hub
	Specs []guardrail.Spec
	// CreateLogsKey creates alias/kmsguard/logs; false when the
	// configuration names an existing key.
	CreateLogsKey bool
	// LogsKeyAlias is the alias of the created key.
	LogsKeyAlias string
	// Unmanaged are the guardrails without a role in this account.
	Unmanaged []string
}

// NewRegionalStack builds the regional spoke.
func NewRegionalStack(parent constructs.Construct, id string, props *RegionalProps) awscdk.Stack {
	sp := props.StackProps
	sp.AnalyticsReporting = jsii.Bool(false)
	if sp.Description == nil {
		sp.Description = jsii.String("kmsguard regional spoke: forwards KMS and CloudWatch Logs events to the kmsguard hub; regional logs key")
	}
	stack := awscdk.NewStack(parent, &id, &sp)

	dlq := awssqs.NewQueue(stack, jsii.String("ForwardDLQ"), &awssqs.QueueProps{
		// A fixed name: one per account and Region, easy to find at 3 a.m.
		QueueName:       jsii.String(scope.SpokeDLQ), // functions/sweep.SpokeDLQ: the sweep reads its depth
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	scope.Suppress(dlq, "AwsSolutions-SQS3", scope.ReasonIsDLQ)
	forwarder := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":iam::"), awscdk.Aws_ACCOUNT_ID(), jsii.String(":role/" + ForwarderRoleName)})
	// Every trigger's events, each forwarded once; kmsguard's own
	// remediation sessions are recognised by their exact ARN in this
	// account (CloudFormation fills in the account and partition).
	var ruleARNs []*string
	for _, r := range catalog.ForwardRules(props.Specs, "${AWS::AccountId}", props.Hub.Account, "${AWS::Partition}", props.Unmanaged...) {
		rule := awsevents.NewCfnRule(stack, jsii.String(scope.ConstructID(strings.TrimPrefix(r.Name, "kmsguard-"))), &awsevents.CfnRuleProps{
			Name:         jsii.String(r.Name),
			Description:  jsii.String("kmsguard: " + r.Description + " -> hub bus"),
			EventPattern: substitute(map[string]any(r.Pattern)),
			State:        jsii.String("ENABLED"),
			Targets: &[]any{&awsevents.CfnRule_TargetProperty{
				Id:      jsii.String("hub"),
				Arn:     props.Hub.BusARN(),
				RoleArn: forwarder,
				RetryPolicy: &awsevents.CfnRule_RetryPolicyProperty{
					MaximumRetryAttempts:     jsii.Number(185),
					MaximumEventAgeInSeconds: jsii.Number(86400),
				},
				DeadLetterConfig: &awsevents.CfnRule_DeadLetterConfigProperty{Arn: dlq.QueueArn()},
			}},
		})
		ruleARNs = append(ruleARNs, rule.AttrArn())
	}
	dlq.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("EventBridgeDeadLetters"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  &[]*string{dlq.QueueArn()},
		Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": ruleARNs}},
	}))

	if props.CreateLogsKey {
		key := awskms.NewKey(stack, jsii.String("LogsKey"), &awskms.KeyProps{
			Alias:             jsii.String(props.LogsKeyAlias),
			Description:       jsii.String("kmsguard regional logs key: CloudWatch Logs log groups of this account and Region"),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		})
		key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AllowCloudWatchLogs"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("logs."), awscdk.Aws_REGION(), jsii.String(".amazonaws.com")}), nil)},
			Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{"ArnLike": map[string]any{
				"kms:EncryptionContext:aws:logs:arn": awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":logs:"), awscdk.Aws_REGION(), jsii.String(":"), awscdk.Aws_ACCOUNT_ID(), jsii.String(":*")}),
			}},
		}), jsii.Bool(false))
	}
	return stack
}

// GlobalProps configure the global spoke.
type GlobalProps struct {
	awscdk.StackProps
	Hub Hub
	// Specs are the guardrails that get a role here (every guardrail in
	// member accounts; the opted-in ones in the management account).
	Specs []guardrail.Spec
	// Regions limit every role's KMS and Logs actions (aws:RequestedRegion).
	Regions []string
	// Sweep adds the sweep's read-only role.
	Sweep bool
	// SecurityHub lets each guardrail's role report its findings to
	// Security Hub in this account (alerts.security_hub).
	SecurityHub bool
}

// NewGlobalStack builds the global spoke (deploy it in the home Region only:
// IAM roles are global).
func NewGlobalStack(parent constructs.Construct, id string, props *GlobalProps) awscdk.Stack {
	sp := props.StackProps
	sp.AnalyticsReporting = jsii.Bool(false)
	if sp.Description == nil {
		sp.Description = jsii.String("kmsguard global spoke: one role per guardrail for the hub to assume, the sweep's read-only role, and the event-forwarding role")
	}
	stack := awscdk.NewStack(parent, &id, &sp)

	// One role per guardrail, which can call that guardrail's actions and
	// nothing else, in the configured Regions; and the sweep's read-only
	// role. Each trusts the hub account narrowed to the hub Lambda roles
	// that act as it (the guardrail's and the sweep's) by aws:PrincipalArn:
	// naming the roles as principals would fail while they do not exist yet
	// (StackSets may deploy here before the hub).
	roleARN := func(name string) *string {
		return awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(fmt.Sprintf(":iam::%s:role/%s", props.Hub.Account, name))})
	}
	member := func(id, description string, actions []string, findings bool, trusted ...string) awsiam.Role {
		var hubRoles []*string
		for _, t := range trusted {
			hubRoles = append(hubRoles, roleARN(guardrail.HubRoleName(t)))
		}
		role := awsiam.NewRole(stack, jsii.String(scope.ConstructID(guardrail.MemberRoleName(id))), &awsiam.RoleProps{
			RoleName:    jsii.String(guardrail.MemberRoleName(id)),
			Description: jsii.String(description),
			AssumedBy: awsiam.NewPrincipalWithConditions(awsiam.NewAccountPrincipal(jsii.String(props.Hub.Account)), &map[string]any{
				"ArnEquals": map[string]any{"aws:PrincipalArn": hubRoles},
			}),
			MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
		})
		grants, err := scope.Grants(actions, awscdk.Aws_ACCOUNT_ID(), props.Regions...)
		if err != nil {
			panic(err.Error())
		}
		for _, g := range grants {
			role.AddToPrincipalPolicy(g.Statement())
		}
		if findings {
			role.AddToPrincipalPolicy(scope.ReportFindings(awscdk.Aws_ACCOUNT_ID(), props.Regions...))
		}
		role.AddToPrincipalPolicy(scope.DenyLockoutBypass())
		role.AddToPrincipalPolicy(scope.DenyKmsguardKeyChanges())
		scope.Suppress(role, "AwsSolutions-IAM5", scope.ReasonScopedWildcards)
		return role
	}
	for _, spec := range props.Specs {
		if spec.EventOnly {
			continue // decides from the event: needs no role here
		}
		member(spec.ID, "kmsguard "+spec.ID+": assumed by the hub to "+strings.ToLower(spec.Summary[:1])+spec.Summary[1:],
			spec.Actions, props.SecurityHub, spec.ID, guardrail.SweepID)
	}
	if props.Sweep {
		role := member(guardrail.SweepID, "kmsguard sweep and preflight: read-only listing of keys and log groups, and kmsguard's own health",
			append(slices.Clone(sweep.Actions), sweep.HealthActions...), false, guardrail.SweepID)
		// Spoke health reads each guardrail role of this account (that it
		// exists and trusts its hub role) with iam:GetRole on exactly
		// those roles: the sweep's role is never allowed to assume them.
		var names []string
		for _, spec := range props.Specs {
			if !spec.EventOnly {
				names = append(names, guardrail.MemberRoleName(spec.ID))
			}
		}
		if len(names) > 0 {
			role.AddToPrincipalPolicy(scope.ReadRoles(awscdk.Aws_ACCOUNT_ID(), sweep.RoleActions, names))
		}
	}

	forwarder := awsiam.NewRole(stack, jsii.String("Forwarder"), &awsiam.RoleProps{
		RoleName:    jsii.String(ForwarderRoleName),
		Description: jsii.String("kmsguard: EventBridge forwards this account's KMS and Logs events to the kmsguard hub bus"),
		AssumedBy: awsiam.NewPrincipalWithConditions(awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil), &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		}),
	})
	forwarder.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("PutEventsOnHubBus"),
		Actions:   jsii.Strings("events:PutEvents"),
		Resources: &[]*string{props.Hub.BusARN()},
	}))
	return stack
}

// substitute turns the CloudFormation placeholders in a pattern's strings
// (${AWS::AccountId}, ${AWS::Partition}) into Fn::Sub.
func substitute(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = substitute(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = substitute(x)
		}
		return out
	case string:
		if strings.Contains(t, "${") {
			return awscdk.Fn_Sub(jsii.String(t), nil)
		}
	}
	return v
}
