// Command kmsguard is the operator CLI: replay an event through its
// guardrail, audit and fix what exists, check a deployment, change the
// modes, or run the local end-to-end demo on the moto emulator.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes of the CLI contract (exitCodes documents them).
const (
	exitOK       = 0
	exitFailed   = 1
	exitBadInput = 2
)

// exitCodes is the one place the exit codes are documented: kmsguard help
// prints it, and README.md carries it (a test checks).
const exitCodes = `Exit codes (every command):
  0  success: the event was handled (also when nothing needed doing), nothing
     was found, every check passed, or help was printed
  1  failure: audit found problems or could not check a target, a preflight
     check failed, a remediation failed, or AWS could not be used (no or
     expired credentials, the wrong account, an unreachable endpoint)
  2  usage or input error: an unknown command or flag, a bad argument, a
     configuration file or event that is not valid; nothing was changed`

// commands are kmsguard's commands, in the order help lists them.
func commands() []*command {
	return []*command{
		replayCommand(),
		auditCommand(),
		preflightCommand(),
		modeCommand(),
		sweepCommand(),
		historyCommand(),
		demoCommand(),
		completionCommand(),
		helpCommand(),
	}
}

func rootCommand() *command {
	return &command{
		name:   "kmsguard",
		help:   "Guardrails for AWS KMS keys and CloudWatch Logs encryption.",
		subs:   commands(),
		footer: rootFooter,
	}
}

// rootFooter follows the command list in kmsguard help.
const rootFooter = `Flags mean the same in every command that has them:
  --config FILE         kmsguard.yaml (Regions, hub account, modes, settings)
  --region REGION       the Region(s) to work in (default: the configuration's,
                        else AWS_REGION or the profile's)
  --account ID          the account(s) to work on (default: the caller's)
  --format text|json    json wherever the output is data
  --profile NAME        the AWS profile to use
  --debug               show the AWS SDK's own log and errors

AWS: credentials and Region come from the usual places: --profile or
AWS_PROFILE, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
AWS_SESSION_TOKEN), SSO, container credentials. The EC2 instance metadata
service is asked only when AWS_EC2_METADATA_DISABLED=false. AWS_ENDPOINT_URL
sends every call to another endpoint (moto, LocalStack). Every command
checks its arguments before its first AWS call, and a missing credential,
the wrong account or an unreachable endpoint is said in one sentence.

` + exitCodes + `

Completion: source <(kmsguard completion bash), or for zsh
kmsguard completion zsh > "${fpath[1]}/_kmsguard".
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(ctx, rootCommand(), "kmsguard", args, stdin, stdout, stderr)
}

func helpCommand() *command {
	return &command{
		name:    "help",
		args:    "[COMMAND [SUBCOMMAND]]",
		summary: "Explain kmsguard, or one command",
		help:    "Without a command: the commands, the flags they share, where AWS credentials come from, and the exit codes.",
		maxArgs: 2,
		setup: func(f *flags) runFunc {
			return func(ctx context.Context, c *call) int {
				if len(c.args) == 0 {
					writeGroupUsage(c.stdout, "kmsguard", rootCommand(), true)
					return exitOK
				}
				return dispatch(ctx, rootCommand(), "kmsguard", slices.Concat(c.args, []string{"--help"}), c.stdin, c.stdout, c.stderr)
			}
		},
	}
}
