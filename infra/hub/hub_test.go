package hub_test

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/infra/hub"
	"github.com/kmsguard/kmsguard/infra/internal/tpltest"
	"github.com/kmsguard/kmsguard/infra/scope"
)

const orgID = "o-a1b2c3d4e5"

var (
	synthOnce sync.Once
	tmpl      assertions.Template
	tmplJSON  map[string]any
	synthErr  error
)

func template(t *testing.T) (assertions.Template, map[string]any) {
	t.Helper()
	synthOnce.Do(func() {
		app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{"aws:cdk:bundling-stacks": []any{}}})
		stack := hub.NewStack(app, "kmsguard-hub", &hub.Props{
			StackProps:        awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1")}},
			Specs:             catalog.Specs(),
			AssetDir:          tpltest.StubAssets(t),
			AlertEmails:       []string{"security@example.com", "oncall@example.com"},
			OrganizationID:    orgID,
			RuntimeConfigJSON: `{"modes":{"default":"alert"}}`,
			SweepSchedule:     "rate(1 day)",
			SecurityHub:       true,
		})
		tmpl = assertions.Template_FromStack(stack, nil)
		b, err := json.Marshal(tmpl.ToJSON())
		if err == nil {
			err = json.Unmarshal(b, &tmplJSON)
		}
		synthErr = err
	})
	if synthErr != nil {
		t.Fatal(synthErr)
	}
	return tmpl, tmplJSON
}

func resources(t *testing.T, typ string) map[string]map[string]any {
	_, j := template(t)
	out := map[string]map[string]any{}
	for id, r := range tpltest.Resources(j, typ) {
		out[id] = tpltest.Props(r)
	}
	return out
}

func TestLambdas_ArmAL2023AndWired(t *testing.T) {
	tpl, _ := template(t)
	tpl.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(len(catalog.Specs())+1))
	for _, s := range catalog.Specs() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"FunctionName":  "kmsguard-" + s.ID,
			"Runtime":       "provided.al2023",
			"Architectures": []any{"arm64"},
			"Handler":       "bootstrap",
			"LoggingConfig": map[string]any{"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN", "LogGroup": assertions.Match_AnyValue()},
			"Environment": map[string]any{"Variables": map[string]any{
				"KMSGUARD_TOPIC_ARN":        assertions.Match_AnyValue(),
				"KMSGUARD_HUB_ACCOUNT":      "123456789012",
				"KMSGUARD_CONFIG_PARAMETER": assertions.Match_AnyValue(),
			}},
			"KmsKeyArn": assertions.Match_AnyValue(),
		})
	}
	for id, fn := range resources(t, "AWS::Lambda::Function") {
		if _, ok := fn["ReservedConcurrentExecutions"]; ok {
			t.Errorf("%s has reserved concurrency (fails in new accounts)", id)
		}
	}
	// Async invocation: two retries, then the on-failure DLQ.
	tpl.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), map[string]any{
		"MaximumRetryAttempts":     2,
		"DestinationConfig":        map[string]any{"OnFailure": map[string]any{"Destination": assertions.Match_AnyValue()}},
		"MaximumEventAgeInSeconds": 21600,
	})
}

