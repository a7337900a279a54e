// Package tamper is the tamper guardrail: kmsguard watching itself. A change
// to its own forwarding rules, roles, configuration parameter, StackSet
// instances or logs key alias, by anyone but a CloudFormation deployment,
// raises a CRITICAL alert with who did what; a change to the configuration
// parameter comes with the diff of what changed.
package tamper

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// ConfigParameter is the hub's configuration parameter
// (bootstrap.ConfigParameter; not imported, so this Lambda links no runtime
// it does not use).
const ConfigParameter = "/kmsguard/config"

// ModesPath holds the mode store's rules (runconfig.ModesPath): a rule
// written outside `kmsguard mode` can switch an account to alert.
const ModesPath = "/kmsguard/modes"

// prefix matches a kmsguard-named resource in requestParameters.
func prefix(field, p string) map[string]any {
	return map[string]any{"requestParameters": map[string]any{field: []any{map[string]any{"prefix": p}}}}
}

// Spec declares the guardrail.
func Spec() guardrail.Spec {
	return guardrail.Spec{
		ID:       "tamper",
		Summary:  "Alerts when someone other than a CloudFormation deployment changes kmsguard's own rules, roles, configuration, stacks or logs key.",
		Details:  "Alert only. IAM events reach EventBridge in us-east-1 only: without us-east-1 in regions, role changes are not seen (docs/security.md).",
		Concern:  "integrity",
		Resource: "kmsguard resource",
		Triggers: []patterns.Trigger{
			{Name: "tamper-rules", Description: "EventBridge changes to kmsguard's rules", EventSource: "events.amazonaws.com",
				EventNames: []string{"DeleteRule", "DisableRule", "PutRule"}, Where: prefix("name", "kmsguard-")},
			{Name: "tamper-targets", Description: "EventBridge changes to the targets of kmsguard's rules", EventSource: "events.amazonaws.com",
				EventNames: []string{"RemoveTargets", "PutTargets"}, Where: prefix("rule", "kmsguard-")},
			{Name: "tamper-roles", Description: "IAM changes to kmsguard's roles", EventSource: "iam.amazonaws.com",
				EventNames: []string{"CreateRole", "DeleteRole", "UpdateRole", "UpdateAssumeRolePolicy", "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy",
					"PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary"},
				Where: prefix("roleName", "kmsguard-")},
			{Name: "tamper-config", Description: "Changes to kmsguard's configuration parameter and mode rules", EventSource: "ssm.amazonaws.com",
				EventNames: []string{"PutParameter", "DeleteParameter", "LabelParameterVersion"},
				Where:      map[string]any{"requestParameters": map[string]any{"name": []any{ConfigParameter, map[string]any{"prefix": ModesPath + "/"}}}}},
			{Name: "tamper-config-bulk", Description: "Bulk deletions that include kmsguard's configuration parameter or mode rules", EventSource: "ssm.amazonaws.com",
				EventNames: []string{"DeleteParameters"}, Where: map[string]any{"requestParameters": map[string]any{"names": []any{ConfigParameter, map[string]any{"prefix": ModesPath + "/"}}}}},
			{Name: "tamper-stacksets", Description: "Changes to kmsguard's StackSets and their instances", EventSource: "cloudformation.amazonaws.com",
				EventNames: []string{"DeleteStackInstances", "UpdateStackInstances", "UpdateStackSet", "DeleteStackSet"}, Where: prefix("stackSetName", "kmsguard-")},
			{Name: "tamper-logs-key", Description: "Changes to the alias of kmsguard's logs key", EventSource: "kms.amazonaws.com",
				EventNames: []string{"CreateAlias", "DeleteAlias", "UpdateAlias"}, Where: prefix("aliasName", "alias/kmsguard/")},
		},
		Actions:         []string{"ssm:GetParameterHistory"},
		Exemption:       guardrail.Exemption{}, // kmsguard's own resources cannot opt out
		EventOnly:       true,
		DefaultMode:     guardrail.ModeAlert,
		Severity:        guardrail.SeverityCritical,
		FailureSeverity: guardrail.SeverityCritical,
		Reads:           "the configuration parameter's history",
		Settings:        Settings{},
		Example:         guardrail.Example{Fixture: "tamper/put-parameter-config", Calls: []string{"GetParameterHistory"}, Verdict: "kmsguard changed"},
	}
}

// Settings are the guardrail's options: none (no exemption tag either).
type Settings struct{}

// Entry is the guardrail's catalog line.
func Entry() guardrail.Entry {
	return guardrail.Define(Spec(), func(c aws.Config) ssmAPI { return ssm.NewFromConfig(c) }, newLogic)
}
