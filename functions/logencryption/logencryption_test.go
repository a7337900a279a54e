package logencryption

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alerttest"
	"github.com/kmsguard/kmsguard/functions/internal/fakekms"
	"github.com/kmsguard/kmsguard/functions/internal/loggroup"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

// fakeLogs models the CloudWatch Logs calls the guardrail makes.
// DescribeLogGroups matches by prefix, as the real API does.
type fakeLogs struct {
	mu     sync.Mutex
	groups map[string]*logGroup
	calls  []string
	fail   map[string][]error
	// keyCheck is CloudWatch Logs's own check of the key at
	// AssociateKmsKey; nil accepts any key ARN.
	keyCheck func(groupARN, keyARN string) error
}

type logGroup struct {
	key  string
	tags map[string]string
}

func (f *fakeLogs) record(op string) error {
	f.calls = append(f.calls, op)
	if errs := f.fail[op]; len(errs) > 0 {
		f.fail[op] = errs[1:]
		return errs[0]
	}
	return nil
}

func arnOf(name string) string {
	return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", fakekms.Region, fakekms.Account, name)
}

func (f *fakeLogs) DescribeLogGroups(_ context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("DescribeLogGroups"); err != nil {
		return nil, err
	}
	var names []string
	for n := range f.groups {
		if strings.HasPrefix(n, aws.ToString(in.LogGroupNamePrefix)) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	out := &cloudwatchlogs.DescribeLogGroupsOutput{}
	for _, n := range names {
		g := logstypes.LogGroup{LogGroupName: aws.String(n), Arn: aws.String(arnOf(n) + ":*"), LogGroupArn: aws.String(arnOf(n))}
		if f.groups[n].key != "" {
			g.KmsKeyId = aws.String(f.groups[n].key)
		}
		out.LogGroups = append(out.LogGroups, g)
	}
	return out, nil
}

func (f *fakeLogs) ListTagsForResource(_ context.Context, in *cloudwatchlogs.ListTagsForResourceInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.ListTagsForResourceOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ListTagsForResource"); err != nil {
		return nil, err
	}
	for n, g := range f.groups {
		if arnOf(n) == aws.ToString(in.ResourceArn) {
			return &cloudwatchlogs.ListTagsForResourceOutput{Tags: g.tags}, nil
		}
	}
	return nil, &logstypes.ResourceNotFoundException{Message: aws.String("no such log group")}
}

func (f *fakeLogs) AssociateKmsKey(_ context.Context, in *cloudwatchlogs.AssociateKmsKeyInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.AssociateKmsKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("AssociateKmsKey"); err != nil {
		return nil, err
	}
	g, ok := f.groups[aws.ToString(in.LogGroupName)]
	if !ok {
		return nil, &logstypes.ResourceNotFoundException{Message: aws.String("no such log group")}
	}
	if !strings.HasPrefix(aws.ToString(in.KmsKeyId), "arn:") {
		return nil, &logstypes.InvalidParameterException{Message: aws.String("kmsKeyId must be an ARN")}
	}
	if f.keyCheck != nil {
		if err := f.keyCheck(arnOf(aws.ToString(in.LogGroupName)), aws.ToString(in.KmsKeyId)); err != nil {
			return nil, err
		}
	}
	g.key = aws.ToString(in.KmsKeyId)
	return &cloudwatchlogs.AssociateKmsKeyOutput{}, nil
}

type clients struct {
	logs *fakeLogs
	kms  *fakekms.KMS
}

func (c clients) Get(string, string) (api, error) { return api{logs: c.logs, kms: c.kms}, nil }

// newTestDriver is the guardrail on fake clients.
func newTestDriver(c clients, modes guardrail.ModeLookup, s Settings, sleep func(context.Context, time.Duration) error, now func() time.Time) *guardrail.Driver[api, State] {
	l := newLogic(s).(*logic)
	l.sleep, l.keys = sleep, newKeyCache(now)
	return guardrail.NewDriver(Spec(), l, c, modes, "123456789012", s.ExemptionTag)
}

const logsKeyID = "5678efgh-12ab-34cd-56ef-1234567890ab"

