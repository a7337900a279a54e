package keypolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// A is what the key-policy alert is written from.
type A = guardrail.Alert[State]

func (l *logic) Headline(a *A) string {
	name := a.Outcome.Resource
	switch {
	case a.Acted && a.Failed():
		return fmt.Sprintf("kmsguard tried to remove public or untrusted statements from the policy of KMS key %s and FAILED.", name)
	case a.Acted && a.State.Restored:
		return fmt.Sprintf("kmsguard put back the last policy without findings of KMS key %s.", name)
	case a.Acted:
		return fmt.Sprintf("kmsguard removed %d statement(s) granting public or untrusted access from the policy of KMS key %s.", len(a.State.Strip.Removed), name)
	case a.Failed():
		return fmt.Sprintf("kmsguard could not check the policy of KMS key %s after %s.", name, a.Outcome.EventName)
	}
	return fmt.Sprintf("The policy of KMS key %s has findings: %s.", name, a.Decision.Verdict)
}

func (l *logic) Happened(b *alert.Body, a *A) {
	if req, _, kerr := a.Event.Record.KMS(); kerr == nil && req.BypassPolicyLockoutSafetyCheck {
		b.Field("Lockout check", "BYPASSED by the caller (bypassPolicyLockoutSafetyCheck=true)")
	}
	if f := a.State.Analysis.Findings; len(f) > 0 {
		b.Section("Findings")
		for _, f := range f {
			where := "statement " + f.Statement
			if f.Statement == "" || f.Statement == "-" {
				where = "whole policy" // a finding about what no statement does
			}
			b.Line("%s (%s): %s", f.Code, where, f.Message)
		}
	}
}

func (l *logic) Did(b *alert.Body, a *A) {
	if !a.Acted || a.Failed() {
		return
	}
	if a.State.Restored {
		p := a.State.Previous
		b.Line("Put back with PutKeyPolicy (policy name default) the last policy kmsguard saw without findings for this key (from %s, event %s), instead of removing statements (the guardrail's restore_previous setting). It has no findings today either.",
			p.At.UTC().Format(time.RFC3339), alert.Clean(p.EventID, alert.MaxField))
		return
	}
	b.Line("Read the policy in place, removed the statements below with PutKeyPolicy (policy name default), and analyzed the result again:")
	for _, s := range a.State.Strip.Removed {
		b.Command("removed: " + alert.Clean(s, 2*alert.MaxField))
	}
	if codes := a.State.Strip.After.Codes(); len(codes) > 0 {
		b.Line("Still in the policy (alert-only): %v.", codes)
	} else {
		b.Line("The policy has no findings now.")
	}
}

// prettyPolicy is a policy as indented JSON lines, for a person to save.
func prettyPolicy(policy string) []string {
	var out bytes.Buffer
	if json.Indent(&out, []byte(policy), "", "  ") != nil {
		return []string{policy}
	}
	return strings.Split(out.String(), "\n") // the same document, keys in their order
}

func (l *logic) Details(b *alert.Body, a *A) {
	key, region := a.State.Key, a.Outcome.Region
	if key.Found {
		b.Section("Key")
		key.Describe(b, "State")
		b.Field("Console", kmskey.ConsoleURL(region, key.ID()))
	}
	if !key.Found || !alert.ShellSafe(key.ARN()) || !alert.ShellSafe(region) {
		b.Section("What you can do")
		b.Line("Find the key named in the event (%s) in account %s and read its policy with aws kms get-key-policy; if the key is gone, nothing is left to fix.", alert.Clean(a.Outcome.Resource, alert.MaxField), a.Outcome.Account)
		return
	}
	k := fmt.Sprintf("--key-id %s --region %s", key.ARN(), region)
	b.Section("What you can do")
	if a.State.Analysis.LockedOut && !(a.Acted && !a.Failed()) {
		// Nobody in the account can call PutKeyPolicy, nor (most likely)
		// tag the key: do not suggest commands that cannot work.
		b.Line("Nobody in account %s can change this key policy any more, so no command run from the account can fix it. Open a case with AWS Support (the AWS Support Center, account %s) and ask them to restore access to the key %s; the key keeps working for whatever the policy still allows. Meanwhile find who wrote the policy (Who, above) and what else that session did in CloudTrail.", a.Outcome.Account, a.Outcome.Account, key.ARN())
		return
	}
	b.Line("Read the policy in place:")
	b.Command("aws kms get-key-policy --policy-name default --output text --query Policy " + k)
	if a.Acted && !a.Failed() {
		b.Line("To undo, put the removed statements back into that policy and write it:")
	} else {
		b.Line("To fix it, edit that policy and write it back:")
	}
	b.Command("aws kms put-key-policy --policy-name default --policy file://policy.json " + k)
	if p := a.State.Previous; p != nil && !a.State.Restored {
		b.Line("Or put back the last policy kmsguard saw without findings for this key (from %s, event %s): save these lines as policy.json, then run the put-key-policy command above.",
			p.At.UTC().Format(time.RFC3339), alert.Clean(p.EventID, alert.MaxField))
		for _, line := range prettyPolicy(p.Policy) {
			b.Command(line)
		}
	}
	b.Line("To exempt this key from the guardrail:")
	b.Command(fmt.Sprintf("aws kms tag-resource %s --tags TagKey=%s,TagValue=true", k, a.ExemptionTag))
}
