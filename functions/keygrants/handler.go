package keygrants

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
	"github.com/kmsguard/kmsguard/functions/internal/trust"
)

// State is what the guardrail read: the key, the trust model with what
// Organizations said about the accounts involved, and the grants decided
// about (the event's one, or a listed key's grants that have findings).
type State struct {
	Key    kmskey.Key
	Model  trust.Model
	Unsure Unsure
	Grants []Grant
	// Gone: the event's grant no longer exists (revoked or retired since).
	Gone bool
	// Revoked are the grant ids kmsguard revoked (or found gone when it
	// tried).
	Revoked []string
}

// logic is the key-grants guardrail's part of guardrail.Logic.
type logic struct {
	kmskey.Common[kmsAPI, State]
	settings Settings
}

func newLogic(s Settings) guardrail.Logic[kmsAPI, State] {
	return &logic{Common: kmskey.Common[kmsAPI, State]{Key: func(s *State) *kmskey.Key { return &s.Key }}, settings: s}
}

func (l *logic) model(account string) trust.Model {
	return trust.Model{Account: account, TrustedAccounts: l.settings.TrustedAccounts}
}

// grantFromEvent is the grant a CreateGrant record describes.
func grantFromEvent(rec *cloudtrail.Record) (Grant, error) {
	req, resp, err := rec.KMS()
	if err != nil {
		return Grant{}, err
	}
	g := Grant{ID: resp.GrantID, Name: req.GrantName, Grantee: req.GranteePrincipal, Retiring: req.RetiringPrincipal,
		Operations: req.Operations, ViaService: rec.UserIdentity.InvokedBy}
	if c := req.Constraints; c != nil {
		g.Constraints = constraintText(c.EncryptionContextSubset, c.EncryptionContextEquals)
	}
	return g, nil
}

// learn asks the organization about the accounts a grant names outside
// the owner and the trusted accounts.
func learn(ctx context.Context, c *guardrail.Call[kmsAPI], st *State, g Grant) {
	if c.Org == nil {
		return
	}
	st.Model.MembersAsked = true
	for _, acct := range g.Accounts(st.Model) {
		if slices.Contains(st.Unsure, acct) {
			continue
		}
		switch member, known := c.Org.Member(ctx, acct); {
		case !known:
			st.Unsure = append(st.Unsure, acct)
		case member:
			st.Model.Members = append(st.Model.Members, acct)
		}
	}
}

// Observe decides from the event first: a grant an AWS service made, or
// one whose principals are all inside, costs no call at all (CreateGrant
// is among KMS's busiest events: every encrypted EBS volume attached makes
// one). Otherwise it asks the organization about the outside accounts,
// then reads the key and the grant as they are now.
func (l *logic) Observe(ctx context.Context, c *guardrail.Call[kmsAPI]) (State, error) {
	g, err := grantFromEvent(c.Event.Record)
	if err != nil {
		return State{}, guardrail.Terminal(err)
	}
	st := State{Model: l.model(c.Account), Grants: []Grant{g}}
	st.Key = eventKey(c)
	if len(Analyze(g, st.Model, nil).Findings) == 0 {
		return st, nil
	}
	learn(ctx, c, &st, g)
	if len(Analyze(g, st.Model, st.Unsure).Findings) == 0 {
		return st, nil
	}
	if st.Key, err = kmskey.Lookup(ctx, c.API, c.Target); err != nil || !st.Key.Found || st.Key.AWSManaged() || g.ID == "" {
		return st, err
	}
	cur, found, err := getGrant(ctx, c.API, st.Key.ID(), g.ID)
	switch {
	case err != nil:
		return st, err
	case !found:
		st.Gone = true
	default:
		st.Grants[0] = cur
	}
	return st, nil
}

// eventKey is the key the event names, before it is read: its id and ARN.
func eventKey(c *guardrail.Call[kmsAPI]) kmskey.Key {
	ref, err := c.Event.Record.KeyRef()
	if err != nil || ref.ID == "" {
		return kmskey.Key{Found: true, Meta: kmstypes.KeyMetadata{KeyId: aws.String(c.Target)}}
	}
	return kmskey.Unread(ref.ID, ref.ARN, c.Account, c.Region)
}

// FromListing lists a customer managed key's grants and keeps those with
// findings; a key without any is not handed on.
func (l *logic) FromListing(ctx context.Context, c *guardrail.Call[kmsAPI], resource any) (State, bool, error) {
	k, err := kmskey.ListedKey(resource)
	st := State{Key: k, Model: l.model(c.Account)}
	if err != nil || !k.Found || k.AWSManaged() {
		return st, false, err
	}
	grants, err := listGrants(ctx, c.API, k.ID())
	if err != nil {
		return st, true, err
	}
	var suspect []Grant
	for _, g := range grants {
		if len(Analyze(g, st.Model, nil).Findings) > 0 {
			suspect = append(suspect, g)
			learn(ctx, c, &st, g)
		}
	}
	for _, g := range suspect {
		if len(Analyze(g, st.Model, st.Unsure).Findings) > 0 {
			st.Grants = append(st.Grants, g)
		}
	}
	return st, len(st.Grants) > 0, nil
}

func (l *logic) Decide(in guardrail.Input[State]) guardrail.Decision {
	return decide(in.State, in.Mode)
}

// Act revokes every grant with a removable finding. It stops at the first
// failure: the alert says which grants were revoked and which not.
func (l *logic) Act(ctx context.Context, c *guardrail.Call[kmsAPI], s *State, _ guardrail.Decision) (string, error) {
	for _, g := range s.Grants {
		if !Analyze(g, s.Model, s.Unsure).Removable() {
			continue
		}
		if _, err := revoke(ctx, c.API, s.Key.ARN(), g.ID); err != nil {
			return "revoke-grant", err
		}
		s.Revoked = append(s.Revoked, g.ID)
	}
	return "revoke-grant", nil
}
