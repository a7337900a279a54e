package keyrotation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/awsenv"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// ClientSource returns the KMS client for an account and Region.
type ClientSource interface {
	Get(account, region string) (kmsAPI, error)
}

// Guardrail is the key-rotation guardrail.
type Guardrail struct {
	clients  ClientSource
	modes    guardrail.ModeLookup
	settings Settings
}

// New builds the guardrail around per-account KMS clients from provider.
func New(provider *awsenv.Provider, modes guardrail.ModeLookup, settings Settings) *Guardrail {
	return &Guardrail{clients: awsenv.NewClients(provider, func(c aws.Config) kmsAPI { return kms.NewFromConfig(c) }), modes: modes, settings: settings}
}

// Spec declares the guardrail.
func (g *Guardrail) Spec() guardrail.Spec { return Spec() }

// observed is what the handler read: the key from the event and, for a
// replica, its primary (rotation is a property of the primary).
type observed struct {
	key      kmskey.Key
	target   kmskey.Key
	region   string // the target's Region
	rotation Rotation
}

// Evaluate handles one DisableKeyRotation, EnableKeyRotation or CreateKey event.
//
// It reads as little as the decision needs: the rotation status first (one
// call settles the common "rotation is on" case), the tags only when it
// would act, and the key's metadata only when KMS refuses the status or the
// change, or when a person has to act on the alert. KMS's own refusal
// (disabled key, unsupported key, replica) is what sends it to the full read.
func (g *Guardrail) Evaluate(ctx context.Context, ev *cloudtrail.Event) (guardrail.Result, error) {
	out, res, err, done := guardrail.Begin(ev, Spec(), g.modes, "DisableKeyRotation", "EnableKeyRotation", "CreateKey")
	if done {
		return res, err
	}
	keyID, err := kmskey.FromEvent(ev)
	if err != nil {
		return guardrail.Reject(out, err)
	}
	out.Resource = keyID
	api, err := g.clients.Get(out.Account, out.Region)
	if err != nil {
		if guardrail.IsTerminal(err) {
			return guardrail.Reject(out, err)
		}
		return g.fail(out, ev, observed{}, err)
	}
	obs, ok, err := quickObserve(ctx, api, out.Account, out.Region, keyID)
	if err != nil {
		return g.fail(out, ev, obs, err)
	}
	if !ok {
		return g.evaluateFully(ctx, out, ev, keyID)
	}
	return g.decideAndAct(ctx, out, ev, api, obs, keyID)
}

// evaluateFully reads the key (and a replica's primary) completely and
// decides again.
func (g *Guardrail) evaluateFully(ctx context.Context, out guardrail.Outcome, ev *cloudtrail.Event, keyID string) (guardrail.Result, error) {
	out.Action = guardrail.ActionNone
	obs, api, err := g.observe(ctx, out.Account, out.Region, keyID)
	if err != nil {
		if guardrail.IsTerminal(err) {
			return guardrail.Reject(out, err)
		}
		return g.fail(out, ev, obs, err)
	}
	return g.decideAndAct(ctx, out, ev, api, obs, "")
}

