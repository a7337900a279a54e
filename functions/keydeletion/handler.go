package keydeletion

import (
	"context"
	"fmt"
	"time"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// logic is the key-deletion guardrail's part of guardrail.Logic; the
// driver runs it.
type logic struct {
	kmskey.Common[kmsAPI, State]
	settings Settings
	sleep    func(context.Context, time.Duration) error
}

func newLogic(s Settings) guardrail.Logic[kmsAPI, State] {
	return &logic{Common: kmskey.Common[kmsAPI, State]{Key: func(s *State) *kmskey.Key { return &s.Key }}, settings: s, sleep: guardrail.Sleep}
}

// Target is the key the record names, or the native event's key.
func (l *logic) Target(ev *cloudtrail.Event) (string, error) {
	if ev.Record != nil {
		return kmskey.FromEvent(ev)
	}
	if ev.NativeKeyID != "" {
		return ev.NativeKeyID, nil
	}
	if len(ev.Resources) > 0 {
		return ev.Resources[0], nil
	}
	return "", guardrail.Terminal(fmt.Errorf("%s event names no key", ev.DetailType))
}

// Observe reads the key with one DescribeKey; a deleted key (the native
// event) has nothing left to read.
func (l *logic) Observe(ctx context.Context, c *guardrail.Call[kmsAPI]) (State, error) {
	if c.Event.Record == nil {
		return State{}, nil
	}
	k, err := kmskey.Lookup(ctx, c.API, c.Target)
	return State{Key: k}, err
}

// FromListing takes a listed key that is pending deletion.
func (l *logic) FromListing(_ context.Context, _ *guardrail.Call[kmsAPI], resource any) (State, bool, error) {
	k, err := kmskey.ListedKey(resource)
	s := k.Meta.KeyState
	relevant := err == nil && k.Found && !k.AWSManaged() && (s == kmstypes.KeyStatePendingDeletion || s == kmstypes.KeyStatePendingReplicaDeletion)
	return State{Key: k}, relevant, err
}

func (l *logic) Decide(in Input) guardrail.Decision { return decide(in, l.settings) }

// Act cancels the deletion and enables the key.
func (l *logic) Act(ctx context.Context, c *guardrail.Call[kmsAPI], s *State, _ guardrail.Decision) (string, error) {
	rem, err := remediate(ctx, c.API, s.Key.ID(), l.sleep)
	s.Rem = &rem
	if rem.Enabled {
		return "cancel-deletion,enable-key", err
	}
	return "cancel-deletion", err
}
