package sweep_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/account"
	accounttypes "github.com/aws/aws-sdk-go-v2/service/account/types"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// fakeAccount answers ListRegions as AWS Account Management does: the
// caller's own account without AccountId (the management account may not
// name itself), others with it; moto 5.2.1 has no ListRegions.
type fakeAccount struct {
	self    string
	enabled map[string][]string
	calls   []string
	err     error
}

func (f *fakeAccount) ListRegions(_ context.Context, in *account.ListRegionsInput, _ ...func(*account.Options)) (*account.ListRegionsOutput, error) {
	acct := aws.ToString(in.AccountId)
	f.calls = append(f.calls, acct)
	if f.err != nil {
		return nil, f.err
	}
	if acct == f.self {
		return nil, errors.New("ValidationException: the management account cannot name itself in AccountId")
	}
	if acct == "" {
		acct = f.self
	}
	if !slices.Equal(in.RegionOptStatusContains, []accounttypes.RegionOptStatus{accounttypes.RegionOptStatusEnabled, accounttypes.RegionOptStatusEnabledByDefault}) {
		return nil, errors.New("the sweep must ask for enabled Regions only")
	}
	out := &account.ListRegionsOutput{}
	for _, r := range f.enabled[acct] {
		out.Regions = append(out.Regions, accounttypes.Region{RegionName: aws.String(r), RegionOptStatus: accounttypes.RegionOptStatusEnabled})
	}
	return out, nil
}

func TestNotEnabled_AsksOnlyAboutOptInRegions(t *testing.T) {
	const hub, member = "111122223333", "444455556666"
	f := &fakeAccount{self: hub, enabled: map[string][]string{hub: {"af-south-1"}, member: {"me-central-1"}}}
	ctx := context.Background()
	if off, err := sweep.NotEnabled(ctx, f, member, hub, []string{"eu-west-1", "us-east-1"}); err != nil || off != nil || len(f.calls) != 0 {
		t.Errorf("no opt-in Region: %v %v, %d calls", off, err, len(f.calls))
	}
	if off, err := sweep.NotEnabled(ctx, f, member, hub, []string{"eu-west-1", "af-south-1", "me-central-1"}); err != nil || !slices.Equal(off, []string{"af-south-1"}) {
		t.Errorf("member: %v %v", off, err)
	}
	if off, err := sweep.NotEnabled(ctx, f, hub, hub, []string{"af-south-1", "me-central-1"}); err != nil || !slices.Equal(off, []string{"me-central-1"}) {
		t.Errorf("own account: %v %v", off, err)
	}
	f.err = errors.New("AccessDeniedException")
	if _, err := sweep.NotEnabled(ctx, f, member, hub, []string{"af-south-1"}); err == nil || !strings.Contains(err.Error(), "account:ListRegions") {
		t.Errorf("denied: %v", err)
	}
}

// Targets in an opt-in Region the account has not enabled are not swept;
// the digest counts and lists them, and says how to enable the Region.
func TestSweep_SkipsRegionsNotEnabled(t *testing.T) {
	const a = "111122223333"
	sb, err := sandbox.NewHub(context.Background(), srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	h, err := bootstrap.Load(context.Background(), bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &sb.Config, HubAccount: sandbox.HubAccount, ConfigJSON: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	targets := []sweep.Target{{Account: a, Region: "eu-west-1"}, {Account: a, Region: "af-south-1"}}
	f := &fakeAccount{self: sandbox.HubAccount, enabled: map[string][]string{}}
	rep, err := sweep.Run(context.Background(), h, sweep.Options{Targets: targets, Accounts: f, Self: sandbox.HubAccount})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.NotEnabled, []sweep.Target{{Account: a, Region: "af-south-1"}}) || len(rep.Errors) != 0 || !slices.Equal(f.calls, []string{a}) {
		t.Fatalf("not enabled %v, errors %v, calls %v", rep.NotEnabled, rep.Errors, f.calls)
	}
	d := sweep.Digest(rep)
	for _, want := range []string{"Regions not enabled", "111122223333/af-south-1", "aws account enable-region"} {
		if !strings.Contains(d.Body, want) {
			t.Errorf("digest lacks %q:\n%s", want, d.Body)
		}
	}
	if d.Severity != "WARNING" || !strings.Contains(d.Verdict, "1 Regions not enabled") {
		t.Errorf("digest %s %s", d.Severity, d.Verdict)
	}
	// Regions unreadable: everything is swept, and the digest says why once.
	f.err = errors.New("AccessDeniedException")
	rep, _ = sweep.Run(context.Background(), h, sweep.Options{Targets: targets, Accounts: f, Self: sandbox.HubAccount})
	if len(rep.NotEnabled) != 0 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "opt-in Regions not checked") {
		t.Errorf("denied: %v %v", rep.NotEnabled, rep.Errors)
	}
}
