//go:build live

package live_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestLive runs the scenarios in the sandbox account KMSGUARD_LIVE_ACCOUNT.
// It skips without that variable or without credentials, and refuses to run
// in any other account than the one named.
func TestLive(t *testing.T) {
	want := os.Getenv("KMSGUARD_LIVE_ACCOUNT")
	if want == "" {
		t.Skip("KMSGUARD_LIVE_ACCOUNT is not set: name the sandbox account to run the live suite in")
	}
	ctx := context.Background()
	region := os.Getenv("KMSGUARD_LIVE_REGION")
	if region == "" {
		region = "eu-west-1"
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		t.Skipf("no AWS configuration: %v", err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		t.Skipf("no AWS credentials: %v", err)
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Skipf("credentials do not work: %v", err)
	}
	if got := aws.ToString(id.Account); got != want {
		t.Fatalf("the credentials are for account %s, not the sandbox account %s named in KMSGUARD_LIVE_ACCOUNT: refusing to run", got, want)
	}
	runScenarios(t, env{cfg: cfg, account: want, region: region, run: fmt.Sprint(time.Now().Unix())})
}
