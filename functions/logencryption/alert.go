package logencryption

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
)

func (g *Guardrail) result(out guardrail.Outcome, ev *cloudtrail.Event, d Decision, group LogGroup, key *LogsKey, after *LogGroup, err error) guardrail.Result {
	if err != nil && after != nil {
		d.Severity, d.Verdict = guardrail.RemediationFailed(&out, d.Reason, guardrail.SeverityHigh, err)
	}
	if err != nil && after == nil {
		d.Verdict = guardrail.VerdictCheckFailed
	}
	var b alert.Body
	name := out.Resource
	switch {
	case after != nil && err != nil:
		b.Para("kmsguard tried to encrypt log group %s with the regional logs key and FAILED.", name)
	case after != nil:
		b.Para("kmsguard encrypted log group %s with the regional logs key %s.", name, key.Alias)
	case err != nil:
		b.Para("kmsguard could not check log group %s after %s.", name, out.EventName)
	default:
		b.Para("Log group %s is not encrypted with a customer managed KMS key.", name)
	}

	b.Section("What happened")
	b.Field("Event", out.EventName)
	b.Field("When", ev.When().UTC().Format(time.RFC3339))

	b.Section("What kmsguard did")
	switch {
	case after != nil && err != nil:
		b.Line("Remediation failed: %s", err.Error())
	case after != nil:
		b.Line("Called AssociateKmsKey with %s. New log events are encrypted with it; events already stored keep their old encryption. CloudWatch Logs may take up to five minutes to apply it.", key.ARN)
	case err != nil:
		b.Line("Nothing: %s", err.Error())
	default:
		b.Line("Nothing. %s", alert.Sentence(d.Reason))
	}
	if key != nil && key.Statement != "" {
		b.Line("Add this statement to the key policy of %s, then replay this event or wait for the next sweep:", key.Alias)
		b.Command(key.Statement)
	}
	b.Field("Mode", fmt.Sprintf("%s (set by %s)", out.Mode, out.ModeSource))

	b.Actor(ev.Record)
	b.Where(out.Account, out.Region)
	b.Section("Log group")
	b.Field("Name", group.Name)
	b.Field("ARN", group.ARN)
	if len(group.Tags) > 0 {
		b.Field("Tags", alert.TagList(group.Tags))
	}
	if key != nil {
		b.Field("Logs key", key.Alias+" "+key.ARN)
	}
	if alert.ShellSafe(out.Region) {
		// The console expects the name URL-escaped twice, with $ for %.
		escaped := strings.ReplaceAll(url.QueryEscape(url.QueryEscape(group.Name)), "%", "$")
		b.Field("Console", fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#logsV2:log-groups/log-group/%s", out.Region, out.Region, escaped))
	}

	if alert.ShellSafe(group.Name) && alert.ShellSafe(out.Region) {
		g2 := fmt.Sprintf("--log-group-name %s --region %s", group.Name, out.Region)
		b.Section("What you can do")
		switch {
		case after != nil && err == nil:
			b.Line("To undo (new events fall back to CloudWatch Logs' default encryption):")
			b.Command("aws logs disassociate-kms-key " + g2)
			b.Line("To exempt this log group first, so kmsguard leaves it alone:")
			b.Command(fmt.Sprintf("aws logs tag-resource --resource-arn %s --tags %s=true --region %s", group.ARN, g.settings.exemptionTag(), out.Region))
		case key != nil && key.ARN != "" && key.Problem == "":
			b.Line("To encrypt it yourself:")
			b.Command(fmt.Sprintf("aws logs associate-kms-key %s --kms-key-id %s", g2, key.ARN))
		}
	}
	b.Section("Event")
	b.Field("Event id", out.EventID)
	b.Field("Guardrail", Spec().ID)

	msg := alert.Message{
		Severity: string(out.Severity), Guardrail: Spec().ID, Account: out.Account, Region: out.Region,
		Resource: name, Action: out.Action, Verdict: d.Verdict, EventID: out.EventID, Findings: out.Findings,
		Body: b.String(),
	}
	return guardrail.Result{Outcome: out, Alert: &msg}
}
