package tamper

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
)

type ssmAPI interface {
	GetParameterHistory(ctx context.Context, in *ssm.GetParameterHistoryInput, opts ...func(*ssm.Options)) (*ssm.GetParameterHistoryOutput, error)
}

var _ ssmAPI = (*ssm.Client)(nil)

// State is what changed: for the configuration parameter, the lines of
// its diff.
type State struct {
	Diff []string
}

type logic struct{}

func newLogic(Settings) guardrail.Logic[ssmAPI, State] { return logic{} }

// fields name the resource in each event's requestParameters.
var fields = []string{"name", "names", "rule", "roleName", "stackSetName", "aliasName"}

// Target is the kmsguard resource the call changed.
func (logic) Target(ev *cloudtrail.Event) (string, error) {
	var req map[string]any
	_ = json.Unmarshal(ev.Record.RequestParameters, &req)
	for _, f := range fields {
		if s, ok := req[f].(string); ok && s != "" {
			return s, nil
		}
		if list, ok := req[f].([]any); ok {
			for _, v := range list {
				if s, ok := v.(string); ok && (s == ConfigParameter || strings.HasPrefix(s, ModesPath+"/") || strings.HasPrefix(s, "kmsguard")) {
					return s, nil
				}
			}
		}
	}
	return "", guardrail.Terminal(fmt.Errorf("%s record names no kmsguard resource", ev.Name()))
}

// Observe reads the configuration parameter's last two versions after a
// change to it (the diff goes in the alert); anything else needs no read.
func (logic) Observe(ctx context.Context, c *guardrail.Call[ssmAPI]) (State, error) {
	if c.Target != ConfigParameter || c.Event.Name() == "DeleteParameter" || deployment(c.Event) {
		return State{}, nil
	}
	// The history comes oldest first, in pages: read it all, then diff the
	// version this call wrote (responseElements.version) with the one
	// before it, not simply the two last ones.
	values := map[int64]string{}
	var latest int64
	pg := ssm.NewGetParameterHistoryPaginator(c.API, &ssm.GetParameterHistoryInput{Name: aws.String(ConfigParameter)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return State{}, fmt.Errorf("read the history of %s: %w", ConfigParameter, err)
		}
		for _, p := range page.Parameters {
			values[p.Version] = aws.ToString(p.Value)
			latest = max(latest, p.Version)
		}
	}
	written := latest
	var resp struct {
		Version int64 `json:"version"`
	}
	if json.Unmarshal(c.Event.Record.ResponseElements, &resp) == nil && resp.Version > 0 {
		written = resp.Version
	}
	after, ok := values[written]
	before, hasBefore := values[written-1]
	if !ok || !hasBefore {
		return State{Diff: []string{fmt.Sprintf("(version %d has no earlier version to compare)", written)}}, nil
	}
	return State{Diff: diff(before, after)}, nil
}

// deployment reports a call kmsguard's own deployment made: CloudFormation
// (invokedBy, which AWS sets) acting with the service-managed StackSets'
// execution role (stacksets-exec-*) or the CDK bootstrap's deployment role
// (cdk-*). Any stack can make CloudFormation call IAM or EventBridge, so
// invokedBy alone would let a member change kmsguard through a stack of
// its own; a role can be given one of these names, which the preventive
// layer forbids for stacksets-exec-* (docs/security.md).
func deployment(ev *cloudtrail.Event) bool {
	u := ev.Record.UserIdentity
	if u.InvokedBy != "cloudformation.amazonaws.com" || u.SessionContext == nil || u.SessionContext.SessionIssuer == nil {
		return false
	}
	role := u.SessionContext.SessionIssuer.UserName
	return strings.HasPrefix(role, "stacksets-exec-") || strings.HasPrefix(role, "cdk-")
}

// modeRule reports a call on a rule of the mode store.
func modeRule(ev *cloudtrail.Event) bool {
	var req struct{ Name string }
	_ = json.Unmarshal(ev.Record.RequestParameters, &req)
	return strings.HasPrefix(req.Name, ModesPath+"/")
}

// byKmsguardMode reports the kmsguard CLI's mode command, by its user
// agent (which a caller could imitate: such changes still alert, at INFO).
func byKmsguardMode(ev *cloudtrail.Event) bool {
	return strings.Contains(ev.Record.UserAgent, "app/kmsguard-mode")
}