func TestRules_EqualTheContract(t *testing.T) {
	rules := resources(t, "AWS::Events::Rule")
	byName := map[string]map[string]any{}
	for _, r := range rules {
		byName[r["Name"].(string)] = r
	}
	total := 0
	for _, s := range catalog.Specs() {
		for _, r := range s.HubRules() {
			total++
			got, ok := byName["kmsguard-"+r.Name]
			if !ok {
				t.Errorf("no rule for %s", r.Name)
				continue
			}
			gotJSON, _ := json.Marshal(got["EventPattern"])
			var want, have any
			_ = json.Unmarshal([]byte(r.Pattern.JSON()), &want)
			_ = json.Unmarshal(gotJSON, &have)
			wj, _ := json.Marshal(want)
			hj, _ := json.Marshal(have)
			if string(wj) != string(hj) {
				t.Errorf("rule %s pattern\n got %s\nwant %s", r.Name, hj, wj)
			}
			targets := got["Targets"].([]any)
			if len(targets) != 1 {
				t.Fatalf("rule %s has %d targets", r.Name, len(targets))
			}
			target := targets[0].(map[string]any)
			if target["RetryPolicy"] == nil || target["DeadLetterConfig"] == nil {
				t.Errorf("rule %s target lacks a retry policy or DLQ: %v", r.Name, target)
			}
			if got["EventBusName"] == nil {
				t.Errorf("rule %s is not on the hub bus", r.Name)
			}
		}
	}
	if len(rules) != total {
		t.Errorf("%d rules in the template, %d in the specs", len(rules), total)
	}
}

func TestSweepSchedule(t *testing.T) {
	tpl, _ := template(t)
	tpl.HasResourceProperties(jsii.String("AWS::Scheduler::Schedule"), map[string]any{
		"ScheduleExpression": "rate(1 day)",
		"FlexibleTimeWindow": map[string]any{"Mode": "OFF"},
		"Target": assertions.Match_ObjectLike(&map[string]any{
			"RetryPolicy":      assertions.Match_AnyValue(),
			"DeadLetterConfig": assertions.Match_AnyValue(),
		}),
	})
	tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{"FunctionName": "kmsguard-sweep", "Timeout": 900, "Architectures": []any{"arm64"}})
}

func TestConfigParameter(t *testing.T) {
	tpl, _ := template(t)
	tpl.HasResourceProperties(jsii.String("AWS::SSM::Parameter"), map[string]any{
		"Name": "/kmsguard/config", "Type": "String", "Value": `{"modes":{"default":"alert"}}`,
	})
}

func TestBus_OrganizationOnly(t *testing.T) {
	tpl, _ := template(t)
	tpl.HasResourceProperties(jsii.String("AWS::Events::EventBus"), map[string]any{"Name": hub.BusName})
	tpl.HasResourceProperties(jsii.String("AWS::Events::EventBusPolicy"), map[string]any{
		"Statement": assertions.Match_ObjectLike(&map[string]any{
			"Principal": map[string]any{"AWS": "*"}, "Action": "events:PutEvents", "Effect": "Allow",
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": orgID}},
		}),
	})
}

