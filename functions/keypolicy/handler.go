package keypolicy

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/awsenv"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// ClientSource returns the KMS client for an account and Region.
type ClientSource interface {
	Get(account, region string) (kmsAPI, error)
}

// Guardrail is the key-policy guardrail.
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

func (g *Guardrail) context(account string, bypass bool) Context {
	return Context{
		Account: account, OrganizationID: g.settings.OrganizationID,
		TrustedAccounts: g.settings.TrustedAccounts, AdminPrincipals: g.settings.AdminPrincipals,
		BypassLockoutCheck: bypass,
	}
}

// Evaluate handles one PutKeyPolicy or CreateKey event.
func (g *Guardrail) Evaluate(ctx context.Context, ev *cloudtrail.Event) (guardrail.Result, error) {
	out, res, err, done := guardrail.Begin(ev, Spec(), g.modes, "PutKeyPolicy", "CreateKey")
	if done {
		return res, err
	}
	req, _, err := ev.Record.KMS()
	if err != nil {
		return guardrail.Reject(out, err)
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
		return g.fail(out, ev, kmskey.Key{}, Analysis{}, fmt.Errorf("AWS clients for %s/%s: %w", out.Account, out.Region, err))
	}
	key, err := kmskey.Lookup(ctx, api, keyID)
	if err != nil {
		return g.fail(out, ev, key, Analysis{}, err)
	}
	if key.Found {
		out.Resource = key.ID()
	}
	// The policy the caller wrote is in the event (a JSON string inside
	// JSON); read it from KMS only when the record lacks it.
	policy := req.Policy
	if policy == "" && key.Found && !key.AWSManaged() {
		if policy, err = getPolicy(ctx, api, key.ID()); err != nil {
			return g.fail(out, ev, key, Analysis{}, err)
		}
	}
	return g.decideAndAct(ctx, out, ev, api, key, Analyze(policy, g.context(out.Account, req.BypassPolicyLockoutSafetyCheck)))
}

// ReconcileKey is the sweep's entry for a key already observed in account
// and Region: its policy in place is read and analyzed.
func (g *Guardrail) ReconcileKey(ctx context.Context, account, region string, key kmskey.Key, now time.Time) (guardrail.Result, error) {
	if !key.Found || key.AWSManaged() {
		return guardrail.Result{}, nil
	}
	ev := guardrail.SweepEvent(account, region, "kms.amazonaws.com", "PutKeyPolicy", key.ID(), now)
	spec := Spec()
	out := guardrail.NewOutcome(ev, g.modes.Resolve(account, spec.ID, spec.DefaultMode))
	out.Resource = key.DisplayName()
	api, err := g.clients.Get(account, region)
	if err != nil {
		return g.fail(out, ev, key, Analysis{}, err)
	}
	policy, err := getPolicy(ctx, api, key.ID())
	if err != nil {
		return g.fail(out, ev, key, Analysis{}, err)
	}
	return g.decideAndAct(ctx, out, ev, api, key, Analyze(policy, g.context(account, false)))
}

// decideAndAct is the shared tail of Evaluate and ReconcileKey. The key's
// tags are read only when the decision would act or alert, its aliases only
// for an alert a person has to act on.
func (g *Guardrail) decideAndAct(ctx context.Context, out guardrail.Outcome, ev *cloudtrail.Event, api kmsAPI, key kmskey.Key, analysis Analysis) (guardrail.Result, error) {
	out.Findings = analysis.Codes()
	in := Input{Key: key, Analysis: analysis, Mode: out.Mode, Settings: g.settings}
	d := decide(in)
	if d.Action != Ignore && !key.TagsRead {
		if err := key.ReadTags(ctx, api); err != nil {
			return g.fail(out, ev, key, analysis, err)
		}
		in.Key = key
		d = decide(in)
	}
	if d.Action == Notify {
		_ = key.ReadAliases(ctx, api) // best effort: the alert names the ARN anyway
	}
	if key.Found {
		out.Resource = key.DisplayName()
	}
	out.Reason, out.Severity = d.Reason, d.Severity
	if d.Action == Ignore {
		return guardrail.Result{Outcome: out}, nil
	}
	if d.Action == Notify {
		return g.result(out, ev, d, key, analysis, nil, nil), nil
	}
	// Remediate on the policy in place now, not the one in the event: an
	// out-of-order event must not bring back an older policy.
	stripped, err := strip(ctx, api, key.ID(), g.context(out.Account, false))
	if err != nil {
		_ = key.ReadAliases(ctx, api)
		out.Resource = key.DisplayName()
		out.Action = "remove-statements"
		return g.result(out, ev, d, key, analysis, &stripped, err), err
	}
	if stripped.Unchanged {
		d.Verdict = "already fixed"
		out.Reason = "the findings were in the policy the caller wrote, but the policy in place now has nothing kmsguard removes"
	} else {
		out.Action = "remove-statements"
	}
	return g.result(out, ev, d, key, analysis, &stripped, nil), nil
}

// fail: the key or its policy could not be read; alert and retry.
func (g *Guardrail) fail(out guardrail.Outcome, ev *cloudtrail.Event, key kmskey.Key, a Analysis, err error) (guardrail.Result, error) {
	d := Decision{Notify, guardrail.SeverityHigh, guardrail.VerdictCheckFailed, "kmsguard could not read the key or its policy, so it could not check it"}
	out.Reason, out.Severity = d.Reason, d.Severity
	return g.result(out, ev, d, key, a, nil, err), err
}
