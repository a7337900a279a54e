// Package sweep reconciles what already exists: every key and log group of
// the target accounts and Regions goes through the guardrails' own decide
// and act code. The scheduled sweep Lambda, `kmsguard audit` and the tests
// run it.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/findings"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
	"github.com/kmsguard/kmsguard/functions/internal/loggroup"
)

// Actions are the calls the sweep makes beyond the guardrails' own: it
// enumerates keys, aliases and log groups, reads their tags in bulk
// (tag:GetResources) and describes each key. Infra grants them to the
// sweep Lambda and to the read-only member role
// (guardrail.MemberRoleName(guardrail.SweepID)); the guardrails act through
// their own member roles.
var Actions = []string{"kms:ListKeys", "kms:ListAliases", "kms:DescribeKey", "logs:DescribeLogGroups", "tag:GetResources"}

// HealthActions are the reads `kmsguard preflight` and the scheduled
// sweep make in a member account through the same read-only role: the
// trail, the forwarding rules and their targets, the forwarding DLQ's
// depth and the logs key. (The member roles are read with RoleActions,
// granted on their exact ARNs.)
var HealthActions = []string{"cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors", "events:ListRules", "events:ListTargetsByRule", "kms:GetKeyPolicy", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"}

// DiscoveryActions let the sweep Lambda list the organization's accounts
// (granted to the sweep's role in the hub only).
var DiscoveryActions = []string{"organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent"}

// Target is one account and Region to sweep.
type Target struct {
	Account string `json:"account"`
	Region  string `json:"region"`
}

// Options tune a sweep.
type Options struct {
	Targets []Target
	// Targets swept at once (default 4) and resources reconciled at once in
	// each target (default 8). Remediation calls have low KMS quotas (5/s
	// for CancelKeyDeletion and EnableKey); the SDK retries throttling with
	// backoff, and these bounds keep a sweep well inside the read quotas.
	TargetConcurrency, ItemConcurrency int
	// Progress, when set, receives one line per target started and finished.
	Progress func(line string)
	// Recorder, when set, records every outcome in the ledger.
	Recorder guardrail.OutcomeRecorder
	// Health checks each target's spoke too (the scheduled sweep):
	// forwarding rules deployed, enabled and targeting the hub bus,
	// nothing in its DLQ, the logs key usable; and, in the target whose
	// Region is RolesRegion, the account's member roles (IAM is global).
	// RolesRegion "" is RolesRegion(the targets' Regions, the hub's home
	// Region).
	Health      bool
	RolesRegion string
	// ItemAlerts, when set, is the least severity of a finding that gets
	// its own alert at once ("none": no per-finding alert, the digest
	// only); unset, each action taken gets its alert (audit --fix).
	ItemAlerts string
	// Findings, when set, gives each guardrail's Security Hub reporter
	// (nil for none): every finding of the sweep is imported in its
	// account and Region, at most findings.MaxBatch per call, after the
	// target is swept.
	Findings func(guardrail string) *findings.Reporter
	// Now is the sweep's clock (default time.Now).
	Now func() time.Time
	// Accounts, when set, tells which opt-in Regions each account has
	// enabled: targets in a Region the account has not enabled are not
	// swept (nothing of kmsguard's can be there) and are counted in the
	// digest. Self is the caller's own account.
	Accounts AccountAPI
	Self     string
}

// Finding is one resource a guardrail did not find compliant: an alert-only
// decision or an action taken.
type Finding struct {
	Target
	Guardrail string `json:"guardrail"`
	// Resource is the resource as a person recognises it (a key's alias,
	// else its id; a log group's name); ARN is the one the sweep listed.
	Resource string             `json:"resource"`
	ARN      string             `json:"arn,omitempty"`
	Severity guardrail.Severity `json:"severity"`
	Action   string             `json:"action"`
	Reason   string             `json:"reason"`
	Findings []string           `json:"findings,omitempty"`
	Mode     guardrail.Mode     `json:"mode"`
	Error    string             `json:"error,omitempty"`
	// Remedy is the "What you can do" of the guardrail's own alert about
	// this resource: what to run, in the guardrail's words.
	Remedy []Step `json:"what_you_can_do,omitempty"`
}

// OrphanKey is a customer managed key that is Enabled and has no alias:
// often left behind by a failed deployment.
type OrphanKey struct {
	Target
	KeyID   string    `json:"key_id"`
	ARN     string    `json:"arn"`
	Created time.Time `json:"created"`
}

// Report is what a sweep found and did.
type Report struct {
	Started  time.Time   `json:"started"`
	Finished time.Time   `json:"finished"`
	Targets  []Target    `json:"targets"`
	Keys     int         `json:"keys_checked"`
	Groups   int         `json:"log_groups_checked"`
	Findings []Finding   `json:"findings"`
	Orphans  []OrphanKey `json:"orphaned_keys"`
	// OrphansNotChecked says why orphaned keys were not looked for ("":
	// they were): a sweep that describes no key (SweepSpec.Lazy) cannot
	// tell an Enabled key.
	OrphansNotChecked string `json:"orphans_not_checked,omitempty"`
	// Errors are targets or resources that could not be checked.
	Errors []string `json:"errors"`
	// NotEnabled are targets in an opt-in Region the account has not
	// enabled: not swept.
	NotEnabled []Target `json:"regions_not_enabled"`
	// Spoke are problems with the targets' spokes (Options.Health).
	Spoke []SpokeIssue `json:"spoke,omitempty"`
}

// Actions counts the findings where something was changed.
func (r *Report) Actions() int {
	n := 0
	for _, f := range r.Findings {
		if f.Action != guardrail.ActionNone && f.Action != "" && f.Error == "" {
			n++
		}
	}
	return n
}

// reconciler is a guardrail's sweep entry: guardrail.Driver's Reconcile.
type reconciler interface {
	Spec() guardrail.Spec
	Reconcile(ctx context.Context, account, region string, resource interface{ ID() string }, now time.Time) (guardrail.Result, error)
}

// Run reconciles every target with the same decide and act code as the
// event path, with the guardrails, modes and alert topic of h. Alerts are
// published only for actions taken; the caller sends the digest.
func Run(ctx context.Context, h *bootstrap.Env, o Options) (*Report, error) {
	if o.TargetConcurrency <= 0 {
		o.TargetConcurrency = 4
	}
	if o.ItemConcurrency <= 0 {
		o.ItemConcurrency = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// The guardrails by the kind of resource they are handed, in catalog
	// order: the sweep lists each kind once.
	byKind := map[guardrail.ResourceKind][]reconciler{}
	for _, e := range h.Entries() {
		if e.Spec.Sweep.Kind == "" {
			continue
		}
		g, err := h.Build(e.Spec.ID, sessionName)
		if err != nil {
			return nil, err
		}
		r, ok := g.(reconciler)
		if !ok {
			return nil, fmt.Errorf("guardrail %s declares a sweep kind but has no Reconcile", e.Spec.ID)
		}
		byKind[e.Spec.Sweep.Kind] = append(byKind[e.Spec.Sweep.Kind], r)
	}
	s := &sweep{h: h, o: o, keyGs: byKind[guardrail.KindKMSKey], groupGs: byKind[guardrail.KindLogGroup], rep: &Report{Started: o.Now().UTC(), Targets: o.Targets, Findings: []Finding{}, Orphans: []OrphanKey{}, Errors: []string{}, NotEnabled: []Target{}}}
	if o.Health {
		var specs []guardrail.Spec
		for _, e := range h.Entries() {
			specs = append(specs, e.Spec)
		}
		s.expect = ExpectFrom(h.RuntimeConfig(), Hub{Account: h.HubAccount(), Region: h.AWS().Region}, specs)
		if s.o.RolesRegion == "" {
			var regions []string
			for _, t := range o.Targets {
				if !slices.Contains(regions, t.Region) {
					regions = append(regions, t.Region)
				}
			}
			s.o.RolesRegion = RolesRegion(regions, h.AWS().Region)
		}
	}
	targets := s.enabled(ctx, o.Targets)
	sem := make(chan struct{}, o.TargetConcurrency)
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func(t Target) {
			defer wg.Done()
			defer func() { <-sem }()
			s.target(ctx, t)
		}(t)
	}
	wg.Wait()
	s.rep.Finished = o.Now().UTC()
	sort.Slice(s.rep.Findings, func(i, j int) bool {
		a, b := s.rep.Findings[i], s.rep.Findings[j]
		if rank(a.Severity) != rank(b.Severity) {
			return rank(a.Severity) < rank(b.Severity)
		}
		return a.Account+a.Region+a.Guardrail+a.Resource < b.Account+b.Region+b.Guardrail+b.Resource
	})
	sort.Slice(s.rep.Orphans, func(i, j int) bool { return s.rep.Orphans[i].KeyID < s.rep.Orphans[j].KeyID })
	sort.Strings(s.rep.Errors)
	return s.rep, nil
}

// enabled drops the targets in opt-in Regions their account has not
// enabled (one ListRegions per account, eight at a time, only when an
// opt-in Region is configured), recording them in the report. An account
// whose Regions cannot be read (the management account, asked by a
// delegated administrator, for one) is swept as it is, and the report
// says so once per account.
func (s *sweep) enabled(ctx context.Context, targets []Target) []Target {
	if s.o.Accounts == nil {
		return targets
	}
	regions := map[string][]string{}
	var accounts []string
	for _, t := range targets {
		if _, ok := regions[t.Account]; !ok {
			accounts = append(accounts, t.Account)
		}
		regions[t.Account] = append(regions[t.Account], t.Region)
	}
	off := map[Target]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, a := range accounts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			regs, err := NotEnabled(ctx, s.o.Accounts, a, s.o.Self, regions[a])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.rep.Errors = append(s.rep.Errors, a+": opt-in Regions not checked: "+err.Error())
				return
			}
			for _, r := range regs {
				off[Target{Account: a, Region: r}] = true
			}
		}()
	}
	wg.Wait()
	var out []Target
	for _, t := range targets {
		if off[t] {
			s.rep.NotEnabled = append(s.rep.NotEnabled, t)
			continue
		}
		out = append(out, t)
	}
	return out
}

