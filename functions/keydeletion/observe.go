package keydeletion

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// kmsAPI is every KMS call this guardrail makes, with the SDK's signatures,
// so *kms.Client satisfies it and tests pass a fake.
type kmsAPI interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, opts ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	ListResourceTags(ctx context.Context, in *kms.ListResourceTagsInput, opts ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error)
	ListAliases(ctx context.Context, in *kms.ListAliasesInput, opts ...func(*kms.Options)) (*kms.ListAliasesOutput, error)
	CancelKeyDeletion(ctx context.Context, in *kms.CancelKeyDeletionInput, opts ...func(*kms.Options)) (*kms.CancelKeyDeletionOutput, error)
	EnableKey(ctx context.Context, in *kms.EnableKeyInput, opts ...func(*kms.Options)) (*kms.EnableKeyOutput, error)
}

var _ kmsAPI = (*kms.Client)(nil)

// Observed is the key's current state, read after the event.
type Observed struct {
	// Found is false when KMS says the key does not exist (any more).
	Found   bool
	Key     kmstypes.KeyMetadata
	Aliases []string
	Tags    map[string]string
}

// observe reads the key. Tags and aliases are read only for customer managed
// keys, the only ones the guardrail can act on.
func observe(ctx context.Context, api kmsAPI, keyID string) (Observed, error) {
	d, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	var nf *kmstypes.NotFoundException
	if errors.As(err, &nf) {
		return Observed{}, nil
	}
	if err != nil {
		return Observed{}, fmt.Errorf("describe key %s: %w", keyID, err)
	}
	if d.KeyMetadata == nil {
		return Observed{}, fmt.Errorf("describe key %s: empty response", keyID)
	}
	obs := Observed{Found: true, Key: *d.KeyMetadata, Tags: map[string]string{}}
	if obs.Key.KeyManager == kmstypes.KeyManagerTypeAws {
		return obs, nil
	}
	id := aws.ToString(obs.Key.KeyId)
	tags := kms.NewListResourceTagsPaginator(api, &kms.ListResourceTagsInput{KeyId: aws.String(id)})
	for tags.HasMorePages() {
		page, err := tags.NextPage(ctx)
		if err != nil {
			return obs, fmt.Errorf("list tags of key %s: %w", id, err)
		}
		for _, t := range page.Tags {
			obs.Tags[aws.ToString(t.TagKey)] = aws.ToString(t.TagValue)
		}
	}
	aliases := kms.NewListAliasesPaginator(api, &kms.ListAliasesInput{KeyId: aws.String(id)})
	for aliases.HasMorePages() {
		page, err := aliases.NextPage(ctx)
		if err != nil {
			return obs, fmt.Errorf("list aliases of key %s: %w", id, err)
		}
		for _, a := range page.Aliases {
			if a.TargetKeyId != nil && aws.ToString(a.TargetKeyId) != id {
				continue // an emulator may ignore the KeyId filter
			}
			obs.Aliases = append(obs.Aliases, aws.ToString(a.AliasName))
		}
	}
	return obs, nil
}
