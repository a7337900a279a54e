package keypolicy

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// kmsAPI is every call this guardrail makes: KMS, and the organization's id
// when the settings do not name it.
type kmsAPI interface {
	kmskey.ReadAPI
	GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, opts ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
	PutKeyPolicy(ctx context.Context, in *kms.PutKeyPolicyInput, opts ...func(*kms.Options)) (*kms.PutKeyPolicyOutput, error)
	DescribeOrganization(ctx context.Context, in *organizations.DescribeOrganizationInput, opts ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
}

// sdkClients is kmsAPI on the SDK's clients.
type sdkClients struct {
	*kms.Client
	org *organizations.Client
}

func (c sdkClients) DescribeOrganization(ctx context.Context, in *organizations.DescribeOrganizationInput, opts ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error) {
	return c.org.DescribeOrganization(ctx, in, opts...)
}

var _ kmsAPI = sdkClients{}

const policyName = "default"

func getPolicy(ctx context.Context, api kmsAPI, keyID string) (string, error) {
	out, err := api.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyID), PolicyName: aws.String(policyName)})
	if err != nil {
		return "", fmt.Errorf("get key policy of %s: %w", keyID, err)
	}
	return aws.ToString(out.Policy), nil
}

// stripResult is what strip did.
type stripResult struct {
	Removed []string // removed statements, compact JSON
	After   Analysis // analysis of the policy now in place
	// Unchanged is set when the current policy had nothing left to remove
	// (someone fixed it already, or a duplicate event).
	Unchanged bool
}

// maxRounds bounds the fixed-point loop; each round removes at least one
// statement, so a real policy settles in one or two.
const maxRounds = 10

// strip removes the removable statements from the key's current policy
// until nothing removable is left, refusing any step that would leave nobody
// able to change the policy, then writes the result once.
func strip(ctx context.Context, api kmsAPI, keyID string, c Context) (stripResult, error) {
	var r stripResult
	c.BypassLockoutCheck = false
	cur, err := getPolicy(ctx, api, keyID)
	if err != nil {
		return r, err
	}
	for round := 0; round < maxRounds; round++ {
		a := Analyze(cur, c)
		if a.Err != nil {
			return r, fmt.Errorf("the current policy of %s cannot be read in full, so nothing was removed: %w", keyID, a.Err)
		}
		rm := a.Removable()
		if len(rm) == 0 {
			r.After = a
			break
		}
		next, removed, err := Without(cur, rm)
		if err != nil {
			return r, fmt.Errorf("remove statements from the policy of %s: %w", keyID, err)
		}
		if after := Analyze(next, c); slices.Contains(after.Codes(), CodeLockout) && !slices.Contains(a.Codes(), CodeLockout) {
			return r, fmt.Errorf("removing the public or untrusted statements of %s would leave nobody able to change its policy; fix it by hand", keyID)
		}
		r.Removed = append(r.Removed, removed...)
		cur = next
	}
	if len(r.Removed) == 0 {
		r.Unchanged = true
		return r, nil
	}
	if len(cur) > 32*1024 {
		return r, fmt.Errorf("the rewritten policy of %s is over KMS's 32 KB limit", keyID)
	}
	_, err = api.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(keyID), PolicyName: aws.String(policyName), Policy: aws.String(cur)})
	if err != nil {
		return r, fmt.Errorf("put key policy of %s: %w", keyID, err)
	}
	if r.After.Findings == nil {
		r.After = Analyze(cur, c)
	}
	return r, nil
}
