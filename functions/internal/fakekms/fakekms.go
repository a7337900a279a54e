// Package fakekms is an in-memory KMS for handler tests. Unlike the moto
// emulator it enforces the key state machine the guardrails depend on and
// answers with the SDK's typed errors:
//
//   - CancelKeyDeletion only from PendingDeletion/PendingReplicaDeletion, to
//     Disabled (PendingImport for an imported key without material);
//   - EnableKey refused while pending deletion or import;
//   - EnableKeyRotation refused on Disabled keys (DisabledException), keys
//     pending deletion (KMSInvalidStateException), and asymmetric, HMAC,
//     imported or custom-key-store keys (UnsupportedOperationException);
//   - AWS managed keys cannot be changed.
//
// Errors can be injected per operation (Fail) and EnableKey can lag behind a
// cancel (LagEnable), as KMS's eventual consistency allows.
package fakekms

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/smithy-go"
)

// Account and Region of every fake key.
const (
	Account = "111122223333"
	Region  = "eu-west-1"
)

// KMS is the fake. Its exported fields are safe to set before use.
type KMS struct {
	mu    sync.Mutex
	Keys  map[string]*Key
	Calls []string
	// Organization is the account's organization id ("" for none).
	Organization string
	// Fail injects errors per operation name, consumed in order.
	Fail map[string][]error
	// LagEnable makes that many EnableKey calls fail with
	// KMSInvalidStateException first.
	LagEnable int
}

// Key is one fake key.
type Key struct {
	Meta     kmstypes.KeyMetadata
	Tags     map[string]string
	Aliases  []string
	Policy   string
	Rotation struct {
		Enabled bool
		Period  int
	}
	// NoMaterial makes a cancelled imported key go to PendingImport.
	NoMaterial bool
	// Grants are the key's grants, in creation order.
	Grants []kmstypes.GrantListEntry
}

// New returns an empty fake.
// DescribeOrganization answers the key-policy guardrail's question with
// Organization ("" : the account is in no organization).
func (f *KMS) DescribeOrganization(_ context.Context, _ *organizations.DescribeOrganizationInput, _ ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("DescribeOrganization"); err != nil {
		return nil, err
	}
	if f.Organization == "" {
		return nil, &orgtypes.AWSOrganizationsNotInUseException{Message: aws.String("Your account is not a member of an organization.")}
	}
	return &organizations.DescribeOrganizationOutput{Organization: &orgtypes.Organization{Id: aws.String(f.Organization)}}, nil
}

func New() *KMS { return &KMS{Keys: map[string]*Key{}, Fail: map[string][]error{}} }

// DefaultPolicy is the default key policy for Account.
const DefaultPolicy = `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`

// AddKey adds a customer managed symmetric key in the given state.
func (f *KMS) AddKey(id string, state kmstypes.KeyState, tags map[string]string, aliases ...string) *Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", Region, Account, id)
	created := time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC)
	k := &Key{Meta: kmstypes.KeyMetadata{
		KeyId: aws.String(id), Arn: aws.String(arn), AWSAccountId: aws.String(Account),
		KeyState: state, KeyManager: kmstypes.KeyManagerTypeCustomer, Enabled: state == kmstypes.KeyStateEnabled,
		Description: aws.String("payments ledger encryption"), CreationDate: &created,
		Origin: kmstypes.OriginTypeAwsKms, KeySpec: kmstypes.KeySpecSymmetricDefault, KeyUsage: kmstypes.KeyUsageTypeEncryptDecrypt,
		MultiRegion: aws.Bool(strings.HasPrefix(id, "mrk-")),
	}, Tags: tags, Aliases: aliases, Policy: DefaultPolicy}
	if state == kmstypes.KeyStatePendingDeletion {
		del := time.Date(2026, 3, 21, 9, 26, 53, 0, time.UTC)
		k.Meta.DeletionDate = &del
		k.Meta.PendingDeletionWindowInDays = aws.Int32(7)
	}
	if k.Tags == nil {
		k.Tags = map[string]string{}
	}
	f.Keys[id] = k
	return k
}

