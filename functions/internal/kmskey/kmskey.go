// Package kmskey reads a KMS key the way every KMS guardrail needs it: its
// metadata, tags and aliases, through a narrow interface with the SDK's
// signatures, and describes it for alerts.
package kmskey

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
)

// ReadAPI is what Observe calls.
type ReadAPI interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, opts ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	ListResourceTags(ctx context.Context, in *kms.ListResourceTagsInput, opts ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error)
	ListAliases(ctx context.Context, in *kms.ListAliasesInput, opts ...func(*kms.Options)) (*kms.ListAliasesOutput, error)
}

// Key is a key's current state, as far as it has been read. Guardrails read
// only what their decision needs: the metadata (Described), the tags
// (TagsRead) when a decision would act or alert, and the aliases for
// every alert. The sweep hands keys with all three read already, from its
// listings.
type Key struct {
	// Found is false when KMS says the key does not exist (any more).
	Found bool
	// Described says Meta holds DescribeKey's answer; otherwise only its
	// KeyId and Arn are set.
	Described bool
	Meta      kmstypes.KeyMetadata
	// TagsRead says Tags holds the key's tags: ListResourceTags's answer,
	// or the sweep's bulk read (tag:GetResources).
	TagsRead bool
	Tags     map[string]string
	// AliasesRead says Aliases holds every alias of the key, none perhaps:
	// the sweep listed the Region's aliases. Otherwise an empty Aliases
	// only means they were not read.
	AliasesRead bool
	Aliases     []string
}

// Unread is a key known by its id, not read yet (Described false): its ARN
// is arn when given, else built from account and region.
func Unread(id, arn, account, region string) Key {
	if arn == "" {
		arn = fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", guardrail.Partition(region), region, account, id)
	}
	return Key{Found: true, Meta: kmstypes.KeyMetadata{KeyId: aws.String(id), Arn: aws.String(arn)}}
}

// Lookup reads the key's metadata with one DescribeKey. A key KMS does not
// know is not an error: Found is false.
func Lookup(ctx context.Context, api ReadAPI, keyID string) (Key, error) {
	d, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	var nf *kmstypes.NotFoundException
	if errors.As(err, &nf) {
		return Key{}, nil
	}
	if err != nil {
		return Key{}, fmt.Errorf("describe key %s: %w", keyID, err)
	}
	if d.KeyMetadata == nil {
		return Key{}, fmt.Errorf("describe key %s: empty response", keyID)
	}
	return Key{Found: true, Described: true, Meta: *d.KeyMetadata}, nil
}

// Observe reads the key's metadata and, for a customer managed key (the
// only kind a guardrail acts on), its tags.
func Observe(ctx context.Context, api ReadAPI, keyID string) (Key, error) {
	k, err := Lookup(ctx, api, keyID)
	if err != nil || !k.Found || k.AWSManaged() {
		return k, err
	}
	return k, k.ReadTags(ctx, api)
}

// ReadTags reads the key's tags unless they were read already.
func (k *Key) ReadTags(ctx context.Context, api ReadAPI) error {
	if k.TagsRead || !k.Found {
		return nil
	}
	id := k.ID()
	tags := map[string]string{}
	p := kms.NewListResourceTagsPaginator(api, &kms.ListResourceTagsInput{KeyId: aws.String(id)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list tags of key %s: %w", id, err)
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.TagKey)] = aws.ToString(t.TagValue)
		}
	}
	k.Tags, k.TagsRead = tags, true
	return nil
}

// ReadAliases adds the key's aliases, for an alert a person acts on. It is
// best effort: an alert without aliases still names the key by its ARN, so
// an error is only returned for the log. Aliases are cached per key (so per
// account and Region) for AliasesFor: every alert reads them, a burst of
// events about one key reads them once. A key whose aliases are known
// (AliasesRead: the sweep listed the Region's) is not read again.
func (k *Key) ReadAliases(ctx context.Context, api ReadAPI) error {
	if !k.Found || k.AliasesRead || len(k.Aliases) > 0 {
		return nil
	}
	ck, cacheable := aliasKey(api, k.ARN())
	if a, ok := aliasCache.get(ck); ok && cacheable {
		k.Aliases, k.AliasesRead = a, true
		return nil
	}
	id := k.ID()
	var found []string
	p := kms.NewListAliasesPaginator(api, &kms.ListAliasesInput{KeyId: aws.String(id)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list aliases of key %s: %w", id, err)
		}
		for _, a := range page.Aliases {
			if a.TargetKeyId != nil && aws.ToString(a.TargetKeyId) != id {
				continue // an emulator may ignore the KeyId filter
			}
			found = append(found, aws.ToString(a.AliasName))
		}
	}
	k.Aliases, k.AliasesRead = found, true
	if cacheable {
		aliasCache.put(ck, found)
	}
	return nil
}

