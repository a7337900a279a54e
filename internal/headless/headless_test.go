package headless_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmsguard/kmsguard/internal/headless"
)

// The check catches what it is for: a page that logs an error, throws,
// fails to load a resource and opens a dialog reports each; a clean page
// reports nothing. Without this, "no console errors" could pass by
// listening to nothing.
func TestLoad_ReportsWhatThePageSaysIsWrong(t *testing.T) {
	chromium := headless.Require(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	bad := write("bad.html", `<!DOCTYPE html><html><head><title>bad</title></head><body><p>bad</p>
<img src="missing.png" alt="">
<script>console.error("kmsguard-console-error"); alert("kmsguard-dialog");</script>
<script>throw new Error("kmsguard-exception")</script></body></html>`)
	p, err := headless.Load(ctx, chromium, bad, headless.Options{})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(p.Problems, "\n")
	for _, want := range []string{"kmsguard-console-error", "kmsguard-dialog", "kmsguard-exception", "missing.png"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}

	good := write("good.html", `<!DOCTYPE html><html><head><title>good</title></head><body><h1>fine</h1></body></html>`)
	p, err = headless.Load(ctx, chromium, good, headless.Options{Eval: []string{"document.title", "document.body.innerText"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Problems) > 0 {
		t.Errorf("a clean page reported %q", p.Problems)
	}
	var title string
	if len(p.Values) != 2 || json.Unmarshal(p.Values[0], &title) != nil || title != "good" {
		t.Errorf("values %s", p.Values)
	}
	if !bytes.HasPrefix(p.Screenshot, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("the screenshot is not a PNG (%d bytes)", len(p.Screenshot))
	}
}
