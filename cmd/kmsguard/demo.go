package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/internal/lambdart"
	"github.com/kmsguard/kmsguard/internal/moto"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

const (
	demoRegion = "eu-west-1"
	demoMember = fixtures.Account
	// The demo runs key-policy in remediate mode (its default is alert) to
	// show a statement being removed.
	demoConfig = `{"modes":{"guardrails":{"key-policy":"remediate","key-grants":"remediate"}}}`
)

func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "Show kmsguard end to end on a local AWS emulator (no AWS account needed)",
		help: `Starts the moto emulator on 127.0.0.1, stages four bad changes in a member
account, and shows the real Lambda binaries fixing them and the alerts they
send, step by step. Nothing leaves this machine and no AWS credentials are
used. Needs Python with moto (make tools), and Go to build the binaries
unless --bin is given.`,
		setup: func(f *flags) runFunc {
			binDir := f.String("bin", "DIR", "", "directory with <guardrail>/bootstrap built for this machine (default: build them now)")
			f.files["bin"] = true
			return func(ctx context.Context, c *call) int { return demo(ctx, *binDir, c.stdout, c.stderr) }
		},
	}
}

// demo tells the story end to end: real API calls on a local moto server,
// CloudTrail events delivered by moto's EventBridge through kmsguard's own
// patterns, and the real bootstrap binaries handling them.
func demo(ctx context.Context, binDir string, stdout, stderr io.Writer) int {
	p := &printer{w: stdout}
	p.title("kmsguard demo")
	if binDir == "" {
		dir, err := os.MkdirTemp("", "kmsguard-demo-")
		if err != nil {
			fmt.Fprintln(stderr, "kmsguard demo:", err)
			return exitFailed
		}
		defer os.RemoveAll(dir)
		p.say("Building the four Lambda binaries for this machine (the same main packages the arm64 zips ship) ...")
		if err := buildBootstraps(ctx, dir); err != nil {
			fmt.Fprintln(stderr, "kmsguard demo:", err)
			return exitFailed
		}
		binDir = dir
	}
	p.say("Starting the AWS emulator (moto %s, with kmsguard's test launcher) on 127.0.0.1 ...", moto.Version)
	srv, err := moto.Start(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard demo:", err)
		return exitFailed
	}
	defer srv.Stop()
	p.say("moto is listening on %s. Nothing leaves this machine.", srv.URL)

	d := &demoRun{ctx: ctx, srv: srv, p: p, bin: binDir, fns: map[string]*lambdart.Function{}}
	defer d.stopAll()
	if err := d.run(); err != nil {
		fmt.Fprintln(stderr, "\nkmsguard demo failed:", err)
		return exitFailed
	}
	p.title("Done")
	p.say("Four bad changes, four real Lambda binaries, four fixes and four alerts; a duplicate event changed nothing; with the kill switch on, kmsguard only told you.")
	p.say("Next: `make test` runs every test; docs/architecture.md explains the pieces.")
	return exitOK
}

func buildBootstraps(ctx context.Context, dir string) error {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if err != nil || root == "." || root == "" {
		return fmt.Errorf("run the demo from the kmsguard repository (`make demo`), or pass --bin")
	}
	return lambdart.Build(ctx, root, dir, catalog.IDs())
}

type demoRun struct {
	ctx context.Context
	srv *moto.Server
	p   *printer
	bin string
	sb  *sandbox.Hub
	fns map[string]*lambdart.Function
	// pending is the event a scene's bad action made, when the event
	// names what the action created (a grant id).
	pending []byte
}

func (d *demoRun) stopAll() {
	for _, f := range d.fns {
		f.Stop()
	}
}

// start launches a guardrail's bootstrap configured like the hub Lambda.
func (d *demoRun) start(id, config string) error {
	if f := d.fns[id]; f != nil {
		f.Stop()
	}
	env := append(d.srv.Env(),
		"AWS_REGION="+demoRegion,
		runconfig.EnvTopicARN+"="+d.sb.TopicARN,
		runconfig.EnvHubAccount+"="+sandbox.HubAccount,
		runconfig.EnvConfig+"="+config,
	)
	f, err := lambdart.Start(filepath.Join(d.bin, id, "bootstrap"), "kmsguard-"+id, env)
	if err != nil {
		return err
	}
	d.fns[id] = f
	ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
	defer cancel()
	_, err = f.TimeToFirstRequest(ctx)
	return err
}

