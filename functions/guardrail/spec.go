package guardrail

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/kmsguard/kmsguard/events/patterns"
)

// Spec is the one record of a guardrail. Infra builds the hub rules, the
// spoke forwarding rules and the least-privilege IAM policies from it; the
// runtime validates configuration against it; the docs are generated from
// it; the catalog meta-tests check it.
type Spec struct {
	// ID is the stable kebab-case name. It names the Lambda, its role, its
	// rules, log fields, metrics and alert subjects, so it never changes.
	ID string
	// Summary is one sentence for the docs, the CLI and the Lambda.
	Summary string
	// Details are what a reader of the docs needs beyond the summary
	// (edge cases, what it never does); optional.
	Details string
	// Concern is the property of a resource the guardrail guards (deletion,
	// rotation, policy, encryption). Two guardrails may watch the same event
	// only for different concerns: see Validate in functions/catalog.
	Concern string
	// Resource is what the guardrail guards, in words ("KMS key", "log
	// group"); the sweep hands it resources of Sweep.Kind.
	Resource string
	// Triggers are the events that invoke the guardrail, declared as data.
	// A trigger's Concern defaults to the spec's.
	Triggers []patterns.Trigger
	// Actions are every IAM action the guardrail calls on the resources it
	// guards, reads and writes alike. Nothing else is granted, and the
	// meta-tests check that every call it makes is listed.
	Actions []string
	// Exemption is how a resource opts out.
	Exemption Exemption
	// DefaultMode applies when the mode configuration says nothing.
	DefaultMode Mode
	// Severity is the highest severity the guardrail's alerts carry (docs).
	Severity Severity
	// FailureSeverity is the severity of a remediation that failed.
	FailureSeverity Severity
	// Reads names what the guardrail reads, for the "could not check"
	// alert: "the key or its rotation status".
	Reads string
	// Settings is the zero value of the guardrail's settings struct; its
	// json, doc and default tags are the settings schema (docs,
	// configuration validation).
	Settings any
	// EventOnly says the guardrail decides from the event alone and reads
	// nothing in the account where it happened: it needs no role there
	// (tamper).
	EventOnly bool
	// Sweep says what the scheduled sweep hands the guardrail, if anything.
	Sweep SweepSpec
	// Example is the guardrail's end-to-end scenario: the catalog-driven
	// fault, replay and sweep tests stage it on the emulator.
	Example Example
}

// Exemption is how a resource opts out of a guardrail: a tag whose value is
// "true" (case-insensitive). No tag: nothing can opt out. The tag key can be overridden per deployment
// (the exemption_tag setting every guardrail has).
type Exemption struct {
	// Tag is the default tag key; it must start with kmsguard:.
	Tag string
	// Alert sends an INFO alert about an exempt resource instead of staying
	// silent (a deletion that goes ahead deserves a line in the inbox).
	Alert bool
	// Verdict ends the subject of that alert; the findings follow it.
	Verdict string
	// Effect ends the reason: "so its deletion is allowed".
	Effect string
}

// SweepSpec is a guardrail's part in the scheduled sweep.
type SweepSpec struct {
	// Kind is the resource kind the sweep lists for it; "" for none.
	Kind ResourceKind
	// EventName is the API call a non-compliant state implies; the sweep's
	// synthetic event carries it.
	EventName string
	// Refresh says the remediation changes what a sweep listed (a cancelled
	// deletion is now an Enabled key), so the sweep re-reads the resource
	// before handing it to the next guardrail.
	Refresh bool
	// Lazy says FromListing reads what it needs itself from a listed key
	// the sweep has not described (kmskey.Key.Described false: only its
	// id, ARN, aliases and tags): a sweep whose key guardrails are all
	// lazy skips DescribeKey, one call per key (key-rotation asks for the
	// rotation status first and describes only the keys it must fix).
	Lazy bool
}

// ResourceKind is a kind of resource the sweep lists.
type ResourceKind string

// The resource kinds the sweep can list.
const (
	KindKMSKey   ResourceKind = "kms-key"
	KindLogGroup ResourceKind = "log-group"
)

// Example is the scenario a guardrail is exercised with end to end.
type Example struct {
	// Fixture is the events/fixtures name of the event.
	Fixture string
	// Calls are the AWS operations the guardrail makes for it, in order
	// (the alert's Publish not included): for a guardrail that remediates,
	// its reads and then its remediation's write, last; for an alert-only
	// guardrail (Spec.AlertOnly), the reads its alert is written from.
	Calls []string
	// Verdict ends the subject of the example's alert: the remediation's,
	// or an alert-only guardrail's.
	Verdict string
	// Mode is the configured mode of the scenario when the guardrail's
	// default mode would not remediate; never set for an alert-only
	// guardrail, whose mode changes nothing.
	Mode Mode
}

// IsRead reports whether an IAM action (kms:DescribeKey) or an API
// operation (DescribeKey) only reads: Describe*, Get* and List* do.
func IsRead(action string) bool {
	op := action[strings.Index(action, ":")+1:]
	return strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "Get") || strings.HasPrefix(op, "List")
}

// Writes are the spec's actions that change something.
func (s Spec) Writes() []string {
	var out []string
	for _, a := range s.Actions {
		if !IsRead(a) {
			out = append(out, a)
		}
	}
	return out
}

// AlertOnly reports a guardrail that can never change anything: none of
// its actions writes (tamper; key-material, whose fix only the holder of
// the key material can make). Its decisions are alerts in every mode, so
// its default mode is alert and its example has no remediation.
func (s Spec) AlertOnly() bool { return len(s.Actions) > 0 && len(s.Writes()) == 0 }

