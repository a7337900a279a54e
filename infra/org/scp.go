package org

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsorganizations"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/infra/config"
)

// MaxSCPChars is the Organizations quota on a service control policy
// document (Organizations user guide, "Quotas": 5,120 characters).
const MaxSCPChars = 5120

// ProtectionPolicyName is the service control policy kmsguard creates.
const ProtectionPolicyName = "kmsguard-protect"

// stackSetExecution are the principals allowed to change kmsguard's own
// resources in member accounts: the roles service-managed StackSets deploy
// with (stacksets-exec-*, created in each member account by the StackSets
// service-linked role; kmsguard's StackSets are service-managed).
var stackSetExecution = []string{"arn:*:iam::*:role/stacksets-exec-*"}

// ProtectionPolicy is the service control policy of the preventive layer:
// only the StackSet execution role may change kmsguard's roles, forwarding
// rules, logs key alias and stack instances; nobody may bypass KMS's key
// policy lockout check; and, when configured, nobody may schedule a key's
// deletion with a waiting period shorter than the minimum. It is compact
// JSON, checked against the 5,120-character quota.
func ProtectionPolicy(p config.Preventive) (string, error) {
	notStackSets := map[string]any{"ArnNotLike": map[string]any{"aws:PrincipalArn": stackSetExecution}}
	stmts := []map[string]any{
		{
			"Sid": "ProtectKmsguardRoles", "Effect": "Deny",
			"Action": []string{"iam:DeleteRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
				"iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"},
			"Resource":  []string{"arn:*:iam::*:role/kmsguard-*"},
			"Condition": notStackSets,
		},
		{
			"Sid": "ProtectKmsguardForwarding", "Effect": "Deny",
			"Action":    []string{"events:DeleteRule", "events:DisableRule", "events:PutRule", "events:RemoveTargets", "events:PutTargets", "sqs:DeleteQueue", "sqs:SetQueueAttributes"},
			"Resource":  []string{"arn:*:events:*:*:rule/kmsguard-*", "arn:*:sqs:*:*:kmsguard-*"},
			"Condition": notStackSets,
		},
		{
			"Sid": "ProtectKmsguardStacks", "Effect": "Deny",
			"Action":    []string{"cloudformation:DeleteStack", "cloudformation:UpdateStack", "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"},
			"Resource":  []string{"arn:*:cloudformation:*:*:stack/StackSet-kmsguard-*", "arn:*:kms:*:*:alias/kmsguard/*"},
			"Condition": notStackSets,
		},
		{
			// The exception above names the service-managed StackSets'
			// execution roles; nobody may create or change a role by that
			// name (the StackSets service-linked role creates them, and
			// SCPs do not affect service-linked roles: Organizations user
			// guide, "Service control policies").
			"Sid": "ProtectStackSetExecutionRoles", "Effect": "Deny",
			"Action": []string{"iam:CreateRole", "iam:DeleteRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
				"iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary"},
			"Resource": []string{"arn:*:iam::*:role/stacksets-exec-*"},
		},
		{
			"Sid": "DenyKeyPolicyLockoutBypass", "Effect": "Deny",
			"Action":    []string{"kms:PutKeyPolicy", "kms:CreateKey"},
			"Resource":  "*",
			"Condition": map[string]any{"Bool": map[string]any{"kms:BypassPolicyLockoutSafetyCheck": "true"}},
		},
	}
	if p.MinDeletionWindowDays > 0 {
		stmts = append(stmts, map[string]any{
			"Sid": "DenyShortKeyDeletionWindow", "Effect": "Deny",
			"Action":    "kms:ScheduleKeyDeletion",
			"Resource":  "*",
			"Condition": map[string]any{"NumericLessThan": map[string]any{"kms:ScheduleKeyDeletionPendingWindowInDays": fmt.Sprint(p.MinDeletionWindowDays)}},
		})
	}
	b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	if err != nil {
		return "", err
	}
	if len(b) > MaxSCPChars {
		return "", fmt.Errorf("the %s service control policy is %d characters, over the %d-character quota", ProtectionPolicyName, len(b), MaxSCPChars)
	}
	return string(b), nil
}

// protectionPolicy attaches the policy to the covered organizational units.
// Service control policies never restrict the management account.
func protectionPolicy(stack awscdk.Stack, o config.Organization) {
	content, err := ProtectionPolicy(*o.Preventive)
	if err != nil {
		panic(err.Error()) // infra/app checks it first and returns the error
	}
	var doc map[string]any
	_ = json.Unmarshal([]byte(content), &doc)
	awsorganizations.NewCfnPolicy(stack, jsii.String("ProtectKmsguard"), &awsorganizations.CfnPolicyProps{
		Name:        jsii.String(ProtectionPolicyName),
		Description: jsii.String("kmsguard: only StackSets change kmsguard's roles, rules and stacks; no key policy lockout bypass; a minimum key deletion window when configured"),
		Type:        jsii.String("SERVICE_CONTROL_POLICY"),
		Content:     doc,
		TargetIds:   jsii.Strings(o.OrganizationalUnits...),
	})
}
