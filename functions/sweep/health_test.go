package sweep_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alerttest"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// Spokes degraded in each way the health checks know, on moto: every
// problem is a SpokeIssue with its fix, in the digest, and in the one
// degraded-spoke alert of the run (HIGH); a healthy spoke has none.
func TestSpokeHealth_DegradedSpokesOnMoto(t *testing.T) {
	ctx := context.Background()
	sb, err := sandbox.NewHub(ctx, srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	const healthy, wrongBus, noRole, keyOff, noKey, dlq = "210000000001", "210000000002", "210000000003", "210000000004", "210000000005", "210000000006"
	accounts := []string{healthy, wrongBus, noRole, keyOff, noKey, dlq}
	for _, a := range accounts {
		if err := sb.Spoke(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	in := func(account string) aws.Config {
		cfg, err := srv.AccountConfig(ctx, account, "eu-west-1")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	// A forwarding rule that now delivers to another account's bus.
	rule := catalog.ForwardRules(catalog.Specs(), wrongBus, sandbox.HubAccount, "aws")[0].Name
	eb := eventbridge.NewFromConfig(in(wrongBus))
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), Targets: []ebtypes.Target{{Id: aws.String("hub"), Arn: aws.String("arn:aws:events:eu-west-1:999999999999:event-bus/elsewhere")}}}); err != nil {
		t.Fatal(err)
	}
	// One member role deleted, another no longer trusting its hub role.
	c := iam.NewFromConfig(in(noRole))
	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(guardrail.MemberRoleName("key-rotation"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(guardrail.MemberRoleName("key-policy")),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole","Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/someone-else"}}}]}`)}); err != nil {
		t.Fatal(err)
	}
	// The logs key disabled in one account, its alias gone in another.
	k := kms.NewFromConfig(in(keyOff))
	d, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/kmsguard/logs")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: d.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := kms.NewFromConfig(in(noKey)).DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/kmsguard/logs")}); err != nil {
		t.Fatal(err)
	}
	// An event EventBridge could not deliver to the hub.
	q := sqs.NewFromConfig(in(dlq))
	u, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(sweep.SpokeDLQ)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: u.QueueUrl, MessageBody: aws.String(`{"detail-type":"AWS API Call via CloudTrail"}`)}); err != nil {
		t.Fatal(err)
	}

	cfg := fmt.Sprintf(`{"modes":{},"sweep":{"accounts":[%q,%q,%q,%q,%q,%q],"regions":["eu-west-1"]}}`, healthy, wrongBus, noRole, keyOff, noKey, dlq)
	h, err := bootstrap.Load(ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &sb.Config, TopicARN: sb.TopicARN, HubAccount: sandbox.HubAccount, ConfigJSON: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	var targets []sweep.Target
	for _, a := range accounts {
		targets = append(targets, sweep.Target{Account: a, Region: "eu-west-1"})
	}
	rep, err := sweep.Run(ctx, h, sweep.Options{Targets: targets, Health: true, ItemAlerts: "none"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]sweep.SpokeIssue{}
	for _, s := range rep.Spoke {
		got[s.Account] = append(got[s.Account], s)
		if s.Fix == "" || s.Problem == "" {
			t.Errorf("%s: an issue without a problem or a fix: %+v", s.Where(), s)
		}
	}
	want := map[string]struct{ check, problem, fix string }{
		wrongBus: {sweep.CheckForwarding, rule + " -> arn:aws:events:eu-west-1:999999999999:event-bus/elsewhere", "restore the rules' target " + sb.HubBusARN()},
		noRole:   {sweep.CheckMemberRoles, "1 member roles missing (kmsguard-remediator-key-rotation)", "deploy the global spoke to this account"},
		keyOff:   {sweep.CheckLogsKey, "alias/kmsguard/logs is Disabled, not Enabled", "aws kms enable-key --key-id " + aws.ToString(d.KeyMetadata.KeyId) + " --region eu-west-1"},
		noKey:    {sweep.CheckLogsKey, "the logs key alias/kmsguard/logs does not exist in eu-west-1", "deploy the regional spoke here"},
		dlq:      {sweep.CheckDLQ, "1 events are in the forwarding DLQ kmsguard-forward-dlq", "aws sqs receive-message"},
	}
	if len(got[healthy]) != 0 {
		t.Errorf("the healthy spoke has issues: %+v", got[healthy])
	}
	for acct, w := range want {
		if len(got[acct]) != 1 || got[acct][0].Check != w.check || !strings.Contains(got[acct][0].Problem, w.problem) || !strings.Contains(got[acct][0].Fix, w.fix) {
			t.Errorf("%s: %+v, want one %s issue with %q, fix %q", acct, got[acct], w.check, w.problem, w.fix)
		}
	}
	if s := got[noRole]; len(s) == 1 && (s[0].Region != "" || !strings.Contains(s[0].Problem, "kmsguard-remediator-key-policy does not trust arn:aws:iam::123456789012:role/kmsguard-key-policy nor arn:aws:iam::123456789012:role/kmsguard-sweep")) {
		t.Errorf("member roles: %+v, want the account-wide issue naming the untrusted role", s)
	}

	// The digest lists them; the one degraded-spoke alert of the run too,
	// each with its fix, published on the alert topic.
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	digest := flat(sweep.Digest(rep).Text())
	m, ok := sweep.SpokeAlert("run1", rep.Spoke)
	if !ok {
		t.Fatal("no degraded-spoke alert")
	}
	alerttest.Check(t, m)
	if m.Severity != "HIGH" || !strings.Contains(m.Subject(), "5 spokes degraded, 5 problems") {
		t.Errorf("%s %q", m.Severity, m.Subject())
	}
	text := flat(m.Text())
	for _, s := range rep.Spoke {
		line := s.Where() + ": " + flat(s.Problem) + ". Fix: " + flat(s.Fix)
		if !strings.Contains(digest, line) {
			t.Errorf("the digest lacks %q:\n%s", line, digest)
		}
		if !strings.Contains(text, flat(s.Problem)) || !strings.Contains(text, "Fix: "+flat(s.Fix)) {
			t.Errorf("the degraded-spoke alert lacks %s's problem or fix:\n%s", s.Where(), m.Text())
		}
	}
	if _, ok := sweep.SpokeAlert("run2", nil); ok {
		t.Error("an alert about no degraded spoke")
	}
}

// Scheduled sends the digest and, when a spoke is degraded, one
// degraded-spoke alert: two messages for the run, whatever the number of
// spokes.
func TestScheduled_OneDegradedSpokeAlertPerRun(t *testing.T) {
	w := newWorld(t)
	const a, b = "220000000001", "220000000002"
	cfg := fmt.Sprintf(`{"modes":{},"sweep":{"accounts":[%q,%q],"regions":["eu-west-1","us-east-1"]}}`, a, b)
	h, err := bootstrap.Load(w.ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &w.Config, TopicARN: w.TopicARN, HubAccount: sandbox.HubAccount, ConfigJSON: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sweep.Scheduled(w.ctx, h); err != nil {
		t.Fatal(err)
	}
	alerts, _ := w.Alerts(w.ctx)
	var spoke []sandbox.Alert
	for _, al := range alerts {
		if al.Attributes["action"] == "spoke-health" {
			spoke = append(spoke, al)
		}
	}
	if len(alerts) != 2 || len(spoke) != 1 || spoke[0].Attributes["severity"] != "HIGH" {
		t.Fatalf("%d alerts, %d about spokes, want the digest and one degraded-spoke alert", len(alerts), len(spoke))
	}
	// Nothing deployed: 3 checks fail in each of the 4 account-Regions,
	// and the member roles once per account (IAM is global), not once per
	// Region.
	text := strings.Join(strings.Fields(spoke[0].Text), " ")
	if n := strings.Count(text, "member roles missing"); n != 2 {
		t.Errorf("the member roles are reported %d times, want once per account:\n%s", n, spoke[0].Text)
	}
	for _, where := range []string{a + " (all Regions):", a + "/eu-west-1:", a + "/us-east-1:", b + "/us-east-1:"} {
		if !strings.Contains(text, where) {
			t.Errorf("the alert lacks %s:\n%s", where, spoke[0].Text)
		}
	}
}

// The trust policy check reads IAM's URL-encoded document and counts only
// what lets the hub role in for sure.
func TestTrusts(t *testing.T) {
	const hubRole, hub = "arn:aws:iam::123456789012:role/kmsguard-key-policy", "123456789012"
	stmt := func(principal, cond string) string {
		s := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":` + principal + `},"Action":"sts:AssumeRole"`
		if cond != "" {
			s += `,"Condition":` + cond
		}
		return s + `}]}`
	}
	tests := []struct {
		name, doc string
		want      bool
	}{
		{"the spoke's own: hub root narrowed by aws:PrincipalArn", stmt(`"arn:aws:iam::123456789012:root"`, `{"ArnEquals":{"aws:PrincipalArn":["arn:aws:iam::123456789012:role/kmsguard-key-policy","arn:aws:iam::123456789012:role/kmsguard-sweep"]}}`), true},
		{"URL-encoded, as IAM returns it", url.PathEscape(stmt(`"arn:aws:iam::123456789012:root"`, `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/kmsguard-key-policy"}}`)), true},
		{"the role as principal", stmt(`"`+hubRole+`"`, ""), true},
		{"the hub account id, no condition", stmt(`"123456789012"`, ""), true},
		{"ArnLike", stmt(`["arn:aws:iam::123456789012:root"]`, `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/kmsguard-*"}}`), true},
		{"another role", stmt(`"arn:aws:iam::123456789012:root"`, `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/other"}}`), false},
		{"another account", stmt(`"arn:aws:iam::999999999999:root"`, ""), false},
		{"a condition the hub may not meet", stmt(`"`+hubRole+`"`, `{"StringEquals":{"sts:ExternalId":"x"}}`), false},
		{"anyone", stmt(`"*"`, ""), false},
		{"Deny only", strings.Replace(stmt(`"`+hubRole+`"`, ""), "Allow", "Deny", 1), false},
		{"not JSON", "{", false},
	}
	for _, tt := range tests {
		if got := sweep.Trusts(tt.doc, hubRole, hub); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
