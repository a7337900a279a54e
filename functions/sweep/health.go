package sweep

// Spoke health: what every sweep and `kmsguard preflight` check in each
// account-Region (and, for IAM, once per account) so that kmsguard can
// hear and act there. One implementation serves both, so the sweep's
// digest and preflight's table never disagree.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/glob"
	"github.com/kmsguard/kmsguard/functions/internal/trust"
	"github.com/kmsguard/kmsguard/functions/logencryption"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

// SpokeDLQ is the regional spoke's forwarding dead-letter queue
// (infra/spoke): events EventBridge could not deliver to the hub bus.
const SpokeDLQ = "kmsguard-forward-dlq"

// HubBusName is the hub's event bus, the one target of every forwarding
// rule (infra/hub creates it, infra/spoke targets it).
const HubBusName = "kmsguard"

// RoleActions are the IAM reads of the health checks: each guardrail's
// member role exists and trusts its hub role. Infra grants them to the
// sweep's read-only member role on exactly those roles' ARNs, never
// sts:AssumeRole on them (infra/spoke).
var RoleActions = []string{"iam:GetRole"}

// Health check ids: the "check" of a SpokeIssue and of preflight's JSON.
const (
	CheckForwarding  = "forwarding-rules"
	CheckDLQ         = "forwarding-dlq"
	CheckLogsKey     = "logs-key"
	CheckMemberRoles = "member-roles"
)

