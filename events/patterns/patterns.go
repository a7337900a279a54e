// Package patterns is a library for EventBridge event patterns as plain Go
// values: triggers declared as data, the hub and spoke rules built from
// them, a matcher, and Select. It knows no guardrail: the guardrail specs
// (functions/catalog) declare their triggers, and infra, the CLI and the
// tests build rules from those declarations with this package.
package patterns

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Pattern is an EventBridge event pattern.
type Pattern map[string]any

// JSON renders the pattern as EventBridge expects it.
func (p Pattern) JSON() string {
	b, err := json.Marshal(p)
	if err != nil {
		// Patterns are built from strings, lists and maps only.
		panic(fmt.Sprintf("pattern does not render: %v", err))
	}
	return string(b)
}

// Rule is one EventBridge rule: on the hub bus, one per trigger of a
// guardrail (Owner); on a spoke's default bus, one per forwarded group of
// events (Owner empty).
type Rule struct {
	// Name is unique and stable: it becomes part of the rule name.
	Name        string
	Description string
	// Owner is the guardrail whose Lambda the rule invokes, "" for a
	// forwarding rule.
	Owner   string
	Pattern Pattern
}

// MaxPatternChars is EventBridge's limit on an event pattern's size.
const MaxPatternChars = 2048

// DetailTypeAPICall is the detail-type of every CloudTrail-delivered API call.
const DetailTypeAPICall = "AWS API Call via CloudTrail"

// Trigger is one kind of event a guardrail reacts to, declared as data:
// either successful CloudTrail API calls (EventSource and EventNames, with
// optional extra conditions on the record in Where), or a native service
// event (Source and DetailType, e.g. aws.kms "KMS CMK Deletion").
type Trigger struct {
	// Name is unique across guardrails and stable; it names the hub rule.
	Name        string
	Description string
	// EventSource is the CloudTrail eventSource of an API-call trigger,
	// e.g. kms.amazonaws.com; the EventBridge source is aws.<service>.
	EventSource string
	EventNames  []string
	// Where adds conditions on the CloudTrail record (the detail), e.g.
	// {"requestParameters": {"policy": [{"exists": true}]}}.
	Where map[string]any
	// Source and DetailType declare a native (non-CloudTrail) event.
	Source     string
	DetailType string
	// Concern is the property of the resource its owner guards when this
	// trigger fires; empty means the owner's usual one. Two owners may
	// share an event only for different concerns.
	Concern string
}

// APICall reports whether the trigger is a CloudTrail API call.
func (t Trigger) APICall() bool { return t.EventSource != "" }

// EventBridgeSource is the envelope's source: aws.kms for
// kms.amazonaws.com, or the declared Source of a native event.
func (t Trigger) EventBridgeSource() string {
	if t.APICall() {
		return "aws." + strings.TrimSuffix(t.EventSource, ".amazonaws.com")
	}
	return t.Source
}

// Event identifies one kind of event a trigger matches: an API call by its
// event source and name, or a native event by its source and detail-type.
type Event struct {
	Source      string // EventBridge source, e.g. aws.kms
	DetailType  string
	EventSource string // CloudTrail eventSource; "" for a native event
	EventName   string // "" for a native event
}

// String names the event for messages: kms.amazonaws.com:PutKeyPolicy, or
// aws.kms "KMS CMK Deletion".
func (e Event) String() string {
	if e.EventName != "" {
		return e.EventSource + ":" + e.EventName
	}
	return fmt.Sprintf("%s %q", e.Source, e.DetailType)
}

// Events lists the events the trigger can match (Where only narrows them).
func (t Trigger) Events() []Event {
	if !t.APICall() {
		return []Event{{Source: t.Source, DetailType: t.DetailType}}
	}
	out := make([]Event, 0, len(t.EventNames))
	for _, n := range t.EventNames {
		out = append(out, Event{Source: t.EventBridgeSource(), DetailType: DetailTypeAPICall, EventSource: t.EventSource, EventName: n})
	}
	return out
}

