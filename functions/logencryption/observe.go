package logencryption

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/functions/internal/awsenv"
	"github.com/kmsguard/kmsguard/functions/internal/glob"
	"github.com/kmsguard/kmsguard/functions/internal/loggroup"
	"github.com/kmsguard/kmsguard/functions/internal/trust"
)

// logsAPI is every CloudWatch Logs call this guardrail makes.
type logsAPI interface {
	DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
	ListTagsForResource(ctx context.Context, in *cloudwatchlogs.ListTagsForResourceInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.ListTagsForResourceOutput, error)
	AssociateKmsKey(ctx context.Context, in *cloudwatchlogs.AssociateKmsKeyInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.AssociateKmsKeyOutput, error)
}

// kmsAPI is every KMS call this guardrail makes.
type kmsAPI interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, opts ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, opts ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
}

var (
	_ logsAPI = (*cloudwatchlogs.Client)(nil)
	_ kmsAPI  = (*kms.Client)(nil)
)

// LogGroup is a log group's current state.
type LogGroup = loggroup.Group

// describeGroup finds a log group by its exact name. DescribeLogGroups
// matches by prefix, so every page is read until the name is found.
func describeGroup(ctx context.Context, api logsAPI, name string) (LogGroup, error) {
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(api, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return LogGroup{}, fmt.Errorf("describe log group %s: %w", name, err)
		}
		for _, g := range page.LogGroups {
			if aws.ToString(g.LogGroupName) != name {
				continue
			}
			arn := aws.ToString(g.LogGroupArn)
			if arn == "" {
				arn = strings.TrimSuffix(aws.ToString(g.Arn), ":*")
			}
			return LogGroup{Found: true, Name: name, ARN: arn, KMSKeyID: aws.ToString(g.KmsKeyId)}, nil
		}
	}
	return LogGroup{Name: name}, nil
}

// observeGroup reads the log group and, when it exists, its tags.
func observeGroup(ctx context.Context, api logsAPI, name string) (LogGroup, error) {
	g, err := describeGroup(ctx, api, name)
	if err != nil || !g.Found || g.KMSKeyID != "" {
		return g, err
	}
	out, err := api.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(g.ARN)})
	if err != nil {
		return g, fmt.Errorf("list tags of log group %s: %w", name, err)
	}
	g.Tags, g.TagsRead = out.Tags, true
	return g, nil
}

// LogsKey is the regional logs key and whether CloudWatch Logs can use it.
type LogsKey struct {
	Alias string
	ARN   string
	// Problem says why the key cannot be used, "" when it can.
	Problem string
	// Statement is the key policy statement to add when the policy does
	// not admit CloudWatch Logs.
	Statement string
	// Fix is what makes the key usable, when Problem is set (spoke health
	// and preflight show it next to the problem).
	Fix string
}

// lookupKey resolves the logs key alias with one DescribeKey and checks
// what the metadata tells: it exists, is a customer managed symmetric key,
// and is Enabled.
func lookupKey(ctx context.Context, api kmsAPI, alias, region string) (LogsKey, *kmstypes.KeyMetadata, error) {
	k := LogsKey{Alias: alias}
	d, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	var nf *kmstypes.NotFoundException
	if errors.As(err, &nf) {
		k.Problem = fmt.Sprintf("the logs key %s does not exist in %s; deploy the kmsguard regional spoke there, or set guardrails.log-encryption.key_alias to an existing key", alias, region)
		k.Fix = fmt.Sprintf("deploy the regional spoke here (StackSet kmsguard-regional, or kmsguard-regional-%s), which creates %s, or point logs_key.existing_alias at a usable key", region, DefaultKeyAlias)
		return k, nil, nil
	}
	if err != nil {
		return k, nil, fmt.Errorf("describe logs key %s: %w", alias, err)
	}
	m := d.KeyMetadata
	if m == nil {
		return k, nil, fmt.Errorf("describe logs key %s: empty response", alias)
	}
	k.ARN = aws.ToString(m.Arn)
	switch {
	case m.KeyManager == kmstypes.KeyManagerTypeAws:
		k.Problem = fmt.Sprintf("%s is an AWS managed key; CloudWatch Logs needs a customer managed key", alias)
	case m.KeySpec != "" && m.KeySpec != kmstypes.KeySpecSymmetricDefault:
		k.Problem = fmt.Sprintf("%s is not a symmetric key (%s); CloudWatch Logs supports only symmetric keys", alias, m.KeySpec)
	case m.KeyState != kmstypes.KeyStateEnabled:
		k.Problem = fmt.Sprintf("%s is %s, not Enabled; CloudWatch Logs refuses a key it cannot use", alias, m.KeyState)
	}
	k.Fix = keyFix(m, alias, region)
	return k, m, nil
}

