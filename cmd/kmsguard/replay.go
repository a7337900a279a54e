package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

func replay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "", "force this mode for every account: remediate or alert (default: the configured modes)")
	configFile := fs.String("config", "", "runtime configuration file (JSON: modes and guardrail settings)")
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "kmsguard replay: give exactly one EVENT.json (or - for standard input)")
		return exitBadInput
	}
	raw, err := readInput(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard replay:", err)
		return exitBadInput
	}
	ev, err := cloudtrail.Parse(raw)
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard replay:", err)
		return exitBadInput
	}
	// The production path: the spoke of the event's account forwards it
	// (kmsguard's own sessions in the hub account are known when
	// KMSGUARD_HUB_ACCOUNT is set), then the hub rules select guardrails.
	selected, err := catalog.Route(catalog.Specs(), raw, ev.AccountID(), os.Getenv(runconfig.EnvHubAccount))
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard replay:", err)
		return exitBadInput
	}
	if len(selected) == 0 {
		fmt.Fprintln(stderr, "kmsguard replay: the event matches no guardrail pattern (a failed call, kmsguard's own remediation, or an event kmsguard does not watch)")
		return exitBadInput
	}
	opts := bootstrap.FromEnv()
	opts.Guardrails, opts.Known = catalog.Entries(), catalog.IDs()
	opts.Log = slog.New(slog.NewTextHandler(stderr, nil))
	opts.Mode = guardrail.Mode(*mode)
	if *configFile != "" {
		if opts.ConfigJSON, err = os.ReadFile(*configFile); err != nil {
			fmt.Fprintln(stderr, "kmsguard replay:", err)
			return exitBadInput
		}
	}
	h, err := bootstrap.Load(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard replay:", err)
		return exitBadInput
	}
	// One JSON object per selected guardrail, one per line when the event
	// triggers several (a CreateKey with a policy).
	code := exitOK
	for _, sel := range selected {
		r, err := h.Runner(sel.Owner)
		if err != nil {
			fmt.Fprintln(stderr, "kmsguard replay:", err)
			return exitBadInput
		}
		fmt.Fprintf(stderr, "kmsguard replay: rule %s selects guardrail %s\n", sel.Name, sel.Owner)
		out, err := r.Handle(ctx, raw)
		b, merr := json.Marshal(out)
		if merr != nil {
			fmt.Fprintln(stderr, "kmsguard replay:", merr)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s\n", b)
		switch {
		case err == nil:
		case guardrail.IsTerminal(err):
			if code == exitOK {
				code = exitBadInput
			}
		default:
			code = exitFailed
		}
	}
	return code
}

// maxInput bounds what replay reads: an EventBridge event is at most 256 KB.
const maxInput = cloudtrail.MaxEventBytes + 1

func readInput(path string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errors.New("the event is empty")
	}
	return b, nil
}
