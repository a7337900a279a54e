package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

type fakeNames struct {
	names map[string]string
	err   error
	calls int
}

func (f *fakeNames) DescribeAccount(_ context.Context, in *organizations.DescribeAccountInput, _ ...func(*organizations.Options)) (*organizations.DescribeAccountOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	id := aws.ToString(in.AccountId)
	return &organizations.DescribeAccountOutput{Account: &orgtypes.Account{Id: in.AccountId, Name: aws.String(f.names[id])}}, nil
}

// Names are read once per NamesFor; an account whose name cannot be read
// shows its id and is asked again after NamesRetry, not on every alert.
func TestAccountNames_Cached(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	f := &fakeNames{names: map[string]string{"111122223333": "payments-prod"}}
	n := newAccountNames(f, slog.New(slog.DiscardHandler))
	n.now = func() time.Time { return now }
	ctx := context.Background()
	if got := n.AccountName(ctx, "111122223333"); got != "payments-prod" {
		t.Fatalf("name %q", got)
	}
	n.AccountName(ctx, "111122223333")
	if f.calls != 1 {
		t.Errorf("%d calls within %v", f.calls, NamesFor)
	}
	now = now.Add(NamesFor)
	n.AccountName(ctx, "111122223333")
	if f.calls != 2 {
		t.Errorf("not read again after %v", NamesFor)
	}

	f.err, f.calls = errors.New("AccessDeniedException: not a delegated administrator"), 0
	if got := n.AccountName(ctx, "444455556666"); got != "" {
		t.Errorf("unreadable name %q", got)
	}
	now = now.Add(NamesRetry - time.Second)
	n.AccountName(ctx, "444455556666")
	if f.calls != 1 {
		t.Errorf("%d calls within %v of a failure", f.calls, NamesRetry)
	}
	f.err = nil
	f.names["444455556666"] = "sandbox"
	now = now.Add(time.Second)
	if got := n.AccountName(ctx, "444455556666"); got != "sandbox" {
		t.Errorf("after %v: %q", NamesRetry, got)
	}
}