// keyFix is what makes a key usable that lookupKey found unusable.
func keyFix(m *kmstypes.KeyMetadata, alias, region string) string {
	id := aws.ToString(m.KeyId)
	switch {
	case m.KeyManager == kmstypes.KeyManagerTypeAws, m.KeySpec != "" && m.KeySpec != kmstypes.KeySpecSymmetricDefault:
		return "point logs_key.existing_alias (or guardrails.log-encryption.key_alias) at a symmetric customer managed key"
	case m.KeyState == kmstypes.KeyStateDisabled:
		return fmt.Sprintf("enable it if it was disabled by mistake (aws kms enable-key --key-id %s --region %s); key-deletion alerts on who disabled it", id, region)
	case m.KeyState == kmstypes.KeyStatePendingDeletion, m.KeyState == kmstypes.KeyStatePendingReplicaDeletion:
		return fmt.Sprintf("cancel its deletion and enable it (aws kms cancel-key-deletion --key-id %s --region %s, then aws kms enable-key --key-id %s --region %s): log groups encrypted with it become unreadable when it is deleted", id, region, id, region)
	case m.KeyState != kmstypes.KeyStateEnabled:
		return fmt.Sprintf("make %s Enabled (it is %s), or point logs_key.existing_alias at a usable key", alias, m.KeyState)
	}
	return ""
}

// observeKey is lookupKey plus the key policy: whether it admits the
// CloudWatch Logs service of this Region for this log group, and if not,
// the statement to add.
func observeKey(ctx context.Context, api kmsAPI, alias, region, account, groupARN string) (LogsKey, error) {
	k, m, err := lookupKey(ctx, api, alias, region)
	if err != nil || k.Problem != "" {
		return k, err
	}
	pol, err := api.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: m.KeyId, PolicyName: aws.String("default")})
	if err != nil {
		return k, fmt.Errorf("get policy of logs key %s: %w", alias, err)
	}
	if why := admitsLogs(aws.ToString(pol.Policy), region, groupARN); why != "" {
		k.Problem = fmt.Sprintf("the policy of %s does not let CloudWatch Logs use it: %s", alias, why)
		k.Statement = logsStatement(region, account)
		k.Fix = "add this statement to its key policy: " + k.Statement
	}
	return k, nil
}

// keyTTL is how long a usable logs key is remembered. A key disabled in
// that minute is refused by AssociateKmsKey itself, which also clears it.
const keyTTL = time.Minute

// keyCache remembers usable logs keys per account and Region, so a burst of
// new log groups (a deployment creating fifty functions) or a sweep reads
// the key once. Callers that need a key being read wait for that read
// instead of making their own (a sweep's workers all start at once). A nil
// *keyCache remembers nothing.
type keyCache struct {
	now      func() time.Time
	mu       sync.Mutex
	m        map[string]cachedKey
	inflight map[string]*keyRead
}

type cachedKey struct {
	key LogsKey
	at  time.Time
}

// keyRead is a lookup under way; done is closed when key and err are set.
type keyRead struct {
	done chan struct{}
	key  LogsKey
	err  error
}

func newKeyCache(now func() time.Time) *keyCache {
	return &keyCache{now: now, m: map[string]cachedKey{}, inflight: map[string]*keyRead{}}
}

// get returns the logs key of account and Region, from the cache when a
// usable one was read less than keyTTL ago. Unusable keys are not
// remembered: the next event sees a fix at once.
func (c *keyCache) get(ctx context.Context, api kmsAPI, alias, account, region string) (LogsKey, error) {
	if c == nil {
		k, _, err := lookupKey(ctx, api, alias, region)
		return k, err
	}
	id := account + "/" + region + "/" + alias
	c.mu.Lock()
	if e, ok := c.m[id]; ok && c.now().Sub(e.at) < keyTTL {
		c.mu.Unlock()
		return e.key, nil
	}
	if r, ok := c.inflight[id]; ok {
		c.mu.Unlock()
		select {
		case <-r.done:
			return r.key, r.err
		case <-ctx.Done():
			return LogsKey{Alias: alias}, ctx.Err()
		}
	}
	r := &keyRead{done: make(chan struct{})}
	c.inflight[id] = r
	c.mu.Unlock()
	r.key, _, r.err = lookupKey(ctx, api, alias, region)
	c.mu.Lock()
	delete(c.inflight, id)
	if r.err == nil && r.key.Problem == "" {
		c.m[id] = cachedKey{r.key, c.now()}
	}
	c.mu.Unlock()
	close(r.done)
	return r.key, r.err
}

