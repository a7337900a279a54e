package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

// storeSSM is a parameter store that answers GetParametersByPath the way
// SSM does: MaxResults at most 10 (ValidationException above), Recursive
// false returns only the parameters one level below the path, pages with
// NextToken.
type storeSSM struct {
	mu     sync.Mutex
	params map[string]string
	err    error
	calls  int

	dirs     map[string][]string // parent path -> names, rebuilt when names are added
	indexLen int
}

func (f *storeSSM) GetParametersByPath(_ context.Context, in *ssm.GetParametersByPathInput, _ ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	max := int(aws.ToInt32(in.MaxResults))
	if max == 0 {
		max = 10
	}
	if max > 10 {
		return nil, fmt.Errorf("ValidationException: MaxResults must be less than or equal to 10")
	}
	path := strings.TrimSuffix(aws.ToString(in.Path), "/") + "/"
	var names []string
	if aws.ToBool(in.Recursive) {
		for n := range f.params {
			if strings.HasPrefix(n, path) {
				names = append(names, n)
			}
		}
	} else {
		if f.dirs == nil || f.indexLen != len(f.params) {
			f.dirs, f.indexLen = map[string][]string{}, len(f.params)
			for n := range f.params {
				dir := n[:strings.LastIndex(n, "/")+1]
				f.dirs[dir] = append(f.dirs[dir], n)
			}
		}
		names = append(names, f.dirs[path]...)
	}
	sort.Strings(names)
	start := 0
	if t := aws.ToString(in.NextToken); t != "" {
		fmt.Sscan(t, &start)
	}
	out := &ssm.GetParametersByPathOutput{}
	for i := start; i < len(names) && i < start+max; i++ {
		out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: aws.String(names[i]), Value: aws.String(f.params[names[i]])})
	}
	if start+max < len(names) {
		out.NextToken = aws.String(fmt.Sprint(start + max))
	}
	return out, nil
}

type fakeOrg struct {
	parent map[string]string // child -> parent; "r-" ids are roots
	err    error
	calls  int
}

func (f *fakeOrg) ListParents(_ context.Context, in *organizations.ListParentsInput, _ ...func(*organizations.Options)) (*organizations.ListParentsOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	p, ok := f.parent[aws.ToString(in.ChildId)]
	if !ok {
		return nil, errors.New("ChildNotFoundException")
	}
	typ := orgtypes.ParentTypeOrganizationalUnit
	if strings.HasPrefix(p, "r-") {
		typ = orgtypes.ParentTypeRoot
	}
	return &organizations.ListParentsOutput{Parents: []orgtypes.Parent{{Id: aws.String(p), Type: typ}}}, nil
}

func testStoreModes(file runconfig.ModeConfig, api StoreAPI, org ParentsAPI, now *time.Time) *storeModes {
	clock := func() time.Time { return *now }
	pm := &paramModes{name: ConfigParameter, log: slog.New(slog.DiscardHandler), now: clock} // fixed file modes
	pm.set(file, *now)
	s := &storeModes{file: pm, api: api, log: slog.New(slog.DiscardHandler), now: clock}
	if org != nil {
		s.parents = org
	}
	return s
}