func (f *KMS) record(op string) error {
	f.Calls = append(f.Calls, op)
	if errs := f.Fail[op]; len(errs) > 0 {
		f.Fail[op] = errs[1:]
		return errs[0]
	}
	return nil
}

// Writes lists the mutating calls made, in order.
func (f *KMS) Writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var w []string
	for _, c := range f.Calls {
		switch c {
		case "CancelKeyDeletion", "EnableKey", "EnableKeyRotation", "PutKeyPolicy", "RevokeGrant":
			w = append(w, c)
		}
	}
	return w
}

func (f *KMS) find(keyID *string) (*Key, error) {
	id := aws.ToString(keyID)
	// A key added under its own id wins over another Region's copy of a
	// multi-Region key, which shares the id (added as "<id>@<region>").
	if k, ok := f.Keys[id]; ok {
		return k, nil
	}
	for _, k := range f.Keys {
		if id == aws.ToString(k.Meta.KeyId) || id == aws.ToString(k.Meta.Arn) {
			return k, nil
		}
		for _, a := range k.Aliases {
			if id == a {
				return k, nil
			}
		}
	}
	return nil, &kmstypes.NotFoundException{Message: aws.String("Key '" + id + "' does not exist")}
}

// Throttle is the error KMS returns when its request quota is exceeded.
func Throttle() error {
	return &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
}

func (f *KMS) begin(op string, keyID *string) (*Key, func(), error) {
	f.mu.Lock()
	if err := f.record(op); err != nil {
		f.mu.Unlock()
		return nil, nil, err
	}
	k, err := f.find(keyID)
	if err != nil {
		f.mu.Unlock()
		return nil, nil, err
	}
	return k, f.mu.Unlock, nil
}

func invalid(k *Key) error {
	return &kmstypes.KMSInvalidStateException{Message: aws.String(fmt.Sprintf("%s is %s", aws.ToString(k.Meta.Arn), k.Meta.KeyState))}
}

// DescribeKey returns a copy of the key's metadata.
func (f *KMS) DescribeKey(_ context.Context, in *kms.DescribeKeyInput, _ ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	k, done, err := f.begin("DescribeKey", in.KeyId)
	if err != nil {
		return nil, err
	}
	defer done()
	meta := k.Meta
	return &kms.DescribeKeyOutput{KeyMetadata: &meta}, nil
}

// ListResourceTags returns the key's tags.
func (f *KMS) ListResourceTags(_ context.Context, in *kms.ListResourceTagsInput, _ ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error) {
	k, done, err := f.begin("ListResourceTags", in.KeyId)
	if err != nil {
		return nil, err
	}
	defer done()
	out := &kms.ListResourceTagsOutput{}
	for key, v := range k.Tags {
		out.Tags = append(out.Tags, kmstypes.Tag{TagKey: aws.String(key), TagValue: aws.String(v)})
	}
	return out, nil
}

// ListAliases returns the key's aliases.
func (f *KMS) ListAliases(_ context.Context, in *kms.ListAliasesInput, _ ...func(*kms.Options)) (*kms.ListAliasesOutput, error) {
	k, done, err := f.begin("ListAliases", in.KeyId)
	if err != nil {
		return nil, err
	}
	defer done()
	out := &kms.ListAliasesOutput{}
	for _, a := range k.Aliases {
		out.Aliases = append(out.Aliases, kmstypes.AliasListEntry{AliasName: aws.String(a), TargetKeyId: k.Meta.KeyId})
	}
	return out, nil
}

// CancelKeyDeletion follows the KMS state machine.
func (f *KMS) CancelKeyDeletion(_ context.Context, in *kms.CancelKeyDeletionInput, _ ...func(*kms.Options)) (*kms.CancelKeyDeletionOutput, error) {
	k, done, err := f.begin("CancelKeyDeletion", in.KeyId)
	if err != nil {
		return nil, err
	}
	defer done()
	if k.Meta.KeyManager == kmstypes.KeyManagerTypeAws {
		return nil, invalid(k)
	}
	if s := k.Meta.KeyState; s != kmstypes.KeyStatePendingDeletion && s != kmstypes.KeyStatePendingReplicaDeletion {
		return nil, invalid(k)
	}
	k.Meta.KeyState = kmstypes.KeyStateDisabled
	if k.NoMaterial {
		k.Meta.KeyState = kmstypes.KeyStatePendingImport
	}
	k.Meta.Enabled = false
	k.Meta.DeletionDate, k.Meta.PendingDeletionWindowInDays = nil, nil
	return &kms.CancelKeyDeletionOutput{KeyId: k.Meta.Arn}, nil
}

