package findings

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/internal/moto"
)

var srv *moto.Server

func TestMain(m *testing.M) { moto.RunTests(m, &srv) }

const account = "111122223333"

var keyARN = "arn:aws:kms:eu-west-1:" + account + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"

func outcome(action string) (guardrail.Outcome, alert.Message) {
	out := guardrail.Outcome{Guardrail: "key-deletion", EventID: "e1", EventName: "ScheduleKeyDeletion", Account: account, Region: "eu-west-1",
		Resource: "alias/orders", ResourceID: keyARN, Actor: "arn:aws:sts::111122223333:assumed-role/Admin/alice", Action: action,
		Reason: "the key was scheduled for deletion", Mode: guardrail.ModeRemediate}
	m := alert.Message{Severity: "CRITICAL", Guardrail: "key-deletion", Account: account, Region: "eu-west-1", Resource: "alias/orders",
		Verdict: "cancelled", Body: "Headline.\n\nWhat you can do\n  To delete it after all:\n    aws kms schedule-key-deletion --key-id k\n\nEvent\n  Event id:     e1\n"}
	return out, m
}

func TestNew_ASFF(t *testing.T) {
	out, m := outcome("cancel-deletion")
	f := New(out, m, time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	for name, got := range map[string]string{
		"Id":          aws.ToString(f.Id),
		"ProductArn":  aws.ToString(f.ProductArn),
		"Title":       aws.ToString(f.Title),
		"Description": aws.ToString(f.Description),
		"CreatedAt":   aws.ToString(f.CreatedAt),
		"Remediation": aws.ToString(f.Remediation.Recommendation.Text),
	} {
		want := map[string]string{
			"Id":          "kmsguard/key-deletion/" + account + "/eu-west-1/" + keyARN,
			"ProductArn":  "arn:aws:securityhub:eu-west-1:" + account + ":product/" + account + "/default",
			"Title":       "CRITICAL key-deletion: alias/orders 111122223333 eu-west-1 — cancelled",
			"Description": "The key was scheduled for deletion.",
			"CreatedAt":   "2026-11-30T09:00:00Z",
			"Remediation": "To delete it after all: aws kms schedule-key-deletion --key-id k",
		}[name]
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if f.Compliance.Status != shtypes.ComplianceStatusPassed || f.Severity.Label != shtypes.SeverityLabelCritical ||
		aws.ToString(f.Resources[0].Type) != "AwsKmsKey" || f.FindingProviderFields.Severity.Label != shtypes.SeverityLabelCritical {
		t.Errorf("%+v", f)
	}
	out.Action = guardrail.ActionNone
	if f := New(out, m, time.Now()); f.Compliance.Status != shtypes.ComplianceStatusFailed {
		t.Errorf("alert only: compliance %s", f.Compliance.Status)
	}
	if id := ID("g", account, "eu-west-1", strings.Repeat("x", 600)); len(id) > 512 || !strings.Contains(id, "sha256-") {
		t.Errorf("long id %d: %s", len(id), id)
	}
}

type clients struct{ api API }

func (c clients) Get(string, string) (API, error) { return c.api, nil }

// Against moto, patched to behave as AWS does: the finding is read back;
// a Region without Security Hub is ErrNotEnabled; another account's
// finding is refused (the default product ARN imports only one's own).
func TestReporter_Moto(t *testing.T) {
	ctx := context.Background()
	cfg, err := srv.AccountConfig(ctx, account, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	sh := securityhub.NewFromConfig(cfg)
	r := NewReporter(clients{sh})
	out, m := outcome(guardrail.ActionNone)
	if err := r.Report(ctx, out, m); !errors.Is(err, ErrNotEnabled) {
		t.Fatalf("before Security Hub is enabled: %v", err)
	}
	if _, err := sh.EnableSecurityHub(ctx, &securityhub.EnableSecurityHubInput{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Report(ctx, out, m); err != nil {
		t.Fatal(err)
	}
	read := func() shtypes.AwsSecurityFinding {
		got, err := sh.GetFindings(ctx, &securityhub.GetFindingsInput{})
		if err != nil || len(got.Findings) != 1 {
			t.Fatalf("%d findings, %v", len(got.Findings), err)
		}
		return got.Findings[0]
	}
	if f := read(); f.Workflow.Status != shtypes.WorkflowStatusNew || f.Compliance.Status != shtypes.ComplianceStatusFailed {
		t.Errorf("alerted: %+v %+v", f.Workflow, f.Compliance)
	}
	out.Action = "cancel-deletion"
	if err := r.Report(ctx, out, m); err != nil {
		t.Fatal(err)
	}
	if f := read(); f.Workflow.Status != shtypes.WorkflowStatusResolved || f.Compliance.Status != shtypes.ComplianceStatusPassed {
		t.Errorf("fixed: %+v %+v", f.Workflow, f.Compliance)
	}
	// It happens again and kmsguard only alerts: Security Hub reopens it.
	out.Action = guardrail.ActionNone
	if err := r.Report(ctx, out, m); err != nil {
		t.Fatal(err)
	}
	if f := read(); f.Workflow.Status != shtypes.WorkflowStatusNew {
		t.Errorf("reopened: %+v", f.Workflow)
	}
	other := out
	other.Account = "444455556666"
	if err := r.Report(ctx, other, m); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("another account's finding: %v", err)
	}
}