func rank(s guardrail.Severity) int {
	switch s {
	case guardrail.SeverityCritical:
		return 0
	case guardrail.SeverityHigh:
		return 1
	case guardrail.SeverityWarning:
		return 2
	}
	return 3
}

// sessionName names the sweep's assumed-role sessions in CloudTrail.
const sessionName = "kmsguard-sweep"

type sweep struct {
	h       *bootstrap.Env
	o       Options
	keyGs   []reconciler
	groupGs []reconciler
	// expect is what a healthy spoke looks like (Options.Health).
	expect Expect

	mu  sync.Mutex
	rep *Report
	// pending are the findings for Security Hub, by target and guardrail.
	pending map[Target]map[string][]findings.Item
}

func (s *sweep) progress(format string, args ...any) {
	if s.o.Progress != nil {
		s.o.Progress(fmt.Sprintf(format, args...))
	}
}

func (s *sweep) fail(t Target, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rep.Errors = append(s.rep.Errors, fmt.Sprintf("%s/%s: ", t.Account, t.Region)+fmt.Sprintf(format, args...))
}

// record keeps a non-compliant outcome (or a failure) and publishes the
// alert of an action taken.
func (s *sweep) record(ctx context.Context, t Target, id, arn string, res guardrail.Result, err error) {
	out := res.Outcome
	if s.o.Recorder != nil && (out.Severity != "" || err != nil) {
		// What the sweep found or did: a compliant resource is not worth a
		// row per day.
		_ = s.o.Recorder.RecordOutcome(ctx, out, s.o.Now())
	}
	if out.Severity == "" && err == nil {
		return // compliant, exempt or skipped
	}
	f := Finding{Target: t, Guardrail: id, Resource: out.Resource, ARN: arn, Severity: out.Severity,
		Action: out.Action, Reason: out.Reason, Findings: out.Findings, Mode: out.Mode}
	if err != nil {
		f.Error = err.Error()
	}
	if res.Alert != nil {
		f.Remedy = Remedy(res.Alert.Body)
	}
	if res.Alert != nil && s.h.Alerts() != nil && s.alertNow(out) {
		if perr := s.h.Alerts().Publish(ctx, *res.Alert); perr != nil {
			f.Error = strings.TrimPrefix(f.Error+"; alert not delivered: "+perr.Error(), "; ")
		}
	}
	s.mu.Lock()
	s.rep.Findings = append(s.rep.Findings, f)
	if res.Alert != nil && s.o.Findings != nil {
		if s.pending == nil {
			s.pending = map[Target]map[string][]findings.Item{}
		}
		if s.pending[t] == nil {
			s.pending[t] = map[string][]findings.Item{}
		}
		s.pending[t][id] = append(s.pending[t][id], findings.Item{Out: out, Msg: *res.Alert})
	}
	s.mu.Unlock()
}

