package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
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
		summary: "Read or change where kmsguard may remediate (get, set, kill-switch)",
		help: `The modes say where kmsguard may remediate. kmsguard.yaml's rules are
deployed to the hub's configuration parameter (/kmsguard/config); the rules
this command writes go to the mode store, one SSM parameter per rule under
/kmsguard/modes, and take precedence over kmsguard.yaml's rule at the same
level. Each write changes exactly one rule, so operators writing at once
never lose each other's change, and the store holds rules for thousands of
accounts and OUs. The guardrail Lambdas apply a change within a minute;
deployments leave the store alone.`,
		subs: []*command{modeGetCommand(), modeSetCommand(), killSwitchCommand()},
	}
}

func modeGetCommand() *command {
	return &command{
		name:    "get",
		summary: "Print the modes, or the mode of one account and guardrail and the rule that chose it",
		help: `Prints every rule (JSON: kmsguard.yaml's, then the mode store's), or, with
both --account and --guardrail, the mode that applies to that account and
guardrail and the rule that chose it (the account's organizational units
are looked up when rules per OU exist).`,
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
					rules, err := store.allRules(ctx)
					if err != nil {
						return c.failed(err)
					}
					b, _ := json.MarshalIndent(map[string]any{"kmsguard.yaml": rc.Modes, "mode_store": rules}, "", "  ")
					fmt.Fprintf(c.stdout, "%s\n", b)
					return exitOK
				}
				l, err := store.layers(ctx, rc.Modes, *account)
				if err != nil {
					return c.failed(err)
				}
				r := l.Resolve(*account, *id, specDefault(*id))
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
		summary:  "Change one mode rule in the mode store; inherit removes it",
		help: `Changes one rule in the mode store: no flags = the default; --guardrail =
that guardrail; --account or --ou = that account or organizational unit;
with --guardrail too, that guardrail there. "inherit" removes the store's
rule (kmsguard.yaml's rule at that level, if any, applies again). The
Lambdas apply it within a minute.`,
		setup: func(f *flags) runFunc {
			p := modeFlags(f)
			account := f.Account("12-digit account id: the rule for that account")
			ou := f.String("ou", "ID", "", "organizational unit id (ou-...) or root (r-...): the rule for every account under it")
			id := f.Enum("guardrail", "", "the rule for that guardrail", catalog.IDs(), nil)
			return func(ctx context.Context, c *call) int {
				if *account != "" && *ou != "" {
					return c.usageError("give --account or --ou, not both")
				}
				if *ou != "" && !runconfig.ValidOU(*ou) {
					return c.usageError("--ou %q is not an organizational unit id; use ou-xxxx-xxxxxxxx or the root r-xxxx", *ou)
				}
				var m guardrail.Mode
				if v := c.args[0]; v != "inherit" {
					m = guardrail.Mode(v)
				}
				store, code := p.open(ctx, c)
				if store == nil {
					return code
				}
				if *ou != "" && store.file != nil && store.file.Organization == nil {
					return c.usageError("--ou: %s has no organization; rules per organizational unit apply only in organization mode", *p.cfgFile)
				}
				name := runconfig.RuleParameter(*account, *ou, *id)
				if err := store.setRule(ctx, name, string(m)); err != nil {
					return c.failed(err)
				}
				if m == "" {
					fmt.Fprintf(c.stdout, "removed %s; the guardrail Lambdas apply it within %s.\n", name, bootstrap.RefreshEvery)
				} else {
					fmt.Fprintf(c.stdout, "set %s to %s; the guardrail Lambdas apply it within %s.\n", name, m, bootstrap.RefreshEvery)
				}
				return exitOK
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
		help:     `On: every guardrail only alerts, everywhere, within a minute. Off: the mode rules apply again (unless kmsguard.yaml turns it on).`,
		setup: func(f *flags) runFunc {
			p := modeFlags(f)
			return func(ctx context.Context, c *call) int {
				store, code := p.open(ctx, c)
				if store == nil {
					return code
				}
				v := ""
				if c.args[0] == "on" {
					v = "on"
				}
				if err := store.setRule(ctx, runconfig.KillSwitchParameter, v); err != nil {
					return c.failed(err)
				}
				fmt.Fprintf(c.stdout, "kill switch %s (%s); the guardrail Lambdas apply it within %s.\n", c.args[0], runconfig.KillSwitchParameter, bootstrap.RefreshEvery)
				if v == "" {
					if rc, err := store.read(ctx); err == nil && rc.Modes.KillSwitch {
						fmt.Fprintln(c.stdout, "Note: kmsguard.yaml sets modes.kill_switch: true, so the kill switch stays on until that is changed and deployed.")
					}
				}
				return exitOK
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
	// The tamper guardrail recognises mode's own changes by its user agent.
	h, code, ok := connectHub(ctx, c, p.aws, *p.region, *p.cfgFile, "the configuration parameter is in the hub account", "kmsguard-mode")
	if !ok {
		return nil, code
	}
	return &paramStore{api: ssm.NewFromConfig(h.cfg), cfg: h.cfg, file: h.file, name: *p.param, account: h.me, region: h.cfg.Region}, exitOK
}

func specDefault(id string) guardrail.Mode {
	for _, s := range catalog.Specs() {
		if s.ID == id {
			return s.DefaultMode
		}
	}
	return guardrail.ModeAlert
}

type ssmAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, opts ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
	DeleteParameter(ctx context.Context, in *ssm.DeleteParameterInput, opts ...func(*ssm.Options)) (*ssm.DeleteParameterOutput, error)
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, opts ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

type paramStore struct {
	api             ssmAPI
	cfg             aws.Config
	file            *kgconfig.Config // nil without --config
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

// setRule writes one rule (value) or removes it (""): a single
// PutParameter or DeleteParameter, nothing read and written back.
func (p *paramStore) setRule(ctx context.Context, name, value string) error {
	if value == "" {
		_, err := p.api.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)})
		var notFound *ssmtypes.ParameterNotFound
		if err != nil && !errors.As(err, &notFound) {
			return fmt.Errorf("remove %s: %w", name, awsError{err})
		}
		return nil
	}
	// Intelligent-Tiering: a standard parameter, moved to advanced only
	// if the account's 10,000 standard parameters are used up (SSM quotas,
	// https://docs.aws.amazon.com/general/latest/gr/ssm.html).
	_, err := p.api.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString,
		Overwrite: aws.Bool(true), Tier: ssmtypes.ParameterTierIntelligentTiering, Description: aws.String("kmsguard mode rule (kmsguard mode set)")})
	if err != nil {
		return fmt.Errorf("write %s: %w", name, awsError{err})
	}
	return nil
}

