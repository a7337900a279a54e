package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/account"
	accounttypes "github.com/aws/aws-sdk-go-v2/service/account/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/internal/moto"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

var srv *moto.Server

func TestMain(m *testing.M) { moto.RunTests(m, &srv) }

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func writeEvent(t *testing.T, raw []byte) string {
	p := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// useMoto points the CLI's AWS environment at the test server.
func useMoto(t *testing.T, endpoint, topic string) {
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv(runconfig.EnvHubAccount, sandbox.HubAccount)
	t.Setenv(runconfig.EnvTopicARN, topic)
	t.Setenv(runconfig.EnvConfig, "")
}

func pendingKey(t *testing.T, sb *sandbox.Hub) string {
	ctx := context.Background()
	id, err := sb.CreateKey(ctx, fixtures.Account, sandbox.KeySpec{Alias: "alias/cli"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := sb.KMS(ctx, fixtures.Account)
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestReplay_Contract(t *testing.T) {
	sb, err := sandbox.NewHub(context.Background(), srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, sb.TopicARN)

	// alert mode: handled, nothing written.
	id := pendingKey(t, sb)
	event := writeEvent(t, fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, id, "", ""))
	code, stdout, stderr := runCLI(t, "replay", "--mode", "alert", event)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	for _, k := range []string{"guardrail", "event_id", "account", "region", "resource", "action", "reason", "mode", "findings", "alerted"} {
		if _, ok := out[k]; !ok {
			t.Errorf("outcome lacks %q", k)
		}
	}
	if out["action"] != "none" || out["mode"] != "alert" || out["alerted"] != true || out["mode_source"] != "command line" {
		t.Errorf("alert-mode outcome %v", out)
	}
	if s, _ := sb.KeyState(context.Background(), fixtures.Account, id); s != "PendingDeletion" {
		t.Errorf("--mode alert changed the key: %s", s)
	}

	// configured (default) mode: remediated.
	code, stdout, stderr = runCLI(t, "replay", event)
	if code != exitOK || !strings.Contains(stdout, `"cancel-deletion,enable-key"`) {
		t.Fatalf("exit %d, %s\n%s", code, stdout, stderr)
	}
	if s, _ := sb.KeyState(context.Background(), fixtures.Account, id); s != "Enabled" {
		t.Errorf("key is %s", s)
	}
	alerts, err := sb.Alerts(context.Background())
	if err != nil || len(alerts) != 2 {
		t.Errorf("%d alerts (%v), want 2", len(alerts), err)
	}
}

func TestReplay_BadInput(t *testing.T) {
	useMoto(t, srv.URL, "")
	cases := map[string][]string{
		"no file":         {"replay"},
		"missing file":    {"replay", filepath.Join(t.TempDir(), "nope.json")},
		"not json":        {"replay", writeEvent(t, []byte("hello"))},
		"bad mode":        {"replay", "--mode", "enforce", writeEvent(t, fixtures.Get("key-deletion/disable-key").Raw)},
		"bad config":      {"replay", "--config", writeEvent(t, []byte(`{"modes":{"default":"x"}}`)), writeEvent(t, fixtures.Get("key-deletion/disable-key").Raw)},
		"unknown command": {"frobnicate"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			if code, _, stderr := runCLI(t, args...); code != exitBadInput || stderr == "" {
				t.Errorf("exit %d, stderr %q; want %d with a message", code, stderr, exitBadInput)
			}
		})
	}
}

// A valid event that no pattern selects is not bad input: exit 0, one
// outcome with action none and the reason (a failed call says its error).
func TestReplay_FilteredEventExitsZero(t *testing.T) {
	useMoto(t, srv.URL, "")
	for name, want := range map[string]string{
		"none/schedule-key-deletion-failed": "the call failed (AccessDenied",
		"none/create-log-group-encrypted":   "kmsguard does not watch it",
	} {
		code, stdout, stderr := runCLI(t, "replay", writeEvent(t, fixtures.Get(name).Raw))
		var out guardrail.Outcome
		if err := json.Unmarshal([]byte(stdout), &out); code != exitOK || err != nil || out.Action != guardrail.ActionNone || !strings.Contains(out.Reason, want) || out.EventID == "" {
			t.Errorf("%s: exit %d, %+v %v\n%s", name, code, out, err, stderr)
		}
	}
}

// An event whose key ARN names another Region than the event is handled
// where the key is (not reported missing in the event's Region).
func TestReplay_KeyInAnotherRegion(t *testing.T) {
	sb, err := sandbox.NewHub(context.Background(), srv, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, "")
	id := pendingKey(t, sb) // in us-east-1
	raw := fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, id, "", "")
	raw = bytes.ReplaceAll(raw, []byte("arn:aws:kms:eu-west-1:"), []byte("arn:aws:kms:us-east-1:")) // the event stays in eu-west-1
	code, stdout, stderr := runCLI(t, "replay", writeEvent(t, raw))
	var out guardrail.Outcome
	if err := json.Unmarshal([]byte(stdout), &out); code != exitOK || err != nil || out.Region != "us-east-1" || out.Action == guardrail.ActionNone {
		t.Fatalf("exit %d, %+v %v\n%s", code, out, err, stderr)
	}
	if s, _ := sb.KeyState(context.Background(), fixtures.Account, id); s != "Enabled" {
		t.Errorf("key is %s", s)
	}
}

func TestReplay_FailureExitsOne(t *testing.T) {
	// Nothing listens on this port: every AWS call fails.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	useMoto(t, dead, "")
	code, stdout, stderr := runCLI(t, "replay", writeEvent(t, fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw))
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailed, stdout, stderr)
	}
	if !strings.Contains(stdout, `"error"`) {
		t.Errorf("outcome does not carry the error: %s", stdout)
	}
}