// alertNow reports whether an outcome gets its own alert now, rather than
// only a line in the digest.
func (s *sweep) alertNow(out guardrail.Outcome) bool {
	switch s.o.ItemAlerts {
	case "":
		return out.Action != guardrail.ActionNone && out.Action != ""
	case "none":
		return false
	}
	return rank(out.Severity) <= rank(guardrail.Severity(s.o.ItemAlerts))
}

// report imports a swept target's findings into Security Hub, one batch
// series per guardrail (each through its own role). Security Hub off in
// that account and Region is not an error of the sweep.
func (s *sweep) report(ctx context.Context, t Target) {
	s.mu.Lock()
	byGuardrail := s.pending[t]
	delete(s.pending, t)
	s.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(byGuardrail)) {
		r := s.o.Findings(id)
		if r == nil {
			continue
		}
		err := r.ReportAll(ctx, t.Account, t.Region, byGuardrail[id])
		switch {
		case errors.Is(err, findings.ErrNotEnabled):
			s.progress("%s/%s: %v: findings not imported", t.Account, t.Region, err)
		case err != nil:
			s.fail(t, "Security Hub: %v", err)
		}
	}
}

func (s *sweep) target(ctx context.Context, t Target) {
	s.progress("sweeping %s/%s", t.Account, t.Region)
	cfg, err := s.h.Provider(sessionName).Config(t.Account, t.Region)
	if err != nil {
		s.fail(t, "%v", err)
		return
	}
	tagging := resourcegroupstaggingapi.NewFromConfig(cfg)
	// Only what a selected guardrail looks at is listed: a sweep of
	// log-encryption alone reads no key (and so reports no orphaned key).
	// The log groups are listed, with their tags, while the keys are
	// reconciled (one call more at a time), and reconciled after them.
	var listed []loggroup.Group
	listing := make(chan bool, 1)
	if len(s.groupGs) > 0 {
		go func() {
			var ok bool
			listed, ok = s.listGroups(ctx, t, cloudwatchlogs.NewFromConfig(cfg), tagging)
			listing <- ok
		}()
	} else {
		listing <- false
	}
	keys, groups := 0, 0
	if len(s.keyGs) > 0 {
		keys = s.keys(ctx, t, kms.NewFromConfig(cfg), tagging)
	}
	if <-listing {
		groups = s.groups(ctx, t, listed)
	}
	if s.o.Health {
		checks := RegionHealth(ctx, t, RegionAPIs{Rules: eventbridge.NewFromConfig(cfg), Queues: sqs.NewFromConfig(cfg), Keys: kms.NewFromConfig(cfg)}, s.expect)
		if t.Region == s.o.RolesRegion && len(s.expect.MemberRoles(t.Account)) > 0 {
			checks = append(checks, RolesCheck(ctx, t.Account, iam.NewFromConfig(cfg), s.expect))
		}
		issues := Issues(checks)
		s.mu.Lock()
		s.rep.Spoke = append(s.rep.Spoke, issues...)
		s.mu.Unlock()
	}
	s.report(ctx, t)
	s.progress("swept %s/%s: %d keys, %d log groups", t.Account, t.Region, keys, groups)
}