// Validate reports what would make the trigger unusable.
func (t Trigger) Validate() error {
	var problems []string
	if t.Name == "" {
		problems = append(problems, "no name")
	}
	if t.Description == "" {
		problems = append(problems, "no description")
	}
	switch {
	case t.APICall() && (t.Source != "" || t.DetailType != ""):
		problems = append(problems, "declares both an API call (event_source) and a native event (source/detail-type)")
	case t.APICall():
		if !strings.HasSuffix(t.EventSource, ".amazonaws.com") {
			problems = append(problems, fmt.Sprintf("event source %q must be <service>.amazonaws.com", t.EventSource))
		}
		if len(t.EventNames) == 0 {
			problems = append(problems, "no event names")
		}
		for k := range t.Where {
			if k == "$or" || k == "userIdentity" || k == "errorCode" || k == "eventName" || k == "eventSource" {
				problems = append(problems, fmt.Sprintf("Where may not set %s (the rules own it)", k))
			}
		}
	default:
		if t.Source == "" || t.DetailType == "" {
			problems = append(problems, "a native trigger needs both source and detail-type")
		}
		if t.Where != nil {
			problems = append(problems, "Where applies to API calls only")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("trigger %s: %s", t.Name, strings.Join(problems, "; "))
	}
	return nil
}

// HubRule is the rule on the hub bus that invokes owner's Lambda for this
// trigger: successful calls only (errorCode absent) plus the trigger's own
// conditions. It does not filter actors: the spokes do that where the
// account is known, and the handlers check again.
func (t Trigger) HubRule(owner string) Rule {
	var p Pattern
	if t.APICall() {
		detail := map[string]any{
			"eventSource": []any{t.EventSource},
			"eventName":   toAny(t.EventNames),
			"errorCode":   []any{map[string]any{"exists": false}},
		}
		for k, v := range t.Where {
			detail[k] = v
		}
		p = Pattern{"source": []any{t.EventBridgeSource()}, "detail-type": []any{DetailTypeAPICall}, "detail": detail}
	} else {
		p = Pattern{"source": []any{t.Source}, "detail-type": []any{t.DetailType}}
	}
	return Rule{Name: t.Name, Description: t.Description, Owner: owner, Pattern: p}
}

// Forward builds the rules a spoke puts on its default bus to forward the
// triggers' events to the hub, each event by exactly one rule so that an
// event two guardrails watch crosses to the hub once. A Where condition is
// applied here too when every trigger of the event has that same one (so
// only kmsguard's own IAM roles' changes cross, not every role's);
// otherwise the hub rules apply them. Failed calls are dropped.
//
// exclude returns, for an API-call event, the exact userIdentity.arn values
// of sessions whose calls are not forwarded (kmsguard's own remediation
// sessions, for events its remediation can cause). Events with the same
// exclusions share a rule.
func Forward(prefix string, triggers []Trigger, exclude func(Event) []string) []Rule {
	type group struct {
		source, eventSource string
		excluded            []string
		where               map[string]any
		names               []string
	}
	// The Where conditions each event is claimed with ("" for none).
	wheres := map[Event]map[string]bool{}
	whereOf := map[string]map[string]any{}
	for _, t := range triggers {
		w := ""
		if t.Where != nil {
			b, _ := json.Marshal(t.Where)
			w = string(b)
			whereOf[w] = t.Where
		}
		for _, e := range t.Events() {
			if wheres[e] == nil {
				wheres[e] = map[string]bool{}
			}
			wheres[e][w] = true
		}
	}
	var natives []Event
	groups := map[string]*group{}
	seen := map[Event]bool{}
	for _, t := range triggers {
		for _, e := range t.Events() {
			if seen[e] {
				continue
			}
			seen[e] = true
			if e.EventName == "" {
				natives = append(natives, e)
				continue
			}
			var ex []string
			if exclude != nil {
				ex = slices.Clone(exclude(e))
				sort.Strings(ex)
			}
			where := ""
			if len(wheres[e]) == 1 {
				for w := range wheres[e] {
					where = w
				}
			}
			key := e.EventSource + "|" + strings.Join(ex, ",") + "|" + where
			g := groups[key]
			if g == nil {
				g = &group{source: e.Source, eventSource: e.EventSource, excluded: ex, where: whereOf[where]}
				groups[key] = g
			}
			g.names = append(g.names, e.EventName)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var rules []Rule
	for _, k := range keys {
		g := groups[k]
		sort.Strings(g.names)
		detail := map[string]any{
			"eventSource": []any{g.eventSource},
			"eventName":   toAny(g.names),
			"errorCode":   []any{map[string]any{"exists": false}},
		}
		for k, v := range g.where {
			detail[k] = v
		}
		desc := strings.Join(g.names, ", ")
		if len(g.excluded) > 0 {
			// anything-but never matches an absent field, and the root
			// user and AWS services may have no arn: hence $or.
			arn := func(cond map[string]any) map[string]any {
				return map[string]any{"userIdentity": map[string]any{"arn": []any{cond}}}
			}
			detail["$or"] = []any{
				arn(map[string]any{"exists": false}),
				arn(map[string]any{"anything-but": toAny(g.excluded)}),
			}
			desc += " (not kmsguard's own remediation sessions)"
		}
		name := fmt.Sprintf("%s-%s", prefix, strings.TrimSuffix(g.eventSource, ".amazonaws.com"))
		if len(g.excluded) > 0 {
			name += "-not-own"
		}
		if g.where != nil {
			name += "-scoped"
		}
		if n := countPrefix(rules, name); n > 0 {
			name = fmt.Sprintf("%s-%d", name, n+1)
		}
		rules = append(rules, Rule{Name: name, Description: "forward " + desc, Pattern: Pattern{
			"source": []any{g.source}, "detail-type": []any{DetailTypeAPICall}, "detail": detail,
		}})
	}
	for _, e := range natives {
		name := fmt.Sprintf("%s-%s", prefix, slug(e.DetailType))
		rules = append(rules, Rule{Name: name, Description: fmt.Sprintf("forward %s events", e.DetailType), Pattern: Pattern{
			"source": []any{e.Source}, "detail-type": []any{e.DetailType},
		}})
	}
	return rules
}

// countPrefix counts the rules named name or name-<n>.
func countPrefix(rules []Rule, name string) int {
	n := 0
	for _, r := range rules {
		rest, ok := strings.CutPrefix(r.Name, name)
		if ok && (rest == "" || strings.Trim(strings.TrimPrefix(rest, "-"), "0123456789") == "" && strings.HasPrefix(rest, "-")) {
			n++
		}
	}
	return n
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
