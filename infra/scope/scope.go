// Package scope turns guardrail actions into least-privilege IAM statements,
// the same way for the hub Lambda roles and the member accounts'
// kmsguard-remediator role.
package scope

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
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
}

// Grant is one IAM statement of a guardrail role: actions on resources.
type Grant struct {
	Sid       string
	Actions   []string
	Resources []*string
}

// Grants turns a spec's actions into least-privilege statements for the
// given account: KMS actions on the account's keys, CloudWatch Logs actions
// on the account's log groups, and only actions without a resource type on
// "*". An action of another service is an error: a new service needs its
// scope written here first.
func Grants(actions []string, account *string) ([]Grant, error) {
	arn := func(service, rest string) *string {
		return awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":" + service + ":*:"), account, jsii.String(":" + rest)})
	}
	var keys, logs, global []string
	for _, a := range actions {
		switch {
		case accountLevelActions[a]:
			global = append(global, a)
		case strings.HasPrefix(a, "kms:"):
			keys = append(keys, a)
		case strings.HasPrefix(a, "logs:"):
			logs = append(logs, a)
		default:
			return nil, fmt.Errorf("no resource scope is defined for %s; add one to infra/scope.Grants", a)
		}
	}
	var out []Grant
	add := func(sid string, acts []string, res *string) {
		if len(acts) > 0 {
			sort.Strings(acts)
			out = append(out, Grant{Sid: sid, Actions: acts, Resources: []*string{res}})
		}
	}
	add("GuardrailKeyActions", keys, arn("kms", "key/*"))
	add("GuardrailLogGroupActions", logs, arn("logs", "log-group:*"))
	add("GuardrailAccountActions", global, jsii.String("*"))
	return out, nil
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
