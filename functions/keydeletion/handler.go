package keydeletion

import (
	"context"
	"fmt"
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
// *awsenv.Clients satisfies it.
type ClientSource interface {
	Get(account, region string) (kmsAPI, error)
}

// Guardrail is the key-deletion guardrail.
type Guardrail struct {
	clients  ClientSource
	modes    guardrail.ModeLookup
	settings Settings
	sleep    func(context.Context, time.Duration) error
}

// New builds the guardrail around per-account KMS clients from provider.
func New(provider *awsenv.Provider, modes guardrail.ModeLookup, settings Settings) *Guardrail {
	clients := awsenv.NewClients(provider, func(c aws.Config) kmsAPI { return kms.NewFromConfig(c) })
	return newGuardrail(clients, modes, settings)
}

// newGuardrail is the seam tests use to pass fake clients.
func newGuardrail(clients ClientSource, modes guardrail.ModeLookup, settings Settings) *Guardrail {
	return &Guardrail{clients: clients, modes: modes, settings: settings, sleep: guardrail.Sleep}
}

// Spec declares the guardrail.
func (g *Guardrail) Spec() guardrail.Spec { return Spec() }

// Evaluate handles one ScheduleKeyDeletion, DisableKey or KMS CMK Deletion event.
func (g *Guardrail) Evaluate(ctx context.Context, ev *cloudtrail.Event) (guardrail.Result, error) {
	spec := Spec()
	out := guardrail.NewOutcome(ev, g.modes.Resolve(ev.AccountID(), spec.ID, spec.DefaultMode))
	out.Actor = ""

	if ev.Record == nil {
		if ev.DetailType != EventKeyDeleted {
			return guardrail.Reject(out, fmt.Errorf("event detail-type %q is not handled by %s", ev.DetailType, spec.ID))
		}
		out.Resource = ev.NativeKeyID
		if out.Resource == "" && len(ev.Resources) > 0 {
			out.Resource = ev.Resources[0]
		}
		d := decide(Input{EventName: EventKeyDeleted})
		return g.finish(out, ev, d, Observed{}, nil, nil), nil
	}

	rec := ev.Record
	out.Actor = rec.UserIdentity.Principal()
	if rec.EventName != EventScheduleKeyDeletion && rec.EventName != EventDisableKey {
		return guardrail.Reject(out, fmt.Errorf("eventName %q is not handled by %s", rec.EventName, spec.ID))
	}
	if skip, err := guardrail.CheckRecord(ev); err != nil || skip != "" {
		if err != nil {
			return guardrail.Reject(out, err)
		}
		out.Reason = skip
		return guardrail.Result{Outcome: out}, nil
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
		return g.fail(out, ev, Observed{}, fmt.Errorf("AWS clients for %s/%s: %w", out.Account, out.Region, err))
	}
	obs, err := kmskey.Lookup(ctx, api, keyID)
	if err != nil {
		return g.fail(out, ev, obs, err)
	}
	return g.decideAndAct(ctx, out, ev, api, obs)
}

// ReconcileKey is the sweep's entry: a key already observed in account and
// Region goes through the same decision and remediation as an event. Keys
// that are not pending deletion are skipped without a call.
func (g *Guardrail) ReconcileKey(ctx context.Context, account, region string, key Observed, now time.Time) (guardrail.Result, error) {
	s := key.Meta.KeyState
	if !key.Found || key.AWSManaged() || (s != kmstypes.KeyStatePendingDeletion && s != kmstypes.KeyStatePendingReplicaDeletion) {
		return guardrail.Result{}, nil
	}
	ev := guardrail.SweepEvent(account, region, "kms.amazonaws.com", EventScheduleKeyDeletion, key.ID(), now)
	spec := Spec()
	out := guardrail.NewOutcome(ev, g.modes.Resolve(account, spec.ID, spec.DefaultMode))
	api, err := g.clients.Get(account, region)
	if err != nil {
		return g.fail(out, ev, key, err)
	}
	return g.decideAndAct(ctx, out, ev, api, key)
}

// decideAndAct is the shared tail of Evaluate and ReconcileKey. It reads
// the key's tags only when the decision would act or alert (the exemption
// tag can only turn that into "allowed"), and its aliases only for an alert
// a person has to act on.
func (g *Guardrail) decideAndAct(ctx context.Context, out guardrail.Outcome, ev *cloudtrail.Event, api kmsAPI, obs Observed) (guardrail.Result, error) {
	rec := ev.Record
	in := Input{
		EventName: rec.EventName, ActorARN: rec.UserIdentity.ARN, IssuerRoleARN: issuerARN(rec.UserIdentity),
		Observed: obs, Mode: out.Mode, Settings: g.settings,
	}
	d := decide(in)
	if d.Action != Ignore && !obs.TagsRead {
		if err := obs.ReadTags(ctx, api); err != nil {
			return g.fail(out, ev, obs, err)
		}
		in.Observed = obs
		d = decide(in)
	}
	if d.Action == Notify {
		_ = obs.ReadAliases(ctx, api) // best effort: the alert names the ARN anyway
	}
	if obs.Found {
		out.Resource = obs.DisplayName()
	}
	if d.Action != Cancel {
		return g.finish(out, ev, d, obs, nil, nil), nil
	}
	rem, err := remediate(ctx, api, obs.ID(), g.sleep)
	out.Action = "cancel-deletion"
	if rem.Enabled {
		out.Action = "cancel-deletion,enable-key"
	}
	if err != nil {
		_ = obs.ReadAliases(ctx, api)
		out.Resource = obs.DisplayName()
		res := g.finish(out, ev, d, obs, &rem, err)
		return res, err
	}
	return g.finish(out, ev, d, obs, &rem, nil), nil
}

func issuerARN(u cloudtrail.UserIdentity) string {
	if u.SessionContext != nil && u.SessionContext.SessionIssuer != nil {
		return u.SessionContext.SessionIssuer.ARN
	}
	return ""
}

// fail ends an invocation whose reads failed: an alert says kmsguard could
// not check the key, and the error makes Lambda retry.
func (g *Guardrail) fail(out guardrail.Outcome, ev *cloudtrail.Event, obs Observed, err error) (guardrail.Result, error) {
	d := Decision{Action: Notify, Severity: guardrail.SeverityHigh, Verdict: guardrail.VerdictCheckFailed,
		Reason: "kmsguard could not read the key, so it could not check or protect it"}
	return g.finish(out, ev, d, obs, nil, err), err
}

// finish fills the outcome from the decision and renders the alert.
func (g *Guardrail) finish(out guardrail.Outcome, ev *cloudtrail.Event, d Decision, obs Observed, rem *remediation, err error) guardrail.Result {
	out.Reason = d.Reason
	out.Severity = d.Severity
	if d.Action == Ignore && err == nil {
		return guardrail.Result{Outcome: out}
	}
	if err != nil && rem != nil {
		d.Severity, d.Verdict = guardrail.RemediationFailed(&out, d.Reason, guardrail.SeverityCritical, err)
	}
	msg := renderAlert(out, ev, d, obs, rem, err)
	return guardrail.Result{Outcome: out, Alert: &msg}
}
