package app_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/infra/app"
	"github.com/kmsguard/kmsguard/infra/config"
	"github.com/kmsguard/kmsguard/infra/internal/tpltest"
	"github.com/kmsguard/kmsguard/infra/org"
)

// deployment is one synthesized app: every stack's template as JSON, and
// the cdk-nag errors left unsuppressed.
type deployment struct {
	templates map[string]map[string]any
	nagErrors []string
}

var (
	synthMu sync.Mutex
	synths  = map[string]*deployment{}
)

// orgYAML is the documented example with the preventive layer switched
// on, so every check runs on its service control policy too.
var orgYAML = func() string {
	b, err := os.ReadFile("../../docs/kmsguard.example.yaml")
	if err != nil {
		panic(err)
	}
	return strings.Replace(string(b), "preventive:\n    enabled: false", "preventive:\n    enabled: true", 1)
}()

const singleYAML = `
hub_account: "123456789012"
home_region: eu-west-1
regions: [eu-west-1, us-east-1]
alerts: {emails: [security@example.com]}
tags: {CostCenter: "1234", Owner: security-team}
`

func synth(t *testing.T, name, yaml string) *deployment {
	t.Helper()
	synthMu.Lock()
	defer synthMu.Unlock()
	if d, ok := synths[name]; ok {
		return d
	}
	var cfg *config.Config
	var err error
	if strings.HasSuffix(yaml, ".yaml") {
		cfg, err = config.Load(yaml)
	} else {
		cfg, err = config.Parse([]byte(yaml))
	}
	if err != nil {
		t.Fatal(err)
	}
	a := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	if err := app.Build(a, cfg, tpltest.StubAssets(t)); err != nil {
		t.Fatal(err)
	}
	app.CheckCompliance(a)
	d := &deployment{templates: map[string]map[string]any{}}
	for _, c := range *a.Node().Children() {
		stack, ok := c.(awscdk.Stack)
		if !ok {
			continue
		}
		tpl := assertions.Template_FromStack(stack, nil)
		b, _ := json.Marshal(tpl.ToJSON())
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		d.templates[*stack.StackName()] = m
		for _, msg := range *assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
			d.nagErrors = append(d.nagErrors, *msg.Id+": "+tpltest.JSON(msg.Entry.Data))
		}
	}
	synths[name] = d
	return d
}

func resources(tpl map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, r := range tpltest.Resources(tpl, typ) {
		out = append(out, r)
	}
	return out
}

func props(r map[string]any) map[string]any { return tpltest.Props(r) }

