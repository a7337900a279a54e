package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// Account names are read with Organizations DescribeAccount, which answers
// in the management account and in a delegated administrator account
// (https://docs.aws.amazon.com/organizations/latest/APIReference/API_DescribeAccount.html);
// in any other hub it is denied, and alerts show the bare id.
const (
	// NamesFor is how long a name read is reused: accounts are rarely
	// renamed, and an alert must not wait on Organizations.
	NamesFor = time.Hour
	// NamesRetry is how long an account whose name could not be read
	// shows its bare id before kmsguard asks again.
	NamesRetry = 10 * time.Minute
	// NameWait bounds one DescribeAccount call: past it the alert goes
	// out with the id.
	NameWait = 2 * time.Second
)

// DescribeAccountAPI reads an account's name.
type DescribeAccountAPI interface {
	DescribeAccount(ctx context.Context, in *organizations.DescribeAccountInput, opts ...func(*organizations.Options)) (*organizations.DescribeAccountOutput, error)
}

// accountNames implements guardrail.AccountNames with a cache per process.
type accountNames struct {
	api DescribeAccountAPI
	log *slog.Logger
	now func() time.Time

	mu sync.Mutex
	m  map[string]cachedName
}

type cachedName struct {
	name string
	// member and known: whether Organizations answered that the account
	// is in the organization (DescribeAccount answers for members only,
	// AccountNotFoundException for any other account).
	member, known bool
	at            time.Time
}

func newAccountNames(api DescribeAccountAPI, log *slog.Logger) *accountNames {
	return &accountNames{api: api, log: log, now: time.Now, m: map[string]cachedName{}}
}

// AccountName is the account's name, "" when it cannot be read.
func (n *accountNames) AccountName(ctx context.Context, account string) string {
	return n.read(ctx, account).name
}

// Member reports whether the account is in the organization, from the
// same cached DescribeAccount answer that names it.
func (n *accountNames) Member(ctx context.Context, account string) (member, known bool) {
	c := n.read(ctx, account)
	return c.member, c.known
}

func (n *accountNames) read(ctx context.Context, account string) cachedName {
	n.mu.Lock()
	c, ok := n.m[account]
	n.mu.Unlock()
	// A name is kept an hour; "not a member" and "cannot tell" only
	// NamesRetry: an account just invited must not stay outside for long.
	if ok && (c.member && n.now().Sub(c.at) < NamesFor || !c.member && n.now().Sub(c.at) < NamesRetry) {
		return c
	}
	cctx, cancel := context.WithTimeout(ctx, NameWait)
	defer cancel()
	out, err := n.api.DescribeAccount(cctx, &organizations.DescribeAccountInput{AccountId: aws.String(account)},
		func(o *organizations.Options) { o.RetryMaxAttempts = 1 })
	c = cachedName{at: n.now()}
	var notFound *orgtypes.AccountNotFoundException
	var noOrg *orgtypes.AWSOrganizationsNotInUseException
	switch {
	case errors.As(err, &notFound):
		c.known = true // not a member
	case errors.As(err, &noOrg):
		// The hub itself is in no organization (a misconfigured or detached
		// hub): it cannot tell about anyone, so nothing is outside for sure.
		n.log.Warn("the hub is not in an organization: account names and membership unknown", "account", account)
	case err != nil:
		n.log.Warn("account name not read; alerts show the id", "account", account, "error", err.Error())
	case out.Account != nil:
		c.name, c.member, c.known = aws.ToString(out.Account.Name), true, true
	}
	n.mu.Lock()
	n.m[account] = c
	n.mu.Unlock()
	return c
}