func TestDemo(t *testing.T) {
	// The demo needs no AWS credentials and no endpoint but its own.
	withoutCredentials(t)
	code, stdout, stderr := runCLI(t, "demo")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"real bootstrap binaries",
		"Key state now: PendingDeletion",
		"Key state: Enabled",
		"Rotation: enabled=true, every 365 days",
		`Key policy statements now: "Enable IAM User Permissions"`,
		"Subject: [kmsguard] WARNING log-encryption: /app/payments/api 111122223333 eu-west-1 by payment… — encrypted",
		"Grants on the payments key now: arn:aws:iam::999988887777:role/PartnerIngest",
		"Grants on the payments key now: none",
		"Log group /app/payments/api is encrypted with alias/kmsguard/logs",
		"No alert: there was nothing to report.",
		"— NOT cancelled",
		"Key state (left for you to decide): PendingDeletion",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// Every alert names the key by its alias, also when kmsguard fixed it,
	// and the actor.
	for _, want := range []string{
		`Subject: \[kmsguard\] CRITICAL key-deletion: alias/payments 111122223333 eu-west-1 by alice — cancelled`,
		`Subject: \[kmsguard\] HIGH key-rotation: alias/paymen… 111122223333 eu-west-1 by alice — rotation on, 365 days`,
		`Subject: \[kmsguard\] CRITICAL key-policy: alias/payments 111122223333 eu-west-1 by alice — statements removed`,
		`Subject: \[kmsguard\] CRITICAL key-grants: alias/payments 111122223333 eu-west-1 by alice — grant revoked`,
	} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("demo output lacks a line matching %s", want)
		}
	}
}

// Every guardrail's example, and every fixture more than one guardrail
// watches, replays through the CLI to exactly the guardrails the catalog
// routes it to (the list comes from the catalog, not from this test).
func TestReplay_EveryGuardrail(t *testing.T) {
	useMoto(t, srv.URL, "")
	var names []string
	for _, s := range catalog.Specs() {
		names = append(names, s.Example.Fixture)
	}
	for _, f := range fixtures.All() {
		if len(f.Guardrails) > 1 {
			names = append(names, f.Name)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			sb, err := sandbox.NewHub(context.Background(), srv, "eu-west-1")
			if err != nil {
				t.Fatal(err)
			}
			useMoto(t, srv.URL, sb.TopicARN)
			staged, err := sb.Enact(context.Background(), fixtures.Get(name).Raw)
			if err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCLI(t, "replay", "--mode", "alert", writeEvent(t, staged))
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			rules, err := catalog.Route(catalog.Specs(), staged, fixtures.Account, "")
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if len(lines) != len(rules) || len(rules) == 0 {
				t.Fatalf("%d outcome lines for %d routed guardrails:\n%s", len(lines), len(rules), stdout)
			}
			for i, l := range lines {
				var out map[string]any
				err := json.Unmarshal([]byte(l), &out)
				// key-deletion records a new or re-enabled key's state in
				// the ledger and has nothing to say about it.
				recordOnly := out["guardrail"] == "key-deletion" && (out["event_name"] == "CreateKey" || out["event_name"] == "EnableKey")
				if err != nil || out["guardrail"] != rules[i].Owner || out["action"] != "none" || out["alerted"] != !recordOnly {
					t.Errorf("line %d: %s (%v)", i, l, err)
				}
			}
		})
	}
}

