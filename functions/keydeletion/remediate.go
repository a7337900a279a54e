package keydeletion

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// enableRetries bounds how long remediate waits for a cancelled key to
// accept EnableKey: KMS is eventually consistent and may briefly answer
// KMSInvalidStateException or NotFoundException right after a state change.
var enableBackoff = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}

// remediation is what remediate did, for the outcome and the alert.
type remediation struct {
	Cancelled  bool
	Enabled    bool
	FinalState kmstypes.KeyState
	Note       string
}

// remediate cancels the deletion and enables the key; KMS's acceptance of
// EnableKey is the verification that the key is Enabled. keyID must be the bare key id (an ARN fails on some emulators and
// the id works everywhere). It is idempotent: a key someone else already
// cancelled is simply enabled.
func remediate(ctx context.Context, api kmsAPI, keyID string, enable bool, sleep func(context.Context, time.Duration) error) (remediation, error) {
	var r remediation
	_, err := api.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(keyID)})
	var invalid *kmstypes.KMSInvalidStateException
	switch {
	case err == nil:
		r.Cancelled = true
	case errors.As(err, &invalid):
		// Not pending deletion any more: a person or a duplicate event got
		// there first. Carry on to make sure the key ends Enabled.
		r.Note = "the deletion had already been cancelled"
	default:
		return r, fmt.Errorf("cancel deletion of key %s: %w", keyID, err)
	}

	if !enable {
		// It was Disabled before it was scheduled: cancelling leaves it
		// Disabled, as it was.
		r.FinalState = kmstypes.KeyStateDisabled
		return r, nil
	}
	for attempt := 0; ; attempt++ {
		_, err = api.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyID)})
		if err == nil || !retryableAfterCancel(err) || attempt >= len(enableBackoff) {
			break
		}
		if serr := sleep(ctx, enableBackoff[attempt]); serr != nil {
			return r, serr
		}
	}
	if err != nil {
		state, derr := describeState(ctx, api, keyID)
		if derr == nil && state == kmstypes.KeyStatePendingImport {
			// An imported-material key without material cannot be enabled.
			r.FinalState = state
			r.Note = "the key has no key material: import it to use the key"
			return r, nil
		}
		return r, fmt.Errorf("enable key %s after cancelling its deletion: %w", keyID, err)
	}
	// EnableKey succeeded: KMS has accepted the key as Enabled. A read-back
	// here would prove nothing more (KMS is eventually consistent, so an
	// immediate DescribeKey may still answer the old state) and would cost a
	// call on every remediation.
	r.FinalState, r.Enabled = kmstypes.KeyStateEnabled, true
	return r, nil
}

func retryableAfterCancel(err error) bool {
	var invalid *kmstypes.KMSInvalidStateException
	var nf *kmstypes.NotFoundException
	return errors.As(err, &invalid) || errors.As(err, &nf)
}

func describeState(ctx context.Context, api kmsAPI, keyID string) (kmstypes.KeyState, error) {
	d, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return "", fmt.Errorf("describe key %s: %w", keyID, err)
	}
	if d.KeyMetadata == nil {
		return "", fmt.Errorf("describe key %s: empty response", keyID)
	}
	return d.KeyMetadata.KeyState, nil
}

// enableAgain undoes a DisableKey (reenable_disabled_keys): EnableKey,
// retried while KMS has not caught up with the disable.
func enableAgain(ctx context.Context, api kmsAPI, keyID string, sleep func(context.Context, time.Duration) error) (remediation, error) {
	var r remediation
	var err error
	for attempt := 0; ; attempt++ {
		_, err = api.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyID)})
		if err == nil || !retryableAfterCancel(err) || attempt >= len(enableBackoff) {
			break
		}
		if serr := sleep(ctx, enableBackoff[attempt]); serr != nil {
			return r, serr
		}
	}
	if err != nil {
		return r, fmt.Errorf("enable key %s after DisableKey: %w", keyID, err)
	}
	r.FinalState, r.Enabled = kmstypes.KeyStateEnabled, true
	return r, nil
}
