// Package scope turns guardrail actions into least-privilege IAM statements,
// the same way for the hub Lambda roles and the member accounts'
// kmsguard-remediator role.
package scope

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// accountLevelActions are IAM actions with no resource type: they can only be
// granted on "*".
var accountLevelActions = map[string]bool{
	"kms:ListAliases":                     true,
	"kms:ListKeys":                        true,
	"kms:CreateKey":                       true,
	"organizations:ListAccountsForParent": true,
	"organizations:ListOrganizationalUnitsForParent": true,
	"organizations:DescribeOrganization":             true,
	"account:ListRegions":                            true,
	// The sweep's bulk read of tags (Resource Groups Tagging API): no
	// resource type, a regional service, so limited to the Regions.
	"tag:GetResources": true,
	// Read-only health checks (kmsguard preflight).
	"cloudtrail:DescribeTrails":    true,
	"cloudtrail:GetTrailStatus":    true,
	"cloudtrail:GetEventSelectors": true,
	"events:ListRules":             true,
	// A key's recent state changes (key-deletion, when the ledger does
	// not know them).
	"cloudtrail:LookupEvents": true,
}

// Grant is one IAM statement of a guardrail role: actions on resources,
// in the given Regions when Regions is set.
type Grant struct {
	Sid       string
	Actions   []string
	Resources []*string
	Regions   []string
}

// Statement renders the grant.
func (g Grant) Statement() awsiam.PolicyStatement {
	props := &awsiam.PolicyStatementProps{Sid: jsii.String(g.Sid), Actions: jsii.Strings(g.Actions...), Resources: &g.Resources}
	if len(g.Regions) > 0 {
		props.Conditions = &map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": g.Regions}}
	}
	return awsiam.NewPolicyStatement(props)
}

// DenyLockoutBypass is the explicit Deny every kmsguard role carries:
// nothing kmsguard runs may set BypassPolicyLockoutSafetyCheck, which
// could lock an account out of its own key (KMS condition key
// kms:BypassPolicyLockoutSafetyCheck, on CreateKey and PutKeyPolicy).
func DenyLockoutBypass() awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DenyKeyPolicyLockoutBypass"),
		Effect:     awsiam.Effect_DENY,
		Actions:    jsii.Strings("kms:PutKeyPolicy", "kms:CreateKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"Bool": map[string]any{"kms:BypassPolicyLockoutSafetyCheck": "true"}},
	})
}

