package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/internal/headless"
	"github.com/kmsguard/kmsguard/internal/report"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// UpdateDocsEnv, set to 1, makes TestAudit_Formats write the top of the
// HTML report's screenshot (down to the third finding) to
// docs/img/audit-report.png (README, "Audit reports").
const UpdateDocsEnv = "KMSGUARD_UPDATE_DOCS"

// audit --format csv|ocsf|html on moto: a key pending deletion, a public
// key policy, keys without rotation, an orphaned key, a log group without
// a key where the logs key exists and one where it does not. Each format
// has every finding with the guardrail's own command, the exit code is 1
// (findings), and the HTML page opens in Chromium without a console error.
func TestAudit_Formats(t *testing.T) {
	ctx := context.Background()
	sb, err := sandbox.NewHub(ctx, srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, "")
	t.Setenv(runconfig.EnvHubAccount, fixtures.Account)
	pending := pendingKey(t, sb) // alias/cli
	if _, err := sb.LogsKey(ctx, fixtures.Account); err != nil {
		t.Fatal(err)
	}
	shared, err := sb.CreateKey(ctx, fixtures.Account, sandbox.KeySpec{Alias: "alias/shared-reports", Description: "reports shared with a partner"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := sb.KMS(ctx, fixtures.Account)
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"},`+
		`{"Sid":"ShareWithEveryone","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}`, fixtures.Account)
	if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(shared), PolicyName: aws.String("default"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.CreateKey(ctx, fixtures.Account, sandbox.KeySpec{Description: "left by a failed deployment"}); err != nil { // orphaned: no alias
		t.Fatal(err)
	}
	logs, _ := sb.Logs(ctx, fixtures.Account)
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/app/payments/api")}); err != nil {
		t.Fatal(err)
	}
	east, err := srv.AccountConfig(ctx, fixtures.Account, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cloudwatchlogs.NewFromConfig(east).CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/app/orders/worker")}); err != nil {
		t.Fatal(err)
	}
	asMember(t)
	audit := func(format string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, "audit", "--accounts", fixtures.Account, "--regions", "eu-west-1,us-east-1", "--format", format)
		if code != exitFailed {
			t.Fatalf("--format %s: exit %d, want %d (findings)\n%s\n%s", format, code, exitFailed, stdout, stderr)
		}
		return stdout
	}
	pendingARN := fmt.Sprintf("arn:aws:kms:eu-west-1:%s:key/%s", fixtures.Account, pending)

	// CSV: a header, a row per finding, the guardrail's commands.
	rows, err := csv.NewReader(strings.NewReader(audit("csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(report.CSVHeader, ",") {
		t.Fatalf("header %q", rows[0])
	}
	byResource := map[string][]string{}
	for _, r := range rows[1:] {
		byResource[r[2]+" "+r[3]] = r
	}
	fix := len(report.CSVHeader) - 1
	for res, want := range map[string]string{
		"key-deletion alias/cli":            "aws kms cancel-key-deletion --key-id " + pendingARN + " --region eu-west-1",
		"key-rotation alias/kmsguard/logs":  "aws kms enable-key-rotation --rotation-period-in-days 365 --key-id arn:aws:kms:eu-west-1:",
		"key-policy alias/shared-reports":   "aws kms get-key-policy --policy-name default --output text --query Policy --key-id arn:aws:kms:eu-west-1:",
		"log-encryption /app/payments/api":  "aws logs associate-kms-key --log-group-name /app/payments/api --region eu-west-1 --kms-key-id arn:aws:kms:eu-west-1:",
		"log-encryption /app/orders/worker": "the logs key alias/kmsguard/logs does not exist in us-east-1",
		"key-rotation alias/shared-reports": "aws kms enable-key-rotation",
	} {
		r, ok := byResource[res]
		if !ok {
			t.Errorf("csv has no row for %s; rows:\n%q", res, rows)
			continue
		}
		if !strings.Contains(r[fix], want) {
			t.Errorf("%s: what_you_can_do %q lacks %q", res, r[fix], want)
		}
	}

	// OCSF: one Compliance Finding per CSV row.
	var events []report.OCSFEvent
	if err := json.Unmarshal([]byte(audit("ocsf")), &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != len(rows)-1 {
		t.Fatalf("%d OCSF events, %d CSV rows", len(events), len(rows)-1)
	}
	for _, e := range events {
		if e.ClassUID != 2003 || e.TypeUID != 200301 || e.Cloud.Account.UID != fixtures.Account || e.FindingInfo.UID == "" || e.Resources[0].UID == "" {
			t.Errorf("event %+v", e)
		}
	}

	// HTML: the page, in a browser.
	page := audit("html")
	for _, want := range []string{"<caption>Per account</caption>", "<td>us-east-1</td>", "alias/shared-reports", "aws kms cancel-key-deletion --key-id " + pendingARN} {
		if !strings.Contains(page, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if code, _, stderr := runCLI(t, "audit", "--format", "bogus"); code != exitBadInput || !strings.Contains(stderr, `"bogus" is not one of text, json, csv, ocsf, html`) {
		t.Errorf("--format bogus: exit %d\n%s", code, stderr)
	}
	checkInBrowser(t, page, len(events)) // last: it skips the rest with KMSGUARD_NO_BROWSER=1 and no Chromium
}

// checkInBrowser opens the audit's HTML page in Chromium and keeps it and
// its screenshot in the test artifacts; with KMSGUARD_UPDATE_DOCS=1 the
// top of the screenshot, down to the third finding, becomes
// docs/img/audit-report.png.
func checkInBrowser(t *testing.T, page string, findings int) {
	chromium := headless.Require(t)
	dir := headless.Artifacts(t)
	file := filepath.Join(dir, "audit-report-moto.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := headless.Load(ctx, chromium, file, headless.Options{Eval: []string{"document.body.innerText", "document.querySelectorAll('article.finding').length",
		// where the docs' excerpt ends: above the third finding
		"Math.round((document.querySelectorAll('article.finding')[2] || document.body).getBoundingClientRect().top + window.scrollY - 8)"}})
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "audit-report-moto.png")
	if err := os.WriteFile(shot, p.Screenshot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("page %s, screenshot %s", file, shot)
	if len(p.Problems) > 0 {
		t.Errorf("the browser reported:\n%s", strings.Join(p.Problems, "\n"))
	}
	var text string
	var articles, excerpt int
	if json.Unmarshal(p.Values[0], &text) != nil || json.Unmarshal(p.Values[1], &articles) != nil || json.Unmarshal(p.Values[2], &excerpt) != nil {
		t.Fatalf("values %s", p.Values)
	}
	if !strings.Contains(text, "kmsguard audit report") || !strings.Contains(text, "alias/cli") || articles != findings {
		t.Errorf("the page shows %d findings of %d:\n%s", articles, findings, text)
	}
	if os.Getenv(UpdateDocsEnv) == "1" {
		root, err := headless.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		if excerpt <= 0 {
			excerpt = 2000
		}
		if err := writeTop(p.Screenshot, excerpt, filepath.Join(root, "docs", "img", "audit-report.png")); err != nil {
			t.Fatal(err)
		}
	}
}

// writeTop writes the top height pixels of a PNG to path.
func writeTop(shot []byte, height int, path string) error {
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		return err
	}
	b := img.Bounds()
	b.Max.Y = min(b.Max.Y, b.Min.Y+height)
	top := img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(b)
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, top); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}
