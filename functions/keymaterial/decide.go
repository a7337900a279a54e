package keymaterial

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// State is the key as read after the event (DescribeKey: origin, state,
// expiration model and ValidTo), or as the sweep listed it.
type State struct {
	Key kmskey.Key
}

// Input is what decide looks at: the event (its time is "now": decide has
// no clock), the mode and the key.
type Input = guardrail.Input[State]

// Verdicts, the end of the alert subjects.
const (
	VerdictDeleted         = "material deleted"
	VerdictExpired         = "material expired"
	VerdictNoMaterial      = "no key material"
	VerdictExpires         = "expires"
	VerdictOldDeleted      = "old material deleted"
	VerdictReimportedSince = "material deleted, re-imported since"
)

// decide is pure: no I/O, no clock, no logging. The exemption tag is the
// driver's (it reads tags only if this says alert). It never asks to
// remediate: only the material's owner can import it again.
func decide(in Input, horizonDays int) guardrail.Decision {
	d := func(k guardrail.Kind, sev guardrail.Severity, verdict, reason string) guardrail.Decision {
		return guardrail.Decision{Kind: k, Severity: sev, Verdict: verdict, Reason: reason}
	}
	k := in.State.Key
	if !k.Found {
		return d(guardrail.Ignore, "", "", "the key does not exist in this account and Region (deleted, or the event named another account's key)")
	}
	if k.AWSManaged() {
		return d(guardrail.Ignore, "", "", "AWS managed key: AWS holds its key material")
	}
	if k.Meta.Origin != kmstypes.OriginTypeExternal {
		return d(guardrail.Ignore, "", "", fmt.Sprintf("its key material is not imported (origin %s): nothing to delete or expire", k.Meta.Origin))
	}
	now := in.Event.When().UTC()
	state := k.Meta.KeyState
	pendingImport := state == kmstypes.KeyStatePendingImport
	name := in.Event.Name()
	switch {
	case in.Sweep:
		if pendingImport {
			return d(guardrail.Notify, guardrail.SeverityHigh, VerdictNoMaterial,
				"the key has no key material (PendingImport): it cannot encrypt or decrypt until its original material is imported again (or, for a new key, imported for the first time)")
		}
		return expiry(k, now, horizonDays, false)
	case name == EventExpired:
		if !pendingImport {
			return d(guardrail.Ignore, "", "", fmt.Sprintf("the key has key material again (it is %s): it was imported again after it expired", state))
		}
		return d(guardrail.Notify, guardrail.SeverityCritical, VerdictExpired,
			"the key's imported key material expired and KMS deleted it: the key is PendingImport and unusable, and everything encrypted under it stays unreadable until the same key material is imported again")
	case name == EventDelete:
		return deleted(in, k, state)
	case name == EventImport:
		if pendingImport {
			return d(guardrail.Ignore, "", "", "the key has no key material again (PendingImport): its material was deleted or expired since this import, and that has its own alert")
		}
		return expiry(k, now, horizonDays, true)
	}
	return d(guardrail.Ignore, "", "", fmt.Sprintf("event %s is not handled by this guardrail", name))
}