// EnableKey follows the KMS state machine.
func (f *KMS) EnableKey(_ context.Context, in *kms.EnableKeyInput, _ ...func(*kms.Options)) (*kms.EnableKeyOutput, error) {
	k, done, err := f.begin("EnableKey", in.KeyId)
	if err != nil {
		return nil, err
	}
	defer done()
	if f.LagEnable > 0 {
		f.LagEnable--
		return nil, &kmstypes.KMSInvalidStateException{Message: aws.String("key state is changing")}
	}
	switch k.Meta.KeyState {
	case kmstypes.KeyStatePendingDeletion, kmstypes.KeyStatePendingReplicaDeletion, kmstypes.KeyStatePendingImport:
		return nil, invalid(k)
	}
	k.Meta.KeyState, k.Meta.Enabled = kmstypes.KeyStateEnabled, true
	return &kms.EnableKeyOutput{}, nil
}

// GetKeyRotationStatus reports rotation and its period.
func (f *KMS) GetKeyRotationStatus(_ context.Context, in *kms.GetKeyRotationStatusInput, _ ...func(*kms.Options)) (*kms.GetKeyRotationStatusOutput, error) {
	k, done, err := f.begin("GetKeyRotationStatus", in.KeyId)
	if err != nil {
		return nil, err
	}
	defer done()
	out := &kms.GetKeyRotationStatusOutput{KeyId: k.Meta.Arn, KeyRotationEnabled: k.Rotation.Enabled}
	if k.Rotation.Enabled {
		out.RotationPeriodInDays = aws.Int32(int32(k.Rotation.Period))
	}
	return out, nil
}

// EnableKeyRotation follows KMS's rules for which keys can rotate.
func (f *KMS) EnableKeyRotation(_ context.Context, in *kms.EnableKeyRotationInput, _ ...func(*kms.Options)) (*kms.EnableKeyRotationOutput, error) {
	k, done, err := f.begin("EnableKeyRotation", in.KeyId)
	if err != nil {
		return nil, err
	}
	defer done()
	period := int(aws.ToInt32(in.RotationPeriodInDays))
	if period == 0 {
		period = 365
	}
	switch {
	case period < 90 || period > 2560:
		return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "RotationPeriodInDays must be 90-2560"}
	case k.Meta.KeyManager == kmstypes.KeyManagerTypeAws:
		return nil, &kmstypes.UnsupportedOperationException{Message: aws.String("AWS managed key")}
	case k.Meta.KeyState == kmstypes.KeyStateDisabled:
		return nil, &kmstypes.DisabledException{Message: aws.String(aws.ToString(k.Meta.Arn) + " is disabled")}
	case k.Meta.KeyState != kmstypes.KeyStateEnabled:
		return nil, invalid(k)
	case k.Meta.KeySpec != kmstypes.KeySpecSymmetricDefault, k.Meta.Origin != kmstypes.OriginTypeAwsKms:
		return nil, &kmstypes.UnsupportedOperationException{Message: aws.String("this key does not support automatic rotation")}
	case k.Meta.MultiRegionConfiguration != nil && k.Meta.MultiRegionConfiguration.MultiRegionKeyType == kmstypes.MultiRegionKeyTypeReplica:
		return nil, &kmstypes.UnsupportedOperationException{Message: aws.String("set rotation on the primary key")}
	}
	k.Rotation.Enabled, k.Rotation.Period = true, period
	return &kms.EnableKeyRotationOutput{}, nil
}

// GetKeyPolicy returns the key policy.
func (f *KMS) GetKeyPolicy(_ context.Context, in *kms.GetKeyPolicyInput, _ ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error) {
	k, done, err := f.begin("GetKeyPolicy", in.KeyId)
	if err != nil {
		return nil, err
	}
	defer done()
	return &kms.GetKeyPolicyOutput{Policy: aws.String(k.Policy), PolicyName: aws.String("default")}, nil
}

