// Package findings reports kmsguard's alert-worthy outcomes to AWS Security
// Hub as AWS Security Finding Format (ASFF) findings, where security teams
// already triage.
//
// Where a finding goes: BatchImportFindings with the default product ARN
// must be called by the account the finding is about — "the identifier of
// the account that you are calling BatchImportFindings from needs to be the
// same as the AwsAccountId attribute for the finding"
// (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchImportFindings.html).
// So each finding is imported in the resource's own account and Region,
// through the guardrail's member role (the hub's own credentials for the
// hub account), with ProductArn
// arn:PARTITION:securityhub:REGION:ACCOUNT:product/ACCOUNT/default; a
// Security Hub administrator account and cross-Region aggregation then show
// every account's findings in one place. Security Hub accepts findings only
// where it is enabled: elsewhere the import is refused
// (InvalidAccessException) and kmsguard logs it and goes on — the alert is
// the product, the finding a copy.
//
// A finding's lifecycle: its Id is stable per guardrail and resource, so a
// later outcome updates it. An outcome kmsguard only alerted on is imported
// with Compliance FAILED and stays Workflow NEW (Security Hub sets NEW again
// when a PASSED finding turns FAILED). When kmsguard fixed the resource, the
// finding is imported with Compliance PASSED and then set to Workflow
// RESOLVED with BatchUpdateFindings: a finding provider cannot change
// Workflow with BatchImportFindings once the finding exists
// (https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html).
package findings

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
)

