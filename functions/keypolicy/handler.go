package keypolicy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// State is the key, the analysis of the policy the decision is about (the
// caller's, from the event; the one in place, in a sweep) and, once
// kmsguard acted, what it removed.
type State struct {
	Key      kmskey.Key
	Analysis Analysis
	Strip    *stripResult
	// Previous is the last policy without findings kmsguard saw for the
	// key (its ledger), when the policy now has findings.
	Previous *guardrail.GoodPolicy
	// Restored says remediate mode put Previous back.
	Restored bool
}

// logic is the key-policy guardrail's part of guardrail.Logic.
type logic struct {
	kmskey.Common[kmsAPI, State]
	settings Settings
	// org is the organization learned from AWS when the settings do not
	// name it (single-account mode).
	org organization
}

func newLogic(s Settings) guardrail.Logic[kmsAPI, State] {
	return &logic{Common: kmskey.Common[kmsAPI, State]{Key: func(s *State) *kmskey.Key { return &s.Key }}, settings: s}
}

// organization remembers the account's organization once AWS said it.
type organization struct {
	mu    sync.Mutex
	id    string
	known bool
}

// analyze analyzes a policy; when a statement names an organization and
// the settings do not say the account's own, the organization is learned
// (organizations:DescribeOrganization, once per process) and the policy
// analyzed again. When it cannot be learned, the findings that depend on
// it stay unremovable.
func (l *logic) analyze(ctx context.Context, c *guardrail.Call[kmsAPI], policy string, bypass bool) Analysis {
	cx := l.context(c.Account, bypass)
	a := Analyze(policy, cx)
	if a.NeedsOrganization && l.settings.OrganizationID == "" && l.learnOrganization(ctx, c.API) {
		cx = l.context(c.Account, bypass)
		a = Analyze(policy, cx)
	}
	// A principal named in another account of the organization is inside:
	// the organization's membership (read by the hub, cached) settles it,
	// the same way key-grants decides (functions/internal/trust).
	if c.Org != nil && len(a.Outside) > 0 {
		for _, acct := range a.Outside {
			switch member, known := c.Org.Member(ctx, acct); {
			case !known:
				cx.Unsure = append(cx.Unsure, acct)
			case member:
				cx.Members = append(cx.Members, acct)
			}
		}
		if len(cx.Members)+len(cx.Unsure) > 0 {
			a = Analyze(policy, cx)
		}
	}
	return a
}

func (l *logic) learnOrganization(ctx context.Context, api kmsAPI) bool {
	l.org.mu.Lock()
	defer l.org.mu.Unlock()
	if l.org.known {
		return true
	}
	out, err := api.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	var notInOrg *orgtypes.AWSOrganizationsNotInUseException
	switch {
	case errors.As(err, &notInOrg):
		l.org.known = true // definitive: the account is in no organization
	case err == nil && out.Organization != nil:
		l.org.id, l.org.known = aws.ToString(out.Organization.Id), true
	}
	return l.org.known
}

func (l *logic) context(account string, bypass bool) Context {
	orgID, none := l.settings.OrganizationID, false
	if orgID == "" {
		l.org.mu.Lock()
		orgID, none = l.org.id, l.org.known && l.org.id == ""
		l.org.mu.Unlock()
	}
	return Context{
		Account: account, OrganizationID: orgID, NoOrganization: none,
		TrustedAccounts: l.settings.TrustedAccounts, AdminPrincipals: l.settings.AdminPrincipals,
		BypassLockoutCheck: bypass,
	}
}