// quickObserve reads only the rotation status of keyID. ok is false when
// that is not enough to go on: an alias names the key, or KMS refused the
// status (no such key, a key that cannot rotate, a state without rotation).
func quickObserve(ctx context.Context, api kmsAPI, account, region, keyID string) (observed, bool, error) {
	id, arn := keyID, ""
	switch {
	case strings.HasPrefix(keyID, "alias/"):
		return observed{}, false, nil
	case strings.HasPrefix(keyID, "arn:"):
		arn, id = keyID, keyID[strings.LastIndex(keyID, "/")+1:]
	default:
		arn = fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", guardrail.Partition(region), region, account, id)
	}
	r, err := rotationStatus(ctx, api, id)
	if refused(err) {
		return observed{}, false, nil
	}
	if err != nil {
		return observed{}, true, err
	}
	k := kmskey.Key{Found: true, Meta: kmstypes.KeyMetadata{KeyId: aws.String(id), Arn: aws.String(arn)}}
	return observed{key: k, target: k, region: region, rotation: r}, true, nil
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

// ReconcileKey is the sweep's entry for a key already observed in account
// and Region. Replicas are skipped: their primary is swept in its own Region.
func (g *Guardrail) ReconcileKey(ctx context.Context, account, region string, key kmskey.Key, now time.Time) (guardrail.Result, error) {
	if c := key.Meta.MultiRegionConfiguration; !key.Found || key.AWSManaged() || (c != nil && c.MultiRegionKeyType == kmstypes.MultiRegionKeyTypeReplica) {
		return guardrail.Result{}, nil
	}
	ev := guardrail.SweepEvent(account, region, "kms.amazonaws.com", "DisableKeyRotation", key.ID(), now)
	spec := Spec()
	out := guardrail.NewOutcome(ev, g.modes.Resolve(account, spec.ID, spec.DefaultMode))
	obs := observed{key: key, target: key, region: region}
	api, err := g.clients.Get(account, region)
	if err != nil {
		return g.fail(out, ev, obs, err)
	}
	if unsupported(key.Meta) != "" || key.Meta.KeyState != kmstypes.KeyStateEnabled {
		// Nothing a sweep can do, and nothing new to report every day.
		return guardrail.Result{}, nil
	}
	if obs.rotation, err = rotationStatus(ctx, api, key.ID()); err != nil {
		return g.fail(out, ev, obs, err)
	}
	return g.decideAndAct(ctx, out, ev, api, obs, "")
}

// decideAndAct is the shared tail of Evaluate and ReconcileKey. keyID is
// the key as the event named it while the key has not been read in full
// (Evaluate's quick path), "" once it has.
func (g *Guardrail) decideAndAct(ctx context.Context, out guardrail.Outcome, ev *cloudtrail.Event, api kmsAPI, obs observed, keyID string) (guardrail.Result, error) {
	in := Input{Key: obs.target, Rotation: obs.rotation, Mode: out.Mode, Settings: g.settings}
	d := decide(in)
	if d.Action != Ignore && !obs.target.TagsRead {
		if err := obs.target.ReadTags(ctx, api); err != nil {
			return g.fail(out, ev, obs, err)
		}
		if obs.key.ARN() == obs.target.ARN() {
			obs.key = obs.target
		}
		in.Key = obs.target
		d = decide(in)
	}
	if d.Action == Notify && keyID != "" {
		// A person has to act: give them the whole key.
		return g.evaluateFully(ctx, out, ev, keyID)
	}
	if d.Action == Notify && obs.key.ARN() == obs.target.ARN() {
		_ = obs.key.ReadAliases(ctx, api) // best effort: the alert names the ARN anyway
	}
	if obs.key.Found {
		out.Resource = obs.key.DisplayName()
	}
	out.Reason, out.Severity = d.Reason, d.Severity
	switch d.Action {
	case Ignore:
		return guardrail.Result{Outcome: out}, nil
	case Notify:
		return g.result(out, ev, d, obs, nil, nil), nil
	}
	out.Action = "enable-rotation"
	after, err := enable(ctx, api, obs.target.ID(), g.settings.period())
	if refused(err) && keyID != "" {
		// KMS says this key cannot take it (disabled, a replica, ...):
		// read it in full, which explains why or finds the primary.
		return g.evaluateFully(ctx, out, ev, keyID)
	}
	if err != nil {
		return g.result(out, ev, d, obs, &after, err), err
	}
	return g.result(out, ev, d, obs, &after, nil), nil
}

// observe reads the key and, for a replica, the primary in its Region; the
// rotation status is read only for keys that can rotate.
func (g *Guardrail) observe(ctx context.Context, account, region, keyID string) (observed, kmsAPI, error) {
	var obs observed
	api, err := g.clients.Get(account, region)
	if err != nil {
		return obs, nil, err
	}
	if obs.key, err = kmskey.Observe(ctx, api, keyID); err != nil {
		return obs, nil, err
	}
	obs.target, obs.region = obs.key, region
	if c := obs.key.Meta.MultiRegionConfiguration; obs.key.Found && c != nil && c.MultiRegionKeyType == kmstypes.MultiRegionKeyTypeReplica && c.PrimaryKey != nil {
		primaryRegion := aws.ToString(c.PrimaryKey.Region)
		if api, err = g.clients.Get(account, primaryRegion); err != nil {
			return obs, nil, err
		}
		if obs.target, err = kmskey.Observe(ctx, api, aws.ToString(c.PrimaryKey.Arn)); err != nil {
			return obs, nil, err
		}
		obs.region = primaryRegion
	}
	t := obs.target
	if t.Found && !t.AWSManaged() && unsupported(t.Meta) == "" && t.Meta.KeyState == kmstypes.KeyStateEnabled {
		if obs.rotation, err = rotationStatus(ctx, api, t.ID()); err != nil {
			return obs, nil, err
		}
	}
	return obs, api, nil
}

func (g *Guardrail) fail(out guardrail.Outcome, ev *cloudtrail.Event, obs observed, err error) (guardrail.Result, error) {
	d := Decision{Notify, guardrail.SeverityHigh, guardrail.VerdictCheckFailed, "kmsguard could not read the key or its rotation status, so it could not check it"}
	out.Reason, out.Severity = d.Reason, d.Severity
	return g.result(out, ev, d, obs, nil, err), err
}