// DenyKmsguardKeyChanges keeps every kmsguard role from changing the
// policy of, disabling or deleting kmsguard's own keys (the regional logs
// keys and the hub key, whose aliases start with alias/kmsguard/; KMS
// condition key kms:ResourceAliases), whatever its actions allow on the
// account's keys. Cancelling their deletion and enabling them stay allowed.
func DenyKmsguardKeyChanges() awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DenyChangesToKmsguardKeys"),
		Effect:     awsiam.Effect_DENY,
		Actions:    jsii.Strings("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DisableKeyRotation"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ForAnyValue:StringLike": map[string]any{"kms:ResourceAliases": "alias/kmsguard/*"}},
	})
}

// Grants turns a spec's actions into least-privilege statements for the
// given account: KMS actions on the account's keys, CloudWatch Logs actions
// on the account's log groups, and only actions without a resource type on
// "*". KMS, Logs and account-level statements are limited to regions
// (aws:RequestedRegion) when regions is not empty, except the actions of
// global services (Organizations and Account answer in us-east-1). An
// action of another service is an error: a new service needs its scope
// written here first.
func Grants(actions []string, account *string, regions ...string) ([]Grant, error) {
	arn := func(service, rest string) *string {
		return awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":" + service + ":*:"), account, jsii.String(":" + rest)})
	}
	var keys, logs, params, queues, rules, accountLevel, global []string
	for _, a := range actions {
		switch {
		case accountLevelActions[a] && (strings.HasPrefix(a, "organizations:") || strings.HasPrefix(a, "account:")):
			global = append(global, a) // a global service: not limited to Regions
		case accountLevelActions[a]:
			accountLevel = append(accountLevel, a)
		case strings.HasPrefix(a, "kms:"):
			keys = append(keys, a)
		case strings.HasPrefix(a, "logs:"):
			logs = append(logs, a)
		case strings.HasPrefix(a, "ssm:"):
			params = append(params, a) // kmsguard's own parameters only
		case strings.HasPrefix(a, "sqs:"):
			queues = append(queues, a) // the spoke's forwarding DLQ only
		case a == "events:ListTargetsByRule":
			rules = append(rules, a) // the spoke's forwarding rules only
		default:
			return nil, fmt.Errorf("no resource scope is defined for %s; add one to infra/scope.Grants", a)
		}
	}
	var out []Grant
	add := func(sid string, acts []string, res *string, regions []string) {
		if len(acts) > 0 {
			sort.Strings(acts)
			out = append(out, Grant{Sid: sid, Actions: acts, Resources: []*string{res}, Regions: regions})
		}
	}
	add("GuardrailKeyActions", keys, arn("kms", "key/*"), regions)
	add("GuardrailLogGroupActions", logs, arn("logs", "log-group:*"), regions)
	add("GuardrailParameterActions", params, arn("ssm", "parameter/kmsguard/*"), regions)
	add("GuardrailQueueActions", queues, arn("sqs", SpokeDLQ), regions)
	// Rules on the default bus: arn:<partition>:events:<region>:<account>:rule/<name>
	// (Service Authorization Reference, Amazon EventBridge, resource type "rule-on-default-event-bus").
	add("GuardrailForwardRuleActions", rules, arn("events", "rule/"+ForwardRulePrefix+"*"), regions)
	add("GuardrailAccountActions", accountLevel, jsii.String("*"), regions)
	add("GuardrailGlobalActions", global, jsii.String("*"), nil)
	return out, nil
}

// ReportFindings lets a role import kmsguard's findings into Security Hub
// in one account (any Region) and resolve them: BatchImportFindings on the
// account's default product ARN, BatchUpdateFindings on its hub
// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecurityhub.html).
func ReportFindings(account *string, regions ...string) awsiam.PolicyStatement {
	arn := func(rest ...*string) *string {
		parts := append([]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":securityhub:*:"), account}, rest...)
		return awscdk.Fn_Join(jsii.String(""), &parts)
	}
	return Grant{
		Sid:     "ReportFindings",
		Actions: []string{"securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings"},
		Resources: []*string{
			arn(jsii.String(":product/"), account, jsii.String("/default")),
			arn(jsii.String(":hub/default")),
		},
		Regions: regions,
	}.Statement()
}

// SpokeDLQ is the regional spoke's forwarding dead-letter queue, the one
// queue kmsguard's member roles may read (its depth, for spoke health).
const SpokeDLQ = "kmsguard-forward-dlq"

// ForwardRulePrefix starts the name of every forwarding rule of the
// regional spoke (functions/catalog.ForwardPrefix + "-"), the only rules
// whose targets kmsguard's member roles may read.
const ForwardRulePrefix = "kmsguard-forward-"

// ReadRoles lets a role read exactly the named roles of account
// (iam:GetRole: the spoke health check of each guardrail's member role and
// its trust policy). IAM is a global service whose requests are signed for
// us-east-1 (aws:RequestedRegion is us-east-1 for every IAM call: IAM User
// Guide, "AWS global condition context keys", aws:RequestedRegion), so the
// statement is not limited to the configured Regions.
func ReadRoles(account *string, actions, names []string) awsiam.PolicyStatement {
	var arns []*string
	for _, n := range names {
		arns = append(arns, awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":iam::"), account, jsii.String(":role/" + n)}))
	}
	return Grant{Sid: "ReadMemberRoles", Actions: actions, Resources: arns}.Statement()
}

// ConstructID turns a kebab-case id ("key-deletion") into a construct id
// ("KeyDeletion").
func ConstructID(id string) string {
	var b strings.Builder
	for _, part := range strings.Split(id, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// Suppress records a cdk-nag suppression, with its reason, on a construct
// and its children. Every suppression in kmsguard goes through here, so
// `grep -rn scope.Suppress infra/` lists them all.
func Suppress(c constructs.IConstruct, rule, reason string) {
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{{Id: jsii.String(rule), Reason: jsii.String(reason)}}, jsii.Bool(true))
}

// Reasons shared by the stacks.
const (
	ReasonScopedWildcards = "Guardrails act on whichever KMS key or log group an event names, so their actions are granted on this account's keys (arn:<partition>:kms:*:<account>:key/*) and log groups (arn:<partition>:logs:*:<account>:log-group:*), never on other accounts; account-level KMS list actions have no resource type. The kms:GenerateDataKey*/ReEncrypt* wildcards are CDK's grants for the hub key that encrypts the topic and queues, and lambda:InvokeFunction on <function>:* is CDK's grant for the function's versions."
	ReasonIsDLQ           = "This queue is itself a dead-letter queue (EventBridge rule DLQ or Lambda on-failure destination); a DLQ for a DLQ would only move the problem."
)