// PutKeyPolicy replaces the key policy (allowed in every key state).
func (f *KMS) PutKeyPolicy(_ context.Context, in *kms.PutKeyPolicyInput, _ ...func(*kms.Options)) (*kms.PutKeyPolicyOutput, error) {
	k, done, err := f.begin("PutKeyPolicy", in.KeyId)
	if err != nil {
		return nil, err
	}
	defer done()
	if k.Meta.KeyManager == kmstypes.KeyManagerTypeAws {
		return nil, &kmstypes.UnsupportedOperationException{Message: aws.String("AWS managed key")}
	}
	if name := aws.ToString(in.PolicyName); name != "" && name != "default" {
		return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "PolicyName must be default"}
	}
	k.Policy = aws.ToString(in.Policy)
	return &kms.PutKeyPolicyOutput{}, nil
}

// Clients hands the same API to every account and Region and records which
// were asked for.
type Clients[T any] struct {
	API T
	// ByRegion are other Regions' APIs (a multi-Region key's copies); API
	// answers for any Region not listed.
	ByRegion map[string]T
	Asked    []string
	Err      error
}

// Get returns the API, or Err.
func (c *Clients[T]) Get(account, region string) (T, error) {
	c.Asked = append(c.Asked, account+"/"+region)
	if c.Err != nil {
		var zero T
		return zero, c.Err
	}
	if api, ok := c.ByRegion[region]; ok {
		return api, nil
	}
	return c.API, nil
}

// GrantPage is how many grants ListGrants answers per page when the caller
// sets no Limit (KMS's default, 50; its maximum is 100:
// https://docs.aws.amazon.com/kms/latest/APIReference/API_ListGrants.html).
const GrantPage = 50

// ListGrants pages through a key's grants as KMS does (Limit, Marker,
// NextMarker, Truncated), or answers one grant by GrantId. moto 5.2.1
// ignores Limit and never truncates.
func (f *KMS) ListGrants(_ context.Context, in *kms.ListGrantsInput, _ ...func(*kms.Options)) (*kms.ListGrantsOutput, error) {
	k, unlock, err := f.begin("ListGrants", in.KeyId)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var all []kmstypes.GrantListEntry
	for _, g := range k.Grants {
		if in.GrantId == nil || aws.ToString(g.GrantId) == aws.ToString(in.GrantId) {
			all = append(all, g)
		}
	}
	start := 0
	if m := aws.ToString(in.Marker); m != "" {
		if _, err := fmt.Sscanf(m, "page-%d", &start); err != nil || start > len(all) {
			return nil, &kmstypes.InvalidMarkerException{Message: aws.String("invalid marker " + m)}
		}
	}
	limit := GrantPage
	if in.Limit != nil {
		if l := int(*in.Limit); l < 1 || l > 100 {
			return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "Limit must be between 1 and 100"}
		} else {
			limit = l
		}
	}
	end := min(start+limit, len(all))
	out := &kms.ListGrantsOutput{Grants: all[start:end], Truncated: end < len(all)}
	if out.Truncated {
		out.NextMarker = aws.String(fmt.Sprintf("page-%d", end))
	}
	return out, nil
}

// RevokeGrant deletes a grant; NotFoundException when the key has none by
// that id.
func (f *KMS) RevokeGrant(_ context.Context, in *kms.RevokeGrantInput, _ ...func(*kms.Options)) (*kms.RevokeGrantOutput, error) {
	k, unlock, err := f.begin("RevokeGrant", in.KeyId)
	if err != nil {
		return nil, err
	}
	defer unlock()
	for i, g := range k.Grants {
		if aws.ToString(g.GrantId) == aws.ToString(in.GrantId) {
			k.Grants = append(k.Grants[:i], k.Grants[i+1:]...)
			return &kms.RevokeGrantOutput{}, nil
		}
	}
	return nil, &kmstypes.NotFoundException{Message: aws.String("Grant ID " + aws.ToString(in.GrantId) + " not found")}
}