func TestMode_GetSetKillSwitch(t *testing.T) {
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, "")
	ctx := context.Background()
	cfg, _ := srv.Config(ctx, "eu-west-1")
	initial := `{"modes":{"default":"remediate","guardrails":{"key-policy":"alert"}},"guardrails":{"key-rotation":{"rotation_period_days":180}}}`
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/kmsguard/config"), Value: aws.String(initial), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	get := func(args ...string) string {
		code, out, errOut := runCLI(t, append([]string{"mode", "get"}, args...)...)
		if code != exitOK {
			t.Fatalf("mode get %v: exit %d %s", args, code, errOut)
		}
		return strings.TrimSpace(out)
	}
	set := func(want int, args ...string) {
		if code, _, errOut := runCLI(t, append([]string{"mode"}, args...)...); code != want {
			t.Fatalf("mode %v: exit %d, want %d: %s", args, code, want, errOut)
		}
	}
	if got := get("--account", "111122223333", "--guardrail", "key-deletion"); got != "111122223333 key-deletion: remediate (set by default)" {
		t.Errorf("%q", got)
	}
	set(exitOK, "set", "--account", "111122223333", "--guardrail", "key-deletion", "alert")
	if got := get("--account", "111122223333", "--guardrail", "key-deletion"); got != "111122223333 key-deletion: alert (set by account 111122223333, guardrail key-deletion (mode store))" {
		t.Errorf("%q", got)
	}
	set(exitOK, "kill-switch", "on")
	if got := get("--account", "444455556666", "--guardrail", "log-encryption"); !strings.Contains(got, "alert (set by kill switch (mode store))") {
		t.Errorf("%q", got)
	}
	set(exitOK, "kill-switch", "off")
	set(exitOK, "set", "--account", "111122223333", "--guardrail", "key-deletion", "inherit")
	if got := get("--account", "111122223333", "--guardrail", "key-deletion"); !strings.Contains(got, "remediate (set by default)") {
		t.Errorf("%q", got)
	}
	// A store rule beats kmsguard.yaml's rule at the same level, and
	// "inherit" gives the level back to kmsguard.yaml.
	set(exitOK, "set", "--guardrail", "key-policy", "remediate")
	if got := get("--account", "111122223333", "--guardrail", "key-policy"); got != "111122223333 key-policy: remediate (set by guardrail key-policy (mode store))" {
		t.Errorf("%q", got)
	}
	set(exitOK, "set", "--guardrail", "key-policy", "inherit")
	if got := get("--account", "111122223333", "--guardrail", "key-policy"); got != "111122223333 key-policy: alert (set by guardrail key-policy)" {
		t.Errorf("%q", got)
	}
	set(exitOK, "set", "--account", "444455556666", "alert")
	var all map[string]map[string]any
	if err := json.Unmarshal([]byte(get()), &all); err != nil || all["mode_store"]["/kmsguard/modes/accounts/444455556666/mode"] != "alert" {
		t.Errorf("mode get: %v %v", all, err)
	}
	// The configuration parameter (deployed from kmsguard.yaml) is never
	// rewritten by mode: settings and rules stay as deployed.
	out, _ := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/kmsguard/config")})
	if v := aws.ToString(out.Parameter.Value); v != initial {
		t.Errorf("parameter now %s", v)
	}
	// Bad input never reaches the parameter.
	set(exitBadInput, "set", "enforce")
	set(exitBadInput, "set", "--account", "12", "alert")
	set(exitBadInput, "set", "--guardrail", "nope", "alert")
	set(exitBadInput, "kill-switch", "maybe")
	set(exitBadInput, "set", "--ou", "ou-nope", "alert")
	set(exitBadInput, "set", "--ou", "ou-ab12-cd34ef56", "--account", "111122223333", "alert")
	set(exitFailed, "get", "--parameter", "/missing")
}

