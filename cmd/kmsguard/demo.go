package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/hub"
	"github.com/kmsguard/kmsguard/internal/moto"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

const (
	demoRegion = "eu-west-1"
	demoMember = fixtures.Account
)

// demo tells the key-deletion story end to end on a local moto server.
func demo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	p := &printer{w: stdout}
	p.title("kmsguard demo: stopping a KMS key deletion")
	p.say("Starting the AWS emulator (moto %s) on 127.0.0.1 ...", moto.Version)
	srv, err := moto.Start(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard demo:", err)
		return exitFailed
	}
	defer srv.Stop()
	p.say("moto is listening on %s. Nothing leaves this machine.", srv.URL)

	if err := runDemo(ctx, srv, p); err != nil {
		fmt.Fprintln(stderr, "\nkmsguard demo failed:", err)
		return exitFailed
	}
	p.title("Done")
	p.say("What you saw: a deletion caught by the event pattern, cancelled, the key re-enabled and verified, one readable alert; the duplicate was a no-op; in alert mode kmsguard only told you.")
	p.say("Next: `make test` runs every test; docs/architecture.md explains the pieces.")
	return exitOK
}

func runDemo(ctx context.Context, srv *moto.Server, p *printer) error {
	sb, err := sandbox.NewHub(ctx, srv, demoRegion)
	if err != nil {
		return err
	}
	p.say("Hub account %s: alert topic %s (an SQS queue stands in for your inbox) and the kmsguard rules on the bus.", sandbox.HubAccount, sb.TopicARN)

	keyID, err := sb.CreateKey(ctx, demoMember, sandbox.KeySpec{
		Alias: "alias/payments", Description: "Payments ledger encryption",
		Tags: map[string]string{"team": "payments", "env": "prod"},
	})
	if err != nil {
		return err
	}
	p.say("Member account %s: KMS key alias/payments (%s), Enabled.", demoMember, keyID)

	h, err := hub.Load(ctx, hub.Options{
		AWS: &sb.Config, TopicARN: sb.TopicARN, HubAccount: sandbox.HubAccount,
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	runner, err := h.Runner("key-deletion")
	if err != nil {
		return err
	}

	// Act 1: the bad action, caught and undone.
	p.title("1. Someone schedules the payments key for deletion")
	member, err := sb.KMS(ctx, demoMember)
	if err != nil {
		return err
	}
	if _, err := member.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(7)}); err != nil {
		return err
	}
	if err := p.state(ctx, sb, keyID, "after ScheduleKeyDeletion"); err != nil {
		return err
	}
	event := fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, keyID, "", "")
	delivered, err := sb.Deliver(ctx, event)
	if err != nil {
		return err
	}
	if len(delivered) != 1 {
		return fmt.Errorf("the key-deletion rule delivered %d events, want 1", len(delivered))
	}
	p.say("CloudTrail records the call as assumed-role/Admin/alice; the kmsguard rule on the bus matches it and triggers the key-deletion guardrail.")
	out, err := runner.Handle(ctx, delivered[0])
	if err != nil {
		return fmt.Errorf("guardrail: %w", err)
	}
	p.outcome(out)
	if err := p.alerts(ctx, sb); err != nil {
		return err
	}
	if err := p.state(ctx, sb, keyID, "after kmsguard"); err != nil {
		return err
	}

	// Act 2: duplicates are harmless.
	p.title("2. The same event arrives again (EventBridge delivers at least once)")
	out, err = runner.Handle(ctx, delivered[0])
	if err != nil {
		return fmt.Errorf("guardrail: %w", err)
	}
	p.outcome(out)

	// Act 3: alert mode, the kill switch.
	p.title("3. With the kill switch on, kmsguard only alerts")
	h2, err := hub.Load(ctx, hub.Options{
		AWS: &sb.Config, TopicARN: sb.TopicARN, HubAccount: sandbox.HubAccount,
		ConfigJSON: []byte(`{"modes":{"kill_switch":true}}`), Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	alertOnly, err := h2.Runner("key-deletion")
	if err != nil {
		return err
	}
	if _, err := member.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(30)}); err != nil {
		return err
	}
	delivered, err = sb.Deliver(ctx, fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-id").Raw, keyID, "", ""))
	if err != nil || len(delivered) != 1 {
		return fmt.Errorf("delivery: %d events, %v", len(delivered), err)
	}
	out, err = alertOnly.Handle(ctx, delivered[0])
	if err != nil {
		return fmt.Errorf("guardrail: %w", err)
	}
	p.outcome(out)
	if err := p.alerts(ctx, sb); err != nil {
		return err
	}
	if err := p.state(ctx, sb, keyID, "in alert mode (left for you to decide)"); err != nil {
		return err
	}
	// Leave the emulator tidy for anyone poking at it.
	_, err = member.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(keyID)})
	return err
}

type printer struct{ w io.Writer }

func (p *printer) title(s string) {
	fmt.Fprintf(p.w, "\n== %s ==\n", s)
}

func (p *printer) say(format string, args ...any) {
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *printer) state(ctx context.Context, sb *sandbox.Hub, keyID, when string) error {
	s, err := sb.KeyState(ctx, demoMember, keyID)
	if err != nil {
		return err
	}
	p.say("Key state %s: %s", when, s)
	return nil
}

func (p *printer) outcome(out guardrail.Outcome) {
	b, _ := json.MarshalIndent(out, "   ", "  ")
	p.say("Outcome (what `kmsguard replay` prints):\n   %s", b)
}

func (p *printer) alerts(ctx context.Context, sb *sandbox.Hub) error {
	alerts, err := sb.Alerts(ctx)
	if err != nil {
		return err
	}
	for _, a := range alerts {
		p.say("\nThe alert, as your email client shows it:")
		p.say("  ┌──────────────────────────────────────────────────────────────────────────")
		p.say("  │ Subject: %s", a.Subject)
		p.say("  │")
		for _, line := range strings.Split(strings.TrimRight(a.Text, "\n"), "\n") {
			p.say("  │ %s", line)
		}
		p.say("  └──────────────────────────────────────────────────────────────────────────")
		p.say("  (message attributes for filter policies: severity=%s guardrail=%s account=%s region=%s action=%s)",
			a.Attributes["severity"], a.Attributes["guardrail"], a.Attributes["account"], a.Attributes["region"], a.Attributes["action"])
	}
	return nil
}
