package keymaterial

import (
	"context"
	"fmt"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// logic is the key-material guardrail's part of guardrail.Logic.
type logic struct {
	kmskey.Common[kmsAPI, State]
	settings Settings
}

func newLogic(s Settings) guardrail.Logic[kmsAPI, State] {
	return &logic{Common: kmskey.Common[kmsAPI, State]{Key: func(s *State) *kmskey.Key { return &s.Key }}, settings: s}
}

// Observe reads the key with one DescribeKey: its origin, state, expiration
// model and ValidTo are the truth, whatever the event said (CloudTrail
// records validTo in a layout that is not RFC 3339).
func (l *logic) Observe(ctx context.Context, c *guardrail.Call[kmsAPI]) (State, error) {
	k, err := kmskey.Lookup(ctx, c.API, c.Target)
	return State{Key: k}, err
}

// FromListing takes a listed key whose material was imported (origin
// EXTERNAL); every other key is skipped without a call. The listing
// carries DescribeKey's answer, which is all decide needs.
func (l *logic) FromListing(ctx context.Context, c *guardrail.Call[kmsAPI], resource any) (State, bool, error) {
	k, err := kmskey.ListedKey(resource)
	if err != nil {
		return State{}, false, err
	}
	relevant := k.Found && !k.AWSManaged() && k.Meta.Origin == kmstypes.OriginTypeExternal
	return State{Key: k}, relevant, nil
}

func (l *logic) Decide(in guardrail.Input[State]) guardrail.Decision {
	return decide(in, l.settings.horizon())
}

// Act is never called: decide never asks to remediate (the spec has no
// write action, and only the material's owner can import it again).
func (l *logic) Act(context.Context, *guardrail.Call[kmsAPI], *State, guardrail.Decision) (string, error) {
	return "", fmt.Errorf("key-material never remediates: only the owner of the key material can import it")
}

// States are the key's state as kmsguard found it, for the ledger.
func (l *logic) States(s State) (before, after string) {
	if !s.Key.Found {
		return "", ""
	}
	before = string(s.Key.Meta.KeyState)
	if v := s.Key.Meta.ValidTo; v != nil {
		before += ", material valid to " + v.UTC().Format("2006-01-02T15:04:05Z")
	}
	return before, ""
}
