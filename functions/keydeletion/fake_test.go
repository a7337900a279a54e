package keydeletion

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// fakeKMS models the parts of KMS this guardrail touches, including the key
// state machine moto does not enforce: CancelKeyDeletion only from
// PendingDeletion/PendingReplicaDeletion (to Disabled), EnableKey refused
// while pending deletion or import, AWS managed keys immutable, and the SDK's
// typed errors.
type fakeKMS struct {
	mu    sync.Mutex
	keys  map[string]*fakeKey
	calls []string
	// fail injects errors per operation, consumed in order.
	fail map[string][]error
	// lagEnable makes that many EnableKey calls after a cancel answer
	// KMSInvalidStateException, as KMS's eventual consistency can.
	lagEnable int
}

type fakeKey struct {
	meta    kmstypes.KeyMetadata
	tags    map[string]string
	aliases []string
}

const testRegion = "eu-west-1"

func newFake() *fakeKMS { return &fakeKMS{keys: map[string]*fakeKey{}, fail: map[string][]error{}} }

// addKey adds a customer managed key in the given state.
func (f *fakeKMS) addKey(id string, state kmstypes.KeyState, tags map[string]string, aliases ...string) *fakeKey {
	arn := fmt.Sprintf("arn:aws:kms:%s:111122223333:key/%s", testRegion, id)
	created := time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC)
	k := &fakeKey{meta: kmstypes.KeyMetadata{
		KeyId: aws.String(id), Arn: aws.String(arn), AWSAccountId: aws.String("111122223333"),
		KeyState: state, KeyManager: kmstypes.KeyManagerTypeCustomer, Enabled: state == kmstypes.KeyStateEnabled,
		Description: aws.String("payments ledger encryption"), CreationDate: &created,
		Origin: kmstypes.OriginTypeAwsKms, KeySpec: kmstypes.KeySpecSymmetricDefault, MultiRegion: aws.Bool(strings.HasPrefix(id, "mrk-")),
	}, tags: tags, aliases: aliases}
	if state == kmstypes.KeyStatePendingDeletion {
		del := time.Date(2026, 3, 21, 9, 26, 53, 0, time.UTC)
		k.meta.DeletionDate = &del
		k.meta.PendingDeletionWindowInDays = aws.Int32(7)
	}
	if k.tags == nil {
		k.tags = map[string]string{}
	}
	f.keys[id] = k
	return k
}

func (f *fakeKMS) record(op string) error {
	f.calls = append(f.calls, op)
	if errs := f.fail[op]; len(errs) > 0 {
		f.fail[op] = errs[1:]
		return errs[0]
	}
	return nil
}

func (f *fakeKMS) find(keyID *string) (*fakeKey, error) {
	id := aws.ToString(keyID)
	for _, k := range f.keys {
		if id == aws.ToString(k.meta.KeyId) || id == aws.ToString(k.meta.Arn) {
			return k, nil
		}
		for _, a := range k.aliases {
			if id == a {
				return k, nil
			}
		}
	}
	return nil, &kmstypes.NotFoundException{Message: aws.String("Key '" + id + "' does not exist")}
}

func (f *fakeKMS) DescribeKey(_ context.Context, in *kms.DescribeKeyInput, _ ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("DescribeKey"); err != nil {
		return nil, err
	}
	k, err := f.find(in.KeyId)
	if err != nil {
		return nil, err
	}
	meta := k.meta
	return &kms.DescribeKeyOutput{KeyMetadata: &meta}, nil
}

func (f *fakeKMS) ListResourceTags(_ context.Context, in *kms.ListResourceTagsInput, _ ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ListResourceTags"); err != nil {
		return nil, err
	}
	k, err := f.find(in.KeyId)
	if err != nil {
		return nil, err
	}
	out := &kms.ListResourceTagsOutput{}
	for key, v := range k.tags {
		out.Tags = append(out.Tags, kmstypes.Tag{TagKey: aws.String(key), TagValue: aws.String(v)})
	}
	return out, nil
}

func (f *fakeKMS) ListAliases(_ context.Context, in *kms.ListAliasesInput, _ ...func(*kms.Options)) (*kms.ListAliasesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ListAliases"); err != nil {
		return nil, err
	}
	k, err := f.find(in.KeyId)
	if err != nil {
		return nil, err
	}
	out := &kms.ListAliasesOutput{}
	for _, a := range k.aliases {
		out.Aliases = append(out.Aliases, kmstypes.AliasListEntry{AliasName: aws.String(a), TargetKeyId: k.meta.KeyId})
	}
	return out, nil
}

func (f *fakeKMS) CancelKeyDeletion(_ context.Context, in *kms.CancelKeyDeletionInput, _ ...func(*kms.Options)) (*kms.CancelKeyDeletionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("CancelKeyDeletion"); err != nil {
		return nil, err
	}
	k, err := f.find(in.KeyId)
	if err != nil {
		return nil, err
	}
	if k.meta.KeyManager == kmstypes.KeyManagerTypeAws {
		return nil, &kmstypes.KMSInvalidStateException{Message: aws.String("AWS managed key")}
	}
	if s := k.meta.KeyState; s != kmstypes.KeyStatePendingDeletion && s != kmstypes.KeyStatePendingReplicaDeletion {
		return nil, &kmstypes.KMSInvalidStateException{Message: aws.String(fmt.Sprintf("%s is not pending deletion", aws.ToString(k.meta.Arn)))}
	}
	if k.meta.Origin == kmstypes.OriginTypeExternal && k.tags["fake:material"] == "none" {
		k.meta.KeyState = kmstypes.KeyStatePendingImport
	} else {
		k.meta.KeyState = kmstypes.KeyStateDisabled
	}
	k.meta.Enabled = false
	k.meta.DeletionDate, k.meta.PendingDeletionWindowInDays = nil, nil
	return &kms.CancelKeyDeletionOutput{KeyId: k.meta.Arn}, nil
}

func (f *fakeKMS) EnableKey(_ context.Context, in *kms.EnableKeyInput, _ ...func(*kms.Options)) (*kms.EnableKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("EnableKey"); err != nil {
		return nil, err
	}
	k, err := f.find(in.KeyId)
	if err != nil {
		return nil, err
	}
	if f.lagEnable > 0 {
		f.lagEnable--
		return nil, &kmstypes.KMSInvalidStateException{Message: aws.String("key state is changing")}
	}
	switch k.meta.KeyState {
	case kmstypes.KeyStatePendingDeletion, kmstypes.KeyStatePendingReplicaDeletion, kmstypes.KeyStatePendingImport:
		return nil, &kmstypes.KMSInvalidStateException{Message: aws.String(fmt.Sprintf("%s is %s", aws.ToString(k.meta.Arn), k.meta.KeyState))}
	}
	k.meta.KeyState, k.meta.Enabled = kmstypes.KeyStateEnabled, true
	return &kms.EnableKeyOutput{}, nil
}

// writes lists the mutating calls made.
func (f *fakeKMS) writes() []string {
	var w []string
	for _, c := range f.calls {
		if c == "CancelKeyDeletion" || c == "EnableKey" {
			w = append(w, c)
		}
	}
	return w
}

// fakeClients hands the same fake to every account and Region, and records
// which ones were asked for.
type fakeClients struct {
	api   kmsAPI
	asked []string
	err   error
}

func (c *fakeClients) Get(account, region string) (kmsAPI, error) {
	c.asked = append(c.asked, account+"/"+region)
	if c.err != nil {
		return nil, c.err
	}
	return c.api, nil
}
