package bootstrap

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
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
	at   time.Time
}

func newAccountNames(api DescribeAccountAPI, log *slog.Logger) *accountNames {
	return &accountNames{api: api, log: log, now: time.Now, m: map[string]cachedName{}}
}

// AccountName is the account's name, "" when it cannot be read.
func (n *accountNames) AccountName(ctx context.Context, account string) string {
	n.mu.Lock()
	c, ok := n.m[account]
	n.mu.Unlock()
	if ok && (c.name != "" && n.now().Sub(c.at) < NamesFor || c.name == "" && n.now().Sub(c.at) < NamesRetry) {
		return c.name
	}
	cctx, cancel := context.WithTimeout(ctx, NameWait)
	defer cancel()
	out, err := n.api.DescribeAccount(cctx, &organizations.DescribeAccountInput{AccountId: aws.String(account)},
		func(o *organizations.Options) { o.RetryMaxAttempts = 1 })
	name := ""
	if err != nil {
		n.log.Warn("account name not read; alerts show the id", "account", account, "error", err.Error())
	} else if out.Account != nil {
		name = aws.ToString(out.Account.Name)
	}
	n.mu.Lock()
	n.m[account] = cachedName{name: name, at: n.now()}
	n.mu.Unlock()
	return name
}
