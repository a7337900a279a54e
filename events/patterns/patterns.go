// Package patterns is the event contract between the spokes, the hub and the
// guardrails: the EventBridge patterns each guardrail is triggered by, as plain
// Go values. Infra renders them into rules, `kmsguard replay` uses them to pick
// the guardrail for an event, and tests check every fixture against them.
package patterns

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Guardrail ids. They name Lambdas, rules, IAM roles, log fields and alert
// subjects, so they never change.
const (
	KeyDeletion   = "key-deletion"
	KeyRotation   = "key-rotation"
	KeyPolicy     = "key-policy"
	LogEncryption = "log-encryption"
)

// GuardrailIDs lists every guardrail that has patterns, in a stable order.
var GuardrailIDs = []string{KeyDeletion, KeyRotation, KeyPolicy, LogEncryption}

// RemediatorRoleName is the role the hub assumes in member accounts. Calls it
// makes never trigger a guardrail.
const RemediatorRoleName = "kmsguard-remediator"

// HubRoleName is the execution role of a guardrail's hub Lambda. It acts
// without assuming a role in the hub's own account, so its calls are excluded
// from the patterns too.
func HubRoleName(guardrailID string) string { return "kmsguard-" + guardrailID }

// SweepRoleName is the execution role of the scheduled sweep Lambda, which
// remediates in the hub account with its own credentials.
const SweepRoleName = "kmsguard-sweep"

// ExcludedActorRoles is every role whose calls the patterns drop: the
// remediator, the sweep and each hub Lambda role.
func ExcludedActorRoles() []string {
	roles := []string{RemediatorRoleName, SweepRoleName}
	for _, id := range GuardrailIDs {
		roles = append(roles, HubRoleName(id))
	}
	return roles
}

// IsKMSGuardActor reports whether a role name is one of kmsguard's own. The
// handlers check it again in case an event slips past the pattern.
func IsKMSGuardActor(roleName string) bool {
	return roleName != "" && slices.Contains(ExcludedActorRoles(), roleName)
}

// Pattern is an EventBridge event pattern.
type Pattern map[string]any

// JSON renders the pattern as EventBridge expects it.
func (p Pattern) JSON() string {
	b, err := json.Marshal(p)
	if err != nil {
		// Patterns are built from strings, lists and maps only.
		panic(fmt.Sprintf("pattern does not render: %v", err))
	}
	return string(b)
}

// Rule is one trigger of a guardrail: an EventBridge rule on the hub bus and,
// in every spoke, one on the default bus.
type Rule struct {
	// Name is unique across guardrails and stable: it becomes part of the rule name.
	Name        string
	Description string
	Pattern     Pattern
}

// MaxPatternChars is EventBridge's limit on an event pattern's size.
const MaxPatternChars = 2048

// ForGuardrail returns the rules of a guardrail, or nil for an unknown id.
func ForGuardrail(id string) []Rule {
	switch id {
	case KeyDeletion:
		return keyDeletionRules()
	case KeyRotation:
		return keyRotationRules()
	case KeyPolicy:
		return keyPolicyRules()
	case LogEncryption:
		return logEncryptionRules()
	}
	return nil
}

// All returns every rule of every guardrail, keyed by guardrail id.
func All() map[string][]Rule {
	out := make(map[string][]Rule, len(GuardrailIDs))
	for _, id := range GuardrailIDs {
		out[id] = ForGuardrail(id)
	}
	return out
}

const (
	detailTypeAPICall = "AWS API Call via CloudTrail"
	sourceKMS         = "aws.kms"
	eventSourceKMS    = "kms.amazonaws.com"
	sourceLogs        = "aws.logs"
	eventSourceLogs   = "logs.amazonaws.com"
)

// apiCall matches successful CloudTrail-delivered calls to the named
// operations that were not made by kmsguard itself.
//
// The actor filter needs $or: anything-but never matches a missing field, and
// IAM users, the root user and AWS services have no sessionIssuer.
func apiCall(source, eventSource string, eventNames ...string) Pattern {
	return apiCallWhere(source, eventSource, nil, eventNames...)
}

// apiCallWhere is apiCall with extra filters on requestParameters.
func apiCallWhere(source, eventSource string, request map[string]any, eventNames ...string) Pattern {
	issuer := func(cond map[string]any) map[string]any {
		return map[string]any{"userIdentity": map[string]any{"sessionContext": map[string]any{"sessionIssuer": map[string]any{"userName": []any{cond}}}}}
	}
	detail := map[string]any{
		"eventSource": []any{eventSource},
		"eventName":   toAny(eventNames),
		"errorCode":   []any{map[string]any{"exists": false}},
		"$or": []any{
			issuer(map[string]any{"exists": false}),
			issuer(map[string]any{"anything-but": toAny(ExcludedActorRoles())}),
		},
	}
	if request != nil {
		detail["requestParameters"] = request
	}
	return Pattern{
		"source":      []any{source},
		"detail-type": []any{detailTypeAPICall},
		"detail":      detail,
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func keyDeletionRules() []Rule {
	return []Rule{
		{
			Name:        "key-deletion-api",
			Description: "KMS ScheduleKeyDeletion and DisableKey calls",
			Pattern:     apiCall(sourceKMS, eventSourceKMS, "ScheduleKeyDeletion", "DisableKey"),
		},
		{
			Name:        "key-deletion-native",
			Description: "KMS deleted a key at the end of its waiting period",
			Pattern: Pattern{
				"source":      []any{sourceKMS},
				"detail-type": []any{"KMS CMK Deletion"},
			},
		},
	}
}

func keyRotationRules() []Rule {
	return []Rule{{
		Name:        "key-rotation-api",
		Description: "KMS DisableKeyRotation, EnableKeyRotation (period checked by the guardrail) and CreateKey calls",
		Pattern:     apiCall(sourceKMS, eventSourceKMS, "DisableKeyRotation", "EnableKeyRotation", "CreateKey"),
	}}
}

func keyPolicyRules() []Rule {
	return []Rule{
		{
			Name:        "key-policy-put",
			Description: "KMS PutKeyPolicy calls",
			Pattern:     apiCall(sourceKMS, eventSourceKMS, "PutKeyPolicy"),
		},
		{
			Name:        "key-policy-create",
			Description: "KMS CreateKey calls that set a key policy",
			Pattern:     apiCallWhere(sourceKMS, eventSourceKMS, map[string]any{"policy": []any{map[string]any{"exists": true}}}, "CreateKey"),
		},
	}
}

func logEncryptionRules() []Rule {
	return []Rule{
		{
			Name:        "log-encryption-create",
			Description: "CloudWatch Logs CreateLogGroup calls without a KMS key",
			Pattern:     apiCallWhere(sourceLogs, eventSourceLogs, map[string]any{"kmsKeyId": []any{map[string]any{"exists": false}}}, "CreateLogGroup"),
		},
		{
			Name:        "log-encryption-disassociate",
			Description: "CloudWatch Logs DisassociateKmsKey calls",
			Pattern:     apiCall(sourceLogs, eventSourceLogs, "DisassociateKmsKey"),
		},
	}
}