// allRules lists every rule in the mode store (name -> value).
func (p *paramStore) allRules(ctx context.Context) (map[string]string, error) {
	rules := map[string]string{}
	pg := ssm.NewGetParametersByPathPaginator(p.api, &ssm.GetParametersByPathInput{Path: aws.String(runconfig.ModesPath), Recursive: aws.Bool(true), MaxResults: aws.Int32(10)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the mode store %s: %w", runconfig.ModesPath, awsError{err})
		}
		for _, prm := range out.Parameters {
			rules[aws.ToString(prm.Name)] = aws.ToString(prm.Value)
		}
	}
	return rules, nil
}

// layers gathers every rule that can apply to account, as the Lambdas do.
func (p *paramStore) layers(ctx context.Context, file runconfig.ModeConfig, account string) (runconfig.Layers, error) {
	l := runconfig.Layers{File: file}
	var problems []string
	var err error
	read := func(scope string) runconfig.Rules {
		if err != nil {
			return runconfig.Rules{}
		}
		var r runconfig.Rules
		var pr []string
		r, pr, err = bootstrap.ReadRules(ctx, p.api, scope)
		problems = append(problems, pr...)
		return r
	}
	l.Global = read(runconfig.ModesPath)
	l.Account = read(runconfig.ScopePath(account, ""))
	if err != nil {
		return l, awsError{err}
	}
	for _, pr := range problems {
		fmt.Fprintln(os.Stderr, "warning: mode rule ignored:", pr)
	}
	anyOU, aerr := bootstrap.AnyOURules(ctx, p.api)
	if aerr != nil {
		return l, awsError{aerr}
	}
	if len(file.OrganizationalUnits) == 0 && !anyOU {
		return l, nil
	}
	l.StoreHasOURules = anyOU
	orgCfg := p.cfg.Copy()
	orgCfg.Region = "us-east-1" // AWS Organizations answers in us-east-1
	ous, perr := bootstrap.Parents(ctx, organizations.NewFromConfig(orgCfg), account)
	if perr != nil {
		fmt.Fprintf(os.Stderr, "warning: %v (run from the management or delegated administrator account to apply rules per OU)\n", awsError{perr})
		l.OUsUnknown = true
		return l, nil
	}
	l.OUs, l.OURules = ous, map[string]runconfig.Rules{}
	for _, ou := range ous {
		l.OURules[ou] = read(runconfig.ScopePath("", ou))
	}
	if err != nil {
		return l, awsError{err}
	}
	return l, nil
}