// SpokeIssue is something wrong with a target's spoke: its events may not
// reach the hub, or its guardrails may not be able to act there. Region is
// "" for what is global to the account (IAM roles).
type SpokeIssue struct {
	Target
	Check   string `json:"check,omitempty"`
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

// Where is "account/Region", or "account" for an account-wide issue.
func (s SpokeIssue) Where() string {
	if s.Region == "" {
		return s.Account
	}
	return s.Account + "/" + s.Region
}

// Check is one health check's result: OK, or the problem and its fix.
type Check struct {
	Target
	ID string `json:"check"`
	// What is the check in words, as preflight prints it.
	What    string `json:"what"`
	OK      bool   `json:"ok"`
	Problem string `json:"problem,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// Issues are the checks that failed.
func Issues(checks []Check) []SpokeIssue {
	var out []SpokeIssue
	for _, c := range checks {
		if !c.OK {
			out = append(out, SpokeIssue{Target: c.Target, Check: c.ID, Problem: c.Problem, Fix: c.Fix})
		}
	}
	return out
}

// Hub locates the hub the spokes forward to and whose Lambda roles assume
// the member roles: its account and home Region.
type Hub struct {
	Account string
	Region  string
}

// BusARN is the hub bus's ARN.
func (h Hub) BusARN() string {
	return fmt.Sprintf("arn:%s:events:%s:%s:event-bus/%s", guardrail.Partition(h.Region), h.Region, h.Account, HubBusName)
}

// roleARN is a hub Lambda role's ARN (guardrail.HubRoleName).
func (h Hub) roleARN(id string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", guardrail.Partition(h.Region), h.Account, guardrail.HubRoleName(id))
}

// Expect is what a healthy spoke looks like: built from the runtime
// configuration by the sweep and by preflight alike (ExpectFrom).
type Expect struct {
	Hub   Hub
	Specs []guardrail.Spec
	// LogsKeyAlias is the regional logs key log-encryption uses.
	LogsKeyAlias string
	// Unmanaged are the guardrails without a role, per account (the
	// management account's not opted in).
	Unmanaged map[string][]string
}

// ExpectFrom reads what the health checks compare with from the runtime
// configuration: the logs key alias is log-encryption's key_alias (synth
// fills it from logs_key), else the default.
func ExpectFrom(rc runconfig.RuntimeConfig, hub Hub, specs []guardrail.Spec) Expect {
	e := Expect{Hub: hub, Specs: specs, LogsKeyAlias: logencryption.DefaultKeyAlias, Unmanaged: rc.Unmanaged}
	var s struct {
		KeyAlias string `json:"key_alias"`
	}
	if raw := rc.Guardrails["log-encryption"]; len(raw) > 0 && json.Unmarshal(raw, &s) == nil && s.KeyAlias != "" {
		e.LogsKeyAlias = s.KeyAlias
	}
	return e
}

// RulesAPI reads the spoke's forwarding rules and their targets.
type RulesAPI interface {
	ListRules(ctx context.Context, in *eventbridge.ListRulesInput, opts ...func(*eventbridge.Options)) (*eventbridge.ListRulesOutput, error)
	ListTargetsByRule(ctx context.Context, in *eventbridge.ListTargetsByRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error)
}

// QueueAPI reads the spoke DLQ's depth.
type QueueAPI interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// KeyAPI reads the logs key (log-encryption's own check).
type KeyAPI interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, opts ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, opts ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
}

// RoleAPI reads the member roles.
type RoleAPI interface {
	GetRole(ctx context.Context, in *iam.GetRoleInput, opts ...func(*iam.Options)) (*iam.GetRoleOutput, error)
}

// RegionAPIs are the clients of one account-Region's checks.
type RegionAPIs struct {
	Rules  RulesAPI
	Queues QueueAPI
	Keys   KeyAPI
}

// RegionHealth checks one account-Region's spoke: the forwarding rules,
// the forwarding DLQ and the logs key.
func RegionHealth(ctx context.Context, t Target, api RegionAPIs, e Expect) []Check {
	return []Check{
		ForwardingCheck(ctx, t, api.Rules, e.Specs, e.Hub.BusARN()),
		DLQCheck(ctx, t, api.Queues),
		LogsKeyCheck(ctx, t, api.Keys, e.LogsKeyAlias),
	}
}

// denied reports an authorization error: the role lacks the permission
// (an older global spoke), not a problem of the spoke itself.
func denied(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError":
		return true
	}
	return false
}

const redeployGlobal = "deploy the current global spoke to this account (StackSet kmsguard-global; in the management account, its kmsguard stack), whose kmsguard-remediator-sweep role has the health checks' read permissions"

// ForwardingCheck: every forwarding rule the specs need is deployed on the
// default bus, ENABLED, and has the hub bus among its targets (a rule
// pointing elsewhere sends this account-Region's events to someone else,
// and kmsguard hears nothing).
func ForwardingCheck(ctx context.Context, t Target, api RulesAPI, specs []guardrail.Spec, busARN string) Check {
	c := Check{Target: t, ID: CheckForwarding, What: "the forwarding rules are deployed, enabled and target the hub bus " + busARN}
	want := map[string]bool{}
	for _, r := range catalog.ForwardRules(specs, "ACCOUNT", "HUB", "aws") {
		want[r.Name] = true // the names do not depend on the accounts
	}
	found := map[string]bool{}
	p := eventbridge.ListRulesInput{NamePrefix: aws.String(catalog.ForwardPrefix + "-")}
	for {
		out, err := api.ListRules(ctx, &p)
		if err != nil {
			c.Problem = "the forwarding rules could not be read: " + err.Error()
			c.Fix = "allow events:ListRules to kmsguard-remediator-sweep: " + redeployGlobal
			return c
		}
		for _, r := range out.Rules {
			if n := aws.ToString(r.Name); want[n] && r.State == ebtypes.RuleStateEnabled {
				found[n] = true
			}
		}
		if out.NextToken == nil {
			break
		}
		p.NextToken = out.NextToken
	}
	var missing, elsewhere []string
	for _, n := range slices.Sorted(maps.Keys(want)) {
		if !found[n] {
			missing = append(missing, n)
			continue
		}
		targets, err := ruleTargets(ctx, api, n)
		if err != nil {
			c.Problem = fmt.Sprintf("the targets of %s could not be read: %v", n, err)
			c.Fix = "allow events:ListTargetsByRule on the forwarding rules to kmsguard-remediator-sweep: " + redeployGlobal
			if !denied(err) {
				c.Fix = "check the forwarding rules with aws events list-targets-by-rule --rule " + n + " --region " + t.Region
			}
			return c
		}
		if !slices.Contains(targets, busARN) {
			if len(targets) == 0 {
				targets = []string{"nothing"}
			}
			elsewhere = append(elsewhere, n+" -> "+strings.Join(targets, ", "))
		}
	}
	var why, fix []string
	switch {
	case len(missing) == len(want):
		why = append(why, fmt.Sprintf("none of the %d forwarding rules is deployed and enabled", len(want)))
	case len(missing) > 0:
		why = append(why, fmt.Sprintf("%d forwarding rules missing or disabled (%s)", len(missing), strings.Join(missing, ", ")))
	}
	if len(missing) > 0 {
		fix = append(fix, fmt.Sprintf("deploy the regional spoke here (StackSet kmsguard-regional, or kmsguard-regional-%s), or enable the rules", t.Region))
	}
	if len(elsewhere) > 0 {
		why = append(why, fmt.Sprintf("%d forwarding rules do not target the hub bus (%s)", len(elsewhere), strings.Join(elsewhere, "; ")))
		fix = append(fix, fmt.Sprintf("restore the rules' target %s by updating the regional spoke's stack instance here (StackSet drift detection shows what was changed), and find out who changed them", busARN))
	}
	if len(why) == 0 {
		c.OK = true
		return c
	}
	c.Problem = strings.Join(why, "; ") + ": this account-Region's events do not reach the hub"
	c.Fix = strings.Join(fix, "; ")
	return c
}

// ruleTargets lists the ARNs a rule on the default bus delivers to.
func ruleTargets(ctx context.Context, api RulesAPI, rule string) ([]string, error) {
	var arns []string
	in := eventbridge.ListTargetsByRuleInput{Rule: aws.String(rule)}
	for {
		out, err := api.ListTargetsByRule(ctx, &in)
		if err != nil {
			return nil, err
		}
		for _, t := range out.Targets {
			arns = append(arns, aws.ToString(t.Arn))
		}
		if out.NextToken == nil {
			return arns, nil
		}
		in.NextToken = out.NextToken
	}
}

// DLQCheck: the forwarding DLQ exists and is empty (an event there never
// reached the hub: its guardrail never saw it).
func DLQCheck(ctx context.Context, t Target, api QueueAPI) Check {
	c := Check{Target: t, ID: CheckDLQ, What: "the forwarding DLQ " + SpokeDLQ + " is empty"}
	u, err := api.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(SpokeDLQ), QueueOwnerAWSAccountId: aws.String(t.Account)})
	var none *sqstypes.QueueDoesNotExist
	switch {
	case errors.As(err, &none):
		c.Problem = "the forwarding DLQ " + SpokeDLQ + " does not exist: the regional spoke is not deployed here"
		c.Fix = fmt.Sprintf("deploy the regional spoke here (StackSet kmsguard-regional, or kmsguard-regional-%s)", t.Region)
		return c
	case err != nil:
		c.Problem = "the forwarding DLQ could not be read: " + err.Error()
		c.Fix = "allow sqs:GetQueueUrl and sqs:GetQueueAttributes on " + SpokeDLQ + " to kmsguard-remediator-sweep: " + redeployGlobal
		return c
	}
	a, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: u.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		c.Problem = "the forwarding DLQ could not be read: " + err.Error()
		c.Fix = "allow sqs:GetQueueAttributes on " + SpokeDLQ + " to kmsguard-remediator-sweep: " + redeployGlobal
		return c
	}
	if n, _ := strconv.Atoi(a.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]); n > 0 {
		c.Problem = fmt.Sprintf("%d events are in the forwarding DLQ %s: they never reached the hub, so no guardrail saw them", n, SpokeDLQ)
		c.Fix = fmt.Sprintf("read them (aws sqs receive-message --queue-url %s --region %s in account %s), check the hub bus policy and the forwarder role, then run kmsguard audit --accounts %s --regions %s to catch what they were about", aws.ToString(u.QueueUrl), t.Region, t.Account, t.Account, t.Region)
		return c
	}
	c.OK = true
	return c
}

// LogsKeyCheck: the regional logs key exists, is an Enabled symmetric
// customer managed key, and its policy admits CloudWatch Logs of this
// Region for the account's log groups: log-encryption's own check
// (logencryption.CheckKey), so a healthy spoke is one where that guardrail
// can act.
func LogsKeyCheck(ctx context.Context, t Target, api KeyAPI, alias string) Check {
	c := Check{Target: t, ID: CheckLogsKey, What: "the logs key " + alias + " is usable by CloudWatch Logs"}
	k, err := logencryption.CheckKey(ctx, api, alias, t.Region, t.Account)
	switch {
	case err != nil:
		c.Problem = "the logs key could not be read: " + err.Error()
		c.Fix = "allow kms:DescribeKey and kms:GetKeyPolicy to kmsguard-remediator-sweep: " + redeployGlobal
		if !denied(err) {
			c.Fix = "check the key with aws kms describe-key --key-id " + alias + " --region " + t.Region
		}
	case k.Problem != "":
		c.Problem, c.Fix = k.Problem, k.Fix
		if k.Statement != "" {
			c.Fix = "add this statement to its key policy: " + k.Statement
		}
	default:
		c.OK = true
	}
	return c
}

// MemberRoles are the roles the guardrails acting in account assume
// there: one per guardrail that reads or acts in the account (not
// EventOnly), less those the configuration leaves unmanaged there. The
// hub account has none: there the guardrails act with their own Lambda
// roles.
func (e Expect) MemberRoles(account string) []string {
	if account == e.Hub.Account {
		return nil
	}
	var out []string
	for _, s := range e.Specs {
		if !s.EventOnly && !slices.Contains(e.Unmanaged[account], s.ID) {
			out = append(out, s.ID)
		}
	}
	return out
}

// RolesCheck: every guardrail that acts in account has its member role
// there, and the role's trust policy lets the guardrail's hub Lambda role
// and the sweep's (which remediates through it) assume it. IAM is global:
// one check per account (Target.Region ""). The check reads the roles
// with iam:GetRole through the sweep's read-only role; it never assumes
// them, so checking health needs no remediation rights.
func RolesCheck(ctx context.Context, account string, api RoleAPI, e Expect) Check {
	ids := e.MemberRoles(account)
	c := Check{Target: Target{Account: account}, ID: CheckMemberRoles,
		What: fmt.Sprintf("the member roles of %d guardrails exist and trust their hub roles", len(ids))}
	var missing, untrusted []string
	for _, id := range ids {
		name := guardrail.MemberRoleName(id)
		out, err := api.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		var nf *iamtypes.NoSuchEntityException
		switch {
		case errors.As(err, &nf):
			missing = append(missing, name)
			continue
		case err != nil:
			c.Problem = fmt.Sprintf("the role %s could not be read: %v", name, err)
			c.Fix = "allow iam:GetRole on the guardrails' member roles to kmsguard-remediator-sweep: " + redeployGlobal
			if !denied(err) {
				c.Fix = "check the role with aws iam get-role --role-name " + name
			}
			return c
		}
		var lacking []string
		for _, hubID := range []string{id, guardrail.SweepID} {
			if !Trusts(aws.ToString(out.Role.AssumeRolePolicyDocument), e.Hub.roleARN(hubID), e.Hub.Account) {
				lacking = append(lacking, e.Hub.roleARN(hubID))
			}
		}
		if len(lacking) > 0 {
			untrusted = append(untrusted, name+" does not trust "+strings.Join(lacking, " nor "))
		}
	}
	var why []string
	if len(missing) > 0 {
		why = append(why, fmt.Sprintf("%d member roles missing (%s): their guardrails cannot act in this account", len(missing), strings.Join(missing, ", ")))
	}
	if len(untrusted) > 0 {
		why = append(why, strings.Join(untrusted, "; ")+": the hub cannot assume them")
	}
	if len(why) == 0 {
		c.OK = true
		return c
	}
	c.Problem = strings.Join(why, "; ")
	c.Fix = "deploy the global spoke to this account (StackSet kmsguard-global; in the management account, its kmsguard stack); if it is deployed, its roles were changed: update the stack instance (drift detection shows what changed) and find out who changed them"
	return c
}

// Trusts reports whether a role trust policy (IAM returns it URL-encoded,
// RFC 3986: IAM API Reference, "Role" data type, AssumeRolePolicyDocument)
// lets roleARN in hubAccount call sts:AssumeRole: an Allow statement for
// sts:AssumeRole whose principal is that role, or the hub account (its
// root ARN or id) with no condition or only an aws:PrincipalArn condition
// that matches the role. Any other condition, or "*" as principal, is not
// counted: the check cannot tell whether the hub's call meets it. A static
// reading: Deny statements, SCPs and permissions boundaries are not
// evaluated.
func Trusts(document, roleARN, hubAccount string) bool {
	if strings.HasPrefix(document, "%") {
		if d, err := url.PathUnescape(document); err == nil {
			document = d
		}
	}
	var doc struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(document), &doc) != nil {
		return false
	}
	var stmts []map[string]any
	if json.Unmarshal(doc.Statement, &stmts) != nil {
		var one map[string]any
		if json.Unmarshal(doc.Statement, &one) != nil {
			return false
		}
		stmts = []map[string]any{one}
	}
	for _, s := range stmts {
		if s["Effect"] != "Allow" || !slices.ContainsFunc(trust.Strings(s["Action"]), func(a string) bool {
			return glob.Match(strings.ToLower(a), "sts:assumerole")
		}) {
			continue
		}
		pr, _ := s["Principal"].(map[string]any)
		principals := trust.Strings(pr["AWS"])
		switch {
		case slices.Contains(principals, roleARN):
			if s["Condition"] == nil {
				return true
			}
		case slices.ContainsFunc(principals, func(p string) bool { return trust.IsAccountRoot(p, hubAccount) }):
			if principalArnAllows(s["Condition"], roleARN) {
				return true
			}
		}
	}
	return false
}

// principalArnAllows: no condition, or only aws:PrincipalArn conditions
// (ArnEquals, ArnLike, StringEquals, StringLike) that roleARN meets.
func principalArnAllows(cond any, roleARN string) bool {
	if cond == nil {
		return true
	}
	ops, ok := cond.(map[string]any)
	if !ok {
		return false
	}
	for op, keys := range ops {
		km, ok := keys.(map[string]any)
		if !ok {
			return false
		}
		for key, v := range km {
			if !strings.EqualFold(key, "aws:PrincipalArn") {
				return false
			}
			match := false
			for _, p := range trust.Strings(v) {
				switch strings.ToLower(op) {
				case "arnequals", "stringequals":
					match = match || p == roleARN
				case "arnlike", "stringlike":
					match = match || glob.Match(p, roleARN)
				default:
					return false
				}
			}
			if !match {
				return false
			}
		}
	}
	return true
}

// RolesRegion is the Region in whose target the sweep checks an account's
// member roles (IAM is global: once per account): the home Region, where
// the global spoke is, when it is swept; else the first swept Region.
func RolesRegion(regions []string, home string) string {
	if slices.Contains(regions, home) || len(regions) == 0 {
		return home
	}
	return regions[0]
}
