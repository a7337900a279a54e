package keyrotation

import (
	"fmt"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// A is what the key-rotation alert is written from.
type A = guardrail.Alert[State]

func (l *logic) Headline(a *A) string {
	name := a.Outcome.Resource
	switch {
	case a.Acted && a.Failed():
		return fmt.Sprintf("kmsguard tried to turn automatic rotation back on for KMS key %s and FAILED.", name)
	case a.Acted:
		return fmt.Sprintf("kmsguard set automatic rotation of KMS key %s to every %d days.", name, l.settings.period())
	case a.Failed():
		return fmt.Sprintf("kmsguard could not check the rotation of KMS key %s after %s.", name, a.Outcome.EventName)
	}
	return fmt.Sprintf("KMS key %s: %s.", name, a.Decision.Verdict)
}

func (l *logic) Happened(b *alert.Body, a *A) {
	if mv := a.State.Moved; mv != nil && mv.From != "" {
		b.Field("Primary was", mv.From)
		b.Field("Primary now", mv.To)
	}
	if req, _, kerr := a.Event.Record.KMS(); kerr == nil && req.RotationPeriodInDays > 0 {
		b.Field("Period asked", fmt.Sprintf("%d days", req.RotationPeriodInDays))
	}
}

func (l *logic) Did(b *alert.Body, a *A) {
	if a.Acted && !a.Failed() {
		b.Line("Called EnableKeyRotation with RotationPeriodInDays=%d; KMS accepted it: rotation is on, every %s.", l.settings.period(), periodText(a.State.After.PeriodDays))
		b.Line("Why: %s.", a.Decision.Reason)
	}
	if s := a.State; s.Target.Found && s.Key.Found && s.Target.ARN() != s.Key.ARN() {
		b.Line("The key is a multi-Region replica; rotation is set on its primary %s in %s.", s.Target.ARN(), s.Region)
	}
}

func (l *logic) Details(b *alert.Body, a *A) {
	s, region := a.State, a.Outcome.Region
	shown := s.Key
	if s.Moved != nil && s.Target.Found {
		// The new primary, in its Region: where rotation is set.
		shown, region = s.Target, s.Region
	}
	if shown.Found {
		b.Section("Key")
		shown.Describe(b, "State")
		b.Field("Console", kmskey.ConsoleURL(region, shown.ID()))
	}
	t := s.Target
	if !t.Found || !alert.ShellSafe(t.ARN()) || !alert.ShellSafe(s.Region) {
		b.Section("What you can do")
		b.Line("Nothing to do about rotation until the key can be read: check that the key named in the event still exists in account %s, Region %s.", a.Outcome.Account, region)
		return
	}
	k := fmt.Sprintf("--key-id %s --region %s", t.ARN(), s.Region)
	b.Section("What you can do")
	switch {
	case s.Moved != nil && !a.Acted && a.Decision.Severity == guardrail.SeverityInfo:
		b.Line("Nothing to do for rotation. If the primary was not meant to move, move it back (from the new primary's Region):")
		b.Command(fmt.Sprintf("aws kms update-primary-region --key-id %s --region %s --primary-region %s", t.ARN(), s.Region, s.Moved.From))
	case a.Acted && !a.Failed():
		b.Line("If rotation must stay off for this key, exempt it, then disable rotation:")
		b.Command(fmt.Sprintf("aws kms tag-resource %s --tags TagKey=%s,TagValue=true", k, a.ExemptionTag))
		b.Command("aws kms disable-key-rotation " + k)
	case !a.Acted && t.Meta.KeyState == kmstypes.KeyStateDisabled:
		b.Line("KMS turns rotation on only for an Enabled key. If this key is still in use, enable it, then turn rotation on:")
		b.Command("aws kms enable-key " + k)
		b.Command(fmt.Sprintf("aws kms enable-key-rotation --rotation-period-in-days %d %s", l.settings.period(), k))
	case !a.Acted && (t.Meta.KeyState == kmstypes.KeyStatePendingDeletion || t.Meta.KeyState == kmstypes.KeyStatePendingReplicaDeletion):
		b.Line("KMS turns rotation on only for an Enabled key, and this one is pending deletion. If it must stay, cancel the deletion (which leaves it Disabled), enable it, then turn rotation on:")
		b.Command("aws kms cancel-key-deletion " + k)
		b.Command("aws kms enable-key " + k)
		b.Command(fmt.Sprintf("aws kms enable-key-rotation --rotation-period-in-days %d %s", l.settings.period(), k))
	case !a.Acted && t.Meta.KeyState != "" && t.Meta.KeyState != kmstypes.KeyStateEnabled:
		b.Line("Nothing to do about rotation while the key is %s: KMS turns rotation on only for an Enabled key.", string(t.Meta.KeyState))
	case a.Decision.Severity != guardrail.SeverityInfo:
		b.Line("To turn rotation on yourself:")
		b.Command(fmt.Sprintf("aws kms enable-key-rotation --rotation-period-in-days %d %s", l.settings.period(), k))
	default:
		// INFO: KMS cannot rotate this key automatically (asymmetric,
		// HMAC, imported material, custom key store).
		b.Line("Nothing is needed for automatic rotation: KMS does not rotate this kind of key. To replace its key material, create a new key, move the alias to it (aws kms update-alias), and re-encrypt or re-sign with the new key; keep the old key until nothing needs it. To silence these notices, exempt the key:")
		b.Command(fmt.Sprintf("aws kms tag-resource %s --tags TagKey=%s,TagValue=true", k, a.ExemptionTag))
	}
}
