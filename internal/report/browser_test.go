package report_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmsguard/kmsguard/internal/headless"
)

// The HTML report in a real browser (Debian's Chromium, headless): it
// loads without a console error, an exception, a failed request or a
// dialog; the summary and every finding are on the page; a hostile
// resource name is shown as text and runs nothing. The page and its
// screenshot are left in the test artifacts (headless.Artifacts).
func TestHTML_InBrowser(t *testing.T) {
	chromium := headless.Require(t)
	a := hostile(sample())
	dir := headless.Artifacts(t)
	page := filepath.Join(dir, "audit-report-sample.html")
	if err := os.WriteFile(page, []byte(render(t, "html", a)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := headless.Load(ctx, chromium, page, headless.Options{Eval: []string{
		"document.body.innerText",
		"document.scripts.length + document.images.length + document.querySelectorAll('iframe, link, [onerror], [onmouseover], a[href]').length",
		"document.querySelectorAll('article.finding').length",
		"document.querySelectorAll('article.finding pre code').length",
	}})
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "audit-report-sample.png")
	if err := os.WriteFile(shot, p.Screenshot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("page %s, screenshot %s (%d bytes)", page, shot, len(p.Screenshot))
	if len(p.Problems) > 0 {
		t.Errorf("the browser reported:\n%s", strings.Join(p.Problems, "\n"))
	}
	var text string
	var active, articles, commands int
	for i, v := range []any{&text, &active, &articles, &commands} {
		if err := json.Unmarshal(p.Values[i], v); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"kmsguard audit report", "Per account", "Per Region", "Per guardrail",
		"alias/shared-reports", "aws kms put-key-policy --policy-name default", "<script>alert(1)</script>", "Orphaned keys (1)", "Not checked (2)"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	if active != 0 {
		t.Errorf("%d scripts, images, frames, links or event handlers on the page", active)
	}
	blocks := 0
	for _, f := range a.Findings {
		for _, s := range f.Remedy {
			if len(s.Commands) > 0 {
				blocks++
			}
		}
	}
	if articles != len(a.Findings) || commands != blocks {
		t.Errorf("%d findings and %d command blocks on the page, want %d and %d", articles, commands, len(a.Findings), blocks)
	}
}
