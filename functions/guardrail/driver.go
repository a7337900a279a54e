package guardrail

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
)

// This file is the one driver every guardrail runs on: observe → decide →
// act → alert, the failure classification and the "check FAILED" and
// "remediation FAILED" handling. A guardrail package supplies its Logic:
// how to name the resource an event is about, how to read it, a pure
// decision, how to act, and its alert text.

// Kind is what a decision asks for.
type Kind int

const (
	// Ignore: nothing to do and nothing to say.
	Ignore Kind = iota
	// Notify: an alert, no write call.
	Notify
	// Remediate: the guardrail's remediation, then an alert.
	Remediate
)

// Decision is the pure result of a guardrail's Decide, with the reason a
// person reads.
type Decision struct {
	Kind     Kind
	Severity Severity
	// Verdict is the short outcome at the end of the alert subject.
	Verdict string
	Reason  string
	// NoExemption says the exemption tag does not change this decision
	// (an alert about something that already happened to the resource).
	NoExemption bool
	// Findings are the codes of what was found (key-policy's PUBLIC, ...).
	Findings []string
}

// Input is what a guardrail's Decide looks at: the event, the mode and the
// state its Observe read. Decide is pure: no I/O, no clock, no logging.
type Input[S any] struct {
	Event *cloudtrail.Event
	Mode  Mode
	State S
	// Sweep is set when the resource was listed by a sweep rather than
	// named by an event.
	Sweep bool
}

// Call is one invocation as a guardrail's Observe and Act see it.
type Call[API any] struct {
	Event           *cloudtrail.Event
	Account, Region string
	// Target is the resource the event names (Logic.Target), or the listed
	// resource's id in a sweep.
	Target string
	Mode   Mode
	// API is the client for Account and Region.
	API   API
	Sweep bool
	// KeyStates are the key states kmsguard saw, Policies the last good
	// key policies; nil when it keeps no ledger.
	KeyStates KeyStates
	Policies  Policies
	// Org is the organization's membership; nil when kmsguard cannot
	// read it (single-account mode, a hub that is not the management or
	// a delegated administrator account).
	Org     Organization
	clients Clients[API]
	// ownRole is kmsguard's role that made the call, when one of its roles
	// made a call that no remediation of this guardrail makes.
	ownRole string
}

// In returns the client for the call's account in another Region (a
// multi-Region key's primary).
func (c *Call[API]) In(region string) (API, error) { return c.clients.Get(c.Account, region) }

// Alert is what a guardrail's alert text is written from.
type Alert[S any] struct {
	Outcome  Outcome
	Event    *cloudtrail.Event
	Decision Decision
	State    S
	// Acted: a remediation was attempted (it failed when Err is set).
	Acted bool
	// Err is why the check or the remediation failed.
	Err error
	// ExemptionTag is the tag key in force.
	ExemptionTag string
	// OwnRole is set when kmsguard's own role made the call.
	OwnRole string
}

// Failed reports a failed check or remediation.
func (a *Alert[S]) Failed() bool { return a.Err != nil }

// Logic is what a guardrail package supplies; the Driver does the rest.
// API is the guardrail's narrow SDK interface (one per account and Region),
// S the state it observes.
type Logic[API, S any] interface {
	// Target names the resource an event is about; an error rejects the
	// event as bad input.
	Target(ev *cloudtrail.Event) (string, error)
	// Observe reads the current state of c.Target: what Decide needs and
	// nothing more (tags are read by Exempt, only when needed).
	Observe(ctx context.Context, c *Call[API]) (S, error)
	// Decide is pure and runs once per invocation.
	Decide(in Input[S]) Decision
	// Exempt reports whether the resource carries the exemption tag
	// (tag=true), reading the tags into s if it has not yet. It is called
	// only when the decision would act or alert.
	Exempt(ctx context.Context, c *Call[API], s *S, tag string) (bool, error)
	// Act carries out a Remediate decision and records what it did in s.
	// action is the Outcome's action ("cancel-deletion"), also when err
	// is set. A *Declined error means nothing was changed, for a reason
	// that is not a failure.
	Act(ctx context.Context, c *Call[API], s *S, d Decision) (action string, err error)
	// Enrich reads what an alert a person acts on shows (aliases); best
	// effort, never fails the invocation.
	Enrich(ctx context.Context, c *Call[API], s *S)
	// Name is the resource as a person recognises it, "" when not found.
	Name(s S) string
	// The alert text: the first paragraph; fields (and sections) under
	// "What happened"; lines under "What kmsguard did"; and the resource
	// with "What you can do". The driver writes the rest.
	Headline(a *Alert[S]) string
	Happened(b *alert.Body, a *Alert[S])
	Did(b *alert.Body, a *Alert[S])
	Details(b *alert.Body, a *Alert[S])
}