// goodKeyPolicy admits CloudWatch Logs in eu-west-1 for the account.
var goodKeyPolicy = `{"Version":"2012-10-17","Statement":[` +
	`{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},` +
	logsStatement("eu-west-1", "111122223333") + `]}`

type harness struct {
	logs   *fakeLogs
	kms    *fakekms.KMS
	alerts *alerttest.Recorder
	runner *guardrail.Runner
	slept  time.Duration
}

func newHarness(modes guardrail.ModeLookup, s Settings) *harness {
	h := &harness{logs: &fakeLogs{groups: map[string]*logGroup{}, fail: map[string][]error{}}, kms: fakekms.New(), alerts: &alerttest.Recorder{}}
	k := h.kms.AddKey(logsKeyID, kmstypes.KeyStateEnabled, nil, DefaultKeyAlias)
	k.Policy = goodKeyPolicy
	// CloudWatch Logs refuses a key it cannot use, as AWS does: disabled
	// or missing → InvalidParameterException, a policy that does not admit
	// the service for the group → AccessDeniedException. (The policy test
	// reuses admitsLogs, which TestAdmitsLogs checks on its own.)
	h.logs.keyCheck = func(groupARN, arn string) error {
		k := h.kms.Keys[logsKeyID]
		switch {
		case k == nil || aws.ToString(k.Meta.Arn) != arn || k.Meta.KeyState != kmstypes.KeyStateEnabled:
			return &logstypes.InvalidParameterException{Message: aws.String("The specified KMS key does not exist or is disabled")}
		case admitsLogs(k.Policy, fakekms.Region, groupARN) != "":
			return &logstypes.AccessDeniedException{Message: aws.String("The specified KMS key does not exist or is not allowed to be used with Arn '" + groupARN + "'")}
		}
		return nil
	}
	g := newTestDriver(clients{h.logs, h.kms}, modes, s, func(_ context.Context, d time.Duration) error { h.slept += d; return nil }, time.Now)
	h.runner = guardrail.NewRunner(g, h.alerts, nil)
	return h
}

var keyARN = fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", fakekms.Region, fakekms.Account, logsKeyID)

func TestHandle_Fixtures(t *testing.T) {
	for _, f := range fixtures.All() {
		if !slices.Contains(f.Guardrails, Spec().ID) {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			h := newHarness(runconfig.ModeConfig{}, Settings{})
			h.logs.groups["/app/payments/api"] = &logGroup{tags: map[string]string{"team": "payments"}}
			h.logs.groups["/app/payments/api-v2"] = &logGroup{} // a prefix match that must not be taken
			out, err := h.runner.Handle(context.Background(), f.Raw)
			alerttest.CallsAllowed(t, Spec(), "kms", h.kms.Calls)
			alerttest.CallsAllowed(t, Spec(), "logs", h.logs.calls)
			if err != nil || out.Action != "associate-kms-key" {
				t.Fatalf("%+v %v", out, err)
			}
			if h.logs.groups["/app/payments/api"].key != keyARN || h.logs.groups["/app/payments/api-v2"].key != "" {
				t.Errorf("keys: %q %q", h.logs.groups["/app/payments/api"].key, h.logs.groups["/app/payments/api-v2"].key)
			}
			if len(h.alerts.Msgs) != 1 {
				t.Fatalf("%d alerts", len(h.alerts.Msgs))
			}
			alerttest.Check(t, h.alerts.Msgs[0])
			alerttest.Golden(t, filepath.Base(f.Name), h.alerts.Msgs[0])
		})
	}
}

