package keydeletion

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

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

// Observe reads the key with one DescribeKey; a deleted key (the native
// event) has nothing left to read.
func (l *logic) Observe(ctx context.Context, c *guardrail.Call[kmsAPI]) (State, error) {
	if c.Event.Record == nil {
		return State{}, nil
	}
	k, err := kmskey.Lookup(ctx, c.API, c.Target)
	st := State{Key: k}
	if err != nil || !k.Found {
		return st, err
	}
	rec := c.Event.Record
	switch rec.EventName {
	case EventDisableKey, EventEnableKey, EventCreateKey:
		// What this event did to the key's state goes in the ledger: it is
		// how kmsguard later knows whether a key scheduled for deletion
		// was Enabled or Disabled before. Best effort.
		state := "Enabled"
		if rec.EventName == EventDisableKey {
			state = "Disabled"
		}
		if c.KeyStates != nil {
			_ = c.KeyStates.RecordKeyState(ctx, c.Account, c.Region, k.ID(), state, c.Event.When(), c.Event.EventID())
			if rec.EventName == EventDisableKey && l.settings.ReenableDisabledKeys {
				if last := c.KeyStates.KeyStateBefore(ctx, c.Account, c.Region, k.ID(), time.Now()); last.State != "" && last.At.After(c.Event.When()) {
					st.Later = last
				}
			}
		}
	case EventScheduleKeyDeletion:
		st.Before = l.before(ctx, c, k, c.Event.When())
		st.Replicas = replicas(ctx, c, k)
	}
	return st, nil
}

// replicas reads the state of a multi-Region primary's replicas, each in
// its own Region, best effort: KMS deletes a primary only after every
// replica is gone (its state is PendingReplicaDeletion meanwhile,
// https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-delete.html),
// so the replicas scheduled for deletion are where the loss is.
func replicas(ctx context.Context, c *guardrail.Call[kmsAPI], k kmskey.Key) []Replica {
	cfg := k.Meta.MultiRegionConfiguration
	if cfg == nil || cfg.MultiRegionKeyType != kmstypes.MultiRegionKeyTypePrimary {
		return nil
	}
	var out []Replica
	for _, r := range cfg.ReplicaKeys {
		rep := Replica{Region: aws.ToString(r.Region), ARN: aws.ToString(r.Arn)}
		api, err := c.In(rep.Region)
		var rk kmskey.Key
		if err == nil {
			rk, err = kmskey.Lookup(ctx, api, rep.ARN)
		}
		switch {
		case err != nil:
			rep.Err = err.Error()
		case !rk.Found:
			rep.State = "deleted"
		default:
			rep.State, rep.DeletionDate = string(rk.Meta.KeyState), rk.Meta.DeletionDate
		}
		out = append(out, rep)
	}
	return out
}

// before is the key's state before its deletion was scheduled at t.
func (l *logic) before(ctx context.Context, c *guardrail.Call[kmsAPI], k kmskey.Key, t time.Time) guardrail.KeyStateSeen {
	if c.KeyStates == nil {
		return guardrail.KeyStateSeen{Source: "kmsguard keeps no ledger here (a local replay)"}
	}
	return c.KeyStates.KeyStateBefore(ctx, c.Account, c.Region, k.ID(), t)
}

// FromListing takes a listed key that is pending deletion.
func (l *logic) FromListing(ctx context.Context, c *guardrail.Call[kmsAPI], resource any) (State, bool, error) {
	k, err := kmskey.ListedKey(resource)
	s := k.Meta.KeyState
	relevant := err == nil && k.Found && !k.AWSManaged() && (s == kmstypes.KeyStatePendingDeletion || s == kmstypes.KeyStatePendingReplicaDeletion)
	st := State{Key: k}
	if relevant && k.Meta.DeletionDate != nil {
		// Scheduled at its deletion date minus the waiting period, which
		// DescribeKey does not give: the latest state before now is the
		// best the sweep can ask for.
		st.Before = l.before(ctx, c, k, time.Now())
	}
	if relevant {
		st.Replicas = replicas(ctx, c, k)
	}
	return st, relevant, err
}

func (l *logic) Decide(in Input) guardrail.Decision { return decide(in, l.settings) }

// States are the key's state as kmsguard found it (and before its
// deletion was scheduled) and as it left it, for the ledger.
func (l *logic) States(s State) (before, after string) {
	if s.Key.Found {
		before = string(s.Key.Meta.KeyState)
		if s.Before.State != "" {
			before += " (" + s.Before.State + " before it was scheduled)"
		}
	}
	if s.Rem != nil {
		after = string(s.Rem.FinalState)
	}
	return before, after
}

// Act cancels the deletion and, unless the key was Disabled before it was
// scheduled, enables it; the state it leaves goes in the ledger.
func (l *logic) Act(ctx context.Context, c *guardrail.Call[kmsAPI], s *State, _ guardrail.Decision) (string, error) {
	if c.Event != nil && c.Event.Record != nil && c.Event.Record.EventName == EventDisableKey {
		rem, err := enableAgain(ctx, c.API, s.Key.ID(), l.sleep)
		s.Rem = &rem
		if err == nil && c.KeyStates != nil {
			_ = c.KeyStates.RecordKeyState(ctx, c.Account, c.Region, s.Key.ID(), string(rem.FinalState), time.Now(), c.Event.EventID()+"-kmsguard")
		}
		return "enable-key", err
	}
	rem, err := remediate(ctx, c.API, s.Key.ID(), s.reEnable(), l.sleep)
	s.Rem = &rem
	if err == nil && c.KeyStates != nil && rem.FinalState != "" {
		id := "kmsguard"
		if c.Event != nil {
			id = c.Event.EventID() + "-kmsguard"
		}
		_ = c.KeyStates.RecordKeyState(ctx, c.Account, c.Region, s.Key.ID(), string(rem.FinalState), time.Now(), id)
	}
	if rem.Enabled {
		return "cancel-deletion,enable-key", err
	}
	return "cancel-deletion", err
}
