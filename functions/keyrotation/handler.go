package keyrotation

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// State is what the guardrail read: the key from the event and, for a
// replica, its primary (rotation is a property of the primary).
type State struct {
	Key    kmskey.Key
	Target kmskey.Key
	// Region is the target's Region.
	Region   string
	Rotation Rotation
	// After is the rotation kmsguard set.
	After *Rotation
	// Moved is set for UpdatePrimaryRegion: the primary's Region before
	// (the record's) and after; RotationRead says Rotation was read.
	Moved        *Move
	RotationRead bool
}

// Move is a multi-Region key's primary moving between Regions.
type Move struct{ From, To string }

// logic is the key-rotation guardrail's part of guardrail.Logic.
type logic struct {
	kmskey.Common[kmsAPI, State]
	settings Settings
}

func newLogic(s Settings) guardrail.Logic[kmsAPI, State] {
	return &logic{Common: kmskey.Common[kmsAPI, State]{Key: func(s *State) *kmskey.Key { return &s.Target }}, settings: s}
}

// Observe reads as little as the decision needs: the rotation status first
// (one call settles the common "rotation is on" case). The key's metadata
// is read only when KMS refuses the status (disabled, unsupported, gone),
// when an alias names the key, or when rotation needs fixing in alert mode
// (a person acts on that alert). In remediate mode, KMS's own refusal of
// the change sends Act to the full read.
func (l *logic) Observe(ctx context.Context, c *guardrail.Call[kmsAPI]) (State, error) {
	if c.Event.Record != nil && c.Event.Record.EventName == EventUpdatePrimaryRegion {
		return l.observeMove(ctx, c)
	}
	st, ok, err := quickObserve(ctx, c.API, c.Account, c.Region, c.Target)
	if err != nil {
		return st, err
	}
	if ok && (c.Mode == guardrail.ModeRemediate || problem(st.Rotation, l.settings) == "") {
		return st, nil
	}
	return l.observe(ctx, c, c.Target)
}

// FromListing takes a listed key that can rotate and reads its rotation
// status. Replicas are skipped: their primary is swept in its own Region.
func (l *logic) FromListing(ctx context.Context, c *guardrail.Call[kmsAPI], resource any) (State, bool, error) {
	k, err := kmskey.ListedKey(resource)
	st := State{Key: k, Target: k, Region: c.Region}
	if err != nil {
		return st, false, err
	}
	if !k.Described {
		// A lazy listing (SweepSpec.Lazy): the rotation status alone
		// settles the common case; only a key whose rotation needs fixing,
		// or that KMS refuses the status for, is described.
		r, serr := rotationStatus(ctx, c.API, k.ID())
		switch {
		case serr != nil && !refused(serr):
			return st, true, serr
		case serr == nil && problem(r, l.settings) == "":
			return st, false, nil
		}
		full, err := kmskey.Lookup(ctx, c.API, k.ID())
		if err != nil {
			return st, true, err
		}
		full.Tags, full.TagsRead, full.Aliases, full.AliasesRead = k.Tags, k.TagsRead, k.Aliases, k.AliasesRead
		k = full
		st = State{Key: k, Target: k, Region: c.Region, Rotation: r}
		if cfg := k.Meta.MultiRegionConfiguration; !k.Found || k.AWSManaged() || (cfg != nil && cfg.MultiRegionKeyType == kmstypes.MultiRegionKeyTypeReplica) {
			return st, false, nil
		}
		if unsupported(k.Meta) != "" || k.Meta.KeyState != kmstypes.KeyStateEnabled {
			return st, false, nil
		}
		if serr != nil {
			// KMS refused the status of a key that can rotate (it changed
			// state meanwhile): ask again rather than take "off" for it.
			st.Rotation, err = rotationStatus(ctx, c.API, k.ID())
			return st, true, err
		}
		return st, true, nil
	}
	if cfg := k.Meta.MultiRegionConfiguration; !k.Found || k.AWSManaged() || (cfg != nil && cfg.MultiRegionKeyType == kmstypes.MultiRegionKeyTypeReplica) {
		return st, false, nil
	}
	if unsupported(k.Meta) != "" || k.Meta.KeyState != kmstypes.KeyStateEnabled {
		// Nothing a sweep can do, and nothing new to report every day.
		return st, false, nil
	}
	st.Rotation, err = rotationStatus(ctx, c.API, k.ID())
	return st, true, err
}

func (l *logic) Decide(in guardrail.Input[State]) guardrail.Decision {
	return decide(in.State, in.Mode, l.settings)
}

// Exempt reads the target's tags; the key named by the event shows them too
// when it is the target.
func (l *logic) Exempt(ctx context.Context, c *guardrail.Call[kmsAPI], s *State, tag string) (bool, error) {
	api, err := c.In(s.Region)
	if err != nil {
		return false, err
	}
	if err := s.Target.ReadTags(ctx, api); err != nil {
		return false, err
	}
	if s.Key.ARN() == s.Target.ARN() {
		s.Key = s.Target
	}
	return s.Target.Exempt(tag), nil
}

// Enrich reads the aliases of the key the event named.
func (l *logic) Enrich(ctx context.Context, c *guardrail.Call[kmsAPI], s *State) {
	if s.Key.ARN() == s.Target.ARN() {
		_ = s.Key.ReadAliases(ctx, c.API)
	}
}

// Name is the key the event named.
func (l *logic) Name(s State) string {
	if s.Key.Found {
		return s.Key.DisplayName()
	}
	return ""
}