func TestHandle_Cases(t *testing.T) {
	raw := fixtures.Get("log-encryption/create-log-group").Raw
	tests := []struct {
		name     string
		modes    guardrail.ModeLookup
		settings Settings
		setup    func(h *harness)
		wantErr  bool
		action   string
		alerts   int
		verdict  string
		contains string
	}{
		{"already encrypted", runconfig.ModeConfig{}, Settings{}, func(h *harness) {
			h.logs.groups["/app/payments/api"].key = "arn:aws:kms:eu-west-1:111122223333:key/other"
		}, false, "none", 0, "", ""},
		{"log group gone", runconfig.ModeConfig{}, Settings{}, func(h *harness) { delete(h.logs.groups, "/app/payments/api") }, false, "none", 0, "", ""},
		{"exempt by tag", runconfig.ModeConfig{}, Settings{}, func(h *harness) { h.logs.groups["/app/payments/api"].tags = map[string]string{ExemptionTag: "true"} }, false, "none", 0, "", ""},
		{"excluded prefix", runconfig.ModeConfig{}, Settings{ExcludedPrefixes: []string{"/app/"}}, func(*harness) {}, false, "none", 0, "", ""},
		{"alert mode", runconfig.ModeConfig{Default: guardrail.ModeAlert}, Settings{}, func(*harness) {}, false, "none", 1, "NOT encrypted", "aws logs associate-kms-key"},
		{"logs key missing", runconfig.ModeConfig{}, Settings{KeyAlias: "alias/missing"}, func(*harness) {}, false, "none", 1, "NOT encrypted (logs key unusable)", "does not exist"},
		{"logs key disabled", runconfig.ModeConfig{}, Settings{}, func(h *harness) { h.kms.Keys[logsKeyID].Meta.KeyState = kmstypes.KeyStateDisabled }, false, "none", 1, "NOT encrypted (logs key unusable)", "not Enabled"},
		{"logs key policy lacks logs", runconfig.ModeConfig{}, Settings{}, func(h *harness) { h.kms.Keys[logsKeyID].Policy = fakekms.DefaultPolicy }, false, "none", 1, "NOT encrypted (logs key unusable)", `"Principal":{"Service":"logs.eu-west-1.amazonaws.com"}`},
		{"logs key policy scoped to another account", runconfig.ModeConfig{}, Settings{}, func(h *harness) {
			h.kms.Keys[logsKeyID].Policy = strings.ReplaceAll(goodKeyPolicy, "logs:eu-west-1:111122223333:*", "logs:eu-west-1:999988887777:*")
		}, false, "none", 1, "NOT encrypted (logs key unusable)", "AllowCloudWatchLogs"},
		{"logs key asymmetric", runconfig.ModeConfig{}, Settings{}, func(h *harness) { h.kms.Keys[logsKeyID].Meta.KeySpec = kmstypes.KeySpecRsa4096 }, false, "none", 1, "NOT encrypted (logs key unusable)", "symmetric"},
		{"associate throttled", runconfig.ModeConfig{}, Settings{}, func(h *harness) {
			h.logs.fail["AssociateKmsKey"] = []error{&logstypes.ServiceUnavailableException{Message: aws.String("slow down")}}
		}, true, "associate-kms-key", 1, "remediation FAILED", "Remediation failed"},
		{"describe fails", runconfig.ModeConfig{}, Settings{}, func(h *harness) {
			h.logs.fail["DescribeLogGroups"] = []error{&logstypes.ServiceUnavailableException{Message: aws.String("slow down")}}
		}, true, "none", 1, "check FAILED", ""},
		{"delay, then someone else encrypted it", runconfig.ModeConfig{}, Settings{DelaySeconds: 5}, func(h *harness) {
			h.logs.fail["DescribeLogGroups"] = nil
			h.logs.groups["/app/payments/api"].key = "arn:aws:kms:eu-west-1:111122223333:key/theirs"
		}, false, "none", 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(tt.modes, tt.settings)
			h.logs.groups["/app/payments/api"] = &logGroup{}
			tt.setup(h)
			out, err := h.runner.Handle(context.Background(), raw)
			if (err != nil) != tt.wantErr || (err != nil && guardrail.IsTerminal(err)) {
				t.Fatalf("err %v", err)
			}
			if out.Action != tt.action || len(h.alerts.Msgs) != tt.alerts {
				t.Fatalf("outcome %+v alerts %d", out, len(h.alerts.Msgs))
			}
			if tt.alerts > 0 {
				m := h.alerts.Msgs[0]
				alerttest.Check(t, m)
				if m.Verdict != tt.verdict || !strings.Contains(m.Text(), tt.contains) {
					t.Errorf("verdict %q, text:\n%s", m.Verdict, m.Text())
				}
			}
			if tt.settings.DelaySeconds > 0 && h.slept != time.Duration(tt.settings.DelaySeconds)*time.Second {
				t.Errorf("slept %s", h.slept)
			}
		})
	}
}

