package awsenv

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

type fakeSTS struct {
	calls []*sts.AssumeRoleInput
}

func (f *fakeSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.calls = append(f.calls, in)
	return &sts.AssumeRoleOutput{Credentials: &ststypes.Credentials{
		AccessKeyId: aws.String("ASIAFAKE"), SecretAccessKey: aws.String("s"), SessionToken: aws.String("t"), Expiration: aws.Time(farFuture),
	}}, nil
}

func newTestProvider(f *fakeSTS) *Provider {
	base := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("HUBKEY", "s", "")}
	p := NewProvider(base, "123456789012", "kmsguard-remediator-key-deletion", "kmsguard-key-deletion")
	p.stsFor = func(string) stscreds.AssumeRoleAPIClient { return f }
	return p
}

func TestProvider_HubAccountUsesOwnCredentials(t *testing.T) {
	f := &fakeSTS{}
	p := newTestProvider(f)
	cfg, err := p.Config("123456789012", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "HUBKEY" || len(f.calls) != 0 {
		t.Errorf("hub account: key %q, %d AssumeRole calls, err %v", creds.AccessKeyID, len(f.calls), err)
	}
	if cfg.Region != "us-east-1" {
		t.Errorf("region %s", cfg.Region)
	}
}

func TestProvider_MemberAccountAssumesTheGuardrailsRole(t *testing.T) {
	f := &fakeSTS{}
	p := newTestProvider(f)
	for i := 0; i < 3; i++ {
		cfg, err := p.Config("111122223333", "eu-west-1")
		if err != nil {
			t.Fatal(err)
		}
		creds, err := cfg.Credentials.Retrieve(context.Background())
		if err != nil || creds.AccessKeyID != "ASIAFAKE" {
			t.Fatalf("member credentials %q: %v", creds.AccessKeyID, err)
		}
	}
	if len(f.calls) != 1 {
		t.Fatalf("%d AssumeRole calls for one account and Region, want 1 (cached)", len(f.calls))
	}
	in := f.calls[0]
	if aws.ToString(in.RoleArn) != "arn:aws:iam::111122223333:role/kmsguard-remediator-key-deletion" || aws.ToString(in.RoleSessionName) != "kmsguard-key-deletion" {
		t.Errorf("assumed %s as %s", aws.ToString(in.RoleArn), aws.ToString(in.RoleSessionName))
	}
}

func TestProvider_RejectsForgedTargets(t *testing.T) {
	p := newTestProvider(&fakeSTS{})
	for _, tt := range []struct{ account, region string }{
		{"11112222333", "eu-west-1"},
		{"111122223333:role/Admin", "eu-west-1"},
		{"111122223333", "eu-west-1/../x"},
		{"111122223333", ""},
	} {
		_, err := p.Config(tt.account, tt.region)
		if err == nil || !guardrail.IsTerminal(err) {
			t.Errorf("%q/%q: err %v, want terminal", tt.account, tt.region, err)
		}
	}
}

func TestClients_CachedPerTarget(t *testing.T) {
	p := newTestProvider(&fakeSTS{})
	built := 0
	c := guardrail.ClientsOf(p, func(aws.Config) *int { built++; n := built; return &n })
	a1, _ := c.Get("111122223333", "eu-west-1")
	a2, _ := c.Get("111122223333", "eu-west-1")
	b, _ := c.Get("111122223333", "us-east-1")
	if a1 != a2 || a1 == b || built != 2 {
		t.Errorf("built %d clients", built)
	}
	if _, err := c.Get("bad", "eu-west-1"); err == nil {
		t.Error("bad account accepted")
	}
}

func TestPartition(t *testing.T) {
	for region, want := range map[string]string{"eu-west-1": "aws", "cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov"} {
		if got := Partition(region); got != want {
			t.Errorf("%s: %s", region, got)
		}
	}
	if got := RoleARN("111122223333", "cn-north-1", "kmsguard-remediator-key-rotation"); got != "arn:aws-cn:iam::111122223333:role/kmsguard-remediator-key-rotation" {
		t.Error(got)
	}
}

var farFuture = time.Now().Add(time.Hour)