// Each guardrail role holds exactly its spec's actions, never a wildcard
// action, plus only the plumbing every guardrail needs.
func TestRoles_LeastPrivilege(t *testing.T) {
	roles := resources(t, "AWS::IAM::Role")
	policies := resources(t, "AWS::IAM::Policy")
	for _, s := range catalog.Specs() {
		var roleID string
		for id, r := range roles {
			if r["RoleName"] == guardrail.HubRoleName(s.ID) {
				roleID = id
				if r["ManagedPolicyArns"] != nil {
					t.Errorf("%s role has managed policies: %v", s.ID, r["ManagedPolicyArns"])
				}
				trust, _ := json.Marshal(r["AssumeRolePolicyDocument"])
				if !strings.Contains(string(trust), "lambda.amazonaws.com") || strings.Count(string(trust), "Principal") != 1 {
					t.Errorf("%s role trust %s", s.ID, trust)
				}
			}
		}
		if roleID == "" {
			t.Fatalf("no role named %s", guardrail.HubRoleName(s.ID))
		}
		var guardrailActions []string
		denies := map[string]bool{}
		for _, p := range policies {
			if !strings.Contains(tpltest.JSON(p["Roles"]), `"`+roleID+`"`) {
				continue
			}
			for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				if stmt := st.(map[string]any); stmt["Effect"] == "Deny" {
					denies[stmt["Sid"].(string)] = true
				}
			}
			for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				stmt := st.(map[string]any)
				for _, a := range tpltest.Strings(stmt["Action"]) {
					if strings.Contains(a, "*") && !allowedWildcard(a) {
						t.Errorf("%s role has wildcard action %s", s.ID, a)
					}
					if sid, _ := stmt["Sid"].(string); strings.HasPrefix(sid, "Guardrail") {
						guardrailActions = append(guardrailActions, a)
					}
				}
				res, _ := json.Marshal(stmt["Resource"])
				switch stmt["Sid"] {
				case "GuardrailKeyActions":
					if !strings.Contains(string(res), ":key/*") || strings.Contains(string(res), `"*"`) {
						t.Errorf("%s key actions not scoped to keys: %s", s.ID, res)
					}
				case "GuardrailLogGroupActions":
					if !strings.Contains(string(res), ":log-group:*") || strings.Contains(string(res), `"*"`) {
						t.Errorf("%s log actions not scoped to log groups: %s", s.ID, res)
					}
				}
			}
		}
		// The mode store is read by path, and only under /kmsguard/modes.
		var store string
		for _, p := range policies {
			if strings.Contains(tpltest.JSON(p["Roles"]), `"`+roleID+`"`) {
				for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					if stmt := st.(map[string]any); stmt["Sid"] == "ReadModeStore" {
						store = tpltest.JSON(stmt)
					}
				}
			}
		}
		if !strings.Contains(store, `"ssm:GetParametersByPath"`) || !strings.Contains(store, `:parameter/kmsguard/modes"`) || !strings.Contains(store, `:parameter/kmsguard/modes/*"`) || strings.Count(store, "parameter/") != 2 {
			t.Errorf("%s role reads the mode store as %s", s.ID, store)
		}
		want := slices.Clone(s.Actions)
		sort.Strings(want)
		sort.Strings(guardrailActions)
		if !slices.Equal(guardrailActions, want) {
			t.Errorf("%s role actions %v, spec %v", s.ID, guardrailActions, want)
		}
		// No lockout bypass, no change to the hub key, and only the hub
		// key uses SNS and SQS need.
		if !denies["DenyKeyPolicyLockoutBypass"] || !denies["DenyChangesToTheHubKey"] || !denies["DenyChangesToKmsguardKeys"] {
			t.Errorf("%s role lacks the denies: %v", s.ID, denies)
		}
	}
}

// Actions CDK's grants add for the hub key, the topic and the DLQ.
func allowedWildcard(a string) bool {
	return a == "kms:GenerateDataKey*" || a == "kms:ReEncrypt*"
}

