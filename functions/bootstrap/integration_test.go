package bootstrap_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/keypolicy"
	"github.com/kmsguard/kmsguard/internal/moto"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

var srv *moto.Server

func TestMain(m *testing.M) { moto.RunTests(m, &srv) }

const member = fixtures.Account

type world struct {
	*sandbox.Hub
	t   *testing.T
	ctx context.Context
	hub *bootstrap.Env
}

func newWorld(t *testing.T, configJSON string) *world {
	t.Helper()
	ctx := context.Background()
	sb, err := sandbox.NewHub(ctx, srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	h, err := bootstrap.Load(ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &sb.Config, TopicARN: sb.TopicARN, HubAccount: sandbox.HubAccount, ConfigJSON: []byte(configJSON)})
	if err != nil {
		t.Fatal(err)
	}
	return &world{Hub: sb, t: t, ctx: ctx, hub: h}
}

// run delivers a fixture through moto's EventBridge and runs every guardrail
// whose rule delivered it, as the hub's Lambdas would.
func (w *world) run(raw []byte, want ...string) map[string]guardrail.Outcome {
	w.t.Helper()
	events, err := w.Deliver(w.ctx, raw)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(events) != len(want) {
		w.t.Fatalf("%d rules delivered the event, want %d (%v)", len(events), len(want), want)
	}
	outs := map[string]guardrail.Outcome{}
	for _, id := range want {
		r, err := w.hub.Runner(id)
		if err != nil {
			w.t.Fatal(err)
		}
		out, err := r.Handle(w.ctx, events[0])
		if err != nil {
			w.t.Fatalf("%s: %v", id, err)
		}
		outs[id] = out
	}
	return outs
}