func TestSingleAccount_Stacks(t *testing.T) {
	d := synth(t, "single", singleYAML)
	var names []string
	for n := range d.templates {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{app.GlobalStack, app.HubStack, app.RegionalStack + "eu-west-1", app.RegionalStack + "us-east-1"}
	if !slices.Equal(names, want) {
		t.Errorf("stacks %v, want %v", names, want)
	}
}

func TestOrganization_Stacks(t *testing.T) {
	d := synth(t, "org", orgYAML)
	for _, n := range []string{app.HubStack, app.OrgStack, app.MgmtGlobal, app.MgmtRegional + "eu-west-1", app.MgmtRegional + "us-east-1"} {
		if d.templates[n] == nil {
			t.Errorf("no stack %s", n)
		}
	}
	sets := resources(d.templates[app.OrgStack], "AWS::CloudFormation::StackSet")
	if len(sets) != 2 {
		t.Fatalf("%d StackSets", len(sets))
	}
	for _, s := range sets {
		p := props(s)
		if p["PermissionModel"] != "SERVICE_MANAGED" || p["CallAs"] != "SELF" || !slices.Contains(tpltest.Strings(p["Capabilities"]), "CAPABILITY_NAMED_IAM") {
			t.Errorf("%v: %v", p["StackSetName"], p)
		}
		auto := p["AutoDeployment"].(map[string]any)
		if auto["Enabled"] != true {
			t.Errorf("auto-deployment off: %v", auto)
		}
		prefs := p["OperationPreferences"].(map[string]any)
		if prefs["RegionConcurrencyType"] != "PARALLEL" || prefs["FailureTolerancePercentage"] != 10.0 || prefs["MaxConcurrentPercentage"] != 25.0 {
			t.Errorf("operation preferences %v", prefs)
		}
		group := p["StackInstancesGroup"].([]any)[0].(map[string]any)
		targets := group["DeploymentTargets"].(map[string]any)
		if !slices.Equal(tpltest.Strings(targets["OrganizationalUnitIds"]), []string{"ou-ab12-cd34ef56"}) || targets["AccountFilterType"] != "DIFFERENCE" || !slices.Equal(tpltest.Strings(targets["Accounts"]), []string{"222222222222"}) {
			t.Errorf("targets %v", targets)
		}
		regions := tpltest.Strings(group["Regions"])
		body, _ := p["TemplateBody"].(string)
		if len(body) == 0 || len(body) > org.MaxTemplateBody {
			t.Errorf("%v TemplateBody is %d bytes", p["StackSetName"], len(body))
		}
		var tpl map[string]any
		if err := json.Unmarshal([]byte(body), &tpl); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(body, "BootstrapVersion") || strings.Contains(body, "AWS::CDK::Metadata") {
			t.Errorf("%v TemplateBody needs a CDK-bootstrapped account or carries CDK metadata", p["StackSetName"])
		}
		switch p["StackSetName"] {
		case org.GlobalStackSetName:
			// A role per guardrail, the sweep's, and the forwarder.
			want := 2 // the sweep's role and the forwarder
			for _, s := range catalog.Specs() {
				if !s.EventOnly {
					want++
				}
			}
			if n := len(resources(tpl, "AWS::IAM::Role")); !slices.Equal(regions, []string{"eu-west-1"}) || n != want {
				t.Errorf("global StackSet regions %v, %d roles", regions, n)
			}
		case org.RegionalStackSetName:
			if !slices.Equal(regions, []string{"eu-west-1", "us-east-1"}) || len(resources(tpl, "AWS::IAM::Role")) != 0 {
				t.Errorf("regional StackSet regions %v", regions)
			}
		default:
			t.Errorf("unexpected StackSet %v", p["StackSetName"])
		}
	}
}

// The regional spoke forwards exactly the guardrails' patterns to the hub
// bus, through the forwarding role, with a retry policy and a DLQ.
func TestRegionalSpoke_RulesEqualTheContract(t *testing.T) {
	tpl := synth(t, "single", singleYAML).templates[app.RegionalStack+"us-east-1"]
	rules := resources(tpl, "AWS::Events::Rule")
	want := map[string]string{}
	for _, r := range catalog.ForwardRules(catalog.Specs(), "${AWS::AccountId}", "123456789012", "${AWS::Partition}") {
		want[r.Name] = canonical(r.Pattern.JSON())
	}
	if len(rules) != len(want) {
		t.Errorf("%d rules, %d in the contract", len(rules), len(want))
	}
	for _, r := range rules {
		p := props(r)
		name := p["Name"].(string)
		if got := canonical(tpltest.JSON(tpltest.Unsub(p["EventPattern"]))); got != want[name] {
			t.Errorf("%s pattern %s, want %s", name, got, want[name])
		}
		if p["EventBusName"] != nil {
			t.Errorf("%s is not on the default bus", name)
		}
		target := p["Targets"].([]any)[0].(map[string]any)
		arn, role := tpltest.JSON(target["Arn"]), tpltest.JSON(target["RoleArn"])
		if !strings.Contains(arn, ":events:eu-west-1:123456789012:event-bus/kmsguard") || !strings.Contains(role, "role/kmsguard-event-forwarder") {
			t.Errorf("%s forwards to %s as %s", name, arn, role)
		}
		if target["RetryPolicy"] == nil || target["DeadLetterConfig"] == nil {
			t.Errorf("%s lacks retry or DLQ", name)
		}
	}
}

func canonical(js string) string {
	var v any
	_ = json.Unmarshal([]byte(js), &v)
	b, _ := json.Marshal(v)
	return string(b)
}

func TestRegionalSpoke_LogsKey(t *testing.T) {
	tpl := synth(t, "single", singleYAML).templates[app.RegionalStack+"eu-west-1"]
	keys := resources(tpl, "AWS::KMS::Key")
	if len(keys) != 1 {
		t.Fatalf("%d keys", len(keys))
	}
	k := keys[0]
	if k["DeletionPolicy"] != "Retain" || props(k)["EnableKeyRotation"] != true {
		t.Errorf("logs key %v", k)
	}
	pol := tpltest.JSON(props(k)["KeyPolicy"])
	for _, want := range []string{`"logs.`, `kms:EncryptionContext:aws:logs:arn`, `"ArnLike"`, `:root`} {
		if !strings.Contains(pol, want) {
			t.Errorf("logs key policy lacks %s: %s", want, pol)
		}
	}
	aliases := resources(tpl, "AWS::KMS::Alias")
	if len(aliases) != 1 || props(aliases[0])["AliasName"] != config.DefaultLogsKeyAlias {
		t.Errorf("aliases %v", aliases)
	}
	// An existing key in the configuration: no key is created.
	d := synth(t, "existing-key", singleYAML+"logs_key: {existing_alias: alias/accelerator/kms/cloudwatch/key}\n")
	if n := len(resources(d.templates[app.RegionalStack+"eu-west-1"], "AWS::KMS::Key")); n != 0 {
		t.Errorf("%d keys created although an existing key is configured", n)
	}
}

// Least privilege in member accounts: one role per guardrail, trusted only
// by that guardrail's hub Lambda and the sweep, allowed exactly its spec's
// actions, KMS and Logs only in the configured Regions, and never the
// lockout bypass; the sweep's role only reads.
func TestGlobalSpoke_Roles(t *testing.T) {
	tpl := synth(t, "single", singleYAML).templates[app.GlobalStack]
	roles := map[string]string{} // role name -> logical id
	trusts := map[string]string{}
	for lid, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] != "AWS::IAM::Role" {
			continue
		}
		name, _ := props(res)["RoleName"].(string)
		roles[name] = lid
		trusts[name] = tpltest.JSON(props(res)["AssumeRolePolicyDocument"])
	}
	policies := map[string][]map[string]any{} // logical role id -> statements
	for _, p := range resources(tpl, "AWS::IAM::Policy") {
		for _, st := range props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			for _, ref := range props(p)["Roles"].([]any) {
				lid := ref.(map[string]any)["Ref"].(string)
				policies[lid] = append(policies[lid], st.(map[string]any))
			}
		}
	}
	check := func(id string, want []string, trusted ...string) {
		name := guardrail.MemberRoleName(id)
		lid, ok := roles[name]
		if !ok {
			t.Errorf("no role %s", name)
			return
		}
		trust := trusts[name]
		for _, h := range trusted {
			if !strings.Contains(trust, ":iam::123456789012:role/"+guardrail.HubRoleName(h)+`"`) {
				t.Errorf("%s does not trust %s: %s", name, h, trust)
			}
		}
		if n := strings.Count(trust, ":role/kmsguard-"); n != len(trusted) {
			t.Errorf("%s trusts %d hub roles, want %d: %s", name, n, len(trusted), trust)
		}
		if !strings.Contains(trust, `"aws:PrincipalArn"`) || !strings.Contains(trust, `:iam::123456789012:root`) || strings.Count(trust, `"Principal"`) != 1 {
			t.Errorf("%s trust must be the hub account narrowed to hub roles: %s", name, trust)
		}
		var allowed []string
		denied := false
		for _, st := range policies[lid] {
			acts := tpltest.Strings(st["Action"])
			if st["Effect"] == "Deny" {
				denied = denied || (slices.Contains(acts, "kms:PutKeyPolicy") && strings.Contains(tpltest.JSON(st["Condition"]), `"kms:BypassPolicyLockoutSafetyCheck":"true"`))
				continue
			}
			allowed = append(allowed, acts...)
			cond := tpltest.JSON(st["Condition"])
			regional := false
			for _, a := range acts {
				regional = regional || !strings.HasPrefix(a, "organizations:") && !strings.HasPrefix(a, "iam:") // global services
			}
			res := tpltest.JSON(st["Resource"])
			if slices.Contains(acts, "iam:GetRole") {
				// Exactly the guardrails' member roles of this account,
				// never the sweep's own, and nothing else.
				var roleNames []string
				for _, s := range catalog.Specs() {
					if !s.EventOnly {
						roleNames = append(roleNames, guardrail.MemberRoleName(s.ID))
					}
				}
				if n := strings.Count(res, ":role/"); n != len(roleNames) || len(acts) != 1 || cond != "null" {
					t.Errorf("%s reads %d roles (%v) with a condition %s, want exactly %v: %s", name, n, acts, cond, roleNames, res)
				}
				for _, rn := range roleNames {
					if !strings.Contains(res, ":role/"+rn+`"`) {
						t.Errorf("%s cannot read %s: %s", name, rn, res)
					}
				}
			}
			if slices.Contains(acts, "events:ListTargetsByRule") && (len(acts) != 1 || !strings.Contains(res, ":rule/kmsguard-forward-*") || strings.Contains(res, `"*"`)) {
				t.Errorf("%s reads rule targets beyond the forwarding rules: %v %s", name, acts, res)
			}
			if slices.ContainsFunc(acts, func(a string) bool { return strings.HasPrefix(a, "sts:") }) {
				t.Errorf("%s may assume roles: %v", name, acts)
			}
			if regional && cond != `{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}` && cond != `{"StringEquals":{"aws:RequestedRegion":["eu-west-1","us-east-1"]}}` {
				t.Errorf("%s: %v not limited to the configured Regions: %s", name, acts, cond)
			}
		}
		slices.Sort(allowed)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(allowed, want) {
			t.Errorf("%s allows %v, want exactly %v", name, allowed, want)
		}
		if !denied {
			t.Errorf("%s does not deny the key-policy lockout bypass", name)
		}
	}
	for _, s := range catalog.Specs() {
		if s.EventOnly {
			if _, ok := roles[guardrail.MemberRoleName(s.ID)]; ok {
				t.Errorf("%s decides from the event alone and needs no role, but has one", s.ID)
			}
			continue
		}
		// alerts.security_hub defaults to on: each guardrail reports its
		// findings in the account (scope.ReportFindings).
		check(s.ID, append(slices.Clone(s.Actions), "securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings"), s.ID, guardrail.SweepID)
	}
	check(guardrail.SweepID, slices.Concat(sweep.Actions, sweep.HealthActions, sweep.RoleActions), guardrail.SweepID)
	if _, ok := roles["kmsguard-remediator"]; ok {
		t.Error("the shared remediator role is still there")
	}
	fwd, ok := trusts["kmsguard-event-forwarder"]
	if !ok || !strings.Contains(fwd, "events.amazonaws.com") || !strings.Contains(fwd, "aws:SourceAccount") {
		t.Errorf("forwarder trust %s", fwd)
	}
}

