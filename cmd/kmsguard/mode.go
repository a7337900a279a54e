package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

const modeUsage = `Usage:
  kmsguard mode get [--account ID] [--guardrail ID]
        Print the modes in the hub parameter, or the mode that applies to one
        account and guardrail and the rule that chose it.
  kmsguard mode set [--account ID] [--guardrail ID] remediate|alert|inherit
        Change one rule: no flags = the default; --guardrail = that guardrail;
        --account = that account; both = that account and guardrail.
        "inherit" removes the rule. The Lambdas apply it within a minute.
  kmsguard mode kill-switch on|off
        Alert only, everywhere (on), or back to the rules (off).
Flags for all: --parameter NAME (default /kmsguard/config) --region REGION (the hub's home Region)
`

func mode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, modeUsage)
		return exitBadInput
	}
	fs := flag.NewFlagSet("mode "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	param := fs.String("parameter", bootstrap.ConfigParameter, "SSM parameter holding the kmsguard configuration")
	region := fs.String("region", "", "the hub's home Region (default: the AWS environment's)")
	account := fs.String("account", "", "12-digit account id")
	id := fs.String("guardrail", "", "guardrail id: "+fmt.Sprint(catalog.IDs()))
	if err := fs.Parse(args[1:]); err != nil {
		return exitBadInput
	}
	if *account != "" && !guardrail.ValidAccountID(*account) {
		fmt.Fprintf(stderr, "kmsguard mode: --account %q must be a 12-digit account id\n", *account)
		return exitBadInput
	}
	if *id != "" && !slices.Contains(catalog.IDs(), *id) {
		fmt.Fprintf(stderr, "kmsguard mode: --guardrail %q is not one of %v\n", *id, catalog.IDs())
		return exitBadInput
	}
	opts := []func(*config.LoadOptions) error{}
	if *region != "" {
		opts = append(opts, config.WithRegion(*region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard mode:", err)
		return exitFailed
	}
	store := &paramStore{api: ssm.NewFromConfig(cfg), name: *param}
	rc, err := store.read(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "kmsguard mode:", err)
		return exitFailed
	}

	switch args[0] {
	case "get":
		if fs.NArg() != 0 {
			fmt.Fprint(stderr, modeUsage)
			return exitBadInput
		}
		if *account != "" || *id != "" {
			if *account == "" || *id == "" {
				fmt.Fprintln(stderr, "kmsguard mode get: give both --account and --guardrail to resolve one mode")
				return exitBadInput
			}
			r := rc.Modes.Resolve(*account, *id, specDefault(*id))
			fmt.Fprintf(stdout, "%s %s: %s (set by %s)\n", *account, *id, r.Mode, r.Source)
			return exitOK
		}
		b, _ := json.MarshalIndent(rc.Modes, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	case "set":
		if fs.NArg() != 1 {
			fmt.Fprint(stderr, modeUsage)
			return exitBadInput
		}
		var m guardrail.Mode
		if v := fs.Arg(0); v != "inherit" {
			if m, err = guardrail.ParseMode(v); err != nil {
				fmt.Fprintln(stderr, "kmsguard mode set:", err, `(or "inherit" to remove the rule)`)
				return exitBadInput
			}
		}
		setMode(&rc.Modes, *account, *id, m)
	case "kill-switch":
		if fs.NArg() != 1 || (fs.Arg(0) != "on" && fs.Arg(0) != "off") {
			fmt.Fprint(stderr, modeUsage)
			return exitBadInput
		}
		rc.Modes.KillSwitch = fs.Arg(0) == "on"
	default:
		fmt.Fprint(stderr, modeUsage)
		return exitBadInput
	}
	if err := rc.Modes.Validate(catalog.IDs()); err != nil {
		fmt.Fprintln(stderr, "kmsguard mode:", err)
		return exitBadInput
	}
	if err := store.write(ctx, rc); err != nil {
		fmt.Fprintln(stderr, "kmsguard mode:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "updated %s; the guardrail Lambdas apply it within %s.\n", *param, bootstrap.RefreshEvery)
	fmt.Fprintln(stdout, "Note: the next deployment writes the parameter from kmsguard.yaml again; put lasting changes there.")
	return exitOK
}

func specDefault(id string) guardrail.Mode {
	for _, s := range catalog.Specs() {
		if s.ID == id {
			return s.DefaultMode
		}
	}
	return guardrail.ModeAlert
}

// setMode sets (m != "") or removes (m == "") one rule.
func setMode(c *runconfig.ModeConfig, account, id string, m guardrail.Mode) {
	switch {
	case account == "" && id == "":
		c.Default = m
	case account == "":
		if c.Guardrails == nil {
			c.Guardrails = map[string]guardrail.Mode{}
		}
		if m == "" {
			delete(c.Guardrails, id)
		} else {
			c.Guardrails[id] = m
		}
	default:
		if c.Accounts == nil {
			c.Accounts = map[string]runconfig.AccountModes{}
		}
		a := c.Accounts[account]
		if id == "" {
			a.Mode = m
		} else {
			if a.Guardrails == nil {
				a.Guardrails = map[string]guardrail.Mode{}
			}
			if m == "" {
				delete(a.Guardrails, id)
			} else {
				a.Guardrails[id] = m
			}
		}
		if a.Mode == "" && len(a.Guardrails) == 0 {
			delete(c.Accounts, account)
		} else {
			c.Accounts[account] = a
		}
	}
}

type ssmAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, opts ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

type paramStore struct {
	api  ssmAPI
	name string
}

func (p *paramStore) read(ctx context.Context) (runconfig.RuntimeConfig, error) {
	out, err := p.api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(p.name)})
	if err != nil {
		return runconfig.RuntimeConfig{}, fmt.Errorf("read %s (deploy the hub stack first, or pass --parameter/--region): %w", p.name, err)
	}
	rc, err := runconfig.ParseRuntimeConfig([]byte(aws.ToString(out.Parameter.Value)), catalog.IDs())
	if err != nil {
		return rc, fmt.Errorf("parameter %s: %w", p.name, err)
	}
	return rc, nil
}

func (p *paramStore) write(ctx context.Context, rc runconfig.RuntimeConfig) error {
	b, err := json.Marshal(rc)
	if err != nil {
		return err
	}
	tier := ssmtypes.ParameterTierStandard
	if len(b) > 4096 {
		tier = ssmtypes.ParameterTierAdvanced
	}
	_, err = p.api.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(p.name), Value: aws.String(string(b)), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true), Tier: tier})
	if err != nil {
		return fmt.Errorf("write %s: %w", p.name, err)
	}
	return nil
}