func TestEncryptionEverywhere(t *testing.T) {
	tpl, _ := template(t)
	for id, q := range resources(t, "AWS::SQS::Queue") {
		if q["KmsMasterKeyId"] == nil {
			t.Errorf("queue %s is not encrypted with the hub key", id)
		}
	}
	for id, lg := range resources(t, "AWS::Logs::LogGroup") {
		if lg["KmsKeyId"] == nil || lg["RetentionInDays"] == nil {
			t.Errorf("log group %s lacks a key or retention: %v", id, lg)
		}
	}
	tpl.HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{"TopicName": hub.TopicName, "KmsMasterKeyId": assertions.Match_AnyValue()})
	tpl.HasResource(jsii.String("AWS::KMS::Key"), map[string]any{
		"Properties":     map[string]any{"EnableKeyRotation": true},
		"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
	})
	// The key admits EventBridge and CloudWatch (alarms, logs) for this account only.
	_, j := template(t)
	b, _ := json.Marshal(j)
	for _, svc := range []string{"events.amazonaws.com", "cloudwatch.amazonaws.com"} {
		if !strings.Contains(string(b), svc) {
			t.Errorf("hub key policy does not admit %s", svc)
		}
	}
	// Queues and the topic refuse plain HTTP.
	for _, typ := range []string{"AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"} {
		found := false
		for _, p := range resources(t, typ) {
			doc, _ := json.Marshal(p["PolicyDocument"])
			if strings.Contains(string(doc), `"aws:SecureTransport":"false"`) && strings.Contains(string(doc), `"Effect":"Deny"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s denies non-TLS access", typ)
		}
	}
}

func TestAlertsAndAlarms(t *testing.T) {
	tpl, _ := template(t)
	tpl.ResourceCountIs(jsii.String("AWS::SNS::Subscription"), jsii.Number(2))
	tpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "security@example.com"})
	// Delivery DLQ + per function (guardrails and the sweep): failure DLQ
	// and errors; per guardrail: failure rate.
	tpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(1+2*(len(catalog.Specs())+1)+len(catalog.Specs())))
	for _, a := range resources(t, "AWS::CloudWatch::Alarm") {
		if a["AlarmActions"] == nil {
			t.Errorf("alarm without an action: %v", a["AlarmDescription"])
		}
	}
}

func TestNoAnalyticsMetadata(t *testing.T) {
	_, j := template(t)
	for id, r := range j["Resources"].(map[string]any) {
		if r.(map[string]any)["Type"] == "AWS::CDK::Metadata" {
			t.Errorf("%s: CDK metadata breaks StackSets in some Regions", id)
		}
	}
}

// cfn-lint (the pinned version) must pass on the synthesized template.
func TestCfnLint(t *testing.T) {
	_, j := template(t)
	tpltest.CfnLint(t, map[string]any{"kmsguard-hub": j}, "eu-west-1")
}

func TestGrants_UnknownServiceIsAnError(t *testing.T) {
	if _, err := scope.Grants([]string{"kms:DescribeKey", "s3:PutBucketPolicy"}, jsii.String("123456789012")); err == nil || !strings.Contains(err.Error(), "s3:PutBucketPolicy") {
		t.Errorf("err = %v", err)
	}
}

// The dashboard shows every guardrail's metrics (the names the runner
// writes), every DLQ's depth and the sweep; each guardrail has a
// failure-rate alarm that notifies the alert topic.
func TestDashboardAndFailureRateAlarms(t *testing.T) {
	dash := resources(t, "AWS::CloudWatch::Dashboard")
	if len(dash) != 1 {
		t.Fatalf("%d dashboards", len(dash))
	}
	var body string
	for _, d := range dash {
		body = tpltest.JSON(d["DashboardBody"])
	}
	for _, want := range []string{guardrail.MetricsNamespace, guardrail.MetricEvents, guardrail.MetricRemediations, guardrail.MetricAlerts, guardrail.MetricFailures, guardrail.MetricDuration, "ApproximateNumberOfMessagesVisible", "SweepFindings"} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	for _, s := range catalog.Specs() {
		if !strings.Contains(body, `\"Guardrail\",\"`+s.ID+`\"`) {
			t.Errorf("dashboard lacks guardrail %s", s.ID)
		}
	}
	queues := len(resources(t, "AWS::SQS::Queue"))
	if n := strings.Count(body, "ApproximateNumberOfMessagesVisible"); n != queues {
		t.Errorf("dashboard shows %d DLQ depths, the hub has %d queues", n, queues)
	}
	rates := 0
	for _, a := range resources(t, "AWS::CloudWatch::Alarm") {
		if strings.Contains(tpltest.JSON(a["Metrics"]), "failures / events") {
			rates++
			if a["Threshold"] != 0.1 || a["AlarmActions"] == nil {
				t.Errorf("failure-rate alarm %v", a)
			}
		}
	}
	if rates != len(catalog.Specs()) {
		t.Errorf("%d failure-rate alarms for %d guardrails", rates, len(catalog.Specs()))
	}
}