// 5,000 per-account rules and rules per OU: every account resolves to its
// own rule with one read of its scope per minute, the configuration
// parameter stays as small as kmsguard.yaml's global rules, and a change
// in the store applies within a minute.
func TestStoreModes_5000Accounts(t *testing.T) {
	const n = 5000
	const root, prod, payments = "r-ab12", "ou-ab12-prod0001", "ou-ab12-paym0001"
	api := &storeSSM{params: map[string]string{
		runconfig.ModesPath + "/mode":                       "alert",
		runconfig.RuleParameter("", prod, ""):               "remediate",
		runconfig.RuleParameter("", payments, "key-policy"): "remediate",
	}}
	org := &fakeOrg{parent: map[string]string{prod: root, payments: prod}}
	account := func(i int) string { return fmt.Sprintf("%012d", 100000000000+i) }
	want := map[string]guardrail.Mode{}
	for i := 0; i < n+300; i++ {
		a := account(i)
		switch {
		case i >= n: // no rule of its own: its OU decides
			org.parent[a] = payments
			want[a] = guardrail.ModeRemediate // prod's mode, inherited
		case i%2 == 0:
			org.parent[a] = prod
			api.params[runconfig.RuleParameter(a, "", "")] = "alert"
			want[a] = guardrail.ModeAlert
		default:
			org.parent[a] = root
			api.params[runconfig.RuleParameter(a, "", "key-deletion")] = "remediate"
			want[a] = guardrail.ModeRemediate
		}
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := testStoreModes(runconfig.ModeConfig{}, api, org, &now)
	for i := 0; i < n+300; i++ {
		a := account(i)
		if r := s.Resolve(a, "key-deletion", guardrail.ModeAlert); r.Mode != want[a] {
			t.Fatalf("account %s: %+v, want %s", a, r, want[a])
		}
	}
	// 1 global + 1 "any OU rules?" + one per account + one per OU.
	if wantCalls := 2 + n + 300 + 3; api.calls != wantCalls {
		t.Errorf("%d GetParametersByPath calls for %d accounts, want %d", api.calls, n+300, wantCalls)
	}
	if r := s.Resolve(account(n), "key-policy", guardrail.ModeAlert); r.Mode != guardrail.ModeRemediate || !strings.Contains(r.Source, "organizational unit "+payments+", guardrail key-policy") {
		t.Errorf("nearest OU's guardrail rule: %+v", r)
	}
	calls := api.calls
	api.mu.Lock()
	api.params[runconfig.RuleParameter(account(0), "", "")] = "remediate"
	api.mu.Unlock()
	now = now.Add(30 * time.Second)
	if r := s.Resolve(account(0), "key-deletion", guardrail.ModeAlert); r.Mode != guardrail.ModeAlert || api.calls != calls {
		t.Errorf("within the minute: %+v, %d new calls", r, api.calls-calls)
	}
	now = now.Add(31 * time.Second)
	if r := s.Resolve(account(0), "key-deletion", guardrail.ModeAlert); r.Mode != guardrail.ModeRemediate {
		t.Errorf("after a minute the change applies: %+v", r)
	}
}

func TestStoreModes_SafeSide(t *testing.T) {
	const acct = "111122223333"
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	file := runconfig.ModeConfig{Default: guardrail.ModeRemediate}

	// The store cannot be read: alert only, and the reason says why.
	broken := &storeSSM{err: errors.New("AccessDeniedException")}
	if r := testStoreModes(file, broken, nil, &now).Resolve(acct, "key-deletion", guardrail.ModeRemediate); r.Mode != guardrail.ModeAlert || !strings.Contains(r.Source, "unreadable") {
		t.Errorf("unreadable store: %+v", r)
	}
	// Rules per OU exist, the account's OUs cannot be read: alert, unless
	// the account has its own rule.
	api := &storeSSM{params: map[string]string{runconfig.RuleParameter("", "ou-ab12-prod0001", ""): "alert"}}
	denied := &fakeOrg{err: errors.New("AccessDeniedException")}
	s := testStoreModes(file, api, denied, &now)
	if r := s.Resolve(acct, "key-deletion", guardrail.ModeRemediate); r.Mode != guardrail.ModeAlert || !strings.Contains(r.Source, "could not be read") {
		t.Errorf("unknown OUs: %+v", r)
	}
	api.params[runconfig.RuleParameter(acct, "", "")] = "remediate"
	now = now.Add(time.Minute)
	if r := s.Resolve(acct, "key-deletion", guardrail.ModeAlert); r.Mode != guardrail.ModeRemediate {
		t.Errorf("the account's own rule: %+v", r)
	}
	// A value that is not a mode is ignored, not guessed.
	api.params[runconfig.RuleParameter(acct, "", "")] = "enforce"
	now = now.Add(time.Minute)
	if r := s.Resolve(acct, "key-deletion", guardrail.ModeRemediate); r.Mode != guardrail.ModeAlert {
		t.Errorf("bad rule: %+v", r)
	}
	// No rule per OU anywhere: Organizations is never called.
	org := &fakeOrg{}
	testStoreModes(file, &storeSSM{params: map[string]string{}}, org, &now).Resolve(acct, "key-deletion", guardrail.ModeAlert)
	if org.calls != 0 {
		t.Errorf("%d ListParents calls without rules per OU", org.calls)
	}
}

// What cannot be trusted resolves to alert: a rule that is not a mode (or
// a kill switch that is not on or off), and rules that stay unreadable
// past MaxStale. A stray parameter under ous/ does not count as a rule per
// OU, and outside an organization (no ParentsAPI) rules per OU do not apply.
func TestStoreModes_UntrustedResolvesToAlert(t *testing.T) {
	const acct = "111122223333"
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	file := runconfig.ModeConfig{Default: guardrail.ModeRemediate}
	for name, value := range map[string]string{
		runconfig.KillSwitchParameter:         "ON",
		runconfig.RuleParameter("", "", ""):   "Alert",
		runconfig.RuleParameter(acct, "", ""): "enforce",
		runconfig.ScopePath(acct, "") + "/x":  "remediate",
	} {
		api := &storeSSM{params: map[string]string{name: value}}
		r := testStoreModes(file, api, nil, &now).Resolve(acct, "key-deletion", guardrail.ModeRemediate)
		if r.Mode != guardrail.ModeAlert {
			t.Errorf("%s=%q: %+v", name, value, r)
		}
	}
	api := &storeSSM{params: map[string]string{runconfig.RuleParameter(acct, "", ""): "remediate"}}
	s := testStoreModes(runconfig.ModeConfig{}, api, nil, &now)
	if r := s.Resolve(acct, "key-deletion", guardrail.ModeAlert); r.Mode != guardrail.ModeRemediate {
		t.Fatalf("%+v", r)
	}
	api.err = errors.New("ThrottlingException")
	now = now.Add(4 * time.Minute)
	if r := s.Resolve(acct, "key-deletion", guardrail.ModeAlert); r.Mode != guardrail.ModeRemediate {
		t.Errorf("within MaxStale the last good rules hold: %+v", r)
	}
	now = now.Add(2 * time.Minute)
	if r := s.Resolve(acct, "key-deletion", guardrail.ModeAlert); r.Mode != guardrail.ModeAlert || !strings.Contains(r.Source, "unreadable") {
		t.Errorf("past MaxStale: %+v", r)
	}
	stray := &storeSSM{params: map[string]string{runconfig.ModesPath + "/ous/notes": "x"}}
	denied := &fakeOrg{err: errors.New("AccessDeniedException")}
	if r := testStoreModes(file, stray, denied, &now).Resolve(acct, "key-deletion", guardrail.ModeAlert); r.Mode != guardrail.ModeRemediate || denied.calls != 0 {
		t.Errorf("a stray parameter under ous/: %+v, %d ListParents", r, denied.calls)
	}
	ouRule := &storeSSM{params: map[string]string{runconfig.RuleParameter("", "ou-ab12-prod0001", ""): "alert"}}
	if r := testStoreModes(file, ouRule, nil, &now).Resolve(acct, "key-deletion", guardrail.ModeAlert); r.Mode != guardrail.ModeRemediate {
		t.Errorf("outside an organization rules per OU do not apply: %+v", r)
	}
}

// slowStore answers after a pause, so that callers overlap.
type slowStore struct{ *storeSSM }

func (s slowStore) GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, opts ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error) {
	time.Sleep(20 * time.Millisecond)
	return s.storeSSM.GetParametersByPath(ctx, in, opts...)
}

// A sweep's workers resolve their first modes at once: each scope is read
// once, the others wait for that read.
func TestStoreModes_ConcurrentFirstReadsShareOne(t *testing.T) {
	api := &storeSSM{params: map[string]string{runconfig.ModesPath + "/mode": "remediate"}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := testStoreModes(runconfig.ModeConfig{}, slowStore{api}, nil, &now)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := s.Resolve("111122223333", "key-rotation", guardrail.ModeAlert); r.Mode != guardrail.ModeRemediate {
				t.Errorf("%+v", r)
			}
		}()
	}
	wg.Wait()
	if api.calls != 2 { // the global scope and the account's
		t.Errorf("%d GetParametersByPath calls, want 2", api.calls)
	}
}