func TestAdmitsLogs(t *testing.T) {
	arn := arnOf("/app/x")
	tests := map[string]struct {
		policy string
		ok     bool
	}{
		"documented statement":        {goodKeyPolicy, true},
		"ArnEquals on this log group": {`{"Statement":[{"Effect":"Allow","Principal":{"Service":["logs.eu-west-1.amazonaws.com"]},"Action":"kms:*","Resource":"*","Condition":{"ArnEquals":{"kms:EncryptionContext:aws:logs:arn":"` + arn + `"}}}]}`, true},
		"no condition":                {`{"Statement":{"Effect":"Allow","Principal":{"Service":"logs.eu-west-1.amazonaws.com"},"Action":"kms:*","Resource":"*"}}`, true},
		"other Region's service":      {`{"Statement":[{"Effect":"Allow","Principal":{"Service":"logs.us-east-1.amazonaws.com"},"Action":"kms:*","Resource":"*"}]}`, false},
		"missing Decrypt":             {`{"Statement":[{"Effect":"Allow","Principal":{"Service":"logs.eu-west-1.amazonaws.com"},"Action":["kms:Encrypt*","kms:GenerateDataKey*","kms:Describe*","kms:ReEncrypt*"],"Resource":"*"}]}`, false},
		"Deny":                        {`{"Statement":[{"Effect":"Deny","Principal":{"Service":"logs.eu-west-1.amazonaws.com"},"Action":"kms:*","Resource":"*"}]}`, false},
		"unknown condition":           {`{"Statement":[{"Effect":"Allow","Principal":{"Service":"logs.eu-west-1.amazonaws.com"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpc":"vpc-1"}}}]}`, false},
		"not JSON":                    {`{`, false},
	}
	for name, tt := range tests {
		if got := admitsLogs(tt.policy, "eu-west-1", arn) == ""; got != tt.ok {
			t.Errorf("%s: admits = %v, want %v (%s)", name, got, tt.ok, admitsLogs(tt.policy, "eu-west-1", arn))
		}
	}
}

