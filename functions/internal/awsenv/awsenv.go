// Package awsenv gives a guardrail AWS clients for the account and Region an
// event happened in: the hub's own credentials in the hub account, the
// kmsguard-remediator role everywhere else. Configs and clients are built
// once per account and Region and reused across invocations.
package awsenv

import (
	"fmt"
	"regexp"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// ValidRegion reports whether s looks like an AWS Region name.
func ValidRegion(s string) bool { return regionPattern.MatchString(s) }

// Partition returns the ARN partition of a Region.
func Partition(region string) string { return guardrail.Partition(region) }

// RoleARN is a role of a member account, in the Region's partition.
func RoleARN(account, region, roleName string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", Partition(region), account, roleName)
}

type target struct{ account, region string }

// Provider hands out configs per account and Region.
type Provider struct {
	base        aws.Config
	hubAccount  string
	roleName    string
	sessionName string
	stsFor      func(region string) stscreds.AssumeRoleAPIClient

	mu      sync.Mutex
	configs map[target]aws.Config
}

// NewProvider uses base (the Lambda's own credentials) directly in
// hubAccount and assumes roleName, with sessionName (so CloudTrail shows
// which guardrail acted), everywhere else.
func NewProvider(base aws.Config, hubAccount, roleName, sessionName string) *Provider {
	return &Provider{
		base:        base,
		hubAccount:  hubAccount,
		roleName:    roleName,
		sessionName: sessionName,
		configs:     map[target]aws.Config{},
		stsFor: func(region string) stscreds.AssumeRoleAPIClient {
			cfg := base.Copy()
			cfg.Region = region // regional STS endpoint, in the event's partition
			return sts.NewFromConfig(cfg)
		},
	}
}

// HubAccount is the account whose own credentials are used directly.
func (p *Provider) HubAccount() string { return p.hubAccount }

// As returns a provider with its own cache that assumes roleName in member
// accounts and names its sessions sessionName.
func (p *Provider) As(roleName, sessionName string) *Provider {
	q := NewProvider(p.base, p.hubAccount, roleName, sessionName)
	q.stsFor = p.stsFor
	return q
}

// Config returns the config for an account and Region. Credentials are
// fetched lazily by the SDK on first use and refreshed before they expire.
// Malformed account or Region values are terminal errors: they can only come
// from a forged or corrupt event.
func (p *Provider) Config(account, region string) (aws.Config, error) {
	if !guardrail.ValidAccountID(account) {
		return aws.Config{}, guardrail.Terminal(fmt.Errorf("account %q is not a 12-digit account id", account))
	}
	if !ValidRegion(region) {
		return aws.Config{}, guardrail.Terminal(fmt.Errorf("region %q is not a Region name", region))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := target{account, region}
	if cfg, ok := p.configs[t]; ok {
		return cfg, nil
	}
	cfg := p.base.Copy()
	cfg.Region = region
	if account != p.hubAccount {
		role := RoleARN(account, region, p.roleName)
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(p.stsFor(region), role, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = p.sessionName
		}))
	}
	p.configs[t] = cfg
	return cfg, nil
}
