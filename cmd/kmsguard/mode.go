package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	kgconfig "github.com/kmsguard/kmsguard/infra/config"
)

func modeCommand() *command {
	return &command{
		name:    "mode",
		summary: "Read or change the modes in the hub's configuration parameter (get, set, kill-switch)",
		help: `The modes say where kmsguard may remediate. They live in the hub's
configuration parameter (default /kmsguard/config), which the guardrail
Lambdas re-read every minute. The next deployment writes the parameter from
kmsguard.yaml again: put lasting changes there.`,
		subs: []*command{modeGetCommand(), modeSetCommand(), killSwitchCommand()},
	}
}

func modeGetCommand() *command {
	return &command{
		name:    "get",
		summary: "Print the modes, or the mode of one account and guardrail and the rule that chose it",
		help: `Prints the modes in the hub parameter (JSON), or, with both --account and
--guardrail, the mode that applies to that account and guardrail and the
rule that chose it.`,
		setup: func(f *flags) runFunc {
			p := modeFlags(f)
			account := f.Account("12-digit account id (with --guardrail)")
			id := f.Enum("guardrail", "", "the guardrail (with --account)", catalog.IDs(), nil)
			format := f.Format("text", "text", "json")
			return func(ctx context.Context, c *call) int {
				if (*account == "") != (*id == "") {
					return c.usageError("give both --account and --guardrail to resolve one mode")
				}
				store, code := p.open(ctx, c)
				if store == nil {
					return code
				}
				rc, err := store.read(ctx)
				if err != nil {
					return c.failed(err)
				}
				if *account == "" {
					b, _ := json.MarshalIndent(rc.Modes, "", "  ")
					fmt.Fprintf(c.stdout, "%s\n", b)
					return exitOK
				}
				r := rc.Modes.Resolve(*account, *id, specDefault(*id))
				if *format == "json" {
					b, _ := json.Marshal(map[string]string{"account": *account, "guardrail": *id, "mode": string(r.Mode), "source": r.Source})
					fmt.Fprintf(c.stdout, "%s\n", b)
					return exitOK
				}
				fmt.Fprintf(c.stdout, "%s %s: %s (set by %s)\n", *account, *id, r.Mode, r.Source)
				return exitOK
			}
		},
	}
}

func modeSetCommand() *command {
	return &command{
		name:     "set",
		args:     "remediate|alert|inherit",
		minArgs:  1,
		maxArgs:  1,
		argWords: []string{string(guardrail.ModeRemediate), string(guardrail.ModeAlert), "inherit"},
		summary:  "Change one mode rule; inherit removes it",
		help: `Changes one rule: no flags = the default; --guardrail = that guardrail;
--account = that account; both = that account and guardrail. "inherit"
removes the rule. The Lambdas apply it within a minute.`,
		setup: func(f *flags) runFunc {
			p := modeFlags(f)
			account := f.Account("12-digit account id: the rule for that account")
			id := f.Enum("guardrail", "", "the rule for that guardrail", catalog.IDs(), nil)
			return func(ctx context.Context, c *call) int {
				var m guardrail.Mode
				if v := c.args[0]; v != "inherit" {
					m = guardrail.Mode(v)
				}
				return p.update(ctx, c, func(rc *runconfig.RuntimeConfig) { setMode(&rc.Modes, *account, *id, m) })
			}
		},
	}
}

func killSwitchCommand() *command {
	return &command{
		name:     "kill-switch",
		args:     "on|off",
		minArgs:  1,
		maxArgs:  1,
		argWords: []string{"on", "off"},
		summary:  "Alert only, everywhere (on), or back to the rules (off)",
		help:     `On: every guardrail only alerts, everywhere, within a minute. Off: the mode rules apply again.`,
		setup: func(f *flags) runFunc {
			p := modeFlags(f)
			return func(ctx context.Context, c *call) int {
				return p.update(ctx, c, func(rc *runconfig.RuntimeConfig) { rc.Modes.KillSwitch = c.args[0] == "on" })
			}
		},
	}
}

// paramFlags are the flags every mode command has: where the parameter is.
type paramFlags struct {
	param, region, cfgFile *string
	aws                    *awsFlags
}

func modeFlags(f *flags) *paramFlags {
	return &paramFlags{
		param:   f.String("parameter", "NAME", bootstrap.ConfigParameter, "SSM parameter holding the kmsguard configuration"),
		region:  f.Region("the hub's home Region (default: the configuration's home_region, else the AWS environment's)"),
		cfgFile: f.Config("kmsguard.yaml: its home_region and hub_account say where the parameter is"),
		aws:     f.AWS(),
	}
}

// open checks the configuration file, then connects to the hub; nil and
// the exit code when that fails.
func (p *paramFlags) open(ctx context.Context, c *call) (*paramStore, int) {
	o := p.aws.options(c.stderr)
	o.region = *p.region
	var file *kgconfig.Config
	if *p.cfgFile != "" {
		var err error
		if file, err = kgconfig.Load(*p.cfgFile); err != nil {
			return nil, c.badInput(err)
		}
		if o.region == "" {
			o.region = file.HomeRegion
		}
	}
	o.appID = "kmsguard-mode" // the tamper guardrail recognises mode's own changes
	cfg, me, err := connect(ctx, o)
	if err != nil {
		return nil, c.failed(err)
	}
	if file != nil && me != file.HubAccount {
		return nil, c.failed(wrongAccount(o, me, file.HubAccount, *p.cfgFile, "the configuration parameter is in the hub account"))
	}
	return &paramStore{api: ssm.NewFromConfig(cfg), name: *p.param, account: me, region: cfg.Region}, exitOK
}

// update reads the parameter, applies change, checks and writes it.
func (p *paramFlags) update(ctx context.Context, c *call, change func(*runconfig.RuntimeConfig)) int {
	store, code := p.open(ctx, c)
	if store == nil {
		return code
	}
	rc, err := store.read(ctx)
	if err != nil {
		return c.failed(err)
	}
	change(&rc)
	if err := rc.Modes.Validate(catalog.IDs()); err != nil {
		return c.badInput(err)
	}
	if err := store.write(ctx, rc); err != nil {
		return c.failed(err)
	}
	fmt.Fprintf(c.stdout, "updated %s; the guardrail Lambdas apply it within %s.\n", store.name, bootstrap.RefreshEvery)
	fmt.Fprintln(c.stdout, "Note: the next deployment writes the parameter from kmsguard.yaml again; put lasting changes there.")
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
	api             ssmAPI
	name            string
	account, region string // where it is, for the messages
}

func (p *paramStore) read(ctx context.Context) (runconfig.RuntimeConfig, error) {
	out, err := p.api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(p.name)})
	var notFound *ssmtypes.ParameterNotFound
	if errors.As(err, &notFound) {
		return runconfig.RuntimeConfig{}, fmt.Errorf("the parameter %s does not exist in account %s, Region %s: deploy the hub stack first, or pass --parameter, --region or --config", p.name, p.account, p.region)
	}
	if err != nil {
		return runconfig.RuntimeConfig{}, fmt.Errorf("read %s (deploy the hub stack first, or pass --parameter, --region or --config): %w", p.name, awsError{err})
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
		return fmt.Errorf("write %s: %w", p.name, awsError{err})
	}
	return nil
}