// Act turns rotation on with the configured period. When KMS refuses it
// for what the key is (disabled, a replica, unsupported) and the key was
// not read in full yet, the key is read in full: the decision is then made
// again on the full state (the only path where decide runs twice), which
// either explains the refusal or finds a replica's primary to act on.
func (l *logic) Act(ctx context.Context, c *guardrail.Call[kmsAPI], s *State, _ guardrail.Decision) (string, error) {
	api, err := c.In(s.Region)
	if err != nil {
		return "enable-rotation", err
	}
	after, err := enable(ctx, api, s.Target.ID(), l.settings.period())
	if refused(err) && !s.Target.Described {
		full, ferr := l.observe(ctx, c, c.Target)
		if ferr != nil {
			s.After = &Rotation{}
			return "enable-rotation", ferr
		}
		*s = full
		d := decide(full, c.Mode, l.settings)
		if d.Kind != guardrail.Remediate {
			return "", &guardrail.Declined{Decision: d}
		}
		if exempt, xerr := l.Exempt(ctx, c, s, l.settings.ExemptionTagOr(ExemptionTag)); xerr != nil || exempt {
			if xerr != nil {
				s.After = &Rotation{}
				return "enable-rotation", xerr
			}
			return "", &guardrail.Declined{Decision: guardrail.Decision{Kind: guardrail.Ignore,
				Reason: fmt.Sprintf("the key carries the exemption tag %s=true", l.settings.ExemptionTagOr(ExemptionTag))}}
		}
		if api, err = c.In(s.Region); err == nil {
			after, err = enable(ctx, api, s.Target.ID(), l.settings.period())
		}
	}
	s.After = &after
	return "enable-rotation", err
}

// quickObserve reads only the rotation status of keyID. ok is false when
// that is not enough to go on: an alias names the key, or KMS refused the
// status (no such key, a key that cannot rotate, a state without rotation).
func quickObserve(ctx context.Context, api kmsAPI, account, region, keyID string) (State, bool, error) {
	id, arn := keyID, ""
	switch {
	case strings.HasPrefix(keyID, "alias/"):
		return State{}, false, nil
	case strings.HasPrefix(keyID, "arn:"):
		arn, id = keyID, keyID[strings.LastIndex(keyID, "/")+1:]
	}
	r, err := rotationStatus(ctx, api, id)
	if refused(err) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, true, err
	}
	k := kmskey.Unread(id, arn, account, region)
	return State{Key: k, Target: k, Region: region, Rotation: r}, true, nil
}

// refused reports KMS declining a rotation call because of what the key is
// or its state: reading the key tells why, retrying does not help.
func refused(err error) bool {
	var (
		disabled    *kmstypes.DisabledException
		invalid     *kmstypes.KMSInvalidStateException
		unsupported *kmstypes.UnsupportedOperationException
		notFound    *kmstypes.NotFoundException
	)
	return err != nil && (errors.As(err, &disabled) || errors.As(err, &invalid) || errors.As(err, &unsupported) || errors.As(err, &notFound))
}

// observe reads the key and, for a replica, the primary in its Region; the
// rotation status is read only for keys that can rotate.
func (l *logic) observe(ctx context.Context, c *guardrail.Call[kmsAPI], keyID string) (State, error) {
	var st State
	api := c.API
	var err error
	if st.Key, err = kmskey.Lookup(ctx, api, keyID); err != nil {
		return st, err
	}
	st.Target, st.Region = st.Key, c.Region
	if cfg := st.Key.Meta.MultiRegionConfiguration; st.Key.Found && cfg != nil && cfg.MultiRegionKeyType == kmstypes.MultiRegionKeyTypeReplica && cfg.PrimaryKey != nil {
		st.Region = aws.ToString(cfg.PrimaryKey.Region)
		if api, err = c.In(st.Region); err != nil {
			return st, err
		}
		if st.Target, err = kmskey.Lookup(ctx, api, aws.ToString(cfg.PrimaryKey.Arn)); err != nil {
			return st, err
		}
	}
	t := st.Target
	if t.Found && !t.AWSManaged() && unsupported(t.Meta) == "" && t.Meta.KeyState == kmstypes.KeyStateEnabled {
		if st.Rotation, err = rotationStatus(ctx, api, t.ID()); err != nil {
			return st, err
		}
	}
	return st, nil
}

// observeMove reads a multi-Region key whose primary moved: the key in
// the record's Region (the former primary, now a replica) and the new
// primary in its Region, where rotation is set. UpdatePrimaryRegion writes
// two records, one in each Region; only the former primary's names both
// Regions, so the new primary's record is settled without a call.
func (l *logic) observeMove(ctx context.Context, c *guardrail.Call[kmsAPI]) (State, error) {
	req, _, err := c.Event.Record.KMS()
	if err != nil {
		return State{}, guardrail.Terminal(err)
	}
	mv := &Move{From: c.Region, To: req.PrimaryRegion}
	if mv.To == "" || mv.To == mv.From {
		return State{Moved: &Move{To: c.Region}}, nil
	}
	st := State{Moved: mv, Region: mv.To}
	if st.Key, err = kmskey.Lookup(ctx, c.API, c.Target); err != nil || !st.Key.Found {
		return st, err
	}
	api, err := c.In(mv.To)
	if err != nil {
		return st, err
	}
	if st.Target, err = kmskey.Lookup(ctx, api, st.Key.ID()); err != nil {
		return st, err
	}
	t := st.Target
	if !t.Found || t.AWSManaged() || unsupported(t.Meta) != "" {
		return st, nil
	}
	// Right after the call both copies may still be Updating (KMS
	// developer guide, "Updating the primary Region"); the rotation status
	// is the primary's and a move does not change it, so it is read
	// whatever the state, and a refusal is not a failure.
	r, err := rotationStatus(ctx, api, t.ID())
	switch {
	case err == nil:
		st.Rotation, st.RotationRead = r, true
	case !refused(err):
		return st, err
	}
	return st, nil
}