// The resource types of the Resource Groups Tagging API the sweep reads:
// as in the resources' ARNs.
const (
	keyType   = "kms:key"
	groupType = "logs:log-group"
)

// tagSet is the tags of one resource type in a target, by ARN, as the
// tagging API gave them; nil when they could not be read.
type tagSet map[string]map[string]string

// of returns a resource's tags and whether they are known: the tags
// GetResources returned for it, or none when it did not return the
// resource and absentIsUntagged (GetResources returns only resources that
// have or had tags).
func (ts tagSet) of(arn string, absentIsUntagged bool) (map[string]string, bool) {
	if ts == nil {
		return nil, false
	}
	if tags, ok := ts[arn]; ok {
		return tags, true
	}
	if !absentIsUntagged {
		return nil, false
	}
	return map[string]string{}, true
}

// bulkTags reads the tags of every resource of one type in the target with
// the Resource Groups Tagging API's GetResources, AWS's own bulk read of
// tags: 100 resources a call, where each guardrail would otherwise read
// the tags of every key or log group it might act on with one
// ListResourceTags or ListTagsForResource each. The sweep reads them right
// after listing the resources, so every resource it lists existed before
// the read began.
//
// The tagging API is eventually consistent: a tag added (or a resource
// created with tags) in the last minutes may not show yet, so a sweep can
// miss a brand-new exemption tag and act on that resource. The event path
// reads a resource's tags directly. When GetResources fails (a role
// without tag:GetResources, throttling past the SDK's retries), the sweep
// says so and the guardrails read the tags per resource, as they would
// without it: the target is still swept.
func (s *sweep) bulkTags(ctx context.Context, t Target, api resourcegroupstaggingapi.GetResourcesAPIClient, resourceType string) tagSet {
	ts := tagSet{}
	p := resourcegroupstaggingapi.NewGetResourcesPaginator(api, &resourcegroupstaggingapi.GetResourcesInput{
		ResourceTypeFilters: []string{resourceType}, ResourcesPerPage: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			s.progress("%s/%s: tags of each %s read one by one: tag:GetResources failed: %v", t.Account, t.Region, resourceType, err)
			return nil
		}
		for _, m := range page.ResourceTagMappingList {
			tags := make(map[string]string, len(m.Tags))
			for _, tg := range m.Tags {
				tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			ts[strings.TrimSuffix(aws.ToString(m.ResourceARN), ":*")] = tags
		}
	}
	return ts
}

// keys lists every key of the target and the Region's aliases, reads the
// keys' tags in bulk, describes each key once (ListKeys gives no
// metadata), and hands it to every key guardrail with its tags and
// aliases: no guardrail reads them again.
func (s *sweep) keys(ctx context.Context, t Target, api *kms.Client, tagging resourcegroupstaggingapi.GetResourcesAPIClient) int {
	aliases := map[string][]string{}
	ap := kms.NewListAliasesPaginator(api, &kms.ListAliasesInput{})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			s.fail(t, "list aliases: %v", err)
			return 0
		}
		for _, a := range page.Aliases {
			if id := aws.ToString(a.TargetKeyId); id != "" {
				aliases[id] = append(aliases[id], aws.ToString(a.AliasName))
			}
		}
	}
	var ids []string
	arns := map[string]string{}
	kp := kms.NewListKeysPaginator(api, &kms.ListKeysInput{})
	for kp.HasMorePages() {
		page, err := kp.NextPage(ctx)
		if err != nil {
			s.fail(t, "list keys: %v", err)
			return 0
		}
		for _, k := range page.Keys {
			ids = append(ids, aws.ToString(k.KeyId))
			arns[aws.ToString(k.KeyId)] = aws.ToString(k.KeyArn)
		}
	}
	tags := s.bulkTags(ctx, t, tagging, keyType)
	lazy := s.lazyKeys()
	if lazy {
		s.mu.Lock()
		s.rep.OrphansNotChecked = "the guardrails swept read no key's metadata (" + strings.Join(s.keyIDs(), ", ") + "), so Enabled keys without an alias were not looked for; sweep every guardrail to list them"
		s.mu.Unlock()
	}
	s.each(ids, func(id string) {
		var key kmskey.Key
		if lazy {
			// An AWS managed key always has its alias/aws/<service> alias
			// (reserved: nobody else can create one).
			if slices.ContainsFunc(aliases[id], func(a string) bool { return strings.HasPrefix(a, "alias/aws/") }) {
				return
			}
			key = kmskey.Unread(id, arns[id], t.Account, t.Region)
			key.Aliases, key.AliasesRead = aliases[id], true
			// A lazy guardrail describes the key before acting on it, and
			// acts only on Enabled keys, whose absence from the tagging
			// API's answer means no tags.
			key.Tags, key.TagsRead = tags.of(key.ARN(), true)
		} else {
			d, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
			if err != nil || d.KeyMetadata == nil {
				s.fail(t, "describe key %s: %v", id, err)
				return
			}
			// The key comes with its aliases (the Region's were listed): an
			// alert about it reads none.
			key = kmskey.Key{Found: true, Described: true, Meta: *d.KeyMetadata, Aliases: aliases[id], AliasesRead: true}
		}
		// Keys without key material (PendingImport) are handed on too:
		// key-material reports them; each guardrail's FromListing skips
		// what it has nothing to say about.
		if key.AWSManaged() {
			return
		}
		if !lazy {
			s.keyFacts(t, id, &key, tags)
		}
		now := s.o.Now()
		for _, g := range s.keyGs {
			res, err := g.Reconcile(ctx, t.Account, t.Region, key, now)
			s.record(ctx, t, g.Spec().ID, key.ARN(), res, err)
			acted := res.Outcome.Action != "" && res.Outcome.Action != guardrail.ActionNone
			if err == nil && acted && g.Spec().Sweep.Refresh {
				// The key's state changed (a cancelled deletion is now an
				// enabled key without rotation): the next guardrail reads it
				// again. Guardrails whose fix leaves the metadata as is do
				// not declare Refresh.
				if d, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); err == nil && d.KeyMetadata != nil {
					key.Meta = *d.KeyMetadata
				}
			}
		}
	})
	s.mu.Lock()
	s.rep.Keys += len(ids)
	s.mu.Unlock()
	return len(ids)
}

