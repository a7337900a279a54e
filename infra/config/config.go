// Package config loads and validates kmsguard.yaml, the one file that
// describes a deployment: where the hub lives, which accounts and Regions are
// guarded, who gets alerts, the modes, and each guardrail's settings. Every
// error names the field path, the bad value and the fix.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

// Config is kmsguard.yaml.
type Config struct {
	// HomeRegion is where the hub and the global spoke live.
	HomeRegion string `json:"home_region"`
	// Regions are guarded by the regional spokes (the home Region included).
	Regions []string `json:"regions"`
	// HubAccount runs the hub stack.
	HubAccount string `json:"hub_account"`
	// Organization, when set, deploys the spokes to the organization with
	// StackSets; without it kmsguard runs in single-account mode.
	Organization *Organization `json:"organization,omitempty"`
	Alerts       Alerts        `json:"alerts"`
	// Modes say where kmsguard may remediate.
	Modes runconfig.ModeConfig `json:"modes,omitempty"`
	// Guardrails hold each guardrail's settings, keyed by guardrail id.
	Guardrails map[string]json.RawMessage `json:"guardrails,omitempty"`
	LogsKey    LogsKey                    `json:"logs_key,omitempty"`
	Sweep      Sweep                      `json:"sweep,omitempty"`
	// LoopBreaker: after max_fixes remediations of one resource by one
	// guardrail within window_minutes, kmsguard steps back from it
	// (default 3 in 60; max_fixes 0 turns it off).
	LoopBreaker *runconfig.LoopBreaker `json:"loop_breaker,omitempty"`
	// Tags are added to every stack kmsguard deploys and to every resource
	// in them that takes tags, the StackSets' stack instances included,
	// next to kmsguard's own kmsguard:component tag.
	Tags map[string]string `json:"tags,omitempty"`
	// TerminationProtection protects the hub and organization stacks from
	// deletion (default true); false turns it off, for a test deployment
	// that is torn down often.
	TerminationProtection *bool `json:"termination_protection,omitempty"`
}

// ComponentTag is the tag kmsguard adds to every stack and resource: its
// value names the component (hub, spoke-global, spoke-regional, org).
const ComponentTag = "kmsguard:component"

// MaxTags is AWS's limit of user tags per resource, kmsguard's own included.
const MaxTags = 50

// MaxFileSize is the largest configuration file Load reads: a real one is a
// few KB.
const MaxFileSize = 1 << 20

// TerminationProtected reports whether the hub and organization stacks get
// termination protection (the default).
func (c *Config) TerminationProtected() bool {
	return c.TerminationProtection == nil || *c.TerminationProtection
}

// Sweep configures the scheduled sweep.
type Sweep struct {
	// Schedule is an EventBridge Scheduler expression (default rate(1 day)).
	Schedule string `json:"schedule,omitempty"`
	// Accounts to sweep. Default: the hub account; in organization mode
	// also the management account (when it has guardrails) and every
	// active account under organization.organizational_units, found at
	// each run (the hub needs read access to AWS Organizations; see
	// docs/deploy.md). Listing accounts replaces that discovery.
	Accounts []string `json:"accounts,omitempty"`
	// ItemAlerts is the least severity of a finding that gets its own
	// alert during the sweep (CRITICAL, HIGH, WARNING, INFO or none; default
	// CRITICAL): everything else is in the one digest.
	ItemAlerts string `json:"item_alerts,omitempty"`
	// MaxConcurrency bounds the account-Regions swept at once (default
	// DefaultSweepConcurrency, at most MaxSweepConcurrency).
	MaxConcurrency int `json:"max_concurrency,omitempty"`
}

// DefaultSweepConcurrency is how many account-Regions the sweep's
// Distributed Map sweeps at once: each is one sweep Lambda, so it stays
// well inside the hub's Lambda concurrency (1,000 per Region by default,
// as low as 10 in a new account), leaving the guardrails room.
const DefaultSweepConcurrency = 40

