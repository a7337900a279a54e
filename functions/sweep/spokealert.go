package sweep

import (
	"fmt"
	"sort"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
)

// SpokeAlert is the one alert a sweep run sends about degraded spokes
// (HIGH), next to their section in the digest: every problem with its
// fix, spoke by spoke, at most MaxDigestItems problems (a large
// organization's inbox gets one message per run, not one per spoke). ok
// is false when every spoke is healthy: nothing to send.
func SpokeAlert(run string, issues []SpokeIssue) (m alert.Message, ok bool) {
	if len(issues) == 0 {
		return alert.Message{}, false
	}
	issues = append([]SpokeIssue(nil), issues...)
	sort.SliceStable(issues, func(i, j int) bool {
		if issues[i].Account != issues[j].Account {
			return issues[i].Account < issues[j].Account
		}
		if issues[i].Region != issues[j].Region {
			return issues[i].Region < issues[j].Region // the account-wide ("") first
		}
		return issues[i].Check < issues[j].Check
	})
	spokes := map[string]bool{}
	for _, s := range issues {
		spokes[s.Where()] = true
	}
	id := "spoke-health-" + run
	var b alert.Body
	b.Para("kmsguard's health checks found %d problems in %d spokes: events from them may not reach the hub, or kmsguard's guardrails may not be able to act there. Until they are fixed, kmsguard is partly blind or powerless in those accounts and Regions.", len(issues), len(spokes))
	b.Section("What happened")
	b.Field("Run", run)
	b.Field("Spokes", fmt.Sprintf("%d degraded", len(spokes)))
	b.Field("Problems", fmt.Sprint(len(issues)))

	b.Section("What kmsguard did")
	b.Line("Checked, through the sweep's read-only role, each swept account-Region's forwarding rules (deployed, enabled, targeting the hub bus), forwarding DLQ and logs key, and each account's guardrail roles. Nothing was changed. This alert comes once per sweep run while any spoke is degraded; the digest lists the same problems.")

	b.Section("Degraded spokes")
	last := ""
	for i, s := range issues {
		if i == MaxDigestItems {
			b.Line("… and %d more problems: kmsguard sweep status --run %s lists them all.", len(issues)-MaxDigestItems, run)
			break
		}
		if w := s.Where(); w != last {
			if s.Region == "" {
				b.Line("%s (all Regions):", w)
			} else {
				b.Line("%s:", w)
			}
			last = w
		}
		b.Line("- %s.", s.Problem)
		b.Line("Fix: %s.", s.Fix)
	}

	b.Section("What you can do")
	b.Line("Fix each problem as its line says, then check the whole organization again with the hub's credentials:")
	b.Command("kmsguard preflight --all --config kmsguard.yaml")
	b.Where("all", "", "all")
	b.Section("Event")
	b.Field("Event id", id)
	b.Field("Guardrail", "sweep")

	verdict := fmt.Sprintf("%d spokes degraded", len(spokes))
	return alert.Message{
		Severity: string(guardrail.SeverityHigh), Guardrail: "sweep", Account: "all", Region: "all",
		Resource: fmt.Sprintf("%d spokes", len(spokes)), Action: "spoke-health", Verdict: verdict, EventID: id, Body: b.String(),
		Summary: fmt.Sprintf("%s, %d problems: events may not reach the hub", verdict, len(issues)),
	}, true
}