// deleted decides about a DeleteImportedKeyMaterial call on a key in state.
func deleted(in Input, k kmskey.Key, state kmstypes.KeyState) guardrail.Decision {
	d := func(sev guardrail.Severity, verdict, reason string) guardrail.Decision {
		return guardrail.Decision{Kind: guardrail.Notify, Severity: sev, Verdict: verdict, Reason: reason}
	}
	who := "someone"
	if w := in.Event.Record.UserIdentity.Words(); w != "" {
		who = w
	}
	switch state {
	case kmstypes.KeyStatePendingImport:
		return d(guardrail.SeverityCritical, VerdictDeleted, fmt.Sprintf(
			"%s deleted the key's imported key material: the key is PendingImport and unusable, and everything encrypted under it is unreadable until the same key material is imported again (nothing else brings it back)", who))
	case kmstypes.KeyStatePendingDeletion, kmstypes.KeyStatePendingReplicaDeletion:
		return d(guardrail.SeverityHigh, VerdictDeleted, fmt.Sprintf(
			"%s deleted the imported key material of a key that is pending deletion: cancelling the deletion now leaves it without material (PendingImport) until the same material is imported again", who))
	}
	// The key has material: another material than its current one was
	// deleted, or the material was imported again since.
	asked := keyMaterialID(in)
	current := aws.ToString(k.Meta.CurrentKeyMaterialId)
	if asked != "" && current != "" && asked != current {
		return d(guardrail.SeverityHigh, VerdictOldDeleted, fmt.Sprintf(
			"%s deleted key material %s, which is not the key's current material: the key still works, but data encrypted under that material cannot be decrypted until it is imported again (nothing was, if it was material waiting for an on-demand rotation)", who, asked))
	}
	return d(guardrail.SeverityWarning, VerdictReimportedSince, fmt.Sprintf(
		"%s deleted the key's imported key material and the key is %s again now: the material was imported again since. Everything that used the key failed in between", who, state))
}

// expiry decides about a key with material: does it expire within the
// horizon? onImport says the event was the import that set the expiry.
func expiry(k kmskey.Key, now time.Time, horizonDays int, onImport bool) guardrail.Decision {
	if k.Meta.ExpirationModel != kmstypes.ExpirationModelTypeKeyMaterialExpires || k.Meta.ValidTo == nil {
		return guardrail.Decision{Kind: guardrail.Ignore, Reason: "its key material does not expire"}
	}
	validTo := k.Meta.ValidTo.UTC()
	left := validTo.Sub(now)
	when := validTo.Format(time.RFC3339)
	if left <= 0 {
		return guardrail.Decision{Kind: guardrail.Notify, Severity: guardrail.SeverityHigh, Verdict: VerdictExpired,
			Reason: fmt.Sprintf("its imported key material expired at %s: KMS deletes it any moment, and the key is then unusable until the same material is imported again", when)}
	}
	if left > time.Duration(horizonDays)*24*time.Hour {
		return guardrail.Decision{Kind: guardrail.Ignore, Reason: fmt.Sprintf("its key material expires at %s, in %s, beyond the horizon of %d days", when, daysLeft(left), horizonDays)}
	}
	reason := fmt.Sprintf("its imported key material expires at %s, in %s (within the horizon of %d days): KMS then deletes it and the key is unusable until the same material is imported again", when, daysLeft(left), horizonDays)
	if onImport {
		reason = fmt.Sprintf("the key material was imported to expire at %s, in %s (within the horizon of %d days): KMS then deletes it and the key is unusable until the same material is imported again", when, daysLeft(left), horizonDays)
	}
	return guardrail.Decision{Kind: guardrail.Notify, Severity: guardrail.SeverityHigh,
		Verdict: fmt.Sprintf("%s %s", VerdictExpires, validTo.Format("2006-01-02")), Reason: reason}
}

// daysLeft is a duration in days, to the nearest day: "10 days", "1 day";
// "less than a day" under 24 hours (the exact time is always said too).
func daysLeft(d time.Duration) string {
	if d < 24*time.Hour {
		return "less than a day"
	}
	if n := int((d + 12*time.Hour) / (24 * time.Hour)); n != 1 {
		return fmt.Sprintf("%d days", n)
	}
	return "1 day"
}

// keyMaterialID is the key material a DeleteImportedKeyMaterial call
// named, "" when it named none (the current one).
func keyMaterialID(in Input) string {
	if in.Event.Record == nil {
		return ""
	}
	var req struct {
		KeyMaterialID string `json:"keyMaterialId"`
	}
	raw := bytes.TrimSpace(in.Event.Record.RequestParameters)
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &req) != nil {
		return ""
	}
	return req.KeyMaterialID
}