// aliasKey is the cache key of a key's aliases: the client (one per
// account and Region; a test's fake is its own world) and the key ARN.
func aliasKey(api ReadAPI, arn string) (cacheKey, bool) {
	t := reflect.TypeOf(api)
	return cacheKey{api, arn}, arn != "" && t != nil && t.Comparable()
}

type cacheKey struct {
	api any
	arn string
}

// AliasesFor is how long a key's aliases are reused: short, so a renamed
// key reads right in the next minutes' alerts.
const AliasesFor = 2 * time.Minute

var aliasCache = &ttlCache{ttl: AliasesFor, max: 4096, now: time.Now}

// ttlCache is a small map of key ARN to aliases, each kept for ttl; when
// it holds max entries it starts again (a Lambda sees few keys).
type ttlCache struct {
	ttl time.Duration
	max int
	now func() time.Time
	mu  sync.Mutex
	m   map[cacheKey]cachedAliases
}

type cachedAliases struct {
	aliases []string
	at      time.Time
}

func (c *ttlCache) get(k cacheKey) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || c.now().Sub(e.at) >= c.ttl {
		return nil, false
	}
	return slices.Clone(e.aliases), true
}

func (c *ttlCache) put(k cacheKey, aliases []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = map[cacheKey]cachedAliases{}
	}
	c.m[k] = cachedAliases{aliases: slices.Clone(aliases), at: c.now()}
}

// ID is the bare key id.
func (k Key) ID() string { return aws.ToString(k.Meta.KeyId) }

// ARN is the key ARN.
func (k Key) ARN() string { return aws.ToString(k.Meta.Arn) }

// AWSManaged reports an AWS managed key.
func (k Key) AWSManaged() bool { return k.Meta.KeyManager == kmstypes.KeyManagerTypeAws }

// Exempt reports whether the tag is set to "true" (any case, spaces ignored).
func (k Key) Exempt(tag string) bool {
	v, ok := k.Tags[tag]
	return ok && strings.EqualFold(strings.TrimSpace(v), "true")
}

// DisplayName is what a person recognises: the first alias, else the id.
func (k Key) DisplayName() string {
	if len(k.Aliases) > 0 {
		return k.Aliases[0]
	}
	return k.ID()
}

// Describe adds the key's details to an alert body section.
func (k Key) Describe(b *alert.Body, stateLabel string) {
	b.Field("ARN", k.ARN())
	if len(k.Aliases) > 0 {
		b.Field("Aliases", strings.Join(k.Aliases, ", "))
	}
	if k.Described {
		b.Field("Description", aws.ToString(k.Meta.Description))
		b.Field(stateLabel, string(k.Meta.KeyState))
		b.Field("Created", timeString(k.Meta.CreationDate))
		b.Field("Key spec", string(k.Meta.KeySpec))
		b.Field("Origin", string(k.Meta.Origin))
		b.Field("Multi-Region", MultiRegion(k.Meta))
	}
	if k.TagsRead {
		b.Field("Tags", alert.TagList(k.Tags))
	}
}

// MultiRegion describes a key's multi-Region role.
func MultiRegion(m kmstypes.KeyMetadata) string {
	if m.MultiRegion == nil || !*m.MultiRegion {
		return "no"
	}
	c := m.MultiRegionConfiguration
	if c == nil {
		return "yes"
	}
	switch c.MultiRegionKeyType {
	case kmstypes.MultiRegionKeyTypePrimary:
		var regions []string
		for _, r := range c.ReplicaKeys {
			regions = append(regions, aws.ToString(r.Region))
		}
		if len(regions) == 0 {
			return "primary key, no replicas"
		}
		return "primary key; replicas in " + strings.Join(regions, ", ") + " (replicas are managed separately)"
	case kmstypes.MultiRegionKeyTypeReplica:
		if c.PrimaryKey != nil {
			return "replica of " + aws.ToString(c.PrimaryKey.Arn)
		}
		return "replica key"
	}
	return "yes"
}