// No policy anywhere lets "*" in without a condition, and every queue, topic,
// log group and key is encrypted or is one.
func TestSecurityInvariants(t *testing.T) {
	for _, name := range []string{"single", "org"} {
		y := singleYAML
		if name == "org" {
			y = orgYAML
		}
		for stack, tpl := range synth(t, name, y).templates {
			for id, r := range tpl["Resources"].(map[string]any) {
				res := r.(map[string]any)
				checkWildcardPrincipals(t, stack+"/"+id, res)
				p := props(res)
				switch res["Type"] {
				case "AWS::SQS::Queue":
					if p["KmsMasterKeyId"] == nil && p["SqsManagedSseEnabled"] != true {
						t.Errorf("%s/%s: queue not encrypted", stack, id)
					}
				case "AWS::SNS::Topic":
					if p["KmsMasterKeyId"] == nil {
						t.Errorf("%s/%s: topic not encrypted", stack, id)
					}
				case "AWS::Logs::LogGroup":
					if p["KmsKeyId"] == nil {
						t.Errorf("%s/%s: log group not encrypted", stack, id)
					}
				case "AWS::KMS::Key":
					if res["DeletionPolicy"] != "Retain" {
						t.Errorf("%s/%s: key not retained", stack, id)
					}
				case "AWS::Lambda::Function":
					if p["ReservedConcurrentExecutions"] != nil {
						t.Errorf("%s/%s: reserved concurrency", stack, id)
					}
				case "AWS::CDK::Metadata":
					t.Errorf("%s: CDK metadata", stack)
				}
			}
		}
	}
}

