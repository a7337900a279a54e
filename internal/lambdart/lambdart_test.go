package lambdart_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmsguard/kmsguard/internal/lambdart"
)

// The real key-deletion bootstrap starts under the emulated Runtime API,
// answers an invocation, and reports a bad event as a handled outcome.
func TestRealBootstrap(t *testing.T) {
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := lambdart.Build(context.Background(), filepath.Dir(strings.TrimSpace(string(root))), dir, []string{"key-deletion"}); err != nil {
		t.Fatal(err)
	}
	f, err := lambdart.Start(filepath.Join(dir, "key-deletion", "bootstrap"), "kmsguard-key-deletion", []string{
		"KMSGUARD_HUB_ACCOUNT=123456789012", "AWS_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_ENDPOINT_URL=http://127.0.0.1:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := f.TimeToFirstRequest(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := f.Invoke(ctx, []byte(`{"detail-type":"AWS API Call via CloudTrail","detail":"not an object"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != nil {
		t.Fatalf("bad input must not be retried, got error %v", res.Error)
	}
	var out map[string]any
	if err := json.Unmarshal(res.Payload, &out); err != nil || !strings.HasPrefix(out["reason"].(string), "rejected:") {
		t.Errorf("payload %s (%v)", res.Payload, err)
	}
	// The process's output is copied asynchronously; wait for the line.
	for i := 0; i < 100 && !strings.Contains(f.Output(), `"message":"decision"`); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(f.Output(), `"message":"decision"`) {
		t.Errorf("no JSON decision line in the function's logs:\n%s", f.Output())
	}
	// A cold-start failure is reported, not hidden.
	bad, err := lambdart.Start(filepath.Join(dir, "key-deletion", "bootstrap"), "kmsguard-key-deletion", []string{"KMSGUARD_HUB_ACCOUNT=nope", "AWS_REGION=eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Stop()
	if _, err := bad.Invoke(ctx, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "KMSGUARD_HUB_ACCOUNT") {
		t.Errorf("cold-start failure: %v", err)
	}
}