// Each guardrail with a role reports its findings to Security Hub in the
// hub account only: BatchImportFindings on the account's own default
// product, BatchUpdateFindings on its hub; the tamper guardrail (event
// only) and the sweep do not.
func TestRoles_ReportFindingsScoped(t *testing.T) {
	roles := resources(t, "AWS::IAM::Role")
	policies := resources(t, "AWS::IAM::Policy")
	for _, s := range catalog.Specs() {
		var roleID string
		for id, r := range roles {
			if r["RoleName"] == guardrail.HubRoleName(s.ID) {
				roleID = id
			}
		}
		var stmt string
		for _, p := range policies {
			if !strings.Contains(tpltest.JSON(p["Roles"]), `"`+roleID+`"`) {
				continue
			}
			for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				if m := st.(map[string]any); m["Sid"] == "ReportFindings" {
					stmt = tpltest.JSON(m)
				}
			}
		}
		switch {
		case s.EventOnly && stmt != "":
			t.Errorf("%s decides from the event alone but may report findings: %s", s.ID, stmt)
		case s.EventOnly:
		case stmt == "":
			t.Errorf("%s cannot report findings", s.ID)
		case !strings.Contains(stmt, ":product/") || !strings.Contains(stmt, "/default") || !strings.Contains(stmt, ":hub/default") || strings.Contains(stmt, `"*"`):
			t.Errorf("%s findings not scoped to the account's product and hub: %s", s.ID, stmt)
		}
	}
}

// The spoke DLQ the sweep reads is the one the spoke builds and the member
// roles may read.
func TestSpokeDLQ_OneName(t *testing.T) {
	if sweep.SpokeDLQ != scope.SpokeDLQ {
		t.Errorf("functions/sweep reads %s, infra/scope scopes %s", sweep.SpokeDLQ, scope.SpokeDLQ)
	}
	if catalog.ForwardPrefix+"-" != scope.ForwardRulePrefix {
		t.Errorf("the forwarding rules are named %s-*, infra/scope scopes %s*", catalog.ForwardPrefix, scope.ForwardRulePrefix)
	}
}

// The organization sweep (issue 13): the schedule starts a state machine
// whose Distributed Map sweeps one account-Region per work item, bounded,
// retried on transient errors, recording a failed item instead of failing
// the run, and ends with the digest.
func TestOrgSweep_StateMachine(t *testing.T) {
	sms := resources(t, "AWS::StepFunctions::StateMachine")
	if len(sms) != 1 {
		t.Fatalf("%d state machines", len(sms))
	}
	var sm map[string]any
	for _, s := range sms {
		sm = s
	}
	var def struct {
		StartAt string
		States  map[string]map[string]any
	}
	// The number placeholder is substituted at deploy time: parse it as 0.
	if err := json.Unmarshal([]byte(strings.ReplaceAll(sm["DefinitionString"].(string), "${MaxConcurrency}", "0")), &def); err != nil {
		t.Fatal(err)
	}
	subs := sm["DefinitionSubstitutions"].(map[string]any)
	if def.StartAt != "Plan" || def.States["Plan"]["Next"] != "Sweep" || def.States["Sweep"]["Next"] != "Digest" || def.States["Digest"]["End"] != true {
		t.Errorf("flow %+v", def)
	}
	m := def.States["Sweep"]
	proc := m["ItemProcessor"].(map[string]any)
	if tpltest.JSON(proc["ProcessorConfig"]) != `{"ExecutionType":"STANDARD","Mode":"DISTRIBUTED"}` || m["ToleratedFailurePercentage"] != 100.0 ||
		!strings.Contains(tpltest.JSON(m["ItemReader"]), "s3:getObject") || subs["MaxConcurrency"] != "40" {
		t.Errorf("map %s, substitutions %v", tpltest.JSON(m), subs)
	}
	if !strings.Contains(sm["DefinitionString"].(string), `"MaxConcurrency":${MaxConcurrency}`) {
		t.Error("MaxConcurrency is not substituted as a number")
	}
	states := proc["States"].(map[string]any)
	item := states["Sweep one account-Region"].(map[string]any)
	if r := tpltest.JSON(item["Retry"]); !strings.Contains(r, `"Transient"`) || !strings.Contains(r, `"MaxAttempts":3`) || !strings.Contains(r, "JitterStrategy") {
		t.Errorf("item retry %s", r)
	}
	if c := tpltest.JSON(item["Catch"]); !strings.Contains(c, `"Next":"Record failure"`) {
		t.Errorf("item catch %s", c)
	}
	if f := tpltest.JSON(states["Record failure"]); !strings.Contains(f, "dynamodb:putItem") || !strings.Contains(f, `"status":{"S":"failed"}`) {
		t.Errorf("failure record %s", f)
	}
	for _, sched := range resources(t, "AWS::Scheduler::Schedule") {
		if arn := tpltest.JSON(sched["Target"].(map[string]any)["Arn"]); !strings.Contains(arn, "StateMachine") {
			t.Errorf("the schedule starts %s, not the state machine", arn)
		}
	}
	for _, tb := range resources(t, "AWS::DynamoDB::Table") {
		if tpltest.JSON(tb["SSESpecification"]) == "" || !strings.Contains(tpltest.JSON(tb["SSESpecification"]), "KMSMasterKeyId") ||
			!strings.Contains(tpltest.JSON(tb["PointInTimeRecoverySpecification"]), "true") || !strings.Contains(tpltest.JSON(tb["TimeToLiveSpecification"]), "expires") {
			t.Errorf("sweep table %s", tpltest.JSON(tb))
		}
	}
	// The state machine's role: its Lambda, its items, its table, its own
	// child executions; nothing on "*".
	for id, r := range resources(t, "AWS::IAM::Role") {
		if !strings.Contains(tpltest.JSON(r["AssumeRolePolicyDocument"]), "states.amazonaws.com") {
			continue
		}
		for _, p := range resources(t, "AWS::IAM::Policy") {
			if !strings.Contains(tpltest.JSON(p["Roles"]), `"`+id+`"`) {
				continue
			}
			for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				if res := tpltest.JSON(st.(map[string]any)["Resource"]); res == `"*"` {
					t.Errorf("state machine role statement on *: %s", tpltest.JSON(st))
				}
			}
		}
	}
}