// Identifier is implemented by a Logic whose resources have a stable
// identifier other than what the event named (a key's ARN, where the event
// may name an alias or a bare id); "" when unknown.
type Identifier[S any] interface {
	ResourceID(s S) string
}

// Sweeper is implemented by a Logic the sweep hands listed resources to:
// a kmskey.Key for KindKMSKey, a loggroup.Group for KindLogGroup. It
// returns the state to decide on, or relevant=false to skip the resource
// without a call (compliant on its face, or nothing a sweep can do).
type Sweeper[API, S any] interface {
	FromListing(ctx context.Context, c *Call[API], resource any) (s S, relevant bool, err error)
}

// Declined is returned by Act when the remediation was not carried out
// for a reason that is not a failure (KMS refuses it for this key, someone
// fixed it first). Its decision replaces the one that asked to act.
type Declined struct{ Decision Decision }

func (d *Declined) Error() string { return "declined: " + d.Decision.Reason }

// Clients returns a guardrail's client for an account and Region.
type Clients[API any] interface {
	Get(account, region string) (API, error)
}

// ConfigSource hands out AWS configs per account and Region (the hub's own
// credentials in the hub account, the remediator role elsewhere);
// *awsenv.Provider is one.
type ConfigSource interface {
	Config(account, region string) (aws.Config, error)
	HubAccount() string
}

// ClientsOf caches one client per account and Region, built with make.
func ClientsOf[API any](src ConfigSource, make func(aws.Config) API) Clients[API] {
	return &clientCache[API]{src: src, make: make, m: map[[2]string]API{}}
}

type clientCache[API any] struct {
	src  ConfigSource
	make func(aws.Config) API
	mu   sync.Mutex
	m    map[[2]string]API
}

func (c *clientCache[API]) Get(account, region string) (API, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := [2]string{account, region}
	if cl, ok := c.m[k]; ok {
		return cl, nil
	}
	cfg, err := c.src.Config(account, region)
	if err != nil {
		var zero API
		return zero, err
	}
	cl := c.make(cfg)
	c.m[k] = cl
	return cl, nil
}

// Entry is one catalog line: a guardrail's spec, how to check its
// settings, and how to build it. A guardrail's Lambda links only its own.
type Entry struct {
	Spec     Spec
	Validate func(raw []byte) error
	Build    func(raw []byte, src ConfigSource, modes ModeLookup) (Guardrail, error)
}

// Define makes a guardrail's Entry from its spec, the SDK client factory
// of its narrow API, and a constructor of its Logic from its settings
// (a struct embedding Common, checked by DecodeSettings).
func Define[Set, API, S any](spec Spec, client func(aws.Config) API, logic func(Set) Logic[API, S]) Entry {
	return Entry{
		Spec:     spec,
		Validate: func(raw []byte) error { _, err := DecodeSettings[Set](raw, spec.ID); return err },
		Build: func(raw []byte, src ConfigSource, modes ModeLookup) (Guardrail, error) {
			s, err := DecodeSettings[Set](raw, spec.ID)
			if err != nil {
				return nil, err
			}
			return NewDriver(spec, logic(s), ClientsOf(src, client), modes, src.HubAccount(), exemptionTag(s, spec)), nil
		},
	}
}

func exemptionTag(settings any, spec Spec) string {
	if c, ok := settings.(interface{ common() Common }); ok {
		return c.common().ExemptionTagOr(spec.Exemption.Tag)
	}
	return spec.Exemption.Tag
}

// Driver runs one guardrail's Logic. It implements Guardrail.
type Driver[API, S any] struct {
	spec       Spec
	logic      Logic[API, S]
	clients    Clients[API]
	modes      ModeLookup
	hubAccount string
	tag        string
	// unmanaged are accounts where the guardrail has no role.
	unmanaged []string
	// names are the organization's account names, nil outside one.
	names AccountNames
	// org tells which accounts are in the organization, nil when unknown.
	org Organization
	// memory is the ledger (nil: none), loop its loop breaker.
	memory   Memory
	loop     LoopBreaker
	keys     KeyStates
	policies Policies
}