// keyFacts sets a described key's tags from the bulk read and reports it
// when it is orphaned.
func (s *sweep) keyFacts(t Target, id string, key *kmskey.Key, tags tagSet) {
	// Without the bulk read, a guardrail reads the tags itself when
	// its decision would act or alert (most keys need neither). AWS
	// says which resources GetResources returns by their tags, not by
	// a key's state: a key that is not Enabled (pending deletion,
	// disabled) and absent from the answer has its tags read that way
	// too, so that no exemption (a deletion allowed on purpose) is
	// missed for want of an entry in the tagging API.
	key.Tags, key.TagsRead = tags.of(key.ARN(), key.Meta.KeyState == kmstypes.KeyStateEnabled)
	if key.Meta.KeyState == "Enabled" && len(key.Aliases) == 0 {
		s.mu.Lock()
		s.rep.Orphans = append(s.rep.Orphans, OrphanKey{Target: t, KeyID: id, ARN: key.ARN(), Created: aws.ToTime(key.Meta.CreationDate)})
		s.mu.Unlock()
	}
}

// lazyKeys: every key guardrail of the sweep reads what it needs itself
// (SweepSpec.Lazy), so no key is described up front.
func (s *sweep) lazyKeys() bool {
	for _, g := range s.keyGs {
		if !g.Spec().Sweep.Lazy {
			return false
		}
	}
	return len(s.keyGs) > 0
}