func TestAudit_ReadOnlyThenFix(t *testing.T) {
	sb, err := sandbox.NewHub(context.Background(), srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, "")
	t.Setenv(runconfig.EnvHubAccount, fixtures.Account) // audit the member account with its own credentials
	ctx := context.Background()
	pending := pendingKey(t, sb) // alias/cli, pending deletion
	if _, err := sb.LogsKey(ctx, fixtures.Account); err != nil {
		t.Fatal(err)
	}
	logs, _ := sb.Logs(ctx, fixtures.Account)
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/app/plain")}); err != nil {
		t.Fatal(err)
	}
	// The CLI runs with the member's credentials in this test.
	asMember(t)

	code, stdout, stderr := runCLI(t, "audit", "--accounts", fixtures.Account, "--regions", "eu-west-1")
	if code != exitFailed {
		t.Fatalf("read-only audit: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"key-deletion", "alias/cli", "log-encryption", "/app/plain", "key-rotation", "(read-only)", "swept 111122223333/eu-west-1"} {
		if !strings.Contains(stdout+stderr, want) {
			t.Errorf("audit output lacks %q:\n%s\n%s", want, stdout, stderr)
		}
	}
	if s, _ := sb.KeyState(ctx, fixtures.Account, pending); s != "PendingDeletion" {
		t.Errorf("read-only audit changed the key: %s", s)
	}

	cfgFile := filepath.Join(t.TempDir(), "kmsguard.yaml")
	_ = os.WriteFile(cfgFile, []byte("hub_account: \"111122223333\"\nhome_region: eu-west-1\nregions: [eu-west-1]\nalerts: {emails: [s@example.com]}\nmodes: {default: remediate}\n"), 0o644)
	code, stdout, _ = runCLI(t, "audit", "--fix", "--config", cfgFile, "--accounts", fixtures.Account, "--format", "json")
	var rep struct {
		Findings []struct{ Guardrail, Action string }
		Drift    []string
		Fix      bool
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || !rep.Fix || len(rep.Findings) == 0 || len(rep.Drift) != 1 {
		t.Fatalf("fix: exit %d, %v\n%s", code, err, stdout)
	}
	if s, _ := sb.KeyState(ctx, fixtures.Account, pending); s != "Enabled" {
		t.Errorf("--fix left the key %s", s)
	}
	if k, _ := sb.LogGroupKey(ctx, fixtures.Account, "/app/plain"); k == "" {
		t.Error("--fix left the log group unencrypted")
	}
	// Nothing left: exit 0.
	if code, stdout, stderr := runCLI(t, "audit", "--accounts", fixtures.Account, "--regions", "eu-west-1"); code != exitOK {
		t.Errorf("after --fix: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, _ := runCLI(t, "audit", "--format", "xml"); code != exitBadInput {
		t.Errorf("bad format: exit %d", code)
	}
	if code, _, stderr := runCLI(t, "audit", "--guardrails", "key-rotation,nope"); code != exitBadInput || !strings.Contains(stderr, "known guardrails") {
		t.Errorf("unknown guardrail: exit %d %s", code, stderr)
	}
	// Only the named guardrails run.
	code, stdout, _ = runCLI(t, "audit", "--accounts", fixtures.Account, "--regions", "eu-west-1", "--guardrails", "log-encryption", "--format", "json")
	if code != exitOK || strings.Contains(stdout, `"guardrail": "key-rotation"`) {
		t.Errorf("--guardrails log-encryption: exit %d\n%s", code, stdout)
	}
}

// stageTrail gives account a trail in eu-west-1 that logs every
// management event, as preflight wants.
func stageTrail(t *testing.T, acct string) {
	t.Helper()
	ctx := context.Background()
	cfg, _ := srv.AccountConfig(ctx, acct, "eu-west-1")
	ct := cloudtrail.NewFromConfig(cfg)
	if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail-" + acct), CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("org"), S3BucketName: aws.String("trail-" + acct)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("org")}); err != nil {
		t.Fatal(err)
	}
}

func TestPreflight(t *testing.T) {
	sb, err := sandbox.NewHub(context.Background(), srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, "")
	ctx := context.Background()
	run := func() (int, string) {
		code, out, errOut := runCLI(t, "preflight", "--accounts", "123456789012,"+fixtures.Account, "--regions", "eu-west-1")
		return code, out + errOut
	}
	// Nothing deployed in the member account: every check there fails, with a fix.
	code, out := run()
	if code != exitFailed || !strings.Contains(out, "FAIL  111122223333/eu-west-1") || !strings.Contains(out, "fix: no trail") || !strings.Contains(out, fmt.Sprintf("none of the %d forwarding rules is deployed and enabled", len(catalog.ForwardRules(catalog.Specs(), "A", "H", "aws")))) ||
		!strings.Contains(out, "FAIL  111122223333                 the member roles of") || !strings.Contains(out, "the forwarding DLQ kmsguard-forward-dlq does not exist") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// Deploy what preflight looks for in both accounts: a trail and the
	// spokes (the member roles in the member account only: the hub's
	// guardrails act with their own roles).
	for _, acct := range []string{"123456789012", fixtures.Account} {
		stageTrail(t, acct)
		if err := sb.Spoke(ctx, acct); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := run(); code != exitOK || strings.Contains(out, "FAIL") || !strings.Contains(out, "the hub can assume arn:aws:iam::111122223333:role/kmsguard-remediator") ||
		!strings.Contains(out, "PASS  111122223333/eu-west-1       the forwarding rules are deployed, enabled and target the hub bus "+sb.HubBusARN()) ||
		strings.Contains(out, "PASS  123456789012                 the member roles") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// A trail that excludes KMS events silences kmsguard: preflight says so.
	cfg, _ := srv.AccountConfig(ctx, fixtures.Account, "eu-west-1")
	if _, err := cloudtrail.NewFromConfig(cfg).PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("org"), EventSelectors: []cttypes.EventSelector{{
		IncludeManagementEvents: aws.Bool(true), ReadWriteType: cttypes.ReadWriteTypeAll, ExcludeManagementEventSources: []string{"kms.amazonaws.com"},
	}}}); err != nil {
		t.Fatal(err)
	}
	if code, out := run(); code != exitFailed || !strings.Contains(out, "org does not record KMS write management events") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// An opt-in Region the member has not enabled is one FAIL with the
	// fix, and nothing else is checked there (moto has no ListRegions:
	// a fake answers as Account Management does).
	old := newAccountAPI
	t.Cleanup(func() { newAccountAPI = old })
	newAccountAPI = func(aws.Config) sweep.AccountAPI { return regionsOnly{"123456789012": {"af-south-1"}} }
	code, out, errOut := runCLI(t, "preflight", "--accounts", fixtures.Account, "--regions", "eu-west-1,af-south-1")
	out += errOut
	if code != exitFailed || !strings.Contains(out, "FAIL  111122223333/af-south-1") || !strings.Contains(out, "aws account enable-region --account-id 111122223333 --region-name af-south-1") ||
		!strings.Contains(out, "kmsguard-regional-af-south-1") || strings.Count(out, "111122223333/af-south-1") != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// preflight --all checks every ACTIVE account of the organization
// (ListAccounts, paginated), with the sweep's own health checks: both
// report the same problems. Outside an organization, or as a member that
// is not a delegated administrator, it says what to do instead.
func TestPreflight_All(t *testing.T) {
	sb, err := sandbox.NewHub(context.Background(), srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, "")
	ctx := context.Background()
	code, out, errOut := runCLI(t, "preflight", "--all", "--regions", "eu-west-1")
	if code != exitFailed || out != "" || !strings.Contains(errOut, "account 123456789012 is not in an AWS Organizations organization: name the accounts with --accounts") {
		t.Fatalf("outside an organization: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "preflight", "--all", "--accounts", fixtures.Account); code != exitBadInput || !strings.Contains(errOut, "give --all or --accounts, not both") {
		t.Errorf("--all --accounts: exit %d %s", code, errOut)
	}

	// The organization: the hub is its management account; 21 members
	// (two pages of ListAccounts), one of them closed.
	hub, _ := srv.Config(ctx, "us-east-1")
	org := organizations.NewFromConfig(hub)
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		t.Fatal(err)
	}
	var members []string
	for i := 0; i < 21; i++ {
		o, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(fmt.Sprint("m", i)), Email: aws.String(fmt.Sprintf("m%d@example.com", i))})
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, aws.ToString(o.CreateAccountStatus.AccountId))
	}
	closed, healthy, degraded := members[0], members[1], members[2]
	if _, err := org.CloseAccount(ctx, &organizations.CloseAccountInput{AccountId: aws.String(closed)}); err != nil {
		t.Fatal(err)
	}
	for _, acct := range []string{sandbox.HubAccount, healthy, degraded} {
		stageTrail(t, acct)
		if err := sb.Spoke(ctx, acct); err != nil {
			t.Fatal(err)
		}
	}
	// The degraded member: a rule forwarding elsewhere, an event in the DLQ.
	dcfg, _ := srv.AccountConfig(ctx, degraded, "eu-west-1")
	rule := catalog.ForwardRules(catalog.Specs(), degraded, sandbox.HubAccount, "aws")[0].Name
	if _, err := eventbridge.NewFromConfig(dcfg).PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), Targets: []ebtypes.Target{{Id: aws.String("hub"), Arn: aws.String("arn:aws:events:eu-west-1:999999999999:event-bus/elsewhere")}}}); err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(dcfg)
	u, _ := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(sweep.SpokeDLQ)})
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: u.QueueUrl, MessageBody: aws.String("{}")}); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = runCLI(t, "preflight", "--all", "--regions", "eu-west-1", "--format", "json")
	var rep struct {
		Checks []struct{ Status, Where, ID, Check, Problem, Fix string }
		Failed int
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitFailed {
		t.Fatalf("exit %d, %v\n%s%s", code, err, out, errOut)
	}
	where := map[string]bool{}
	var failed []string
	for _, c := range rep.Checks {
		where[strings.Split(c.Where, "/")[0]] = true
		if c.Status == "FAIL" && strings.HasPrefix(c.Where, degraded) {
			failed = append(failed, c.ID+": "+c.Problem)
		}
	}
	if len(where) != 21 || where[closed] || !where[sandbox.HubAccount] || !where[members[20]] {
		t.Errorf("checked %d accounts, want the 21 ACTIVE ones (the closed %s left out): %v", len(where), closed, where)
	}
	for _, c := range rep.Checks {
		if c.Status == "FAIL" && (strings.HasPrefix(c.Where, sandbox.HubAccount) || strings.HasPrefix(c.Where, healthy)) {
			t.Errorf("a deployed account fails: %+v", c)
		}
	}
	// The sweep's own checks of the degraded spoke say the same.
	h, err := bootstrap.Load(ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &sb.Config, HubAccount: sandbox.HubAccount, ConfigJSON: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	swept, err := sweep.Run(ctx, h, sweep.Options{Targets: []sweep.Target{{Account: degraded, Region: "eu-west-1"}}, Health: true, ItemAlerts: "none"})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range swept.Spoke {
		want = append(want, s.Check+": "+s.Problem)
	}
	slices.Sort(want)
	slices.Sort(failed)
	if len(want) != 2 || !slices.Equal(failed, want) {
		t.Errorf("preflight --all reports %q for %s, the sweep %q", failed, degraded, want)
	}
	code, out, _ = runCLI(t, "preflight", "--all", "--regions", "eu-west-1")
	if code != exitFailed || !strings.Contains(out, "FAIL  "+degraded+"/eu-west-1       the forwarding rules are deployed, enabled and target the hub bus") || !strings.Contains(out, "checks in 21 accounts") {
		t.Errorf("text table: exit %d\n%s", code, out)
	}

	// A member that is not a delegated administrator is refused, with the fix.
	mcfg, _ := srv.AccountConfig(ctx, healthy, "us-east-1")
	if _, err := orgAccounts(ctx, organizations.NewFromConfig(mcfg), healthy); err == nil || !strings.Contains(err.Error(), "AWS Organizations refused ListAccounts to account "+healthy) || !strings.Contains(err.Error(), "management account") {
		t.Errorf("a member: %v", err)
	}
}

// regionsOnly answers ListRegions with each account's enabled opt-in
// Regions (AccountId empty: the caller's own account).
type regionsOnly map[string][]string

func (r regionsOnly) ListRegions(_ context.Context, in *account.ListRegionsInput, _ ...func(*account.Options)) (*account.ListRegionsOutput, error) {
	acct := aws.ToString(in.AccountId)
	if acct == "" {
		acct = "123456789012"
	}
	out := &account.ListRegionsOutput{}
	for _, name := range r[acct] {
		out.Regions = append(out.Regions, accounttypes.Region{RegionName: aws.String(name), RegionOptStatus: accounttypes.RegionOptStatusEnabled})
	}
	return out, nil
}

// Two operators changing modes at once never lose each other's change:
// every `mode set` writes exactly one rule parameter; nothing is read,
// merged and written back. Operator A sets each account's mode while
// operator B sets the same accounts' key-policy rule, concurrently, and the
// Lambdas' reader then finds both rules for every account.
func TestMode_ConcurrentOperatorsLoseNothing(t *testing.T) {
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg, _ := srv.Config(ctx, "eu-west-1")
	const accounts = 1000 // 2,000 rules; TestStoreModes_5000Accounts resolves 5,000 on a fake
	acct := func(i int) string { return fmt.Sprintf("%012d", 200000000000+i) }
	var wg sync.WaitGroup
	errs := make(chan error, 2*accounts)
	for _, op := range []struct{ guardrail, mode string }{{"", "remediate"}, {"key-policy", "alert"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store := &paramStore{api: ssm.NewFromConfig(cfg), cfg: cfg}
			for i := 0; i < accounts; i++ {
				if err := store.setRule(ctx, runconfig.RuleParameter(acct(i), "", op.guardrail), op.mode); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	api := ssm.NewFromConfig(cfg)
	for i := 0; i < accounts; i++ {
		r, problems, err := bootstrap.ReadRules(ctx, api, runconfig.ScopePath(acct(i), ""))
		if err != nil || len(problems) > 0 {
			t.Fatal(err, problems)
		}
		if r.Mode != guardrail.ModeRemediate || r.Guardrails["key-policy"] != guardrail.ModeAlert {
			t.Fatalf("account %s lost a rule: %+v", acct(i), r)
		}
	}
}

// audit --fix follows the mode store as the Lambdas do: an account set to
// alert with `kmsguard mode set` is not remediated although the file says
// remediate.
func TestAudit_FixFollowsTheModeStore(t *testing.T) {
	sb, err := sandbox.NewHub(context.Background(), srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, "")
	t.Setenv(runconfig.EnvHubAccount, fixtures.Account)
	ctx := context.Background()
	pending := pendingKey(t, sb)
	member := asMember(t)
	api := ssm.NewFromConfig(member)
	for name, v := range map[string]string{"/kmsguard/config": `{"modes":{"default":"remediate"}}`, runconfig.RuleParameter(fixtures.Account, "", ""): "alert"} {
		if _, err := api.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(v), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	cfgFile := filepath.Join(t.TempDir(), "kmsguard.yaml")
	_ = os.WriteFile(cfgFile, []byte("hub_account: \"111122223333\"\nhome_region: eu-west-1\nregions: [eu-west-1]\nalerts: {emails: [s@example.com]}\nmodes: {default: remediate}\n"), 0o644)
	code, stdout, stderr := runCLI(t, "audit", "--fix", "--config", cfgFile, "--accounts", fixtures.Account, "--guardrails", "key-deletion", "--format", "json")
	if s, _ := sb.KeyState(ctx, fixtures.Account, pending); s != "PendingDeletion" {
		t.Fatalf("audit --fix remediated an account the mode store sets to alert: %s (exit %d)\n%s\n%s", s, code, stdout, stderr)
	}
	if !strings.Contains(stdout, `"mode": "alert"`) {
		t.Errorf("the finding is not in alert mode:\n%s", stdout)
	}
}

// asMember makes the CLI run with the member account's credentials on the
// emulator, and returns that account's SDK config.
func asMember(t *testing.T) aws.Config {
	t.Helper()
	ctx := context.Background()
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	member, _ := srv.AccountConfig(ctx, fixtures.Account, "eu-west-1")
	creds, err := member.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", creds.SessionToken)
	return member
}
