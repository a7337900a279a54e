package sweep_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alerttest"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

func TestDigest_Golden(t *testing.T) {
	start := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	r := &sweep.Report{
		Started: start, Finished: start.Add(42 * time.Second),
		Targets: []sweep.Target{{"111122223333", "eu-west-1"}, {"111122223333", "us-east-1"}, {"444455556666", "eu-west-1"}},
		Keys:    312, Groups: 1480,
		Findings: []sweep.Finding{
			{Target: sweep.Target{"111122223333", "eu-west-1"}, Guardrail: "key-deletion", Resource: "alias/payments", Severity: guardrail.SeverityCritical, Action: "cancel-deletion,enable-key", Reason: "the key was scheduled for deletion without an exemption tag or an allow-listed caller", Mode: guardrail.ModeRemediate},
			{Target: sweep.Target{"444455556666", "eu-west-1"}, Guardrail: "key-policy", Resource: "alias/shared", Severity: guardrail.SeverityCritical, Action: "none", Reason: "the key policy has PUBLIC findings and the guardrail runs in alert mode for this account", Findings: []string{"PUBLIC"}, Mode: guardrail.ModeAlert},
			{Target: sweep.Target{"111122223333", "us-east-1"}, Guardrail: "log-encryption", Resource: "/app/orders", Severity: guardrail.SeverityWarning, Action: "associate-kms-key", Reason: "the log group was not encrypted with a customer managed key", Mode: guardrail.ModeRemediate},
		},
		Orphans: []sweep.OrphanKey{{Target: sweep.Target{"111122223333", "eu-west-1"}, KeyID: "1234abcd-12ab-34cd-56ef-1234567890ab"}},
		Errors:  []string{"444455556666/us-east-1: operation error STS: AssumeRole, AccessDenied"},
	}
	m := sweep.Digest(r)
	alerttest.Check(t, m)
	alerttest.Golden(t, "sweep-digest", m)
	if m.Severity != "CRITICAL" || m.Verdict != "3 findings, 2 fixed, 1 not checked" {
		t.Errorf("%s / %s", m.Severity, m.Verdict)
	}
	clean := sweep.Digest(&sweep.Report{Started: start, Finished: start, Targets: r.Targets, Keys: 3})
	if clean.Severity != "INFO" || !strings.Contains(clean.Text(), "found nothing to report") {
		t.Errorf("clean digest: %s\n%s", clean.Severity, clean.Text())
	}
}

// The degraded-spoke alert: one per run, HIGH, every problem under its
// spoke with its fix, the account-wide (IAM) problems first.
func TestSpokeAlert_Golden(t *testing.T) {
	tg := func(a, r string) sweep.Target { return sweep.Target{Account: a, Region: r} }
	m, ok := sweep.SpokeAlert("20261130T030000Z", []sweep.SpokeIssue{
		{Target: tg("111122223333", "eu-west-1"), Check: sweep.CheckDLQ, Problem: "2 events are in the forwarding DLQ kmsguard-forward-dlq: they never reached the hub, so no guardrail saw them",
			Fix: "read them (aws sqs receive-message --queue-url https://sqs.eu-west-1.amazonaws.com/111122223333/kmsguard-forward-dlq --region eu-west-1 in account 111122223333), check the hub bus policy and the forwarder role, then run kmsguard audit --accounts 111122223333 --regions eu-west-1 to catch what they were about"},
		{Target: tg("111122223333", ""), Check: sweep.CheckMemberRoles, Problem: "1 member roles missing (kmsguard-remediator-key-rotation): their guardrails cannot act in this account",
			Fix: "deploy the global spoke to this account (StackSet kmsguard-global; in the management account, its kmsguard stack); if it is deployed, its roles were changed: update the stack instance (drift detection shows what changed) and find out who changed them"},
		{Target: tg("444455556666", "us-east-1"), Check: sweep.CheckForwarding, Problem: "1 forwarding rules do not target the hub bus (kmsguard-forward-kms-1 -> arn:aws:events:us-east-1:999999999999:event-bus/elsewhere): this account-Region's events do not reach the hub",
			Fix: "restore the rules' target arn:aws:events:eu-west-1:123456789012:event-bus/kmsguard by updating the regional spoke's stack instance here (StackSet drift detection shows what was changed), and find out who changed them"},
		{Target: tg("444455556666", "us-east-1"), Check: sweep.CheckLogsKey, Problem: "alias/kmsguard/logs is Disabled, not Enabled; CloudWatch Logs refuses a key it cannot use",
			Fix: "enable it if it was disabled by mistake (aws kms enable-key --key-id 1234abcd-12ab-34cd-56ef-1234567890ab --region us-east-1); key-deletion alerts on who disabled it"},
	})
	if !ok {
		t.Fatal("no alert")
	}
	alerttest.Check(t, m)
	alerttest.Golden(t, "spoke-health", m)
	if m.Severity != "HIGH" || m.Verdict != "3 spokes degraded" {
		t.Errorf("%s / %s", m.Severity, m.Verdict)
	}
}