// The ledger (issue 15): on demand, point-in-time recovery, the hub key,
// rows that expire, the account index; every hub Lambda records in it by
// key and none may delete or scan.
func TestLedger_TableAndAccess(t *testing.T) {
	var ledgerID string
	for id, tb := range resources(t, "AWS::DynamoDB::Table") {
		if tb["TableName"] != "kmsguard-ledger" {
			continue
		}
		ledgerID = id
		j := tpltest.JSON(tb)
		for _, want := range []string{`"BillingMode":"PAY_PER_REQUEST"`, `"PointInTimeRecoveryEnabled":true`, `"KMSMasterKeyId"`, `"AttributeName":"expires"`, `"IndexName":"gsi1"`} {
			if !strings.Contains(j, want) {
				t.Errorf("ledger table lacks %s: %s", want, j)
			}
		}
	}
	if ledgerID == "" {
		t.Fatal("no ledger table")
	}
	fns := resources(t, "AWS::Lambda::Function")
	withEnv := 0
	for _, fn := range fns {
		if strings.Contains(tpltest.JSON(fn["Environment"]), "KMSGUARD_LEDGER_TABLE") {
			withEnv++
		}
	}
	if withEnv != len(catalog.Specs())+1 {
		t.Errorf("%d Lambdas know the ledger, want every guardrail's and the sweep's (%d)", withEnv, len(catalog.Specs())+1)
	}
	for _, p := range resources(t, "AWS::IAM::Policy") {
		for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			stmt := st.(map[string]any)
			if stmt["Sid"] != "Ledger" {
				continue
			}
			if a := tpltest.Strings(stmt["Action"]); !slices.Equal(a, []string{"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"}) {
				t.Errorf("ledger access %v", a)
			}
			if !strings.Contains(tpltest.JSON(stmt["Resource"]), ledgerID) {
				t.Errorf("ledger access beyond the ledger: %s", tpltest.JSON(stmt["Resource"]))
			}
		}
	}
}
