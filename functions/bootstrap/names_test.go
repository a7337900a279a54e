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

// Membership comes from the same DescribeAccount: a member is named; an
// account Organizations does not know is outside; a hub in no
// organization, or one that is refused, cannot tell (a finding about the
// account is then reported, never acted on). "Outside" is asked again
// after NamesRetry, not kept an hour.
func TestAccountNames_Member(t *testing.T) {
	ctx := context.Background()
	for name, tt := range map[string]struct {
		err           error
		member, known bool
	}{
		"member":           {nil, true, true},
		"not a member":     {&orgtypes.AccountNotFoundException{Message: aws.String("not found")}, false, true},
		"hub in no org":    {&orgtypes.AWSOrganizationsNotInUseException{Message: aws.String("not in use")}, false, false},
		"refused":          {&orgtypes.AccessDeniedException{Message: aws.String("denied")}, false, false},
		"something broken": {errors.New("connection reset"), false, false},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeNames{names: map[string]string{"444455556666": "shared-services"}, err: tt.err}
			n := newAccountNames(f, slog.New(slog.DiscardHandler))
			now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
			n.now = func() time.Time { return now }
			if m, k := n.Member(ctx, "444455556666"); m != tt.member || k != tt.known {
				t.Errorf("member %v known %v", m, k)
			}
			now = now.Add(NamesRetry)
			n.Member(ctx, "444455556666")
			if want := map[bool]int{true: 1, false: 2}[tt.member]; f.calls != want {
				t.Errorf("%d calls after %v, want %d", f.calls, NamesRetry, want)
			}
		})
	}
}
