package keyrotation

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// kmsAPI is every KMS call this guardrail makes.
type kmsAPI interface {
	kmskey.ReadAPI
	GetKeyRotationStatus(ctx context.Context, in *kms.GetKeyRotationStatusInput, opts ...func(*kms.Options)) (*kms.GetKeyRotationStatusOutput, error)
	EnableKeyRotation(ctx context.Context, in *kms.EnableKeyRotationInput, opts ...func(*kms.Options)) (*kms.EnableKeyRotationOutput, error)
}

var _ kmsAPI = (*kms.Client)(nil)

func rotationStatus(ctx context.Context, api kmsAPI, keyID string) (Rotation, error) {
	out, err := api.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(keyID)})
	if err != nil {
		return Rotation{}, fmt.Errorf("get rotation status of %s: %w", keyID, err)
	}
	return Rotation{Enabled: out.KeyRotationEnabled, PeriodDays: int(aws.ToInt32(out.RotationPeriodInDays))}, nil
}

// enable turns rotation on with the period. KMS's acceptance is the
// verification: a read-back right after could still see the old status
// (KMS is eventually consistent) and would cost a call per remediation.
func enable(ctx context.Context, api kmsAPI, keyID string, period int) (Rotation, error) {
	if _, err := api.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(keyID), RotationPeriodInDays: aws.Int32(int32(period))}); err != nil {
		return Rotation{}, fmt.Errorf("enable rotation of %s: %w", keyID, err)
	}
	return Rotation{Enabled: true, PeriodDays: period}, nil
}
