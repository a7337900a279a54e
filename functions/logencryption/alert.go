package logencryption

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
)

// A is what the log-encryption alert is written from.
type A = guardrail.Alert[State]

func (l *logic) Headline(a *A) string {
	name := a.Outcome.Resource
	switch {
	case a.Acted && a.Failed():
		return fmt.Sprintf("kmsguard tried to encrypt log group %s with the regional logs key and FAILED.", name)
	case a.Acted:
		return fmt.Sprintf("kmsguard encrypted log group %s with the regional logs key %s.", name, a.State.Key.Alias)
	case a.Failed():
		return fmt.Sprintf("kmsguard could not check log group %s after %s.", name, a.Outcome.EventName)
	}
	return fmt.Sprintf("Log group %s is not encrypted with a customer managed KMS key.", name)
}

func (l *logic) Happened(*alert.Body, *A) {}

func (l *logic) Did(b *alert.Body, a *A) {
	key := a.State.Key
	if a.Acted && !a.Failed() {
		b.Line("Called AssociateKmsKey with %s. New log events are encrypted with it; events already stored keep their old encryption. CloudWatch Logs may take up to five minutes to apply it.", key.ARN)
	}
	if key != nil && key.Statement != "" {
		b.Line("Add this statement to the key policy of %s, then replay this event or wait for the next sweep:", key.Alias)
		b.Command(key.Statement)
	}
}

func (l *logic) Details(b *alert.Body, a *A) {
	group, key, region := a.State.Group, a.State.Key, a.Outcome.Region
	b.Section("Log group")
	b.Field("Name", group.Name)
	b.Field("ARN", group.ARN)
	if len(group.Tags) > 0 {
		b.Field("Tags", alert.TagList(group.Tags))
	}
	if key != nil {
		b.Field("Logs key", key.Alias+" "+key.ARN)
	}
	if alert.ShellSafe(region) {
		// The console expects the name URL-escaped twice, with $ for %.
		escaped := strings.ReplaceAll(url.QueryEscape(url.QueryEscape(group.Name)), "%", "$")
		b.Field("Console", fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#logsV2:log-groups/log-group/%s", region, region, escaped))
	}
	if !alert.ShellSafe(group.Name) || !alert.ShellSafe(region) {
		return
	}
	g := fmt.Sprintf("--log-group-name %s --region %s", group.Name, region)
	switch {
	case a.Acted && !a.Failed():
		b.Section("What you can do")
		b.Line("To undo (new events fall back to CloudWatch Logs' default encryption):")
		b.Command("aws logs disassociate-kms-key " + g)
		b.Line("To exempt this log group first, so kmsguard leaves it alone:")
		b.Command(fmt.Sprintf("aws logs tag-resource --resource-arn %s --tags %s=true --region %s", group.ARN, a.ExemptionTag, region))
	case key != nil && key.ARN != "" && key.Problem == "":
		b.Section("What you can do")
		b.Line("To encrypt it yourself:")
		b.Command(fmt.Sprintf("aws logs associate-kms-key %s --kms-key-id %s", g, key.ARN))
	default:
		b.Section("What you can do")
		if key != nil && key.Problem != "" {
			b.Line("Make the logs key usable first: %s. kmsguard then encrypts the log group at its next sweep where the mode is remediate; or run aws logs associate-kms-key for it yourself.", key.Problem)
		}
	}
}
