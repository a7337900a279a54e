package keyrotation

import (
	"context"
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
	obs, api, err := g.observe(ctx, out.Account, out.Region, keyID)
	if err != nil {
		if guardrail.IsTerminal(err) {
			return guardrail.Reject(out, err)
		}
		return g.fail(out, ev, obs, err)
	}
	return g.decideAndAct(ctx, out, ev, api, obs)
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
	return g.decideAndAct(ctx, out, ev, api, obs)
}

// decideAndAct is the shared tail of Evaluate and ReconcileKey.
func (g *Guardrail) decideAndAct(ctx context.Context, out guardrail.Outcome, ev *cloudtrail.Event, api kmsAPI, obs observed) (guardrail.Result, error) {
	if obs.key.Found {
		out.Resource = obs.key.DisplayName()
	}
	d := decide(Input{Key: obs.target, Rotation: obs.rotation, Mode: out.Mode, Settings: g.settings})
	out.Reason, out.Severity = d.Reason, d.Severity
	switch d.Action {
	case Ignore:
		return guardrail.Result{Outcome: out}, nil
	case Notify:
		return g.result(out, ev, d, obs, nil, nil), nil
	}
	out.Action = "enable-rotation"
	after, err := enable(ctx, api, obs.target.ID(), g.settings.period())
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
	d := Decision{Notify, guardrail.SeverityHigh, "check FAILED", "kmsguard could not read the key or its rotation status, so it could not check it"}
	out.Reason, out.Severity = d.Reason, d.Severity
	return g.result(out, ev, d, obs, nil, err), err
}
