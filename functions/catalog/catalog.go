// Package catalog is the one registry of guardrails: an explicit list, no
// registration side effects. Everything that lists guardrails derives from
// it: infra (Lambdas, rules, roles), the configuration checks, the CLI, the
// demo, the sweep, the docs and the tests. A guardrail's own Lambda links
// only its entry, never this package.
package catalog

//go:generate go run ../../internal/docgen

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/keydeletion"
	"github.com/kmsguard/kmsguard/functions/keygrants"
	"github.com/kmsguard/kmsguard/functions/keymaterial"
	"github.com/kmsguard/kmsguard/functions/keypolicy"
	"github.com/kmsguard/kmsguard/functions/keyrotation"
	"github.com/kmsguard/kmsguard/functions/logencryption"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/functions/tamper"
)

// Entries are every guardrail, in a stable order. Adding a guardrail is
// one line here (and go generate for its Lambda's main and the docs).
func Entries() []guardrail.Entry {
	return []guardrail.Entry{
		keydeletion.Entry(),
		keyrotation.Entry(),
		keypolicy.Entry(),
		keygrants.Entry(),
		logencryption.Entry(),
		tamper.Entry(),
		keymaterial.Entry(),
	}
}

// Specs lists every guardrail's spec.
func Specs() []guardrail.Spec {
	var specs []guardrail.Spec
	for _, e := range Entries() {
		specs = append(specs, e.Spec)
	}
	return specs
}

// IDs lists the guardrail ids of Specs.
func IDs() []string {
	var ids []string
	for _, s := range Specs() {
		ids = append(ids, s.ID)
	}
	return ids
}

// Validate checks every spec and the rules between them: unique ids and
// trigger names, and the overlap rule — two guardrails may watch the same
// event only for different concerns (each then decides and alerts about
// its own property of the resource); the same event for the same concern
// would make two Lambdas act or alert on one thing, possibly against each
// other.
func Validate(specs []guardrail.Spec) error {
	var problems []string
	ids := map[string]bool{}
	triggers := map[string]string{}
	type claim struct{ id, concern string }
	claims := map[patterns.Event][]claim{}
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			problems = append(problems, err.Error())
		}
		if ids[s.ID] {
			problems = append(problems, fmt.Sprintf("guardrail id %s is used twice", s.ID))
		}
		ids[s.ID] = true
		for _, t := range s.Triggers {
			if other, ok := triggers[t.Name]; ok {
				problems = append(problems, fmt.Sprintf("trigger name %s is used by %s and %s", t.Name, other, s.ID))
			}
			triggers[t.Name] = s.ID
			for _, e := range t.Events() {
				claims[e] = append(claims[e], claim{s.ID, s.TriggerConcern(t)})
			}
		}
	}
	events := make([]patterns.Event, 0, len(claims))
	for e := range claims {
		events = append(events, e)
	}
	sort.Slice(events, func(i, j int) bool { return events[i].String() < events[j].String() })
	for _, e := range events {
		byConcern := map[string][]string{}
		for _, c := range claims[e] {
			byConcern[c.concern] = append(byConcern[c.concern], c.id)
		}
		for concern, owners := range byConcern {
			if len(owners) > 1 {
				problems = append(problems, fmt.Sprintf("%s is claimed by %s for the same concern %q: one guardrail owns an event's concern; move the claim, or declare a different concern on the trigger if each guards another property (docs/architecture.md, \"Shared events\")",
					e, strings.Join(owners, " and "), concern))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("guardrail catalog:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// HubRules are the rules on the hub bus: one per trigger of every
// guardrail, each invoking its owner's Lambda.
func HubRules(specs []guardrail.Spec) []patterns.Rule {
	var out []patterns.Rule
	for _, s := range specs {
		out = append(out, s.HubRules()...)
	}
	return out
}

// ForwardPrefix starts the name of every spoke forwarding rule.
const ForwardPrefix = "kmsguard-forward"

// ForwardRules are the rules a spoke puts on its default bus in account:
// every trigger's events, each forwarded once, without the calls kmsguard's
// own sessions make for the events their spec's actions cause (its
// remediation would otherwise trigger itself). account, hubAccount and
// partition may be CloudFormation placeholders. unmanaged are the
// guardrails without a role in this account (the management account's not
// opted in): only their hub sessions, which nobody there can imitate, are
// left out.
func ForwardRules(specs []guardrail.Spec, account, hubAccount, partition string, unmanaged ...string) []patterns.Rule {
	var triggers []patterns.Trigger
	for _, s := range specs {
		triggers = append(triggers, s.Triggers...)
	}
	return patterns.Forward(ForwardPrefix, triggers, func(e patterns.Event) []string {
		return OwnSessionARNs(specs, e, account, hubAccount, partition, unmanaged...)
	})
}

// OwnSessionARNs are the exact session ARNs of kmsguard's calls that may
// cause event e in account: those made for each guardrail whose actions
// make the call (its Lambda's and the sweep's).
func OwnSessionARNs(specs []guardrail.Spec, e patterns.Event, account, hubAccount, partition string, unmanaged ...string) []string {
	var out []string
	for _, s := range specs {
		if s.Causes(e.EventSource, e.EventName) {
			in := account
			if slices.Contains(unmanaged, s.ID) {
				in = hubAccount // no role here: only the hub's sessions are kmsguard's
			}
			for _, a := range guardrail.SessionARNs(s.ID, in, hubAccount, partition) {
				if !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// Route is the path an event takes in production: the spoke rules of its
// account forward it (or not), then the hub rules select the guardrails.
// It returns the hub rules that would invoke a Lambda; none when no spoke
// rule forwards the event.
func Route(specs []guardrail.Spec, event []byte, account, hubAccount string) ([]patterns.Rule, error) {
	fwd, err := patterns.Select(event, ForwardRules(specs, account, hubAccount, "aws"))
	if err != nil || len(fwd) == 0 {
		return nil, err
	}
	return patterns.Select(event, HubRules(specs))
}

// ValidateSettings checks every guardrail's settings in a runtime
// configuration, as its Lambda will at cold start.
func ValidateSettings(rc runconfig.RuntimeConfig) error {
	var errs []string
	for _, e := range Entries() {
		if err := e.Validate(rc.Guardrails[e.Spec.ID]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}