func (d *demoRun) run() error {
	var err error
	if d.sb, err = sandbox.NewHub(d.ctx, d.srv, demoRegion); err != nil {
		return err
	}
	d.p.say("Hub account %s: alert topic %s; an SQS queue stands in for your inbox; the kmsguard rules are on the bus.", sandbox.HubAccount, d.sb.TopicARN)
	for _, id := range catalog.IDs() {
		if err := d.start(id, demoConfig); err != nil {
			return err
		}
	}
	d.p.say("Lambda functions running (real bootstrap binaries under a local Runtime API): kmsguard-%s.", strings.Join(catalog.IDs(), ", kmsguard-"))

	keyID, err := d.sb.CreateKey(d.ctx, demoMember, sandbox.KeySpec{
		Alias: "alias/payments", Description: "Payments ledger encryption",
		Tags: map[string]string{"team": "payments", "env": "prod"},
	})
	if err != nil {
		return err
	}
	logsKey, err := d.sb.LogsKey(d.ctx, demoMember)
	if err != nil {
		return err
	}
	d.p.say("Member account %s: KMS key alias/payments (%s) and the regional logs key alias/kmsguard/logs.", demoMember, keyID)
	member, err := d.sb.KMS(d.ctx, demoMember)
	if err != nil {
		return err
	}
	logs, err := d.sb.Logs(d.ctx, demoMember)
	if err != nil {
		return err
	}
	keyState := func() string {
		s, err := d.sb.KeyState(d.ctx, demoMember, keyID)
		if err != nil {
			return err.Error()
		}
		return string(s)
	}

	// 1. key-deletion
	err = d.act("1. Someone schedules the payments key for deletion",
		"alice (assumed-role/Admin) calls kms:ScheduleKeyDeletion with a 7-day window.",
		func() error {
			_, err := member.ScheduleKeyDeletion(d.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(7)})
			if err == nil {
				d.p.say("Key state now: %s", keyState())
			}
			return err
		},
		fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, keyID, "", ""),
		func() string { return "Key state: " + keyState() })
	if err != nil {
		return err
	}

	// 2. key-rotation
	err = d.act("2. Someone turns off automatic rotation of the payments key",
		"alice calls kms:DisableKeyRotation.",
		func() error {
			_, err := member.DisableKeyRotation(d.ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(keyID)})
			return err
		},
		fixtures.WithKey(fixtures.Get("key-rotation/disable-key-rotation").Raw, keyID, "", ""),
		func() string {
			st, err := member.GetKeyRotationStatus(d.ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(keyID)})
			if err != nil {
				return err.Error()
			}
			return fmt.Sprintf("Rotation: enabled=%v, every %d days", st.KeyRotationEnabled, aws.ToInt32(st.RotationPeriodInDays))
		})
	if err != nil {
		return err
	}

	// 3. key-policy
	publicEvent := fixtures.WithKey(fixtures.Get("key-policy/put-key-policy-public").Raw, keyID, "", "")
	err = d.act("3. Someone shares the payments key with the whole world",
		`alice calls kms:PutKeyPolicy adding {"Principal":{"AWS":"*"},"Action":["kms:Decrypt","kms:DescribeKey"]} with no condition.`,
		func() error {
			_, err := member.PutKeyPolicy(d.ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(keyID), PolicyName: aws.String("default"), Policy: aws.String(requestPolicy(publicEvent))})
			return err
		},
		publicEvent,
		func() string {
			out, err := member.GetKeyPolicy(d.ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyID), PolicyName: aws.String("default")})
			if err != nil {
				return err.Error()
			}
			return "Key policy statements now: " + statementIDs(aws.ToString(out.Policy))
		})
	if err != nil {
		return err
	}

	// 4. key-grants
	grantEvent := fixtures.WithKey(fixtures.Get("key-grants/create-grant-external-role").Raw, keyID, "", "")
	grants := func() string {
		out, err := member.ListGrants(d.ctx, &kms.ListGrantsInput{KeyId: aws.String(keyID)})
		if err != nil {
			return err.Error()
		}
		var who []string
		for _, g := range out.Grants {
			who = append(who, aws.ToString(g.GranteePrincipal))
		}
		if len(who) == 0 {
			return "Grants on the payments key now: none"
		}
		return "Grants on the payments key now: " + strings.Join(who, ", ")
	}
	err = d.act("4. Someone gives an outside account the use of the payments key with a grant",
		"alice calls kms:CreateGrant for arn:aws:iam::999988887777:role/PartnerIngest (Decrypt, GenerateDataKey), no encryption context constraint. The key policy does not show it.",
		func() error {
			out, err := member.CreateGrant(d.ctx, &kms.CreateGrantInput{KeyId: aws.String(keyID), Name: aws.String("partner-ingest"),
				GranteePrincipal: aws.String("arn:aws:iam::999988887777:role/PartnerIngest"), Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt, kmstypes.GrantOperationGenerateDataKey}})
			if err == nil {
				d.pending = fixtures.WithGrant(grantEvent, aws.ToString(out.GrantId))
				d.p.say("%s", grants())
			}
			return err
		},
		nil, grants)
	if err != nil {
		return err
	}

	// 5. log-encryption
	err = d.act("5. An application creates a log group without a KMS key",
		"payments-task calls logs:CreateLogGroup /app/payments/api.",
		func() error {
			_, err := logs.CreateLogGroup(d.ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/app/payments/api")})
			return err
		},
		fixtures.Get("log-encryption/create-log-group").Raw,
		func() string {
			k, err := d.sb.LogGroupKey(d.ctx, demoMember, "/app/payments/api")
			if err != nil {
				return err.Error()
			}
			if k == logsKey {
				return "Log group /app/payments/api is encrypted with alias/kmsguard/logs (" + k + ")"
			}
			return "Log group /app/payments/api key: " + k
		})
	if err != nil {
		return err
	}

	// 6. duplicates
	d.p.title("6. The first event arrives again (EventBridge delivers at least once)")
	if err := d.handle(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, keyID, "", "")); err != nil {
		return err
	}
	if err := d.printAlerts(); err != nil {
		return err
	}
	d.p.say("Key state: %s. Nothing changed and nobody was paged twice.", keyState())

	// 7. kill switch
	if err := d.start("key-deletion", `{"modes":{"kill_switch":true}}`); err != nil {
		return err
	}
	return d.act("7. With the kill switch on (modes.kill_switch=true), kmsguard only alerts",
		"bob calls kms:ScheduleKeyDeletion with a 30-day window.",
		func() error {
			_, err := member.ScheduleKeyDeletion(d.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(30)})
			return err
		},
		fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-id").Raw, keyID, "", ""),
		func() string { return "Key state (left for you to decide): " + keyState() })
}