// Observe reads the key and analyzes the policy the caller wrote: it is in
// the event (a JSON string inside JSON); KMS is asked only when the record
// lacks it.
func (l *logic) Observe(ctx context.Context, c *guardrail.Call[kmsAPI]) (State, error) {
	req, _, err := c.Event.Record.KMS()
	if err != nil {
		return State{}, guardrail.Terminal(err)
	}
	key, err := kmskey.Lookup(ctx, c.API, c.Target)
	if err != nil {
		return State{Key: key}, err
	}
	policy := req.Policy
	if policy == "" && key.Found && !key.AWSManaged() {
		if policy, err = getPolicy(ctx, c.API, key.ID()); err != nil {
			return State{Key: key}, err
		}
	}
	st := State{Key: key, Analysis: l.analyze(ctx, c, policy, req.BypassPolicyLockoutSafetyCheck)}
	l.remember(ctx, c, &st, policy, c.Event.When(), c.Event.EventID())
	return st, nil
}

// remember keeps a policy without findings in the ledger as the key's last
// good one, and finds the last good one for a policy with findings.
func (l *logic) remember(ctx context.Context, c *guardrail.Call[kmsAPI], st *State, policy string, at time.Time, eventID string) {
	if c.Policies == nil || !st.Key.Found || policy == "" || st.Analysis.Err != nil {
		return
	}
	if len(st.Analysis.Findings) == 0 {
		if prev, ok := c.Policies.LastGoodPolicy(ctx, c.Account, c.Region, st.Key.ID()); ok && prev.Policy == policy {
			return // already kept
		}
		_ = c.Policies.RecordGoodPolicy(ctx, c.Account, c.Region, st.Key.ID(), guardrail.GoodPolicy{Policy: policy, At: at, EventID: eventID})
		return
	}
	if prev, ok := c.Policies.LastGoodPolicy(ctx, c.Account, c.Region, st.Key.ID()); ok {
		st.Previous = &prev
	}
}

// FromListing reads and analyzes the policy in place of a listed key.
func (l *logic) FromListing(ctx context.Context, c *guardrail.Call[kmsAPI], resource any) (State, bool, error) {
	k, err := kmskey.ListedKey(resource)
	// A key without key material (PendingImport) is skipped, as the
	// sweep did before it handed such keys on (key-material reports them).
	if err != nil || !k.Found || k.AWSManaged() || k.Meta.KeyState == kmstypes.KeyStatePendingImport {
		return State{Key: k}, false, err
	}
	policy, err := getPolicy(ctx, c.API, k.ID())
	if err != nil {
		return State{Key: k}, true, err
	}
	st := State{Key: k, Analysis: l.analyze(ctx, c, policy, false)}
	l.remember(ctx, c, &st, policy, time.Now(), "sweep")
	return st, true, nil
}

func (l *logic) Decide(in guardrail.Input[State]) guardrail.Decision { return decide(in) }

// Act removes the removable statements from the policy in place now, not
// the one in the event: an out-of-order event must not bring back an older
// policy.
func (l *logic) Act(ctx context.Context, c *guardrail.Call[kmsAPI], s *State, d guardrail.Decision) (string, error) {
	if l.settings.RestorePrevious && s.Previous != nil {
		// The last good policy, if it still has no findings (trust may
		// have changed since): put it back whole.
		if a := Analyze(s.Previous.Policy, l.context(c.Account, false)); a.Err == nil && len(a.Findings) == 0 {
			if _, err := c.API.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(s.Key.ID()), PolicyName: aws.String(policyName), Policy: aws.String(s.Previous.Policy)}); err != nil {
				return "restore-previous-policy", fmt.Errorf("put back the previous policy of %s: %w", s.Key.ID(), err)
			}
			s.Restored = true
			return "restore-previous-policy", nil
		}
	}
	stripped, err := strip(ctx, c.API, s.Key.ID(), l.context(c.Account, false))
	s.Strip = &stripped
	if err != nil {
		return "remove-statements", err
	}
	if stripped.Unchanged {
		return "", &guardrail.Declined{Decision: guardrail.Decision{Kind: guardrail.Notify, Severity: d.Severity, Verdict: "already fixed",
			Reason: "the findings were in the policy the caller wrote, but the policy in place now has nothing kmsguard removes"}}
	}
	return "remove-statements", nil
}