func timeString(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// ConsoleURL links to the key in the KMS console, or "" when the values are
// not safe to print.
func ConsoleURL(region, keyID string) string {
	if !alert.ShellSafe(region) || !alert.ShellSafe(keyID) {
		return ""
	}
	return fmt.Sprintf("https://%s.console.aws.amazon.com/kms/home?region=%s#/kms/keys/%s", region, region, keyID)
}

// FromEvent returns the key id (or alias) an event is about, a CloudTrail
// record or a native KMS event, refusing a key ARN in another account than
// the event's: a terminal error.
func FromEvent(ev *cloudtrail.Event) (string, error) {
	if ev.Record == nil {
		return fromNative(ev)
	}
	ref, err := ev.Record.KeyRef()
	if err != nil {
		return "", guardrail.Terminal(err)
	}
	if ref.Account != "" && ref.Account != ev.AccountID() {
		return "", guardrail.Terminal(fmt.Errorf("key %s is in account %s, not in the event's account %s", ref.Raw, ref.Account, ev.AccountID()))
	}
	if ref.ID != "" {
		return ref.ID, nil
	}
	return ref.Raw, nil // an alias: DescribeKey resolves it
}

// fromNative is the key a native KMS event ("KMS CMK Deletion", "KMS
// Imported Key Material Expiration") is about: detail.key-id, else the key
// ARN in resources, which must be in the event's account.
func fromNative(ev *cloudtrail.Event) (string, error) {
	if ev.NativeKeyID != "" {
		return ev.NativeKeyID, nil
	}
	for _, r := range ev.Resources {
		if ref := cloudtrail.ParseKeyRef(r); ref.ID != "" {
			if ref.Account != "" && ref.Account != ev.AccountID() {
				return "", guardrail.Terminal(fmt.Errorf("key %s is in account %s, not in the event's account %s", r, ref.Account, ev.AccountID()))
			}
			return ref.ID, nil
		}
	}
	return "", guardrail.Terminal(fmt.Errorf("%s event names no key", ev.DetailType))
}

// Common is the part of guardrail.Logic every KMS key guardrail shares, for
// a state S that holds the key (Key returns it): the key an event names,
// the exemption tag (tags read only when asked), the aliases for an alert
// a person acts on, and the name a person recognises. A guardrail's logic
// embeds it.
type Common[API ReadAPI, S any] struct {
	Key func(*S) *Key
}

// Target is the key id (or alias) the event names.
func (Common[API, S]) Target(ev *cloudtrail.Event) (string, error) { return FromEvent(ev) }

// TargetRegion is the Region in the key ARN the event names, if any: the
// key is handled there (guardrail.Locator).
func (Common[API, S]) TargetRegion(ev *cloudtrail.Event) string {
	if ev.Record == nil { // an AWS service event names its key in resources, in its own Region
		return ""
	}
	ref, err := ev.Record.KeyRef()
	if err != nil {
		return ""
	}
	return ref.Region
}

// Exempt reads the key's tags (once) and checks tag=true.
func (m Common[API, S]) Exempt(ctx context.Context, c *guardrail.Call[API], s *S, tag string) (bool, error) {
	k := m.Key(s)
	if err := k.ReadTags(ctx, c.API); err != nil {
		return false, err
	}
	return k.Exempt(tag), nil
}

// Enrich reads the aliases, best effort: the alert names the ARN anyway.
func (m Common[API, S]) Enrich(ctx context.Context, c *guardrail.Call[API], s *S) {
	_ = m.Key(s).ReadAliases(ctx, c.API)
}

// Name is the alias, else the key id; "" when the key was not found.
func (m Common[API, S]) Name(s S) string {
	if k := m.Key(&s); k.Found {
		return k.DisplayName()
	}
	return ""
}

// ResourceID is the key's ARN (guardrail.Identifier), "" when the key was
// not found.
func (m Common[API, S]) ResourceID(s S) string {
	if k := m.Key(&s); k.Found {
		return k.ARN()
	}
	return ""
}

// ListedKey is what the sweep hands a key guardrail: the key, or an error
// naming what it got instead.
func ListedKey(resource any) (Key, error) {
	k, ok := resource.(Key)
	if !ok {
		return Key{}, fmt.Errorf("the sweep handed a KMS key guardrail a %T", resource)
	}
	return k, nil
}