// act tells one scene: the bad action, the delivery, the guardrail's
// outcome, the alert, the state after.
func (d *demoRun) act(title, what string, bad func() error, event []byte, after func() string) error {
	d.p.title(title)
	d.p.say("%s", what)
	if err := bad(); err != nil {
		return fmt.Errorf("%s: %w", title, err)
	}
	if event == nil {
		event, d.pending = d.pending, nil // made by bad (a CreateGrant's record names its grant)
	}
	if err := d.handle(event); err != nil {
		return err
	}
	if err := d.printAlerts(); err != nil {
		return err
	}
	d.p.say("%s", after())
	return nil
}

// handle delivers the CloudTrail record through moto's EventBridge and
// invokes the bootstrap of every guardrail whose rule matched.
func (d *demoRun) handle(event []byte) error {
	delivered, err := d.sb.Deliver(d.ctx, event)
	if err != nil {
		return err
	}
	if len(delivered) == 0 {
		return fmt.Errorf("no kmsguard rule matched the event")
	}
	sel, err := patterns.Select(delivered[0], catalog.HubRules(catalog.Specs()))
	if err != nil {
		return err
	}
	for _, s := range sel {
		d.p.say("CloudTrail records the call; the spoke forwards it, the hub rule kmsguard-%s matches and invokes kmsguard-%s.", s.Name, s.Owner)
		res, err := d.fns[s.Owner].Invoke(d.ctx, delivered[0])
		if err != nil {
			return err
		}
		if res.Error != nil {
			return fmt.Errorf("kmsguard-%s failed: %v", s.Owner, res.Error)
		}
		var out guardrail.Outcome
		if err := json.Unmarshal(res.Payload, &out); err != nil {
			return fmt.Errorf("kmsguard-%s answered %s: %w", s.Owner, res.Payload, err)
		}
		d.p.say("kmsguard-%s decided: action=%s, mode=%s (%s)\n  reason: %s", s.Owner, out.Action, out.Mode, out.ModeSource, out.Reason)
	}
	return nil
}

func (d *demoRun) printAlerts() error {
	alerts, err := d.sb.Alerts(d.ctx)
	if err != nil {
		return err
	}
	if len(alerts) == 0 {
		d.p.say("No alert: there was nothing to report.")
	}
	for _, a := range alerts {
		d.p.say("\nThe alert, as your email client shows it:")
		d.p.say("  ┌──────────────────────────────────────────────────────────────────────────")
		d.p.say("  │ Subject: %s", a.Subject)
		d.p.say("  │")
		for _, line := range strings.Split(strings.TrimRight(a.Text, "\n"), "\n") {
			d.p.say("  │ %s", line)
		}
		d.p.say("  └──────────────────────────────────────────────────────────────────────────")
		d.p.say("  (message attributes: severity=%s guardrail=%s account=%s region=%s action=%s)\n",
			a.Attributes["severity"], a.Attributes["guardrail"], a.Attributes["account"], a.Attributes["region"], a.Attributes["action"])
	}
	return nil
}

func requestPolicy(event []byte) string {
	var ev struct {
		Detail struct {
			RequestParameters struct{ Policy string } `json:"requestParameters"`
		} `json:"detail"`
	}
	_ = json.Unmarshal(event, &ev)
	return ev.Detail.RequestParameters.Policy
}

func statementIDs(policy string) string {
	var doc struct {
		Statement []struct{ Sid string }
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return "unreadable policy"
	}
	var ids []string
	for _, s := range doc.Statement {
		ids = append(ids, fmt.Sprintf("%q", s.Sid))
	}
	return strings.Join(ids, ", ")
}

type printer struct{ w io.Writer }

func (p *printer) title(s string) {
	fmt.Fprintf(p.w, "\n== %s ==\n", s)
}

func (p *printer) say(format string, args ...any) {
	fmt.Fprintf(p.w, format+"\n", args...)
}