func TestScheduledSweep_PublishesActionsAndOneDigest(t *testing.T) {
	w := newWorld(t)
	id, _ := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/sweep-me"})
	if _, err := w.kms().ScheduleKeyDeletion(w.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	// A healthy spoke: no degraded-spoke alert.
	if err := w.Spoke(w.ctx, member); err != nil {
		t.Fatal(err)
	}
	cfg := `{"modes":{},"sweep":{"accounts":["111122223333"],"regions":["eu-west-1"]}}`
	h, err := bootstrap.Load(context.Background(), bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &w.Config, TopicARN: w.TopicARN, HubAccount: sandbox.HubAccount, ConfigJSON: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := sweep.Scheduled(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	// The key: deletion cancelled, then its rotation turned on.
	if sum.Fixed != 2 || sum.Errors != 0 {
		t.Errorf("%+v", sum)
	}
	alerts, _ := w.Alerts(w.ctx)
	digests := 0
	for _, a := range alerts {
		if a.Attributes["guardrail"] == "sweep" {
			digests++
		}
	}
	if len(alerts) != sum.Fixed+1 || digests != 1 {
		t.Errorf("%d alerts, %d digests", len(alerts), digests)
	}
}

// The sweep finds the organization's accounts under the configured OUs,
// child OUs included, minus the excluded ones.
func TestSweepTargets_DiscoversTheOrganization(t *testing.T) {
	ctx := context.Background()
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	cfg, _ := srv.Config(ctx, "us-east-1")
	org := organizations.NewFromConfig(cfg)
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		t.Fatal(err)
	}
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	root := aws.ToString(roots.Roots[0].Id)
	workloads, _ := org.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: aws.String(root), Name: aws.String("workloads")})
	prod, _ := org.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: workloads.OrganizationalUnit.Id, Name: aws.String("prod")})
	newAccount := func(name, parent string) string {
		out, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.CreateAccountStatus.AccountId)
		if _, err := org.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: aws.String(id), SourceParentId: aws.String(root), DestinationParentId: aws.String(parent)}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	dev := newAccount("dev", aws.ToString(workloads.OrganizationalUnit.Id))
	live := newAccount("live", aws.ToString(prod.OrganizationalUnit.Id))
	skipped := newAccount("skipped", aws.ToString(prod.OrganizationalUnit.Id))
	outside := newAccount("outside", root)

	scope := &runconfig.SweepScope{Accounts: []string{"123456789012"}, Regions: []string{"eu-west-1", "us-east-1"},
		OrganizationalUnits: []string{aws.ToString(workloads.OrganizationalUnit.Id)}, ExcludedAccounts: []string{skipped}}
	targets, err := sweep.Targets(ctx, scope, org)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, tg := range targets {
		got[tg.Account]++
	}
	want := map[string]int{"123456789012": 2, dev: 2, live: 2}
	if len(got) != len(want) || got[dev] != 2 || got[live] != 2 || got["123456789012"] != 2 || got[skipped] != 0 || got[outside] != 0 {
		t.Errorf("targets per account %v, want %v", got, want)
	}
}
