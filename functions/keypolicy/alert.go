package keypolicy

import (
	"fmt"
	"time"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

func (g *Guardrail) result(out guardrail.Outcome, ev *cloudtrail.Event, d Decision, key kmskey.Key, a Analysis, res *stripResult, err error) guardrail.Result {
	if err != nil && res != nil {
		d.Severity, d.Verdict = guardrail.RemediationFailed(&out, d.Reason, guardrail.SeverityCritical, err)
	}
	var b alert.Body
	name := out.Resource
	switch {
	case res != nil && err != nil:
		b.Para("kmsguard tried to remove public or untrusted statements from the policy of KMS key %s and FAILED.", name)
	case res != nil && !res.Unchanged:
		b.Para("kmsguard removed %d statement(s) granting public or untrusted access from the policy of KMS key %s.", len(res.Removed), name)
	case err != nil:
		b.Para("kmsguard could not check the policy of KMS key %s after %s.", name, out.EventName)
	default:
		b.Para("The policy of KMS key %s has findings: %s.", name, d.Verdict)
	}

	b.Section("What happened")
	b.Field("Event", out.EventName)
	b.Field("When", ev.When().UTC().Format(time.RFC3339))
	if req, _, kerr := ev.Record.KMS(); kerr == nil && req.BypassPolicyLockoutSafetyCheck {
		b.Field("Lockout check", "BYPASSED by the caller (bypassPolicyLockoutSafetyCheck=true)")
	}

	if len(a.Findings) > 0 {
		b.Section("Findings")
		for _, f := range a.Findings {
			b.Line("%s (statement %s): %s", f.Code, f.Statement, f.Message)
		}
	}

	b.Section("What kmsguard did")
	switch {
	case res != nil && err != nil:
		b.Line("Remediation failed: %s", err.Error())
	case res != nil && res.Unchanged:
		b.Line("Nothing: %s.", out.Reason)
	case res != nil:
		b.Line("Read the policy in place, removed the statements below with PutKeyPolicy (policy name default), and analyzed the result again:")
		for _, s := range res.Removed {
			b.Command("removed: " + alert.Clean(s, 2*alert.MaxField))
		}
		if codes := res.After.Codes(); len(codes) > 0 {
			b.Line("Still in the policy (alert-only): %v.", codes)
		} else {
			b.Line("The policy has no findings now.")
		}
	case err != nil:
		b.Line("Nothing: %s", err.Error())
	default:
		b.Line("Nothing. %s", alert.Sentence(d.Reason))
	}
	b.Field("Mode", fmt.Sprintf("%s (set by %s)", out.Mode, out.ModeSource))

	b.Actor(ev.Record)
	b.Where(out.Account, out.Region)
	if key.Found {
		b.Section("Key")
		key.Describe(&b, "State")
		b.Field("Console", kmskey.ConsoleURL(out.Region, key.ID()))
	}
	if key.Found && alert.ShellSafe(key.ARN()) && alert.ShellSafe(out.Region) {
		k := fmt.Sprintf("--key-id %s --region %s", key.ARN(), out.Region)
		b.Section("What you can do")
		b.Line("Read the policy in place:")
		b.Command("aws kms get-key-policy --policy-name default --output text --query Policy " + k)
		if res != nil && !res.Unchanged && err == nil {
			b.Line("To undo, put the removed statements back into that policy and write it:")
		} else {
			b.Line("To fix it, edit that policy and write it back:")
		}
		b.Command("aws kms put-key-policy --policy-name default --policy file://policy.json " + k)
		b.Line("To exempt this key from the guardrail:")
		b.Command(fmt.Sprintf("aws kms tag-resource %s --tags TagKey=%s,TagValue=true", k, g.settings.exemptionTag()))
	}
	b.Section("Event")
	b.Field("Event id", out.EventID)
	b.Field("Guardrail", Spec().ID)

	verdict := d.Verdict
	if err != nil && res == nil {
		verdict = guardrail.VerdictCheckFailed
	}
	msg := alert.Message{
		Severity: string(out.Severity), Guardrail: Spec().ID, Account: out.Account, Region: out.Region,
		Resource: name, Action: out.Action, Verdict: verdict, EventID: out.EventID, Findings: out.Findings,
		Body: b.String(),
	}
	return guardrail.Result{Outcome: out, Alert: &msg}
}
