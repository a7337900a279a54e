package keyrotation

import (
	"fmt"
	"time"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

func (g *Guardrail) result(out guardrail.Outcome, ev *cloudtrail.Event, d Decision, obs observed, after *Rotation, err error) guardrail.Result {
	if err != nil && after != nil {
		d.Severity, d.Verdict = guardrail.RemediationFailed(&out, d.Reason, guardrail.SeverityHigh, err)
	}
	if err != nil && after == nil {
		d.Verdict = guardrail.VerdictCheckFailed
	}
	var b alert.Body
	name := out.Resource
	replica := obs.target.Found && obs.key.Found && obs.target.ARN() != obs.key.ARN()
	switch {
	case after != nil && err != nil:
		b.Para("kmsguard tried to turn automatic rotation back on for KMS key %s and FAILED.", name)
	case after != nil:
		b.Para("kmsguard set automatic rotation of KMS key %s to every %d days.", name, g.settings.period())
	case err != nil:
		b.Para("kmsguard could not check the rotation of KMS key %s after %s.", name, out.EventName)
	default:
		b.Para("KMS key %s: %s.", name, d.Verdict)
	}

	b.Section("What happened")
	b.Field("Event", out.EventName)
	b.Field("When", ev.When().UTC().Format(time.RFC3339))
	if req, _, kerr := ev.Record.KMS(); kerr == nil && req.RotationPeriodInDays > 0 {
		b.Field("Period asked", fmt.Sprintf("%d days", req.RotationPeriodInDays))
	}

	b.Section("What kmsguard did")
	switch {
	case after != nil && err != nil:
		b.Line("Remediation failed: %s", err.Error())
	case after != nil:
		b.Line("Called EnableKeyRotation with RotationPeriodInDays=%d; KMS accepted it: rotation is on, every %s.", g.settings.period(), periodText(after.PeriodDays))
		b.Line("Why: %s.", d.Reason)
	case err != nil:
		b.Line("Nothing: %s", err.Error())
	default:
		b.Line("Nothing. %s", alert.Sentence(d.Reason))
	}
	if replica {
		b.Line("The key is a multi-Region replica; rotation is set on its primary %s in %s.", obs.target.ARN(), obs.region)
	}
	b.Field("Mode", fmt.Sprintf("%s (set by %s)", out.Mode, out.ModeSource))

	b.Actor(ev.Record)
	b.Where(out.Account, out.Region)
	if obs.key.Found {
		b.Section("Key")
		obs.key.Describe(&b, "State")
		b.Field("Console", kmskey.ConsoleURL(out.Region, obs.key.ID()))
	}
	t := obs.target
	if t.Found && alert.ShellSafe(t.ARN()) && alert.ShellSafe(obs.region) {
		k := fmt.Sprintf("--key-id %s --region %s", t.ARN(), obs.region)
		b.Section("What you can do")
		switch {
		case after != nil && err == nil:
			b.Line("If rotation must stay off for this key, exempt it, then disable rotation:")
			b.Command(fmt.Sprintf("aws kms tag-resource %s --tags TagKey=%s,TagValue=true", k, g.settings.exemptionTag()))
			b.Command("aws kms disable-key-rotation " + k)
		case d.Severity != guardrail.SeverityInfo:
			b.Line("To turn rotation on yourself:")
			b.Command(fmt.Sprintf("aws kms enable-key-rotation --rotation-period-in-days %d %s", g.settings.period(), k))
		}
	}
	b.Section("Event")
	b.Field("Event id", out.EventID)
	b.Field("Guardrail", Spec().ID)

	msg := alert.Message{
		Severity: string(out.Severity), Guardrail: Spec().ID, Account: out.Account, Region: out.Region,
		Resource: name, Action: out.Action, Verdict: d.Verdict, EventID: out.EventID, Findings: out.Findings,
		Body: b.String(),
	}
	return guardrail.Result{Outcome: out, Alert: &msg}
}