// Validate checks a spec for the mistakes that would break infra, safety or
// the docs. Every problem is reported.
func (s Spec) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if s.ID == "" || strings.ToLower(s.ID) != s.ID || strings.ContainsAny(s.ID, " _/.") || len(s.ID) > 40 {
		add("id %q must be lower-case kebab-case, at most 40 characters", s.ID)
	}
	if s.Summary == "" {
		add("no summary")
	}
	if s.Concern == "" {
		add("no concern (the property it guards)")
	}
	if s.Resource == "" {
		add("no resource noun")
	}
	if s.Reads == "" {
		add("no Reads (what it reads, for the check-failed alert)")
	}
	if len(s.Triggers) == 0 {
		add("no triggers: its Lambda would never run")
	}
	names := map[string]bool{}
	for _, t := range s.Triggers {
		if err := t.Validate(); err != nil {
			add("%v", err)
		}
		if !strings.HasPrefix(t.Name, s.ID+"-") {
			add("trigger %s must be named %s-<something>", t.Name, s.ID)
		}
		if names[t.Name] {
			add("trigger %s declared twice", t.Name)
		}
		names[t.Name] = true
	}
	if len(s.Actions) == 0 {
		add("no IAM actions")
	}
	for _, a := range s.Actions {
		svc, op, ok := strings.Cut(a, ":")
		if !ok || svc == "" || op == "" || strings.Contains(a, "*") {
			add("action %q must be service:Operation without wildcards", a)
		}
	}
	if _, err := ParseMode(string(s.DefaultMode)); err != nil {
		add("default %v", err)
	}
	for name, sev := range map[string]Severity{"severity": s.Severity, "failure severity": s.FailureSeverity} {
		if rank(sev) < 0 {
			add("%s %q must be one of CRITICAL, HIGH, WARNING, INFO", name, sev)
		}
	}
	if s.Exemption.Tag != "" && (!strings.HasPrefix(s.Exemption.Tag, "kmsguard:") || len(s.Exemption.Tag) <= len("kmsguard:")) {
		add("exemption tag %q must start with kmsguard:", s.Exemption.Tag)
	}
	if s.Exemption.Alert && s.Exemption.Verdict == "" {
		add("an exemption that alerts needs a verdict")
	}
	if s.Settings == nil || reflect.TypeOf(s.Settings).Kind() != reflect.Struct {
		add("settings must be the zero value of a struct")
	} else if _, err := SettingsSchema(s.Settings); err != nil {
		add("settings: %v", err)
	}
	switch s.Sweep.Kind {
	case "":
	case KindKMSKey, KindLogGroup:
		if s.Sweep.EventName == "" {
			add("sweep kind %s needs the event name a non-compliant state implies", s.Sweep.Kind)
		}
	default:
		add("sweep kind %q is not one the sweep lists (%s, %s)", s.Sweep.Kind, KindKMSKey, KindLogGroup)
	}
	if s.Example.Fixture == "" || len(s.Example.Calls) == 0 || s.Example.Verdict == "" {
		add("no example (fixture, calls and verdict) for the catalog's end-to-end tests")
	}
	switch n := len(s.Example.Calls); {
	case s.AlertOnly() && s.DefaultMode != ModeAlert:
		add("an alert-only guardrail (no write among its actions) must default to mode %s, not %q", ModeAlert, s.DefaultMode)
	case s.AlertOnly() && s.Example.Mode != "":
		add("the example of an alert-only guardrail sets no mode: no mode makes it write")
	case !s.AlertOnly() && n > 0 && IsRead(s.Example.Calls[n-1]):
		add("the example's last call %s must be its remediation's write (or the guardrail has no write action and is alert-only)", s.Example.Calls[n-1])
	}
	if len(problems) > 0 {
		return fmt.Errorf("guardrail spec %s: %s", s.ID, strings.Join(problems, "; "))
	}
	return nil
}

// TriggerConcern is the concern of a trigger: its own, or the spec's.
func (s Spec) TriggerConcern(t patterns.Trigger) string {
	if t.Concern != "" {
		return t.Concern
	}
	return s.Concern
}

// HubRules are the guardrail's rules on the hub bus, one per trigger.
func (s Spec) HubRules() []patterns.Rule {
	out := make([]patterns.Rule, 0, len(s.Triggers))
	for _, t := range s.Triggers {
		out = append(out, t.HubRule(s.ID))
	}
	return out
}

// Handles reports whether an event with this detail-type and (for API
// calls) event name is one of the guardrail's triggers.
func (s Spec) Handles(detailType, eventName string) bool {
	for _, t := range s.Triggers {
		for _, e := range t.Events() {
			if e.DetailType == detailType && e.EventName == eventName {
				return true
			}
		}
	}
	return false
}

// Causes reports whether one of the guardrail's actions makes the API call
// an event records: kms:PutKeyPolicy causes kms.amazonaws.com PutKeyPolicy.
func (s Spec) Causes(eventSource, eventName string) bool {
	svc := strings.TrimSuffix(eventSource, ".amazonaws.com")
	for _, a := range s.Actions {
		if a == svc+":"+eventName {
			return true
		}
	}
	return false
}

func rank(s Severity) int {
	switch s {
	case SeverityCritical:
		return 3
	case SeverityHigh:
		return 2
	case SeverityWarning:
		return 1
	case SeverityInfo:
		return 0
	}
	return -1
}