// AccountNames names accounts as the organization knows them, "" when it
// cannot tell; it is best effort and bounded in time, never failing an
// alert.
type AccountNames interface {
	AccountName(ctx context.Context, account string) string
}

// SetAccountNames gives the driver the organization's account names for
// its alerts.
func (d *Driver[API, S]) SetAccountNames(n AccountNames) { d.names = n }

// Organization tells whether an account is in kmsguard's organization.
// known is false when it cannot tell (Organizations not readable from the
// hub): a decision that rests on it is then reported, never acted on.
type Organization interface {
	Member(ctx context.Context, account string) (member, known bool)
}

// SetOrganization gives the driver the organization's membership, for
// guardrails that decide who is external (Call.Org).
func (d *Driver[API, S]) SetOrganization(o Organization) { d.org = o }

// SetUnmanaged names the accounts where the guardrail has no role: their
// events are reported from the event alone (no read, no fix).
func (d *Driver[API, S]) SetUnmanaged(accounts []string) { d.unmanaged = accounts }

// NewDriver wires a Logic; tests pass fake clients. tag is the exemption
// tag in force ("" means the spec's).
func NewDriver[API, S any](spec Spec, l Logic[API, S], clients Clients[API], modes ModeLookup, hubAccount, tag string) *Driver[API, S] {
	if tag == "" {
		tag = spec.Exemption.Tag
	}
	return &Driver[API, S]{spec: spec, logic: l, clients: clients, modes: modes, hubAccount: hubAccount, tag: tag}
}

// Spec is the guardrail's spec.
func (d *Driver[API, S]) Spec() Spec { return d.spec }

// regionPattern is the shape of a Region name (us-east-1, ap-southeast-5).
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// Locator is implemented by a Logic whose target can name its own Region
// (an ARN): TargetRegion returns it, or "".
type Locator interface {
	TargetRegion(ev *cloudtrail.Event) string
}

// Evaluate handles one event.
func (d *Driver[API, S]) Evaluate(ctx context.Context, ev *cloudtrail.Event) (Result, error) {
	out := NewOutcome(ev, d.modes.Resolve(ev.AccountID(), d.spec.ID, d.spec.DefaultMode))
	name := ""
	if ev.Record != nil {
		name = ev.Record.EventName
	}
	if !d.spec.Handles(ev.DetailType, name) {
		return Reject(out, fmt.Errorf("event %q is not handled by %s", ev.Name(), d.spec.ID))
	}
	if ev.Record != nil {
		skip, err := d.checkRecord(ev)
		if err != nil {
			return Reject(out, err)
		}
		if skip != "" {
			out.Reason = skip
			return Result{Outcome: out}, nil
		}
	}
	target, err := d.logic.Target(ev)
	if err != nil {
		return Reject(out, err)
	}
	out.Resource, out.ResourceID = target, target
	// A resource whose ARN names another Region than the event (a key ARN
	// in requestParameters) is handled where it really is, not looked up
	// in the event's Region and reported missing.
	if l, ok := any(d.logic).(Locator); ok {
		// (A malformed event Region is rejected below, as before.)
		if r := l.TargetRegion(ev); r != "" && r != out.Region && regionPattern.MatchString(out.Region) {
			if !regionPattern.MatchString(r) {
				return Reject(out, fmt.Errorf("the resource %s names Region %q, which is not a Region name", target, r))
			}
			out.Region = r
		}
	}
	var zero S
	if d.unmanagedIn(out.Account) {
		c := &Call[API]{Event: ev, Account: out.Account, Region: out.Region, Target: target, Mode: out.Mode}
		dec := Decision{Kind: Notify, Severity: SeverityHigh, Verdict: "NOT checked (no role)", NoExemption: true,
			Reason: fmt.Sprintf("kmsguard has no role for %s in account %s (organization.management_account_guardrails does not opt it in), so it reports the event without reading or fixing anything", d.spec.ID, out.Account)}
		if ev.Record != nil {
			// kmsguard has no role here: a session of one is an imitation.
			c.ownRole = OwnRole(ev.Record.UserIdentity.ARN, out.Account, d.hubAccount)
		}
		dec = d.misuse(c, dec)
		out.Reason, out.Severity = dec.Reason, dec.Severity
		return d.result(ctx, out, c, dec, zero, false, nil), nil
	}
	api, err := d.clients.Get(out.Account, out.Region)
	c := &Call[API]{Event: ev, Account: out.Account, Region: out.Region, Target: target, Mode: out.Mode, API: api, clients: d.clients, KeyStates: d.keys, Policies: d.policies, Org: d.org}
	if ev.Record != nil {
		// checkRecord skipped kmsguard's own remediation; any other call
		// made with one of its roles is the loudest alert there is.
		c.ownRole = OwnRole(ev.Record.UserIdentity.ARN, out.Account, d.hubAccount)
	}
	if err != nil {
		if IsTerminal(err) {
			return Reject(out, err)
		}
		return d.fail(ctx, out, c, zero, fmt.Errorf("AWS clients for %s/%s: %w", out.Account, out.Region, err))
	}
	st, err := d.logic.Observe(ctx, c)
	if err != nil {
		if IsTerminal(err) {
			return Reject(out, err)
		}
		return d.fail(ctx, out, c, st, err)
	}
	return d.decideAndAct(ctx, out, c, st)
}