func TestParseSettings(t *testing.T) {
	if _, err := ParseSettings([]byte(`{"key_alias":"alias/lza/logs","excluded_prefixes":["/aws/"],"delay_seconds":10}`)); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{`{"key_alias":"lza"}`, `{"key_alias":"alias/aws/logs"}`, `{"delay_seconds":600}`, `{"excluded_prefixes":[""]}`, `{"nope":1}`} {
		if _, err := ParseSettings([]byte(bad)); err == nil || !strings.Contains(err.Error(), "guardrails.log-encryption") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// The remediation reads only what the decision needs, and a burst of new
// log groups reads the logs key once; a key disabled in the meantime is
// refused by CloudWatch Logs, which sends the guardrail back to KMS.
func TestHandle_CallsAndKeyCache(t *testing.T) {
	h := newHarness(runconfig.ModeConfig{}, Settings{})
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	g := newTestDriver(clients{h.logs, h.kms}, runconfig.ModeConfig{}, Settings{}, func(context.Context, time.Duration) error { return nil }, func() time.Time { return now })
	r := guardrail.NewRunner(g, h.alerts, nil)
	event := func(name string) []byte {
		h.logs.groups[name] = &logGroup{}
		return []byte(strings.ReplaceAll(string(fixtures.Get("log-encryption/create-log-group").Raw), "/app/payments/api", name))
	}
	for i, name := range []string{"/app/a", "/app/b"} {
		h.logs.calls, h.kms.Calls = nil, nil
		if out, err := r.Handle(context.Background(), event(name)); err != nil || out.Action != "associate-kms-key" {
			t.Fatalf("%s: %+v %v", name, out, err)
		}
		wantKMS := []string{"DescribeKey"}
		if i > 0 {
			wantKMS = nil // remembered
		}
		if want := []string{"DescribeLogGroups", "ListTagsForResource", "AssociateKmsKey"}; !slices.Equal(h.logs.calls, want) || !slices.Equal(h.kms.Calls, wantKMS) {
			t.Errorf("%s: logs calls %v, KMS calls %v", name, h.logs.calls, h.kms.Calls)
		}
	}
	h.kms.Keys[logsKeyID].Meta.KeyState = kmstypes.KeyStateDisabled
	h.kms.Calls = nil
	out, err := r.Handle(context.Background(), event("/app/c"))
	if err != nil || out.Action != "none" || h.logs.groups["/app/c"].key != "" {
		t.Fatalf("disabled key: %+v %v", out, err)
	}
	if m := h.alerts.Msgs[len(h.alerts.Msgs)-1]; m.Verdict != "NOT encrypted (logs key unusable)" || !strings.Contains(m.Text(), "not Enabled") {
		t.Errorf("verdict %q:\n%s", m.Verdict, m.Text())
	}
	if !slices.Equal(h.kms.Calls, []string{"DescribeKey"}) {
		t.Errorf("KMS calls after the refusal %v", h.kms.Calls)
	}
	// The refusal cleared the cache: a fixed key is seen at once.
	h.kms.Keys[logsKeyID].Meta.KeyState = kmstypes.KeyStateEnabled
	if out, err := r.Handle(context.Background(), event("/app/d")); err != nil || out.Action != "associate-kms-key" {
		t.Fatalf("after the fix: %+v %v", out, err)
	}
}

// gatedKMS holds DescribeKey until open is closed.
type gatedKMS struct {
	*fakekms.KMS
	open chan struct{}
}

func (g gatedKMS) DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, opts ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	<-g.open
	return g.KMS.DescribeKey(ctx, in, opts...)
}

// A sweep's workers all need the logs key at once: one DescribeKey, the
// others wait for it.
func TestKeyCache_ConcurrentGetsShareOneRead(t *testing.T) {
	f := fakekms.New()
	f.AddKey(logsKeyID, kmstypes.KeyStateEnabled, nil, DefaultKeyAlias)
	api := gatedKMS{KMS: f, open: make(chan struct{})}
	c := newKeyCache(time.Now)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if k, err := c.get(context.Background(), api, DefaultKeyAlias, fakekms.Account, fakekms.Region); err != nil || k.ARN != keyARN {
				t.Errorf("%+v %v", k, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the callers pile up behind the first read
	close(api.open)
	wg.Wait()
	if n := len(slices.DeleteFunc(slices.Clone(f.Calls), func(c string) bool { return c != "DescribeKey" })); n != 1 {
		t.Errorf("%d DescribeKey calls, want 1", n)
	}
}

// A log group the sweep hands with its tags (its bulk read) is decided on
// them: no ListTagsForResource, and an exemption tag read that way exempts.
// Without them, the tags are read here.
func TestReconcile_TagsFromTheListing(t *testing.T) {
	h := newHarness(runconfig.ModeConfig{Default: guardrail.ModeRemediate}, Settings{})
	g := newTestDriver(clients{h.logs, h.kms}, runconfig.ModeConfig{Default: guardrail.ModeRemediate}, Settings{}, func(context.Context, time.Duration) error { return nil }, time.Now)
	listed := func(name string, tags map[string]string, read bool) loggroup.Group {
		h.logs.groups[name] = &logGroup{tags: tags}
		return loggroup.Group{Found: true, Name: name, ARN: arnOf(name), Tags: tags, TagsRead: read}
	}
	for _, c := range []struct {
		group     loggroup.Group
		action    string
		tagsCalls int
	}{
		{listed("/bulk/plain", map[string]string{}, true), "associate-kms-key", 0},
		{listed("/bulk/exempt", map[string]string{ExemptionTag: "true"}, true), guardrail.ActionNone, 0},
		{listed("/single/exempt", map[string]string{ExemptionTag: "true"}, false), guardrail.ActionNone, 1},
	} {
		h.logs.calls = nil
		res, err := g.Reconcile(context.Background(), fakekms.Account, fakekms.Region, c.group, time.Now())
		if err != nil || res.Outcome.Action != c.action || (c.action == guardrail.ActionNone) != (h.logs.groups[c.group.Name].key == "") {
			t.Errorf("%s: action %q, key %q, %v; want %q", c.group.Name, res.Outcome.Action, h.logs.groups[c.group.Name].key, err, c.action)
		}
		if n := len(slices.DeleteFunc(slices.Clone(h.logs.calls), func(op string) bool { return op != "ListTagsForResource" })); n != c.tagsCalls {
			t.Errorf("%s: %d ListTagsForResource calls, want %d", c.group.Name, n, c.tagsCalls)
		}
	}
}