func (s *sweep) keyIDs() []string {
	var out []string
	for _, g := range s.keyGs {
		out = append(out, g.Spec().ID)
	}
	return out
}

// listGroups lists every log group of the target (DescribeLogGroups carries
// the key), then reads their tags in bulk. ok is false when the log groups
// could not be listed.
func (s *sweep) listGroups(ctx context.Context, t Target, api *cloudwatchlogs.Client, tagging resourcegroupstaggingapi.GetResourcesAPIClient) (groups []loggroup.Group, ok bool) {
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(api, &cloudwatchlogs.DescribeLogGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			s.fail(t, "describe log groups: %v", err)
			return nil, false
		}
		for _, g := range page.LogGroups {
			arn := aws.ToString(g.LogGroupArn)
			if arn == "" {
				arn = strings.TrimSuffix(aws.ToString(g.Arn), ":*")
			}
			groups = append(groups, loggroup.Group{Found: true, Name: aws.ToString(g.LogGroupName), ARN: arn, KMSKeyID: aws.ToString(g.KmsKeyId)})
		}
	}
	tags := s.bulkTags(ctx, t, tagging, groupType)
	for i := range groups {
		groups[i].Tags, groups[i].TagsRead = tags.of(groups[i].ARN, true)
	}
	return groups, true
}

// groups hands each listed log group to every log-group guardrail.
func (s *sweep) groups(ctx context.Context, t Target, groups []loggroup.Group) int {
	names := make([]string, len(groups))
	byName := map[string]loggroup.Group{}
	for i, g := range groups {
		names[i], byName[g.Name] = g.Name, g
	}
	s.each(names, func(n string) {
		for _, g := range s.groupGs {
			res, err := g.Reconcile(ctx, t.Account, t.Region, byName[n], s.o.Now())
			s.record(ctx, t, g.Spec().ID, byName[n].ARN, res, err)
		}
	})
	s.mu.Lock()
	s.rep.Groups += len(groups)
	s.mu.Unlock()
	return len(groups)
}

// each runs fn over items with ItemConcurrency workers.
func (s *sweep) each(items []string, fn func(string)) {
	work := make(chan string)
	var wg sync.WaitGroup
	for i := 0; i < s.o.ItemConcurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				fn(it)
			}
		}()
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
}