func checkWildcardPrincipals(t *testing.T, where string, res map[string]any) {
	t.Helper()
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if p, ok := x["Principal"]; ok && x["Effect"] == "Allow" {
				ps := tpltest.JSON(p)
				if (ps == `"*"` || strings.Contains(ps, `"AWS":"*"`)) && x["Condition"] == nil {
					t.Errorf("%s: Allow to * without a condition: %s", where, tpltest.JSON(x))
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(res["Properties"])
}

func TestCdkNag_NoUnsuppressedFindings(t *testing.T) {
	for _, name := range []string{"single", "org"} {
		y := singleYAML
		if name == "org" {
			y = orgYAML
		}
		if errs := synth(t, name, y).nagErrors; len(errs) > 0 {
			t.Errorf("%s: cdk-nag AwsSolutions findings:\n%s", name, strings.Join(errs, "\n"))
		}
	}
}

// cfn-lint passes on every synthesized template and on both StackSet
// template bodies.
func TestCfnLint_EveryTemplate(t *testing.T) {
	all := map[string]any{}
	for _, name := range []string{"single", "org"} {
		y := singleYAML
		if name == "org" {
			y = orgYAML
		}
		for stack, tpl := range synth(t, name, y).templates {
			all[name+"-"+stack] = tpl
			for _, s := range resources(tpl, "AWS::CloudFormation::StackSet") {
				var body map[string]any
				_ = json.Unmarshal([]byte(props(s)["TemplateBody"].(string)), &body)
				all[name+"-stackset-"+props(s)["StackSetName"].(string)] = body
			}
		}
	}
	if len(all) < 9 {
		t.Errorf("only %d templates", len(all))
	}
	tpltest.CfnLint(t, all, "eu-west-1", "us-east-1")
}

// Only the hub needs a CDK-bootstrapped account and Region: every other
// stack deploys without the bootstrap version check.
func TestOnlyTheHubNeedsBootstrap(t *testing.T) {
	for _, name := range []string{"single", "org"} {
		y := singleYAML
		if name == "org" {
			y = orgYAML
		}
		for stack, tpl := range synth(t, name, y).templates {
			params, _ := tpl["Parameters"].(map[string]any)
			_, needs := params["BootstrapVersion"]
			if needs != (stack == app.HubStack) {
				t.Errorf("%s: bootstrap check %v", stack, needs)
			}
		}
	}
}

// The preventive layer: one service control policy on the covered OUs,
// within the quota, with each deny the configuration asks for.
func TestPreventiveLayer(t *testing.T) {
	tpl := synth(t, "org", orgYAML).templates[app.OrgStack]
	pols := resources(tpl, "AWS::Organizations::Policy")
	if len(pols) != 1 {
		t.Fatalf("%d policies", len(pols))
	}
	p := props(pols[0])
	content := tpltest.JSON(p["Content"])
	if p["Type"] != "SERVICE_CONTROL_POLICY" || !slices.Equal(tpltest.Strings(p["TargetIds"]), []string{"ou-ab12-cd34ef56"}) || len(content) > org.MaxSCPChars {
		t.Errorf("policy %v (%d characters)", p, len(content))
	}
	for _, want := range []string{"ProtectKmsguardRoles", "arn:*:iam::*:role/kmsguard-*", "stacksets-exec-*", "kms:BypassPolicyLockoutSafetyCheck",
		`"kms:ScheduleKeyDeletionPendingWindowInDays":"30"`, "events:DeleteRule", "StackSet-kmsguard-*"} {
		if !strings.Contains(content, want) {
			t.Errorf("the policy lacks %s: %s", want, content)
		}
	}
	if n := len(resources(synth(t, "single", singleYAML).templates[app.HubStack], "AWS::Organizations::Policy")); n != 0 {
		t.Errorf("single-account mode created %d policies", n)
	}
}

// An opt-in Region gets its own StackSet that tolerates every account
// failing, so an account that has not enabled it cannot roll back the
// organization stack; Regions enabled by default stay in the shared one.
func TestOrganization_OptInRegionsStandAlone(t *testing.T) {
	d := synth(t, "org-opt-in", strings.Replace(orgYAML, "regions: [eu-west-1, us-east-1]", "regions: [eu-west-1, us-east-1, af-south-1, me-central-1]", 1))
	byName := map[string]map[string]any{}
	for _, s := range resources(d.templates[app.OrgStack], "AWS::CloudFormation::StackSet") {
		p := props(s)
		byName[p["StackSetName"].(string)] = p
	}
	regionsOf := func(p map[string]any) []string {
		return tpltest.Strings(p["StackInstancesGroup"].([]any)[0].(map[string]any)["Regions"])
	}
	tolerance := func(p map[string]any) any {
		return p["OperationPreferences"].(map[string]any)["FailureTolerancePercentage"]
	}
	if p := byName[org.RegionalStackSetName]; p == nil || !slices.Equal(regionsOf(p), []string{"eu-west-1", "us-east-1"}) || tolerance(p) != 10.0 {
		t.Errorf("shared regional StackSet: %v", p)
	}
	for _, r := range []string{"af-south-1", "me-central-1"} {
		p := byName[org.OptInStackSetName(r)]
		if p == nil || !slices.Equal(regionsOf(p), []string{r}) || tolerance(p) != 100.0 || !strings.Contains(tpltest.JSON(p["Tags"]), "spoke-regional") {
			t.Errorf("%s StackSet: %v", r, p)
		}
	}
	if len(byName) != 4 {
		t.Errorf("%d StackSets", len(byName))
	}
	// Created after the shared StackSet has dropped the Region (an upgrade
	// moves it): the names of the spoke's resources are the same.
	for id, r := range tpltest.Resources(d.templates[app.OrgStack], "AWS::CloudFormation::StackSet") {
		if name := props(r)["StackSetName"]; name != org.RegionalStackSetName && name != org.GlobalStackSetName && !strings.Contains(tpltest.JSON(r["DependsOn"]), "Regional") {
			t.Errorf("%s (%v) does not wait for the shared regional StackSet: %v", id, name, r["DependsOn"])
		}
	}
	// The home Region must be enabled in every account.
	_, err := config.Parse([]byte(strings.Replace(strings.Replace(orgYAML, "regions: [eu-west-1, us-east-1]", "regions: [af-south-1, us-east-1]", 1), "home_region: eu-west-1", "home_region: af-south-1", 1)))
	if err == nil || !strings.Contains(err.Error(), "home_region") || !strings.Contains(err.Error(), "enabled by default") {
		t.Errorf("opt-in home Region: %v", err)
	}
}