// checkRecord applies the checks every CloudTrail-triggered guardrail
// makes before reading AWS, in case an event slipped past its pattern:
//   - a failed call changed nothing: skip, with a reason;
//   - a call made by this guardrail's own session (or the sweep's) that its
//     spec's actions cause: skip, so remediations never loop. Only the exact
//     session ARN in that account counts, never a look-alike role name;
//   - a record whose recipientAccountId differs from the envelope's account
//     is forged or corrupt: a terminal error, because acting on it would let
//     one member account steer kmsguard at another.
func (d *Driver[API, S]) checkRecord(ev *cloudtrail.Event) (skip string, err error) {
	rec := ev.Record
	if rec.ErrorCode != "" {
		return "the call failed (" + rec.ErrorCode + "), so nothing changed", nil
	}
	if ev.Account != "" && rec.RecipientAccountID != "" && ev.Account != rec.RecipientAccountID {
		return "", Terminal(fmt.Errorf("event account %s does not match the record's recipientAccountId %s", ev.Account, rec.RecipientAccountID))
	}
	if _, own := OwnCall(rec.UserIdentity.ARN, ev.AccountID(), d.hubAccount, []string{d.spec.ID}); own && d.spec.Causes(rec.EventSource, rec.EventName) && !d.unmanagedIn(ev.AccountID()) {
		return fmt.Sprintf("the call was kmsguard's own %s remediation (session %s)", d.spec.ID, rec.UserIdentity.ARN), nil
	}
	return "", nil
}

// Reconcile is the sweep's entry: a resource the sweep listed in account
// and Region (a kmskey.Key or a loggroup.Group, per Spec.Sweep.Kind) goes
// through the same decision, exemption, remediation and alert as an event.
func (d *Driver[API, S]) Reconcile(ctx context.Context, account, region string, resource interface{ ID() string }, now time.Time) (Result, error) {
	sw, ok := d.logic.(Sweeper[API, S])
	if !ok || d.spec.Sweep.Kind == "" || d.unmanagedIn(account) {
		return Result{}, nil
	}
	ev := SweepEvent(account, region, d.eventSource(d.spec.Sweep.EventName), d.spec.Sweep.EventName, resource.ID(), now)
	out := NewOutcome(ev, d.modes.Resolve(account, d.spec.ID, d.spec.DefaultMode))
	out.Resource, out.ResourceID = resource.ID(), resource.ID()
	api, err := d.clients.Get(account, region)
	c := &Call[API]{Event: ev, Account: account, Region: region, Target: resource.ID(), Mode: out.Mode, API: api, Sweep: true, clients: d.clients, KeyStates: d.keys, Policies: d.policies, Org: d.org}
	var zero S
	if err != nil {
		return d.fail(ctx, out, c, zero, err)
	}
	st, relevant, err := sw.FromListing(ctx, c, resource)
	if err != nil {
		return d.fail(ctx, out, c, st, err)
	}
	if !relevant {
		return Result{}, nil
	}
	return d.decideAndAct(ctx, out, c, st)
}

func (d *Driver[API, S]) eventSource(eventName string) string {
	for _, t := range d.spec.Triggers {
		for _, n := range t.EventNames {
			if n == eventName {
				return t.EventSource
			}
		}
	}
	return ""
}