// MaxSweepConcurrency is the most the configuration allows: a Distributed
// Map runs up to 10,000 children, the hub's Lambdas far fewer.
const MaxSweepConcurrency = 500

// Concurrency is the sweep's MaxConcurrency.
func (s Sweep) Concurrency() int {
	if s.MaxConcurrency > 0 {
		return s.MaxConcurrency
	}
	return DefaultSweepConcurrency
}

// DefaultSweepSchedule runs the sweep daily.
const DefaultSweepSchedule = "rate(1 day)"

// ScheduleExpression is the sweep's schedule.
func (s Sweep) ScheduleExpression() string {
	if s.Schedule != "" {
		return s.Schedule
	}
	return DefaultSweepSchedule
}

// Organization describes an AWS Organizations deployment.
type Organization struct {
	// ID is the organization id, o-xxxxxxxxxx.
	ID string `json:"id"`
	// ManagementAccount gets the spokes as plain stacks: service-managed
	// StackSets never deploy there.
	ManagementAccount string `json:"management_account"`
	// OrganizationalUnits receive the StackSets (children included); new
	// accounts in them are covered automatically.
	OrganizationalUnits []string `json:"organizational_units"`
	// ExcludedAccounts are left out of the StackSets.
	ExcludedAccounts []string `json:"excluded_accounts,omitempty"`
	// ManagementAccountGuardrails opt guardrails in for the management
	// account: each gets its role there. Others only alert about it
	// (their events are still forwarded; kmsguard cannot read or fix
	// anything there without a role).
	ManagementAccountGuardrails []string `json:"management_account_guardrails,omitempty"`
	// Preventive adds service control policies that protect kmsguard and
	// the keys (off by default).
	Preventive *Preventive `json:"preventive,omitempty"`
	// CallAs is SELF (the management account) or DELEGATED_ADMIN.
	CallAs string `json:"call_as,omitempty"`
	// FailureTolerancePercentage and MaxConcurrentPercentage tune StackSet
	// operations (defaults 10 and 25).
	FailureTolerancePercentage *int `json:"failure_tolerance_percentage,omitempty"`
	MaxConcurrentPercentage    *int `json:"max_concurrent_percentage,omitempty"`
}

// Preventive is the optional layer of service control policies, attached
// to the organizational units kmsguard covers (docs/security.md says what
// each denies and what breaks).
type Preventive struct {
	// Enabled creates the policies.
	Enabled bool `json:"enabled"`
	// MinDeletionWindowDays, when set (7-30), denies ScheduleKeyDeletion
	// with a shorter waiting period.
	MinDeletionWindowDays int `json:"min_deletion_window_days,omitempty"`
}

// Alerts configures the alert topic.
type Alerts struct {
	// Emails each get one subscription (one confirmation per address).
	Emails []string `json:"emails"`
	// SecurityHub copies every alert to AWS Security Hub as a finding in
	// the resource's account and Region (default true; Security Hub must
	// be enabled there to receive it).
	SecurityHub *bool `json:"security_hub,omitempty"`
}

// SecurityHubOn reports whether alerts are copied to Security Hub.
func (a Alerts) SecurityHubOn() bool { return a.SecurityHub == nil || *a.SecurityHub }

// LogsKey chooses the regional logs key: kmsguard creates alias/kmsguard/logs
// in every guarded account and Region, or uses an existing alias (LZA's
// CloudWatch key, for example).
type LogsKey struct {
	// ExistingAlias, when set, is used instead of creating a key.
	ExistingAlias string `json:"existing_alias,omitempty"`
}

// DefaultLogsKeyAlias is the key the regional spoke creates.
const DefaultLogsKeyAlias = "alias/kmsguard/logs"

// Alias is the logs key alias the guardrail uses.
func (l LogsKey) Alias() string {
	if l.ExistingAlias != "" {
		return l.ExistingAlias
	}
	return DefaultLogsKeyAlias
}

