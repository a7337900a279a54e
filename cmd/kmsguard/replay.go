package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	yaml "go.yaml.in/yaml/v3"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	kgconfig "github.com/kmsguard/kmsguard/infra/config"
)

func replayCommand() *command {
	return &command{
		name:     "replay",
		args:     "EVENT.json",
		minArgs:  1,
		maxArgs:  1,
		argFiles: true,
		summary:  "Run the guardrail an event selects, once, and print the outcome as JSON",
		help: `Runs the guardrail(s) the event's pattern selects, once, against the AWS
endpoint of the environment, in the event's Region, and prints one JSON
object per guardrail on stdout (guardrail, event_id, account, region,
resource, action, reason, mode, findings, alerted). EVENT.json is an
EventBridge event; - reads standard input. An event no pattern selects (a
failed call, one kmsguard does not watch) prints one object with action
none and the reason, and exits 0. Alerts go to $KMSGUARD_TOPIC_ARN when it
is set; $KMSGUARD_HUB_ACCOUNT, when set, saves asking STS.`,
		setup: func(f *flags) runFunc {
			mode := f.Enum("mode", "", "force this mode for every account (default: the configured modes)", []string{string(guardrail.ModeRemediate), string(guardrail.ModeAlert)}, nil)
			cfgFile := f.Config("the modes and guardrail settings: kmsguard.yaml, or the hub parameter's runtime configuration (JSON)")
			f.Format("json", "json")
			aws := f.AWS()
			return func(ctx context.Context, c *call) int {
				return replay(ctx, c, guardrail.Mode(*mode), *cfgFile, aws.options(c.stderr))
			}
		},
	}
}

func replay(ctx context.Context, c *call, mode guardrail.Mode, cfgFile string, o awsOptions) int {
	raw, err := readInput(c.args[0], c.stdin)
	if err != nil {
		return c.badInput(err)
	}
	ev, err := cloudtrail.Parse(raw)
	if err != nil {
		return c.badInput(err)
	}
	configJSON, fileHub, err := replayConfig(cfgFile)
	if err != nil {
		return c.badInput(err)
	}
	hub := os.Getenv(runconfig.EnvHubAccount)
	if hub == "" {
		hub = fileHub
	}
	// The production path: the spoke of the event's account forwards it
	// (kmsguard's own sessions in the hub account are known when the hub
	// account is), then the hub rules select guardrails.
	selected, err := catalog.Route(catalog.Specs(), raw, ev.AccountID(), hub)
	if err != nil {
		return c.badInput(err)
	}
	if len(selected) == 0 {
		// A valid event the patterns filter out is not bad input: the
		// Lambdas would never see it. Say so, exit 0.
		reason := "no guardrail pattern selects this event: kmsguard does not watch it (or it is kmsguard's own call), so nothing would run"
		if code := ev.Record.ErrorCode; code != "" {
			reason = fmt.Sprintf("no guardrail pattern selects this event: the call failed (%s), so nothing changed and the patterns skip it", code)
		}
		out := guardrail.Outcome{EventID: ev.EventID(), EventName: ev.Name(), Account: ev.AccountID(), Region: ev.RegionName(), Action: guardrail.ActionNone, Reason: reason, Findings: []string{}}
		b, _ := json.Marshal(out)
		fmt.Fprintf(c.stdout, "%s\n", b)
		fmt.Fprintf(c.stderr, "%s: %s\n", c.path, reason)
		return exitOK
	}

	// Throttling and 5xx are retried with backoff before the remediation
	// fails, as in the Lambda.
	if os.Getenv("AWS_MAX_ATTEMPTS") == "" {
		o.maxAttempts = 6
	}
	cfg, err := loadAWS(ctx, o)
	if err != nil {
		return c.failed(err)
	}
	if cfg.Region == "" {
		cfg.Region = ev.RegionName()
	}
	opts := bootstrap.FromEnv()
	opts.Guardrails, opts.Known = catalog.Entries(), catalog.IDs()
	opts.Log = slog.New(slog.NewTextHandler(c.stderr, nil))
	opts.Mode = mode
	opts.ConfigJSON = configJSON
	opts.AWS = &cfg
	if opts.HubAccount == "" {
		me, err := whoAmI(ctx, cfg, o.profile)
		if err != nil {
			return c.failed(err)
		}
		if fileHub != "" && me != fileHub {
			return c.failed(wrongAccount(o, me, fileHub, cfgFile, "replay acts from the hub account"))
		}
		opts.HubAccount = me
	}
	h, err := bootstrap.Load(ctx, opts)
	if err != nil {
		return c.badInput(err)
	}
	// One JSON object per selected guardrail, one per line when the event
	// triggers several (a CreateKey with a policy).
	code := exitOK
	said := map[string]bool{}
	for _, sel := range selected {
		r, err := h.Runner(sel.Owner)
		if err != nil {
			return c.badInput(err)
		}
		fmt.Fprintf(c.stderr, "%s: rule %s selects guardrail %s\n", c.path, sel.Name, sel.Owner)
		out, err := r.Handle(ctx, raw)
		b, merr := json.Marshal(out)
		if merr != nil {
			return c.failed(merr)
		}
		fmt.Fprintf(c.stdout, "%s\n", b)
		switch {
		case err == nil:
		case guardrail.IsTerminal(err):
			if code == exitOK {
				code = exitBadInput
			}
		default:
			code = exitFailed
			// The outcome carries the error; an AWS environment problem
			// is also said once in a sentence.
			var ee *envError
			if e := explainAWS(err, o.profile); errors.As(e, &ee) && !said[ee.msg] {
				said[ee.msg] = true
				c.report(e)
			}
		}
	}
	return code
}

// replayConfig reads --config: kmsguard.yaml (its modes and settings, and
// the hub account) or the runtime configuration JSON the hub parameter
// holds. Either is validated here, before any AWS call.
func replayConfig(path string) (runtimeJSON []byte, hub string, err error) {
	if path == "" {
		return nil, "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("cannot read the configuration file: %w", err)
	}
	if isDeploymentConfig(b) {
		c, err := kgconfig.Load(path)
		if err != nil {
			return nil, "", err
		}
		js, err := c.RuntimeConfigJSON()
		return []byte(js), c.HubAccount, err
	}
	// Unknown fields and wrong types by path and line, then the rules.
	var rc runconfig.RuntimeConfig
	if err := kgconfig.Decode(b, &rc); err != nil {
		var ce *kgconfig.Error
		if errors.As(err, &ce) {
			ce.File = path
		}
		return nil, "", err
	}
	if _, err := runconfig.ParseRuntimeConfig(b, catalog.IDs()); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return b, "", nil
}

// isDeploymentConfig tells kmsguard.yaml from a runtime configuration: it
// has fields only the deployment file has.
func isDeploymentConfig(b []byte) bool {
	var top map[string]any
	if yaml.Unmarshal(b, &top) != nil {
		return false
	}
	for _, k := range []string{"hub_account", "home_region", "regions", "alerts", "organization", "logs_key"} {
		if _, ok := top[k]; ok {
			return true
		}
	}
	return false
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