func (logic) Decide(in guardrail.Input[State]) guardrail.Decision {
	ev := in.Event
	switch {
	case deployment(ev) && !modeRule(ev): // deployments never write the mode store
		return guardrail.Decision{Reason: "a CloudFormation deployment made the change"}
	case byKmsguardMode(ev) && (ev.Name() == "PutParameter" || ev.Name() == "DeleteParameter" && modeRule(ev)):
		// kmsguard mode writes rules with PutParameter and removes them
		// with DeleteParameter; it never deletes in bulk or labels.
		// The user agent can be imitated: a warning, never silence.
		return guardrail.Decision{Kind: guardrail.Notify, Severity: guardrail.SeverityWarning, Verdict: "changed by kmsguard mode", NoExemption: true,
			Reason: "kmsguard mode changed the configuration (its user agent says so, which anyone can imitate; the diff shows what)"}
	}
	return guardrail.Decision{Kind: guardrail.Notify, Severity: guardrail.SeverityCritical, Verdict: "kmsguard changed", NoExemption: true,
		Reason: fmt.Sprintf("%s changed kmsguard's own %s outside a deployment: kmsguard may be switched off or weakened", ev.Name(), kind(ev))}
}

func kind(ev *cloudtrail.Event) string {
	switch ev.Record.EventSource {
	case "events.amazonaws.com":
		return "forwarding rule"
	case "iam.amazonaws.com":
		return "role"
	case "ssm.amazonaws.com":
		if modeRule(ev) {
			return "mode rule"
		}
		return "configuration parameter"
	case "cloudformation.amazonaws.com":
		return "StackSet"
	}
	return "logs key alias"
}

func (logic) Exempt(context.Context, *guardrail.Call[ssmAPI], *State, string) (bool, error) {
	return false, nil
}

func (logic) Act(context.Context, *guardrail.Call[ssmAPI], *State, guardrail.Decision) (string, error) {
	return "", nil // alert only
}

func (logic) Enrich(context.Context, *guardrail.Call[ssmAPI], *State) {}

func (logic) Name(State) string { return "" }

func (logic) Headline(a *guardrail.Alert[State]) string {
	if a.Failed() {
		return fmt.Sprintf("kmsguard could not read what changed in %s after %s.", a.Outcome.Resource, a.Outcome.EventName)
	}
	return fmt.Sprintf("Someone changed kmsguard itself: %s on %s.", a.Outcome.EventName, a.Outcome.Resource)
}

func (logic) Happened(b *alert.Body, a *guardrail.Alert[State]) {
	b.Field("Resource", a.Outcome.Resource)
	if len(a.State.Diff) > 0 {
		b.Section("What changed in the configuration")
		for _, l := range a.State.Diff {
			b.Line("%s", l)
		}
	}
}

func (logic) Did(*alert.Body, *guardrail.Alert[State]) {}

func (logic) Details(b *alert.Body, a *guardrail.Alert[State]) {
	b.Section("What you can do")
	if strings.HasPrefix(a.Outcome.Resource, ModesPath+"/") {
		b.Line("If you did not expect this change, find who made it and what else that session did in CloudTrail. A mode rule decides where kmsguard may remediate, and deployments leave the mode store alone: put the rule back with kmsguard mode set (its history shows the earlier value).")
		if alert.ShellSafe(a.Outcome.Resource) && alert.ShellSafe(a.Outcome.Region) {
			b.Command("aws ssm get-parameter-history --name " + a.Outcome.Resource + " --region " + a.Outcome.Region)
			b.Command("kmsguard mode get --region " + a.Outcome.Region)
		}
		return
	}
	b.Line("If you did not expect this change, find who made it and what else that session did in CloudTrail, then restore kmsguard by deploying it again (the StackSets and the hub stack put every rule, role and setting back).")
	if a.Outcome.Resource == ConfigParameter && alert.ShellSafe(a.Outcome.Region) {
		b.Command("aws ssm get-parameter-history --name " + ConfigParameter + " --region " + a.Outcome.Region)
	}
}

// diff lists what changed between two configuration documents, by field
// path (JSON), without values that are not settings (it prints modes,
// accounts and principals, which are what an attacker would change).
func diff(before, after string) []string {
	var a, b any
	if json.Unmarshal([]byte(before), &a) != nil || json.Unmarshal([]byte(after), &b) != nil {
		return []string{"the parameter is not JSON any more"}
	}
	var out []string
	walk("", a, b, &out)
	sort.Strings(out)
	if len(out) == 0 {
		return []string{"no setting changed"}
	}
	const max = 40
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("... and %d more", len(out)-max))
	}
	return out
}

func walk(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walk(p, am[k], bm[k], out)
		}
		return
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) == string(jb) {
		return
	}
	switch {
	case a == nil:
		*out = append(*out, fmt.Sprintf("+ %s: %s", path, alert.Clean(string(jb), 200)))
	case b == nil:
		*out = append(*out, fmt.Sprintf("- %s: %s", path, alert.Clean(string(ja), 200)))
	default:
		*out = append(*out, fmt.Sprintf("~ %s: %s -> %s", path, alert.Clean(string(ja), 200), alert.Clean(string(jb), 200)))
	}
}