// API is what kmsguard calls in Security Hub.
type API interface {
	BatchImportFindings(ctx context.Context, in *securityhub.BatchImportFindingsInput, opts ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
	BatchUpdateFindings(ctx context.Context, in *securityhub.BatchUpdateFindingsInput, opts ...func(*securityhub.Options)) (*securityhub.BatchUpdateFindingsOutput, error)
}

// Actions are the IAM actions the reporter needs in each account.
var Actions = []string{"securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings"}

// SchemaVersion is the ASFF version kmsguard writes.
const SchemaVersion = "2018-10-08"

// ErrNotEnabled means Security Hub is not enabled in that account and
// Region: nothing was imported, and that is not a failure.
var ErrNotEnabled = errors.New("Security Hub is not enabled in this account and Region")

// ProductARN is the default product ARN of an account's own findings.
func ProductARN(account, region string) string {
	return fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", guardrail.Partition(region), region, account, account)
}

// ID is a finding's stable id: one per guardrail and resource, so each
// outcome updates the same finding. Security Hub allows 512 characters.
func ID(g, account, region, resource string) string {
	id := fmt.Sprintf("kmsguard/%s/%s/%s/%s", g, account, region, resource)
	if len(id) <= 512 {
		return id
	}
	sum := sha256.Sum256([]byte(resource))
	return fmt.Sprintf("kmsguard/%s/%s/%s/sha256-%s", g, account, region, hex.EncodeToString(sum[:]))
}

// Resolved reports an outcome in which kmsguard fixed the resource.
func Resolved(out guardrail.Outcome) bool {
	return out.Action != "" && out.Action != guardrail.ActionNone && out.Error == ""
}

// labels maps kmsguard's severities to ASFF's.
var labels = map[string]shtypes.SeverityLabel{
	string(guardrail.SeverityCritical): shtypes.SeverityLabelCritical,
	string(guardrail.SeverityHigh):     shtypes.SeverityLabelHigh,
	string(guardrail.SeverityWarning):  shtypes.SeverityLabelMedium,
	string(guardrail.SeverityInfo):     shtypes.SeverityLabelInformational,
}

// New is the ASFF finding of one outcome and its alert; now is when it is
// imported.
func New(out guardrail.Outcome, m alert.Message, now time.Time) shtypes.AwsSecurityFinding {
	resource := out.ResourceID
	if resource == "" {
		resource = out.Resource
	}
	label, ok := labels[m.Severity]
	if !ok {
		label = shtypes.SeverityLabelMedium
	}
	status := shtypes.ComplianceStatusFailed
	if Resolved(out) {
		status = shtypes.ComplianceStatusPassed
	}
	ts := now.UTC().Format(time.RFC3339)
	types := []string{"Software and Configuration Checks/AWS Security Best Practices"}
	f := shtypes.AwsSecurityFinding{
		SchemaVersion: aws.String(SchemaVersion),
		Id:            aws.String(ID(out.Guardrail, out.Account, out.Region, resource)),
		ProductArn:    aws.String(ProductARN(out.Account, out.Region)),
		ProductName:   aws.String("kmsguard"),
		CompanyName:   aws.String("kmsguard"),
		GeneratorId:   aws.String("kmsguard/" + out.Guardrail),
		AwsAccountId:  aws.String(out.Account),
		Region:        aws.String(out.Region),
		Types:         types,
		CreatedAt:     aws.String(ts),
		UpdatedAt:     aws.String(ts),
		Severity:      &shtypes.Severity{Label: label, Original: aws.String(m.Severity)},
		// Providers set severity and types here, so that a customer's own
		// changes to Severity and Types are kept on update.
		FindingProviderFields: &shtypes.FindingProviderFields{
			Severity: &shtypes.FindingProviderSeverity{Label: label, Original: aws.String(m.Severity)},
			Types:    types,
		},
		Title:       aws.String(bound(strings.TrimPrefix(m.Subject(), "[kmsguard] "), 256)),
		Description: aws.String(bound(alert.Sentence(out.Reason), 1024)),
		Compliance:  &shtypes.Compliance{Status: status},
		RecordState: shtypes.RecordStateActive,
		Resources: []shtypes.Resource{{
			Type:      aws.String(resourceType(resource)),
			Id:        aws.String(bound(resource, 512)),
			Partition: shtypes.Partition(guardrail.Partition(out.Region)),
			Region:    aws.String(out.Region),
		}},
		ProductFields: productFields(out, m),
	}
	if todo := section(m.Text(), "What you can do"); todo != "" {
		f.Remediation = &shtypes.Remediation{Recommendation: &shtypes.Recommendation{Text: aws.String(bound(todo, 512))}}
	}
	return f
}

// resourceType is the ASFF resource type: AwsKmsKey for a key; a log group
// has no ASFF resource type, so it is Other, as ASFF asks for a resource
// that matches none
// (https://docs.aws.amazon.com/securityhub/latest/userguide/asff-resources.html).
func resourceType(id string) string {
	if strings.HasPrefix(id, "arn:") && strings.Contains(id, ":kms:") && strings.Contains(id, ":key/") {
		return "AwsKmsKey"
	}
	return "Other"
}

func productFields(out guardrail.Outcome, m alert.Message) map[string]string {
	f := map[string]string{
		"kmsguard/Guardrail": out.Guardrail,
		"kmsguard/Action":    out.Action,
		"kmsguard/Mode":      string(out.Mode),
		"kmsguard/EventName": out.EventName,
		"kmsguard/EventId":   out.EventID,
		"kmsguard/Resource":  out.Resource,
		"kmsguard/Actor":     out.Actor,
		"kmsguard/Verdict":   m.Verdict,
	}
	if len(out.Findings) > 0 {
		f["kmsguard/Findings"] = strings.Join(out.Findings, ", ")
	}
	for k, v := range f {
		if v = alert.Clean(v, 2048); v == "" {
			delete(f, k) // Security Hub refuses empty values
		} else {
			f[k] = v
		}
	}
	return f
}

// section is the text under a heading of an alert body, up to the next
// heading.
func section(body, heading string) string {
	lines := strings.Split(body, "\n")
	var out []string
	in := false
	for _, l := range lines {
		switch {
		case l == heading:
			in = true
		case in && l != "" && !strings.HasPrefix(l, " "):
			return strings.Join(out, " ")
		case in && strings.TrimSpace(l) != "":
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, " ")
}

func bound(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// Reporter imports findings in each resource's account and Region.
type Reporter struct {
	clients guardrail.Clients[API]
	now     func() time.Time
}

// NewReporter reports through clients: one per account and Region, with
// that account's credentials.
func NewReporter(clients guardrail.Clients[API]) *Reporter {
	return &Reporter{clients: clients, now: time.Now}
}

// Item is one outcome and its alert.
type Item struct {
	Out guardrail.Outcome
	Msg alert.Message
}

// MaxBatch is how many findings one BatchImportFindings or
// BatchUpdateFindings call takes.
const MaxBatch = 100

// Report imports the outcome's finding and, when kmsguard fixed the
// resource, marks it RESOLVED. ErrNotEnabled (wrapped) means Security Hub
// is off there.
func (r *Reporter) Report(ctx context.Context, out guardrail.Outcome, m alert.Message) error {
	return r.ReportAll(ctx, out.Account, out.Region, []Item{{out, m}})
}

// ReportAll imports the findings of one account and Region, MaxBatch per
// call, then marks RESOLVED the ones kmsguard fixed. It goes on past a
// refused finding and returns every problem joined.
func (r *Reporter) ReportAll(ctx context.Context, account, region string, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	api, err := r.clients.Get(account, region)
	if err != nil {
		return fmt.Errorf("Security Hub client for %s/%s: %w", account, region, err)
	}
	now := r.now()
	var errs []error
	var resolved []shtypes.AwsSecurityFindingIdentifier
	for start := 0; start < len(items); start += MaxBatch {
		batch := items[start:min(start+MaxBatch, len(items))]
		fs := make([]shtypes.AwsSecurityFinding, len(batch))
		for i, it := range batch {
			fs[i] = New(it.Out, it.Msg, now)
		}
		res, err := api.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: fs})
		var denied *shtypes.InvalidAccessException
		switch {
		case errors.As(err, &denied):
			return fmt.Errorf("%s/%s: %w (%s)", account, region, ErrNotEnabled, denied.ErrorMessage())
		case err != nil:
			errs = append(errs, fmt.Errorf("import %d findings: %w", len(fs), err))
			continue
		}
		failed := map[string]bool{}
		for _, f := range res.FailedFindings {
			failed[aws.ToString(f.Id)] = true
			errs = append(errs, fmt.Errorf("import finding %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage)))
		}
		for i, it := range batch {
			if Resolved(it.Out) && !failed[aws.ToString(fs[i].Id)] {
				resolved = append(resolved, shtypes.AwsSecurityFindingIdentifier{Id: fs[i].Id, ProductArn: fs[i].ProductArn})
			}
		}
	}
	for start := 0; start < len(resolved); start += MaxBatch {
		ids := resolved[start:min(start+MaxBatch, len(resolved))]
		up, err := api.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
			FindingIdentifiers: ids,
			Workflow:           &shtypes.WorkflowUpdate{Status: shtypes.WorkflowStatusResolved},
			Note:               &shtypes.NoteUpdate{Text: aws.String("kmsguard fixed it"), UpdatedBy: aws.String("kmsguard")},
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("resolve %d findings: %w", len(ids), err))
			continue
		}
		for _, u := range up.UnprocessedFindings {
			id := ""
			if u.FindingIdentifier != nil {
				id = aws.ToString(u.FindingIdentifier.Id)
			}
			errs = append(errs, fmt.Errorf("resolve finding %s: %s: %s", id, aws.ToString(u.ErrorCode), aws.ToString(u.ErrorMessage)))
		}
	}
	return errors.Join(errs...)
}