func (w *world) kms() *kms.Client {
	c, err := w.KMS(w.ctx, member)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func TestIntegration_KeyRotation(t *testing.T) {
	w := newWorld(t, `{"guardrails":{"key-rotation":{"rotation_period_days":180}}}`)
	id, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/orders"})
	if err != nil {
		t.Fatal(err)
	}
	out := w.run(fixtures.WithKey(fixtures.Get("key-rotation/disable-key-rotation").Raw, id, "", ""), "key-rotation")["key-rotation"]
	if out.Action != "enable-rotation" || !out.Alerted {
		t.Fatalf("%+v", out)
	}
	st, err := w.kms().GetKeyRotationStatus(w.ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	if err != nil || !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 180 {
		t.Errorf("rotation %+v %v", st, err)
	}
	// An asymmetric key cannot rotate: alert, no write.
	asym, err := w.kms().CreateKey(w.ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	out = w.run(fixtures.WithKey(fixtures.Get("key-rotation/create-key").Raw, *asym.KeyMetadata.KeyId, "", ""), "key-rotation", "key-deletion")["key-rotation"]
	if out.Action != "none" || out.Severity != guardrail.SeverityInfo || !strings.Contains(out.Reason, "asymmetric") {
		t.Errorf("%+v", out)
	}
	alerts, _ := w.Alerts(w.ctx)
	if len(alerts) != 2 || alerts[0].Attributes["guardrail"] != "key-rotation" {
		t.Errorf("alerts %+v", alerts)
	}
}

func TestIntegration_KeyPolicy(t *testing.T) {
	w := newWorld(t, `{"modes":{"guardrails":{"key-policy":"remediate"}}}`)
	id, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/orders"})
	if err != nil {
		t.Fatal(err)
	}
	raw := fixtures.WithKey(fixtures.Get("key-policy/put-key-policy-public").Raw, id, "", "")
	policy := `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},{"Sid":"ShareWithEveryone","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}`
	if _, err := w.kms().PutKeyPolicy(w.ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	out := w.run(raw, "key-policy")["key-policy"]
	if out.Action != "remove-statements" || strings.Join(out.Findings, ",") != "PUBLIC" {
		t.Fatalf("%+v", out)
	}
	got, err := w.kms().GetKeyPolicy(w.ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default")})
	if err != nil {
		t.Fatal(err)
	}
	if a := keypolicy.Analyze(aws.ToString(got.Policy), keypolicy.Context{Account: member}); len(a.Findings) != 0 || strings.Contains(aws.ToString(got.Policy), "ShareWithEveryone") {
		t.Errorf("policy after remediation: %s (%v)", aws.ToString(got.Policy), a.Codes())
	}
	// A CreateKey with a policy triggers both the policy and the rotation
	// guardrails, and key-deletion records the new key's state.
	id2, _ := w.CreateKey(w.ctx, member, sandbox.KeySpec{})
	outs := w.run(fixtures.WithKey(fixtures.Get("key-policy/create-key-with-policy").Raw, id2, "", ""), "key-rotation", "key-policy", "key-deletion")
	if outs["key-rotation"].Action != "enable-rotation" || outs["key-policy"].Resource == "" {
		t.Errorf("%+v", outs)
	}
}

func TestIntegration_LogEncryption(t *testing.T) {
	w := newWorld(t, "")
	keyARN, err := w.LogsKey(w.ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := w.Logs(w.ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"/app/payments/api", "/app/payments/api-v2"} {
		if _, err := logs.CreateLogGroup(w.ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	out := w.run(fixtures.Get("log-encryption/create-log-group").Raw, "log-encryption")["log-encryption"]
	if out.Action != "associate-kms-key" || !out.Alerted {
		t.Fatalf("%+v", out)
	}
	if k, _ := w.LogGroupKey(w.ctx, member, "/app/payments/api"); k != keyARN {
		t.Errorf("log group key %q, want %q", k, keyARN)
	}
	if k, _ := w.LogGroupKey(w.ctx, member, "/app/payments/api-v2"); k != "" {
		t.Errorf("a prefix match was encrypted too: %q", k)
	}
	// Someone removes the key: it comes back.
	if _, err := logs.DisassociateKmsKey(w.ctx, &cloudwatchlogs.DisassociateKmsKeyInput{LogGroupName: aws.String("/app/payments/api")}); err != nil {
		t.Fatal(err)
	}
	out = w.run(fixtures.Get("log-encryption/disassociate-kms-key").Raw, "log-encryption")["log-encryption"]
	if k, _ := w.LogGroupKey(w.ctx, member, "/app/payments/api"); out.Action != "associate-kms-key" || k != keyARN {
		t.Errorf("%+v, key %q", out, k)
	}
	// The remediator's own AssociateKmsKey never comes back as an event.
	if evs, _ := w.Deliver(w.ctx, fixtures.Get("none/associate-kms-key-by-remediator").Raw); len(evs) != 0 {
		t.Error("remediator event delivered")
	}
}

// A Lambda reads its configuration from the SSM parameter at cold start.
func TestIntegration_ConfigFromParameter(t *testing.T) {
	w := newWorld(t, "")
	cfg := `{"modes":{"accounts":{"111122223333":{"mode":"alert"}}},"guardrails":{"key-rotation":{"rotation_period_days":180}}}`
	if _, err := ssm.NewFromConfig(w.Config).PutParameter(w.ctx, &ssm.PutParameterInput{Name: aws.String(bootstrap.ConfigParameter), Value: aws.String(cfg), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	h, err := bootstrap.Load(w.ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &w.Config, HubAccount: sandbox.HubAccount, ConfigParameter: bootstrap.ConfigParameter})
	if err != nil {
		t.Fatal(err)
	}
	w.hub = h
	id, _ := w.CreateKey(w.ctx, member, sandbox.KeySpec{})
	out := w.run(fixtures.WithKey(fixtures.Get("key-rotation/disable-key-rotation").Raw, id, "", ""), "key-rotation")["key-rotation"]
	if out.Mode != guardrail.ModeAlert || !strings.Contains(out.ModeSource, "parameter /kmsguard/config") || out.Action != "none" {
		t.Errorf("%+v", out)
	}
	// A missing or invalid parameter fails the cold start loudly.
	if _, err := bootstrap.Load(w.ctx, bootstrap.Options{Guardrails: catalog.Entries(), AWS: &w.Config, HubAccount: sandbox.HubAccount, ConfigParameter: "/nope"}); err == nil || !strings.Contains(err.Error(), "/nope") {
		t.Errorf("missing parameter: %v", err)
	}
}

// Account names come from moto's Organizations: DescribeAccount read back.
func TestIntegration_AccountNames(t *testing.T) {
	ctx := context.Background()
	// A management account of its own: the other tests' accounts stay
	// outside any organization.
	cfg, err := srv.AccountConfig(ctx, "777788889999", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	org := organizations.NewFromConfig(cfg)
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		t.Fatal(err)
	}
	acct, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String("payments-prod"), Email: aws.String("payments@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	st, err := org.DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{CreateAccountRequestId: acct.CreateAccountStatus.Id})
	if err != nil {
		t.Fatal(err)
	}
	n := bootstrap.NewAccountNamesForTest(org)
	if got := n.AccountName(ctx, aws.ToString(st.CreateAccountStatus.AccountId)); got != "payments-prod" {
		t.Errorf("name %q", got)
	}
	if got := n.AccountName(ctx, "999999999999"); got != "" {
		t.Errorf("unknown account named %q", got)
	}
}

// Alerts become Security Hub findings in the resource's own account and
// Region (issue 16): RESOLVED when kmsguard fixed it, NEW when it only
// alerted; alerts.security_hub off means no reporter.
func TestIntegration_SecurityHubFindings(t *testing.T) {
	w := newWorld(t, `{"security_hub":true,"modes":{"guardrails":{"key-deletion":"alert"}}}`)
	mcfg, err := srv.AccountConfig(w.ctx, member, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	sh := securityhub.NewFromConfig(mcfg)
	if _, err := sh.EnableSecurityHub(w.ctx, &securityhub.EnableSecurityHubInput{}); err != nil {
		t.Fatal(err)
	}
	handle := func(id string, raw []byte) guardrail.Outcome {
		t.Helper()
		events, err := w.Deliver(w.ctx, raw)
		if err != nil || len(events) == 0 {
			t.Fatalf("deliver: %v (%d events)", err, len(events))
		}
		r, err := w.hub.Runner(id)
		if err != nil {
			t.Fatal(err)
		}
		f := w.hub.Findings(id)
		if f == nil {
			t.Fatal("no Security Hub reporter with security_hub on")
		}
		out, err := r.WithFindings(f).Handle(w.ctx, events[0])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	finding := func(resource string) shtypes.AwsSecurityFinding {
		t.Helper()
		got, err := sh.GetFindings(w.ctx, &securityhub.GetFindingsInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range got.Findings {
			if len(f.Resources) > 0 && aws.ToString(f.Resources[0].Id) == resource {
				return f
			}
		}
		t.Fatalf("no finding about %s among %d", resource, len(got.Findings))
		return shtypes.AwsSecurityFinding{}
	}

	// Fixed: rotation turned back on.
	rot, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/orders"})
	if err != nil {
		t.Fatal(err)
	}
	out := handle("key-rotation", fixtures.WithKey(fixtures.Get("key-rotation/disable-key-rotation").Raw, rot, "", ""))
	if out.Action != "enable-rotation" {
		t.Fatalf("%+v", out)
	}
	f := finding(out.ResourceID)
	if f.Workflow == nil || f.Workflow.Status != shtypes.WorkflowStatusResolved || f.Compliance.Status != shtypes.ComplianceStatusPassed ||
		aws.ToString(f.AwsAccountId) != member || aws.ToString(f.ProductArn) != "arn:aws:securityhub:eu-west-1:"+member+":product/"+member+"/default" ||
		aws.ToString(f.Resources[0].Type) != "AwsKmsKey" || f.Severity.Label != shtypes.SeverityLabelHigh {
		t.Errorf("fixed finding %+v workflow %+v", f, f.Workflow)
	}
	if f.Remediation == nil || !strings.Contains(aws.ToString(f.Remediation.Recommendation.Text), "aws kms") {
		t.Errorf("remediation %+v", f.Remediation)
	}

	// Alerted only: the deletion is left for a person.
	del, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/ledger"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.kms().ScheduleKeyDeletion(w.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(del), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	out = handle("key-deletion", fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, del, "", ""))
	if out.Action != guardrail.ActionNone || !out.Alerted {
		t.Fatalf("%+v", out)
	}
	f = finding(out.ResourceID)
	if f.Workflow == nil || f.Workflow.Status != shtypes.WorkflowStatusNew || f.Compliance.Status != shtypes.ComplianceStatusFailed ||
		f.Severity.Label != shtypes.SeverityLabelCritical || !strings.Contains(aws.ToString(f.Title), "NOT cancelled") {
		t.Errorf("alerted finding %+v workflow %+v", f, f.Workflow)
	}

	off := newWorld(t, `{"modes":{"guardrails":{"key-deletion":"alert"}}}`)
	if off.hub.Findings("key-rotation") != nil {
		t.Error("a reporter with security_hub off")
	}
}
