package keymaterial

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// A is what the key-material alert is written from.
type A = guardrail.Alert[State]

func (l *logic) Headline(a *A) string {
	name, k := a.Outcome.Resource, a.State.Key
	switch {
	case a.Failed():
		return fmt.Sprintf("kmsguard could not check KMS key %s after %s. Its key material may be gone and the key unusable: check it yourself.", name, a.Outcome.EventName)
	case a.Decision.Severity == guardrail.SeverityInfo:
		return fmt.Sprintf("KMS key %s: its imported key material is gone or going, and the key is exempt (%s=true).", name, a.ExemptionTag)
	}
	switch a.Decision.Verdict {
	case VerdictDeleted:
		return fmt.Sprintf("The imported key material of KMS key %s was deleted. The key cannot be used, and nothing encrypted under it can be decrypted, until the same key material is imported again.", name)
	case VerdictExpired:
		if k.Meta.KeyState == kmstypes.KeyStatePendingImport {
			return fmt.Sprintf("The imported key material of KMS key %s expired and KMS deleted it. The key cannot be used, and nothing encrypted under it can be decrypted, until the same key material is imported again.", name)
		}
		return fmt.Sprintf("The imported key material of KMS key %s has expired: KMS deletes it any moment, and the key is then unusable.", name)
	case VerdictNoMaterial:
		return fmt.Sprintf("KMS key %s has no key material (PendingImport): it cannot encrypt or decrypt anything.", name)
	case VerdictOldDeleted:
		return fmt.Sprintf("A key material of KMS key %s that is not its current one was deleted: data encrypted under that material cannot be decrypted.", name)
	case VerdictReimportedSince:
		return fmt.Sprintf("The imported key material of KMS key %s was deleted; it has been imported again since.", name)
	}
	if v := k.Meta.ValidTo; v != nil {
		return fmt.Sprintf("The imported key material of KMS key %s expires at %s. The key is unusable from then on unless the same material is imported again with a later expiry.", name, v.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("KMS key %s: %s.", name, a.Decision.Verdict)
}

func (l *logic) Happened(b *alert.Body, a *A) {
	if rec := a.Event.Record; rec != nil && rec.EventType != "kmsguard-sweep" {
		var req struct {
			ValidTo         string `json:"validTo"`
			ExpirationModel string `json:"expirationModel"`
			KeyMaterialID   string `json:"keyMaterialId"`
		}
		if raw := bytes.TrimSpace(rec.RequestParameters); len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &req) == nil {
			b.Field("Expiry asked", expiryAsked(req.ExpirationModel, req.ValidTo))
			if materialID.MatchString(req.KeyMaterialID) {
				b.Field("Material id", req.KeyMaterialID)
			}
		}
	}
	k := a.State.Key
	if !k.Found {
		return
	}
	b.Field("Key state", string(k.Meta.KeyState))
	if v := k.Meta.ValidTo; v != nil && k.Meta.ExpirationModel == kmstypes.ExpirationModelTypeKeyMaterialExpires {
		valid := v.UTC().Format(time.RFC3339)
		if left := v.Sub(a.Event.When()); left > 0 {
			valid += " (" + daysLeft(left) + " after the event)"
		}
		b.Field("Valid to", valid)
	}
}

// materialID is the shape of a key material id (64 hex characters).
var materialID = regexp.MustCompile(`^[a-f0-9]{64}$`)

// expiryAsked says what an import asked for, as CloudTrail recorded it
// (its validTo layout varies: kmsguard reads the date from DescribeKey).
func expiryAsked(model, validTo string) string {
	switch {
	case model == string(kmstypes.ExpirationModelTypeKeyMaterialDoesNotExpire):
		return "does not expire"
	case validTo != "":
		return fmt.Sprintf("expires %s (as recorded)", validTo)
	}
	return model
}

func (l *logic) Did(b *alert.Body, a *A) {
	if !a.Failed() {
		b.Line("kmsguard never imports or deletes key material: it does not hold the material, and only its owner can import it (this guardrail only alerts, in every mode).")
	}
}

func (l *logic) Details(b *alert.Body, a *A) {
	k, region := a.State.Key, a.Outcome.Region
	keyARN := k.ARN()
	if k.Found {
		b.Section("Key")
		k.Describe(b, "State")
		if k.Meta.ExpirationModel != "" {
			b.Field("Expiration", string(k.Meta.ExpirationModel))
		}
		if id := aws.ToString(k.Meta.CurrentKeyMaterialId); materialID.MatchString(id) {
			b.Field("Material id", id+" (current)")
		}
		b.Field("Console", kmskey.ConsoleURL(region, k.ID()))
		if m := k.Meta.MultiRegion; m != nil && *m {
			b.Line("Each Region's copy of a multi-Region key (the primary and every replica) holds its own copy of the imported material, imported separately: each one without material is reported on its own, and each needs the same material imported again.")
		}
	} else {
		keyARN = eventKeyARN(a.Event)
	}
	b.Section("What you can do")
	if !alert.ShellSafe(keyARN) || !alert.ShellSafe(region) {
		b.Line("Check that the key named in the event still exists in account %s, Region %s, and what its state is.", a.Outcome.Account, region)
		return
	}
	key := fmt.Sprintf("--key-id %s --region %s", keyARN, region)
	reimport := func(extra string) {
		b.Command("aws kms get-parameters-for-import " + key + " --wrapping-algorithm RSAES_OAEP_SHA_256 --wrapping-key-spec RSA_4096")
		b.Command("aws kms import-key-material " + key + " --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin " + extra)
	}
	users := func() {
		b.Line("Until then everything that uses the key fails. Find what used it (CloudTrail, 90 days) and tell its owners:")
		b.Command(fmt.Sprintf("aws cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue=%s --region %s", keyARN, region))
	}
	exempt := func() {
		b.Line("If losing the material was intended (the key is retired, or its data deliberately made unreadable), exempt the key so kmsguard reports it as INFO:")
		b.Command(fmt.Sprintf("aws kms tag-resource %s --tags TagKey=%s,TagValue=true", key, a.ExemptionTag))
	}
	switch {
	case a.Failed():
		b.Line("Check the key's state and its material's expiry yourself (PendingImport means it has no material):")
		b.Command("aws kms describe-key " + key)
	case a.Decision.Severity == guardrail.SeverityInfo:
		b.Line("Nothing is needed if this is intended. To have kmsguard alert about this key again, remove the exemption tag:")
		b.Command(fmt.Sprintf("aws kms untag-resource %s --tag-keys %s", key, a.ExemptionTag))
	case k.Meta.KeyState == kmstypes.KeyStatePendingImport || a.Decision.Verdict == VerdictDeleted:
		b.Line("1. Find who holds the original key material (its custodian: the HSM or key management system it was generated in). Only that exact material brings the key back: KMS keeps no copy, and it refuses different material for this key.")
		b.Line("2. Wrap the material with the public key from get-parameters-for-import (same call's import token), then import it; choose an expiry, or none:")
		reimport("--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE")
		users()
		exempt()
	case a.Decision.Verdict == VerdictOldDeleted:
		b.Line("Data encrypted under the deleted material can be decrypted again only once its custodian imports that same material again:")
		reimport("--import-type EXISTING_KEY_MATERIAL --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE")
		users()
	case a.Decision.Verdict == VerdictReimportedSince:
		b.Line("Find out why the material was deleted (the caller is above), and what failed while the key had none:")
		b.Command(fmt.Sprintf("aws cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue=%s --region %s", keyARN, region))
		exempt()
	default:
		// The material expires soon, or has just expired.
		b.Line("Before it expires, import the same key material again with a later expiry, or none. KMS does not change the expiry of imported material in place: with the original material at hand (never before), delete it and import it again in one short window; the key is unusable in between, and kmsguard reports the deletion:")
		b.Command("aws kms delete-imported-key-material " + key)
		reimport("--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE")
		b.Line("Otherwise, make sure nothing needs the key after that date: find what uses it (CloudTrail, 90 days):")
		b.Command(fmt.Sprintf("aws cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue=%s --region %s", keyARN, region))
	}
}

// eventKeyARN is the key ARN the event names, "" when it names none.
func eventKeyARN(ev *cloudtrail.Event) string {
	if ev.Record == nil {
		for _, r := range ev.Resources {
			if ref := cloudtrail.ParseKeyRef(r); ref.ARN != "" {
				return ref.ARN
			}
		}
		return ""
	}
	if ref, err := ev.Record.KeyRef(); err == nil {
		return ref.ARN
	}
	return ""
}
