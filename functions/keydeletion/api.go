package keydeletion

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// kmsAPI is every KMS call this guardrail makes, with the SDK's signatures,
// so *kms.Client satisfies it and tests pass a fake.
type kmsAPI interface {
	kmskey.ReadAPI
	CancelKeyDeletion(ctx context.Context, in *kms.CancelKeyDeletionInput, opts ...func(*kms.Options)) (*kms.CancelKeyDeletionOutput, error)
	EnableKey(ctx context.Context, in *kms.EnableKeyInput, opts ...func(*kms.Options)) (*kms.EnableKeyOutput, error)
}

var _ kmsAPI = (*kms.Client)(nil)