// decideAndAct decides once, applies the exemption (reading tags only when
// the decision would act or alert), acts, and renders the alert.
func (d *Driver[API, S]) decideAndAct(ctx context.Context, out Outcome, c *Call[API], st S) (Result, error) {
	dec := d.logic.Decide(Input[S]{Event: c.Event, Mode: c.Mode, State: st, Sweep: c.Sweep})
	if dec.Findings != nil {
		out.Findings = dec.Findings
	}
	if dec.Kind != Ignore && !dec.NoExemption {
		exempt, err := d.logic.Exempt(ctx, c, &st, d.tag)
		if err != nil {
			return d.fail(ctx, out, c, st, err)
		}
		if exempt {
			dec = d.exempt(dec, out.Findings)
		}
	}
	dec = d.misuse(c, dec)
	if id, ok := d.logic.(Identifier[S]); ok && id.ResourceID(st) != "" {
		out.ResourceID = id.ResourceID(st) // every outcome about it is keyed alike
	}
	dec = d.loopBreak(ctx, c, out, dec, out.ResourceID)
	if dec.Kind == Notify {
		d.logic.Enrich(ctx, c, &st)
	}
	if n := d.logic.Name(st); n != "" {
		out.Resource = n
	}
	out.Reason, out.Severity = dec.Reason, dec.Severity
	switch dec.Kind {
	case Ignore:
		return Result{Outcome: out}, nil
	case Notify:
		return d.result(ctx, out, c, dec, st, false, nil), nil
	}
	action, err := d.logic.Act(ctx, c, &st, dec)
	var declined *Declined
	if errors.As(err, &declined) {
		dec = d.misuse(c, declined.Decision)
		out.Action, out.Reason, out.Severity = ActionNone, dec.Reason, dec.Severity
		d.logic.Enrich(ctx, c, &st)
		if n := d.logic.Name(st); n != "" {
			out.Resource = n
		}
		if dec.Kind == Ignore {
			return Result{Outcome: out}, nil
		}
		return d.result(ctx, out, c, dec, st, false, nil), nil
	}
	if action != "" {
		out.Action = action
	}
	// Every alert names the resource as a person knows it, also when
	// kmsguard fixed it (the aliases are cached per account and Region).
	d.logic.Enrich(ctx, c, &st)
	if n := d.logic.Name(st); n != "" {
		out.Resource = n
	}
	if err != nil {
		out.Severity = d.spec.FailureSeverity
		out.Reason = dec.Reason + "; remediation failed: " + err.Error()
		dec.Severity, dec.Verdict = out.Severity, VerdictRemediationFailed
		return d.result(ctx, out, c, dec, st, true, err), err
	}
	return d.result(ctx, out, c, dec, st, true, nil), nil
}

// misuse raises a decision to CRITICAL when kmsguard's own role made a call
// its guardrails never make: alert whatever the state, and still remediate.
func (d *Driver[API, S]) misuse(c *Call[API], dec Decision) Decision {
	if c.ownRole == "" {
		return dec
	}
	if dec.Kind == Ignore {
		dec = Decision{Kind: Notify, Verdict: "kmsguard role misused", Reason: dec.Reason}
	}
	dec.Severity, dec.NoExemption = SeverityCritical, true
	dec.Reason = fmt.Sprintf("kmsguard's own role %s made this call, which no kmsguard remediation makes: the role may be compromised or misused; %s", c.ownRole, dec.Reason)
	return dec
}

// unmanagedIn reports an account where the guardrail has no role and so
// only reports; a guardrail that decides from the event alone needs none.
func (d *Driver[API, S]) unmanagedIn(account string) bool {
	return !d.spec.EventOnly && slices.Contains(d.unmanaged, account)
}

// exempt turns a decision on an exempt resource into the spec's exemption
// outcome: an INFO alert, or nothing.
func (d *Driver[API, S]) exempt(dec Decision, findings []string) Decision {
	e := d.spec.Exemption
	reason := fmt.Sprintf("the %s carries the exemption tag %s=true", d.noun(), d.tag)
	if e.Effect != "" {
		reason += ", " + e.Effect
	}
	if !e.Alert {
		return Decision{Kind: Ignore, Reason: reason}
	}
	verdict := e.Verdict
	if len(findings) > 0 {
		verdict += ": " + strings.Join(findings, ", ")
	}
	return Decision{Kind: Notify, Severity: SeverityInfo, Verdict: verdict, Reason: reason}
}

