// Command kmsguard is the operator CLI: replay an event through its
// guardrail, or run the local end-to-end demo on the moto emulator.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `kmsguard: guardrails for AWS KMS keys and CloudWatch Logs encryption

Usage:
  kmsguard replay [--mode remediate|alert] [--config FILE] EVENT.json
        Run the guardrail the event's pattern selects, once, against the AWS
        endpoint of the environment (AWS_ENDPOINT_URL, profile, region), and
        print the outcome as JSON. Alerts go to $KMSGUARD_TOPIC_ARN when set.
        Exit 0: handled (also when nothing needed doing); 2: bad input;
        1: the remediation failed.
  kmsguard demo
        Start the moto emulator on 127.0.0.1, stage a key deletion in a
        member account, and show kmsguard stopping it, step by step.

  kmsguard mode get|set|kill-switch ...
        Read or change the modes in the hub's configuration parameter
        (kmsguard mode, without arguments, explains).

  kmsguard audit [--accounts IDS] [--regions REGIONS] [--format table|json] [--fix] [--config kmsguard.yaml]
        Sweep what exists now with the guardrails' own rules: keys pending
        deletion, rotation off or too long, key policies with findings, log
        groups without a key; orphaned keys; drift between the file and the
        hub parameter. Read-only unless --fix (which follows the modes).
        Exit 0: nothing found; 1: findings or unchecked targets; 2: bad input.
  kmsguard preflight [--config kmsguard.yaml] [--accounts IDS] [--regions REGIONS]
        Check that kmsguard can work: a trail logs KMS management events,
        the forwarding rules are deployed, the logs key is usable, and the
        remediator role can be assumed. PASS/FAIL per check, with the fix.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes of the CLI contract.
const (
	exitOK       = 0
	exitFailed   = 1
	exitBadInput = 2
)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitBadInput
	}
	switch args[0] {
	case "replay":
		return replay(ctx, args[1:], stdin, stdout, stderr)
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "mode":
		return mode(ctx, args[1:], stdout, stderr)
	case "audit":
		return audit(ctx, args[1:], stdout, stderr)
	case "preflight":
		return preflight(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "kmsguard: unknown command %q\n\n%s", args[0], usage)
	return exitBadInput
}