// Create reports whether the regional spoke creates the logs key.
func (l LogsKey) Create() bool { return l.ExistingAlias == "" }

// SingleAccount reports single-account mode.
func (c *Config) SingleAccount() bool { return c.Organization == nil }

// Load reads and validates a configuration file. A configuration that is
// not valid returns an *Error naming the file and each problem's line.
func Load(path string) (*Config, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(b)
	var ce *Error
	if errors.As(err, &ce) {
		ce.File = path
	}
	return c, err
}

// readFile reads path, refusing a file over MaxFileSize before parsing
// it (a huge file would take the YAML parser many seconds).
func readFile(path string) ([]byte, error) {
	cannot := func(err error) error {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot read the configuration file %s: %w", path, err)
	}
	tooBig := func(size string) error {
		return fmt.Errorf("the configuration file %s is %s, over the limit of %d bytes (1 MiB); a kmsguard configuration is a few KB: check that this is the right file", path, size, MaxFileSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, cannot(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxFileSize {
		return nil, tooBig(fmt.Sprintf("%d bytes", fi.Size()))
	}
	// Not a regular file (a pipe): read no more than the limit allows.
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, cannot(err)
	}
	if len(b) > MaxFileSize {
		return nil, tooBig("more than " + fmt.Sprint(MaxFileSize) + " bytes")
	}
	return b, nil
}

// Parse decodes YAML (or JSON) strictly and validates it. Every problem is
// reported at once in an *Error: unknown fields (with the field they
// resemble), values of the wrong type, duplicate keys and every rule of
// Validate, each with its field path and line.
func Parse(b []byte) (*Config, error) {
	var c Config
	d := decode(b, &c)
	problems := d.problems
	if slices.Contains(d.dropped, "") {
		return nil, &Error{Problems: problems} // not a mapping: nothing to validate
	}
	var ve *Error
	if err := c.Validate(); err != nil && !errors.As(err, &ve) {
		problems = append(problems, Problem{Message: err.Error()})
	}
	if ve != nil {
	validation:
		for _, p := range ve.Problems {
			// A value the decoder left out (a list given a string)
			// reads as missing to Validate: say it once.
			for _, q := range d.dropped {
				if under(p.Path, q) {
					continue validation
				}
			}
			p.Line = lineOf(d.lines, p.Path)
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return nil, &Error{Problems: problems}
	}
	return &c, nil
}

var (
	orgRE      = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	ouRE       = regexp.MustCompile(`^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$`)
	emailRE    = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	scheduleRE = regexp.MustCompile(`^(rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$`)
	// tagRE is the characters AWS allows in tag keys and values: letters,
	// digits, spaces and _ . : / = + - @ (Tagging AWS resources, "Tag
	// naming limits and requirements").
	tagRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// Validate reports every problem at once, one per line, each with its path.
func (c *Config) Validate() error {
	var p problems
	if !IsRegion(c.HomeRegion) {
		p.add("home_region", c.HomeRegion, "set the Region of the hub, for example eu-west-1"+regionHint(c.HomeRegion))
	} else if IsOptIn(c.HomeRegion) && c.Organization != nil {
		p.add("home_region", c.HomeRegion, "choose a Region enabled by default in every account: the global spoke (the roles) deploys to the home Region of every account, and an opt-in Region is missing wherever it was not enabled")
	}
	if len(c.Regions) == 0 {
		p.add("regions", "", "list the Regions to guard, the home Region included")
	}
	seen := map[string]bool{}
	for i, r := range c.Regions {
		path := fmt.Sprintf("regions[%d]", i)
		switch {
		case !IsRegion(r):
			p.add(path, r, "use a Region code such as us-east-1"+regionHint(r))
		case seen[r]:
			p.add(path, r, "remove the duplicate")
		}
		seen[r] = true
	}
	if IsRegion(c.HomeRegion) && len(c.Regions) > 0 && !seen[c.HomeRegion] {
		p.add("regions", strings.Join(c.Regions, ","), "add the home Region "+c.HomeRegion)
	}
	if !guardrail.ValidAccountID(c.HubAccount) {
		p.add("hub_account", c.HubAccount, "set the 12-digit id of the security tooling account, quoted so leading zeros survive")
	}
	if len(c.Alerts.Emails) == 0 {
		p.add("alerts.emails", "", "list at least one address; each confirms its subscription once")
	}
	emails := map[string]int{}
	for i, e := range c.Alerts.Emails {
		path := fmt.Sprintf("alerts.emails[%d]", i)
		if !emailRE.MatchString(e) {
			p.add(path, e, "use an email address")
			continue
		}
		// SNS would get the same subscription twice (synth fails).
		if first, dup := emails[strings.ToLower(e)]; dup {
			p.add(path, e, fmt.Sprintf("it repeats alerts.emails[%d] (addresses are compared ignoring case): remove the duplicate", first))
			continue
		}
		emails[strings.ToLower(e)] = i
	}
	if o := c.Organization; o != nil {
		if !orgRE.MatchString(o.ID) {
			p.add("organization.id", o.ID, "use the organization id, o- followed by 10-32 characters (aws organizations describe-organization)")
		}
		if pv := o.Preventive; pv != nil && pv.MinDeletionWindowDays != 0 && (pv.MinDeletionWindowDays < 7 || pv.MinDeletionWindowDays > 30) {
			p.add("organization.preventive.min_deletion_window_days", fmt.Sprint(pv.MinDeletionWindowDays), "use 7-30 (KMS's waiting period), or leave it out")
		}
		for i, id := range o.ManagementAccountGuardrails {
			if !slices.Contains(catalog.IDs(), id) {
				p.add(fmt.Sprintf("organization.management_account_guardrails[%d]", i), id, "name a guardrail: "+strings.Join(catalog.IDs(), ", "))
			}
		}
		if !guardrail.ValidAccountID(o.ManagementAccount) {
			p.add("organization.management_account", o.ManagementAccount, "set the 12-digit management account id, quoted")
		}
		if len(o.OrganizationalUnits) == 0 {
			p.add("organization.organizational_units", "", "list the OU ids (ou-...) or the root (r-...) to deploy to")
		}
		for i, ou := range o.OrganizationalUnits {
			if !ouRE.MatchString(ou) {
				p.add(fmt.Sprintf("organization.organizational_units[%d]", i), ou, "use an OU id such as ou-ab12-cd34ef56 or a root id such as r-ab12")
			}
		}
		accountList(&p, "organization.excluded_accounts", o.ExcludedAccounts)
		for i, a := range o.ExcludedAccounts {
			path := fmt.Sprintf("organization.excluded_accounts[%d]", i)
			switch a {
			case "":
			case c.HubAccount:
				p.add(path, a, "this is hub_account, and the hub account must be guarded: excluding it leaves kmsguard's own account without the spokes (no roles, no event forwarding); remove it")
			case o.ManagementAccount:
				p.add(path, a, "this is organization.management_account, which StackSets never deploy to anyway (it gets the kmsguard-management-* stacks; choose its guardrails with organization.management_account_guardrails); remove it")
			}
		}
		switch o.CallAs {
		case "", "SELF", "DELEGATED_ADMIN":
		default:
			p.add("organization.call_as", o.CallAs, "use SELF (management account) or DELEGATED_ADMIN")
		}
		for _, pc := range []struct {
			path string
			v    *int
		}{{"organization.failure_tolerance_percentage", o.FailureTolerancePercentage}, {"organization.max_concurrent_percentage", o.MaxConcurrentPercentage}} {
			if pc.v != nil && (*pc.v < 0 || *pc.v > 100) {
				p.add(pc.path, fmt.Sprint(*pc.v), "use a percentage from 0 to 100")
			}
		}
		if pc := o.MaxConcurrentPercentage; pc != nil && *pc == 0 {
			p.add("organization.max_concurrent_percentage", "0", "use at least 1, or nothing is ever deployed")
		}
	}
	if sc := c.Sweep.Schedule; sc != "" && !scheduleRE.MatchString(sc) {
		p.add("sweep.schedule", sc, "use rate(N minutes|hours|days) or cron(...), for example rate(1 day)")
	}
	accountList(&p, "sweep.accounts", c.Sweep.Accounts)
	if v := c.Sweep.ItemAlerts; v != "" && !slices.Contains(runconfig.ItemAlertLevels, v) {
		p.add("sweep.item_alerts", v, "use one of "+strings.Join(runconfig.ItemAlertLevels, ", ")+" (the least severity that gets its own alert; the rest are in the digest)")
	}
	if lb := c.LoopBreaker; lb != nil {
		if lb.MaxFixes < 0 || lb.MaxFixes > 100 {
			p.add("loop_breaker.max_fixes", strconv.Itoa(lb.MaxFixes), "use 1 to 100 fixes of one resource (default 3), or 0 to never step back")
		}
		if lb.WindowMinutes < 0 || lb.WindowMinutes > 7*24*60 {
			p.add("loop_breaker.window_minutes", strconv.Itoa(lb.WindowMinutes), "use 1 to 10080 minutes (default 60)")
		}
	}
	if n := c.Sweep.MaxConcurrency; n < 0 || n > MaxSweepConcurrency {
		p.add("sweep.max_concurrency", strconv.Itoa(n), fmt.Sprintf("use 1 to %d account-Regions at once (default %d)", MaxSweepConcurrency, DefaultSweepConcurrency))
	}
	if o := c.Organization; o != nil {
		for i, a := range c.Sweep.Accounts {
			if j := slices.Index(o.ExcludedAccounts, a); a != "" && j >= 0 && slices.Index(c.Sweep.Accounts, a) == i {
				p.add(fmt.Sprintf("sweep.accounts[%d]", i), a, fmt.Sprintf("it is also organization.excluded_accounts[%d], so it has no kmsguard roles and the sweep cannot read it: remove it from one of the two lists", j))
			}
		}
	}
	c.validateTags(&p)
	if a := c.LogsKey.ExistingAlias; a != "" && (!strings.HasPrefix(a, "alias/") || strings.HasPrefix(a, "alias/aws/")) {
		p.add("logs_key.existing_alias", a, "name a customer managed key's alias (alias/..., not alias/aws/...)")
	}
	if err := c.Modes.Validate(catalog.IDs()); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			p.lines = append(p.lines, line)
		}
	}
	if len(c.Modes.OrganizationalUnits) > 0 && c.Organization == nil {
		p.add("modes.organizational_units", fmt.Sprint(len(c.Modes.OrganizationalUnits))+" rules", "rules per organizational unit need organization; use modes.accounts in single-account mode")
	}
	if js, err := c.RuntimeConfigJSON(); err != nil {
		p.lines = append(p.lines, err.Error())
	} else if len(js) > MaxRuntimeConfigBytes {
		p.lines = append(p.lines, fmt.Sprintf("modes: the configuration parameter %s would hold %d bytes, over the %d an SSM parameter holds (advanced tier; %d accounts and %d OUs have rules here); keep kmsguard.yaml's modes to global rules and move the per-account and per-OU rules to the mode store, one parameter per rule with no size limit: kmsguard mode set --account ID|--ou ID [--guardrail G] MODE (docs/configuration.md, \"Modes for thousands of accounts\")",
			"/kmsguard/config", len(js), MaxRuntimeConfigBytes, len(c.Modes.Accounts), len(c.Modes.OrganizationalUnits)))
	}
	return p.err()
}

// MaxRuntimeConfigBytes is the most an SSM parameter value holds (advanced
// tier; standard holds 4,096): https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html
const MaxRuntimeConfigBytes = 8192

// accountList checks a list of account ids: each valid, none twice.
func accountList(p *problems, field string, accounts []string) {
	seen := map[string]int{}
	for i, a := range accounts {
		path := fmt.Sprintf("%s[%d]", field, i)
		if !guardrail.ValidAccountID(a) {
			p.add(path, a, "use a 12-digit account id, quoted")
			continue
		}
		if first, dup := seen[a]; dup {
			p.add(path, a, fmt.Sprintf("it repeats %s[%d]: remove the duplicate", field, first))
			continue
		}
		seen[a] = i
	}
}

// regionHint suggests the Region a misspelt code resembles, or says why a
// code of another partition is refused.
func regionHint(code string) string {
	if strings.HasPrefix(code, "us-gov-") || strings.HasPrefix(code, "cn-") || strings.HasPrefix(code, "eusc-") {
		return " (kmsguard deploys only to the commercial partition: GovCloud, China and the European Sovereign Cloud are not supported)"
	}
	codes := make([]string, len(Regions))
	for i, r := range Regions {
		codes[i] = r.Code
	}
	return didYouMean(code, codes, " (did you mean %s?)")
}

// validateTags checks tags against AWS's tagging rules, so that a bad tag
// is reported here rather than by CloudFormation halfway through a
// deployment.
func (c *Config) validateTags(p *problems) {
	if n := len(c.Tags); n > MaxTags-1 {
		p.addMsg("tags", fmt.Sprintf("%d tags, over the limit of %d: AWS allows %d tags per resource and kmsguard adds %s; remove %d", n, MaxTags-1, MaxTags, ComponentTag, n-(MaxTags-1)))
	}
	keys := make([]string, 0, len(c.Tags))
	for k := range c.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, path := c.Tags[k], "tags."+k
		switch n := utf8.RuneCountInString(k); {
		case n == 0:
			p.addMsg("tags", "a tag key is empty; give it 1-128 characters")
		case n > 128:
			p.addMsg(path, fmt.Sprintf("the key has %d characters; AWS allows 1-128: shorten it", n))
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			p.addMsg(path, "keys beginning with aws: are reserved for AWS; use another prefix")
		case k == ComponentTag:
			p.addMsg(path, "kmsguard sets this tag itself (the component: hub, spoke-global, spoke-regional, org); use another key")
		case !tagRE.MatchString(k):
			p.addMsg(path, fmt.Sprintf("the key %q has characters AWS does not allow in tags; use letters, digits, spaces and _ . : / = + - @", k))
		}
		switch n := utf8.RuneCountInString(v); {
		case n > 256:
			p.addMsg(path, fmt.Sprintf("the value has %d characters; AWS allows 0-256: shorten it", n))
		case !tagRE.MatchString(v):
			p.addMsg(path, fmt.Sprintf("the value %q has characters AWS does not allow in tags; use letters, digits, spaces and _ . : / = + - @", v))
		}
	}
}

// problems collects Validate's findings. A line is "path: message"; list
// holds problems whose path cannot be told from a line (a tag key with a
// space or ": " in it).
type problems struct {
	lines []string
	list  []Problem
}

// addMsg records a problem with its own wording.
func (p *problems) addMsg(path, msg string) {
	p.list = append(p.list, Problem{Path: path, Message: msg})
}

func (p *problems) add(path, value, fix string) {
	if value == "" {
		p.lines = append(p.lines, fmt.Sprintf("%s: missing; %s", path, fix))
		return
	}
	p.lines = append(p.lines, fmt.Sprintf("%s: %q is not valid; %s", path, value, fix))
}

// err is an *Error with one Problem per line; a line is "path: message".
func (p *problems) err() error {
	if len(p.lines) == 0 && len(p.list) == 0 {
		return nil
	}
	e := &Error{Problems: slices.Clone(p.list)}
	for _, l := range p.lines {
		path, msg, ok := strings.Cut(l, ": ")
		if !ok || strings.ContainsAny(path, " \t") {
			path, msg = "", l
		}
		e.Problems = append(e.Problems, Problem{Path: path, Message: msg})
	}
	return e
}

// RuntimeConfig is what the hub Lambdas read: the modes and each guardrail's
// settings, with values the deployment implies filled in where a spec's
// setting says so (its from tag: the organization id, the logs key alias).
func (c *Config) RuntimeConfig() (runconfig.RuntimeConfig, error) {
	rc := runconfig.RuntimeConfig{Modes: c.Modes, Guardrails: map[string]json.RawMessage{}, SecurityHub: c.Alerts.SecurityHubOn(), LoopBreaker: c.LoopBreaker}
	if c.Organization != nil {
		rc.OrganizationID = c.Organization.ID
	}
	ids := catalog.IDs()
	var unknown []string
	for id := range c.Guardrails {
		if !slices.Contains(ids, id) {
			unknown = append(unknown, id)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		return rc, fmt.Errorf("guardrails.%s: unknown guardrail; known: %s", unknown[0], strings.Join(ids, ", "))
	}
	// Settings a spec fills from the deployment (its from tag), when unset.
	// A from tag names a deployment value or another guardrail's setting
	// as written in kmsguard.yaml (guardrails.<id>.<name>).
	deployment := map[string]any{"logs_key.alias": c.LogsKey.Alias()}
	if c.Organization != nil && c.Organization.ID != "" {
		deployment["organization.id"] = c.Organization.ID
	}
	written := map[string]map[string]any{}
	for _, spec := range catalog.Specs() {
		id := spec.ID
		m := map[string]any{}
		if raw := c.Guardrails[id]; len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &m); err != nil {
				return rc, fmt.Errorf("guardrails.%s: must be a mapping of settings: %v", id, err)
			}
		}
		written[id] = m
		for k, v := range m {
			deployment["guardrails."+id+"."+k] = v
		}
	}
	for _, spec := range catalog.Specs() {
		id := spec.ID
		m := written[id]
		schema, err := guardrail.SettingsSchema(spec.Settings)
		if err != nil {
			return rc, fmt.Errorf("guardrails.%s: %w", id, err)
		}
		for _, st := range schema {
			if v, ok := deployment[st.From]; ok && st.From != "" {
				if _, set := m[st.Name]; !set {
					m[st.Name] = v
				}
			}
		}
		if len(m) == 0 {
			continue
		}
		b, err := json.Marshal(m)
		if err != nil {
			return rc, err
		}
		rc.Guardrails[id] = b
	}
	accounts := c.Sweep.Accounts
	if len(accounts) == 0 {
		accounts = []string{c.HubAccount}
		if c.Organization != nil && c.Organization.ManagementAccount != c.HubAccount && len(c.Organization.ManagementAccountGuardrails) > 0 {
			accounts = append(accounts, c.Organization.ManagementAccount)
		}
	}
	rc.Sweep = &runconfig.SweepScope{Accounts: accounts, Regions: c.Regions, ItemAlerts: c.Sweep.ItemAlerts}
	if c.Organization != nil && c.Organization.ManagementAccount != c.HubAccount {
		var none []string
		for _, id := range ids {
			if !slices.Contains(c.Organization.ManagementAccountGuardrails, id) {
				none = append(none, id)
			}
		}
		if len(none) > 0 {
			rc.Unmanaged = map[string][]string{c.Organization.ManagementAccount: none}
		}
	}
	if len(c.Sweep.Accounts) == 0 && c.Organization != nil {
		rc.Sweep.OrganizationalUnits = c.Organization.OrganizationalUnits
		rc.Sweep.ExcludedAccounts = c.Organization.ExcludedAccounts
	}
	// Each guardrail validates its own settings.
	if err := catalog.ValidateSettings(rc); err != nil {
		return rc, err
	}
	return rc, nil
}

// RuntimeConfigJSON is RuntimeConfig as the JSON the hub parameter holds.
func (c *Config) RuntimeConfigJSON() (string, error) {
	rc, err := c.RuntimeConfig()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(rc)
	return string(b), err
}
