package keygrants

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// kmsAPI is every KMS call this guardrail makes.
type kmsAPI interface {
	kmskey.ReadAPI
	ListGrants(ctx context.Context, in *kms.ListGrantsInput, opts ...func(*kms.Options)) (*kms.ListGrantsOutput, error)
	RevokeGrant(ctx context.Context, in *kms.RevokeGrantInput, opts ...func(*kms.Options)) (*kms.RevokeGrantOutput, error)
}

var _ kmsAPI = (*kms.Client)(nil)

// MaxGrantPages bounds the grants read for one key: KMS allows at most
// 50,000 grants per key and answers 100 per page
// (https://docs.aws.amazon.com/kms/latest/APIReference/API_ListGrants.html,
// https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html).
const MaxGrantPages = 500

// listGrants reads every grant of a key, 100 at a time (KMS's maximum
// Limit), following NextMarker while Truncated.
func listGrants(ctx context.Context, api kmsAPI, keyID string) ([]Grant, error) {
	in := &kms.ListGrantsInput{KeyId: aws.String(keyID), Limit: aws.Int32(100)}
	var out []Grant
	for page := 0; page < MaxGrantPages; page++ {
		res, err := api.ListGrants(ctx, in)
		if err != nil {
			return out, fmt.Errorf("list grants of %s: %w", keyID, err)
		}
		for _, e := range res.Grants {
			out = append(out, fromEntry(e))
		}
		if !res.Truncated || aws.ToString(res.NextMarker) == "" {
			return out, nil
		}
		in.Marker = res.NextMarker
	}
	return out, fmt.Errorf("list grants of %s: more than %d pages", keyID, MaxGrantPages)
}

// getGrant reads one grant by id; found is false when the key has no such
// grant (revoked or retired since).
func getGrant(ctx context.Context, api kmsAPI, keyID, grantID string) (g Grant, found bool, err error) {
	res, err := api.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(keyID), GrantId: aws.String(grantID)})
	var nf *kmstypes.NotFoundException
	if errors.As(err, &nf) {
		return Grant{}, false, nil
	}
	if err != nil {
		return Grant{}, false, fmt.Errorf("read grant %s of %s: %w", grantID, keyID, err)
	}
	for _, e := range res.Grants {
		if aws.ToString(e.GrantId) == grantID {
			return fromEntry(e), true, nil
		}
	}
	return Grant{}, false, nil
}

// revoke revokes a grant. A grant that is gone already is not a failure:
// what the revocation was for holds. KMS's acceptance is the verification
// (a revoked grant can take up to five minutes to stop working
// everywhere, KMS's eventual consistency: a read-back proves nothing).
func revoke(ctx context.Context, api kmsAPI, keyID, grantID string) (gone bool, err error) {
	_, err = api.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(keyID), GrantId: aws.String(grantID)})
	var nf *kmstypes.NotFoundException
	if errors.As(err, &nf) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("revoke grant %s of %s: %w", grantID, keyID, err)
	}
	return false, nil
}

func fromEntry(e kmstypes.GrantListEntry) Grant {
	g := Grant{ID: aws.ToString(e.GrantId), Name: aws.ToString(e.Name), Grantee: aws.ToString(e.GranteePrincipal), Retiring: aws.ToString(e.RetiringPrincipal)}
	for _, op := range e.Operations {
		g.Operations = append(g.Operations, string(op))
	}
	if c := e.Constraints; c != nil {
		g.Constraints = constraintText(c.EncryptionContextSubset, c.EncryptionContextEquals)
	}
	if e.CreationDate != nil {
		g.Created = e.CreationDate.UTC().Format(time.RFC3339)
	}
	return g
}