func (d *Driver[API, S]) noun() string {
	if i := strings.LastIndex(d.spec.Resource, " "); i >= 0 && strings.HasPrefix(d.spec.Resource, "KMS ") {
		return d.spec.Resource[i+1:] // "KMS key" reads "the key"
	}
	return d.spec.Resource
}

// fail ends an invocation whose reads failed: an alert says kmsguard could
// not check the resource, and the error makes Lambda retry.
func (d *Driver[API, S]) fail(ctx context.Context, out Outcome, c *Call[API], st S, err error) (Result, error) {
	dec := d.misuse(c, Decision{Kind: Notify, Severity: SeverityHigh, Verdict: VerdictCheckFailed,
		Reason: "kmsguard could not read " + d.spec.Reads + ", so it could not check it"})
	out.Reason, out.Severity = dec.Reason, dec.Severity
	return d.result(ctx, out, c, dec, st, false, err), err
}

// result fills the outcome and renders the alert: the guardrail writes the
// headline, what happened, what it did and the resource; the driver the
// mode, who, where and the event.
func (d *Driver[API, S]) result(ctx context.Context, out Outcome, c *Call[API], dec Decision, st S, acted bool, err error) Result {
	if sr, ok := d.logic.(Stater[S]); ok {
		out.Before, out.After = sr.States(st)
	}
	if id, ok := d.logic.(Identifier[S]); ok {
		if v := id.ResourceID(st); v != "" {
			out.ResourceID = v
		}
	}
	// A call by the root user is one level more severe, and the subject
	// says so: root should not be doing day-to-day work.
	root := c.Event.Record != nil && c.Event.Record.UserIdentity.Type == "Root"
	if root {
		out.Severity = BumpSeverity(out.Severity)
	}
	a := &Alert[S]{Outcome: out, Event: c.Event, Decision: dec, State: st, Acted: acted, Err: err, ExemptionTag: d.tag, OwnRole: c.ownRole}
	ev := c.Event
	var b alert.Body
	if c.ownRole != "" {
		b.Para("WARNING: this call was made with kmsguard's own role %s (%s). kmsguard never makes it: the role may be compromised or misused. Check who can assume the role (its trust policy), and this session's other calls in CloudTrail.", c.ownRole, ev.Record.UserIdentity.ARN)
	}
	b.Para("%s", d.logic.Headline(a))

	b.Section("What happened")
	b.Field("Event", out.EventName)
	b.Field("When", ev.When().UTC().Format(time.RFC3339))
	d.logic.Happened(&b, a)

	b.Section("What kmsguard did")
	switch {
	case acted && err != nil:
		b.Line("Remediation failed: %s", err.Error())
		b.Line("Lambda retries the event; if it keeps failing the event lands in the kmsguard dead-letter queue.")
	case acted:
	case err != nil:
		b.Line("Nothing: %s", err.Error())
	default:
		b.Line("Nothing. %s", alert.Sentence(dec.Reason))
	}
	d.logic.Did(&b, a)
	if ev.Record != nil {
		b.Field("Mode", fmt.Sprintf("%s (set by %s)", out.Mode, out.ModeSource))
	}

	b.Actor(ev.Record)
	name := ""
	if d.names != nil {
		name = d.names.AccountName(ctx, out.Account)
	}
	b.Where(out.Account, name, out.Region)
	d.logic.Details(&b, a)

	b.Section("Event")
	b.Field("Event id", out.EventID)
	b.Field("Guardrail", d.spec.ID)

	verdict := dec.Verdict
	if err != nil && !acted {
		verdict = VerdictCheckFailed
	}
	msg := alert.Message{
		Severity: string(out.Severity), Guardrail: d.spec.ID, Account: out.Account, AccountName: name, Region: out.Region,
		Resource: out.Resource, Action: out.Action, Verdict: verdict, EventID: out.EventID, Findings: out.Findings,
		Body: b.String(),
	}
	if ev.Record != nil {
		msg.Actor = ev.Record.UserIdentity.Short() // "ROOT" for root: the subject flags it
	}
	return Result{Outcome: out, Alert: &msg}
}

// BumpSeverity is one level more severe: INFO → WARNING → HIGH → CRITICAL.
func BumpSeverity(s Severity) Severity {
	switch s {
	case SeverityInfo:
		return SeverityWarning
	case SeverityWarning:
		return SeverityHigh
	case SeverityHigh, SeverityCritical:
		return SeverityCritical
	}
	return s
}
