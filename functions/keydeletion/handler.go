package keydeletion

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/patterns"
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
	return &Guardrail{clients: clients, modes: modes, settings: settings, sleep: sleepCtx}
}

// Spec declares the guardrail.
func (g *Guardrail) Spec() guardrail.Spec { return Spec() }

// Evaluate handles one ScheduleKeyDeletion, DisableKey or KMS CMK Deletion event.
func (g *Guardrail) Evaluate(ctx context.Context, ev *cloudtrail.Event) (guardrail.Result, error) {
	spec := Spec()
	out := guardrail.Outcome{
		EventID: ev.EventID(), EventName: ev.Name(),
		Account: ev.AccountID(), Region: ev.RegionName(),
		Action: guardrail.ActionNone,
	}
	mode := g.modes.Resolve(out.Account, spec.ID, spec.DefaultMode)
	out.Mode, out.ModeSource = mode.Mode, mode.Source

	if ev.Record == nil {
		if ev.DetailType != EventKeyDeleted {
			return g.reject(out, fmt.Errorf("event detail-type %q is not handled by %s", ev.DetailType, spec.ID))
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
		return g.reject(out, fmt.Errorf("eventName %q is not handled by %s", rec.EventName, spec.ID))
	}
	if rec.ErrorCode != "" {
		out.Reason = "the call failed (" + rec.ErrorCode + "), so nothing changed"
		return guardrail.Result{Outcome: out}, nil
	}
	if role := rec.UserIdentity.IssuerRoleName(); patterns.IsKMSGuardActor(role) {
		out.Reason = "the call was made by kmsguard's own role " + role
		return guardrail.Result{Outcome: out}, nil
	}
	// A forwarded event keeps the sender's account in the envelope; a record
	// claiming another account is forged or corrupt, and acting on it would
	// let one member account steer kmsguard at another.
	if ev.Account != "" && rec.RecipientAccountID != "" && ev.Account != rec.RecipientAccountID {
		return g.reject(out, fmt.Errorf("event account %s does not match the record's recipientAccountId %s", ev.Account, rec.RecipientAccountID))
	}
	ref, err := rec.KeyRef()
	if err != nil {
		return g.reject(out, err)
	}
	if ref.Account != "" && ref.Account != out.Account {
		return g.reject(out, fmt.Errorf("key %s is in account %s, not in the event's account %s", ref.Raw, ref.Account, out.Account))
	}
	keyID := ref.ID
	if keyID == "" {
		keyID = ref.Raw // an alias: DescribeKey resolves it
	}
	out.Resource = keyID

	api, err := g.clients.Get(out.Account, out.Region)
	if err != nil {
		if guardrail.IsTerminal(err) {
			return g.reject(out, err)
		}
		return g.fail(out, ev, Observed{}, fmt.Errorf("AWS clients for %s/%s: %w", out.Account, out.Region, err))
	}
	obs, err := kmskey.Observe(ctx, api, keyID)
	if err != nil {
		return g.fail(out, ev, obs, err)
	}
	if obs.Found {
		out.Resource = obs.DisplayName()
	}
	d := decide(Input{
		EventName: rec.EventName, ActorARN: rec.UserIdentity.ARN, IssuerRoleARN: issuerARN(rec.UserIdentity),
		Observed: obs, Mode: mode.Mode, Settings: g.settings,
	})
	if d.Action != Cancel {
		return g.finish(out, ev, d, obs, nil, nil), nil
	}
	rem, err := remediate(ctx, api, obs.ID(), g.sleep)
	out.Action = "cancel-deletion"
	if rem.Enabled {
		out.Action = "cancel-deletion,enable-key"
	}
	if err != nil {
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

// reject ends an event that no retry can fix: logged, no alert.
func (g *Guardrail) reject(out guardrail.Outcome, err error) (guardrail.Result, error) {
	out.Reason = "rejected: " + err.Error()
	return guardrail.Result{Outcome: out}, guardrail.Terminal(err)
}

// fail ends an invocation whose reads failed: an alert says kmsguard could
// not check the key, and the error makes Lambda retry.
func (g *Guardrail) fail(out guardrail.Outcome, ev *cloudtrail.Event, obs Observed, err error) (guardrail.Result, error) {
	d := Decision{Action: Notify, Severity: guardrail.SeverityHigh, Verdict: "check FAILED",
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
		d.Severity, d.Verdict = guardrail.SeverityCritical, "remediation FAILED"
		out.Severity = d.Severity
		out.Reason = d.Reason + "; remediation failed: " + err.Error()
	}
	msg := renderAlert(out, ev, d, obs, rem, err)
	return guardrail.Result{Outcome: out, Alert: &msg}
}