// forget drops what is remembered for account and Region.
func (c *keyCache) forget(account, region string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.m {
		if strings.HasPrefix(id, account+"/"+region+"/") {
			delete(c.m, id)
		}
	}
}

// Actions CloudWatch Logs needs on the key.
var logsActions = []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:DescribeKey"}

// admitsLogs checks a key policy for an Allow statement that lets
// logs.<region>.amazonaws.com use the key for this log group. It returns ""
// when one does, or the reason.
func admitsLogs(policy, region, groupARN string) string {
	var doc struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return "the policy cannot be read"
	}
	var stmts []map[string]any
	if err := json.Unmarshal(doc.Statement, &stmts); err != nil {
		var one map[string]any
		if json.Unmarshal(doc.Statement, &one) != nil {
			return "the policy has no readable statements"
		}
		stmts = []map[string]any{one}
	}
	service := "logs." + region + ".amazonaws.com"
	for _, st := range stmts {
		if st["Effect"] != "Allow" || !hasService(st["Principal"], service) {
			continue
		}
		missing := ""
		for _, a := range logsActions {
			if !anyMatch(trust.Strings(st["Action"]), a) {
				missing = a
				break
			}
		}
		if missing != "" {
			continue
		}
		if contextAllows(st["Condition"], groupARN) {
			return ""
		}
	}
	return fmt.Sprintf("no statement allows %s the actions %s for this log group", service, strings.Join(logsActions, ", "))
}

func hasService(p any, service string) bool {
	m, ok := p.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range m {
		if strings.EqualFold(k, "Service") {
			for _, s := range trust.Strings(v) {
				if s == service {
					return true
				}
			}
		}
	}
	return false
}

func anyMatch(patterns []string, action string) bool {
	for _, p := range patterns {
		if glob.Match(strings.ToLower(p), strings.ToLower(action)) {
			return true
		}
	}
	return false
}

// contextAllows: the statement either has no encryption-context condition or
// one (ArnLike/ArnEquals/StringLike/StringEquals) whose value covers the log
// group ARN. Any other condition is not understood and does not count.
func contextAllows(cond any, groupARN string) bool {
	if cond == nil {
		return true
	}
	m, ok := cond.(map[string]any)
	if !ok {
		return false
	}
	for op, keys := range m {
		km, ok := keys.(map[string]any)
		if !ok {
			return false
		}
		for key, v := range km {
			if !strings.EqualFold(key, "kms:EncryptionContext:aws:logs:arn") {
				return false
			}
			switch strings.ToLower(op) {
			case "arnlike", "arnequals", "stringlike", "stringequals":
			default:
				return false
			}
			if !anyGlob(trust.Strings(v), groupARN) {
				return false
			}
		}
	}
	return true
}

func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if glob.Match(p, s) {
			return true
		}
	}
	return false
}

// logsStatement is the statement to add to the logs key's policy, as in the
// CloudWatch Logs documentation, scoped to the account's log groups.
func logsStatement(region, account string) string {
	return fmt.Sprintf(`{"Sid":"AllowCloudWatchLogs","Effect":"Allow","Principal":{"Service":"logs.%s.amazonaws.com"},"Action":["kms:Encrypt*","kms:Decrypt*","kms:ReEncrypt*","kms:GenerateDataKey*","kms:Describe*"],"Resource":"*","Condition":{"ArnLike":{"kms:EncryptionContext:aws:logs:arn":"arn:%s:logs:%s:%s:*"}}}`, region, awsenv.Partition(region), region, account)
}

// CheckKey is observeKey for callers outside the guardrail (preflight): it
// resolves the logs key alias in account and Region and says whether
// CloudWatch Logs can use it for the account's log groups.
func CheckKey(ctx context.Context, api kmsAPI, alias, region, account string) (LogsKey, error) {
	return observeKey(ctx, api, alias, region, account, fmt.Sprintf("arn:%s:logs:%s:%s:log-group:kmsguard-preflight", awsenv.Partition(region), region, account))
}
