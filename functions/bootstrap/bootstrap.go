// Package bootstrap is the runtime every guardrail Lambda and the kmsguard CLI
// share: it loads the configuration and AWS credentials once, and builds a
// Runner for any guardrail in the catalog.
package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/internal/awsenv"
	"github.com/kmsguard/kmsguard/functions/internal/findings"
	"github.com/kmsguard/kmsguard/functions/ledger"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

// Options configure Load. FromEnv fills them the way a Lambda is configured.
type Options struct {
	// ConfigJSON is the RuntimeConfig; empty means defaults. Ignored when
	// ConfigParameter is set.
	ConfigJSON []byte
	// ConfigParameter is the SSM parameter holding the RuntimeConfig; its
	// modes are re-read every minute.
	ConfigParameter string
	// TopicARN is where alerts go; empty sends none.
	TopicARN string
	// HubAccount is the account whose credentials are used directly;
	// empty asks STS who the caller is.
	HubAccount string
	// Mode, when set, overrides every mode decision.
	Mode guardrail.Mode
	// ModeStore adds the mode store's rules (runconfig.ModesPath, in the
	// AWS config's account and Region) to ConfigJSON's modes, as the
	// deployed Lambdas do (kmsguard audit --fix).
	ModeStore bool
	// ModeStoreRegion is the hub's home Region, where the mode store is
	// (default: the AWS config's Region).
	ModeStoreRegion string
	// LedgerTable is the hub's ledger (DynamoDB); empty keeps no memory.
	LedgerTable string
	// AWS is the base SDK config; nil loads the default chain.
	AWS *aws.Config
	// Log receives the decision lines; nil picks the Lambda logger in
	// Lambda and JSON on stderr elsewhere.
	Log *slog.Logger
	// Guardrails are the guardrails this runtime can build.
	Guardrails []guardrail.Entry
	// Known are every guardrail id of the catalog, to check the ids in the
	// configuration against; nil checks only the guardrails built here (a
	// Lambda links its own guardrail only; synth and `kmsguard mode`
	// check the configuration against the whole catalog).
	Known []string
}

// FromEnv reads the Lambda environment.
func FromEnv() Options {
	return Options{
		ConfigJSON:      []byte(os.Getenv(runconfig.EnvConfig)),
		ConfigParameter: os.Getenv(runconfig.EnvConfigParameter),
		TopicARN:        os.Getenv(runconfig.EnvTopicARN),
		HubAccount:      os.Getenv(runconfig.EnvHubAccount),
		LedgerTable:     os.Getenv(runconfig.EnvLedgerTable),
	}
}

// Env is what a kmsguard process builds once (a Lambda at cold start, the
// CLI at start): configuration, credentials per account, alert publisher,
// logger, and the guardrails it can run.
type Env struct {
	entries  []guardrail.Entry
	cfg      runconfig.RuntimeConfig
	modes    guardrail.ModeLookup
	provider *awsenv.Provider
	names    *accountNames  // nil outside an organization
	ledger   *ledger.Ledger // nil: no memory
	alerts   alert.Publisher
	log      *slog.Logger
	base     aws.Config
	hub      string
}

// Load builds the hub runtime. Errors name what is misconfigured.
func Load(ctx context.Context, o Options) (*Env, error) {
	log := o.Log
	if log == nil {
		if os.Getenv("AWS_LAMBDA_FUNCTION_NAME") != "" {
			log = lambdacontext.NewLogger()
		} else {
			log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
		}
	}
	h := &Env{log: log, entries: o.Guardrails}
	if o.ConfigParameter == "" {
		cfg, err := runconfig.ParseRuntimeConfig(o.ConfigJSON, o.Known)
		if err != nil {
			return nil, err
		}
		h.cfg, h.modes = cfg, cfg.Modes
	}
	var err error
	if o.AWS != nil {
		h.base = *o.AWS
	} else {
		opts := []func(*config.LoadOptions) error{}
		if os.Getenv("AWS_MAX_ATTEMPTS") == "" {
			// Throttling and 5xx are retried with backoff before the
			// invocation fails.
			opts = append(opts, config.WithRetryMaxAttempts(6))
		}
		if h.base, err = config.LoadDefaultConfig(ctx, opts...); err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
	}
	if o.ConfigParameter != "" {
		pm := &paramModes{api: ssm.NewFromConfig(h.base), name: o.ConfigParameter, known: o.Known, log: log, now: time.Now}
		rc, err := readParameter(ctx, pm.api, pm.name, pm.known)
		if err != nil {
			// Guardrail settings are needed to build the guardrails.
			return nil, err
		}
		pm.set(rc.Modes, time.Now())
		// The mode store's rules (kmsguard mode set) sit beside the
		// parameter; OUs are looked up only when rules per OU exist.
		h.cfg, h.modes = rc, newStoreModes(pm, h.base, rc.OrganizationID != "", log)
	}
	if o.ModeStore && o.ConfigParameter == "" {
		pm := &paramModes{name: "the configuration file", log: log, now: time.Now}
		pm.set(h.cfg.Modes, time.Now())
		store := h.base.Copy()
		if o.ModeStoreRegion != "" {
			store.Region = o.ModeStoreRegion
		}
		h.modes = newStoreModes(pm, store, h.cfg.OrganizationID != "", log)
	}
	if o.Mode != "" {
		if _, err := guardrail.ParseMode(string(o.Mode)); err != nil {
			return nil, err
		}
		h.modes = runconfig.FixedMode{Mode: o.Mode, Source: "command line"}
	}
	hubAccount := o.HubAccount
	if hubAccount == "" {
		id, err := sts.NewFromConfig(h.base).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("find the hub account (set %s to skip this call): %w", runconfig.EnvHubAccount, err)
		}
		hubAccount = aws.ToString(id.Account)
	}
	if !guardrail.ValidAccountID(hubAccount) {
		return nil, fmt.Errorf("%s=%q is not a 12-digit account id", runconfig.EnvHubAccount, hubAccount)
	}
	// The session name tells CloudTrail readers which guardrail acted.
	h.hub = hubAccount
	h.provider = awsenv.NewProvider(h.base, hubAccount, guardrail.MemberRoleName(guardrail.SweepID), "kmsguard")
	if h.cfg.OrganizationID != "" {
		// Alerts name accounts as the organization does (AWS Organizations
		// answers in us-east-1).
		orgCfg := h.base.Copy()
		orgCfg.Region = "us-east-1"
		h.names = newAccountNames(organizations.NewFromConfig(orgCfg), log)
	}
	if o.LedgerTable != "" {
		h.ledger = ledger.New(dynamodb.NewFromConfig(h.base), o.LedgerTable)
	}
	if o.TopicARN != "" {
		region, err := arnRegion(o.TopicARN)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", runconfig.EnvTopicARN, err)
		}
		c := h.base.Copy()
		c.Region = region
		h.alerts = alert.NewSNS(sns.NewFromConfig(c), o.TopicARN)
	}
	return h, nil
}

func arnRegion(arn string) (string, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || !awsenv.ValidRegion(parts[3]) {
		return "", fmt.Errorf("%q is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", arn)
	}
	return parts[3], nil
}

// Runner builds the runner of one guardrail.
func (h *Env) Runner(id string) (*guardrail.Runner, error) {
	g, err := h.guardrail(id)
	if err != nil {
		return nil, err
	}
	r := guardrail.NewRunner(g, h.alerts, h.log)
	if m := h.memory(id, guardrail.SessionName(id)); m != nil {
		r.WithRecorder(m)
	}
	if os.Getenv("AWS_LAMBDA_FUNCTION_NAME") != "" {
		r.WithMetrics() // the Lambda logs JSON (LoggingFormat JSON): CloudWatch reads the metrics from it
		if f := h.Findings(id); f != nil {
			r.WithFindings(f)
		}
	}
	return r, nil
}

// Findings is the Security Hub reporter of guardrail id: each finding is
// imported in the resource's account and Region through the guardrail's
// own member role (the hub's credentials in the hub account). Nil when
// alerts.security_hub is off, and for a guardrail that decides from the
// event alone (it has no role in member accounts).
func (h *Env) Findings(id string) *findings.Reporter {
	if !h.cfg.SecurityHub {
		return nil
	}
	for _, e := range h.entries {
		if e.Spec.ID == id && !e.Spec.EventOnly {
			src := h.provider.As(guardrail.MemberRoleName(id), guardrail.SessionName(id))
			return findings.NewReporter(guardrail.ClientsOf(src, func(c aws.Config) findings.API { return securityhub.NewFromConfig(c) }))
		}
	}
	return nil
}

func (h *Env) guardrail(id string) (guardrail.Guardrail, error) {
	return h.Build(id, guardrail.SessionName(id))
}

// Build builds one guardrail whose assumed-role sessions are named
// sessionName.
func (h *Env) Build(id, sessionName string) (guardrail.Guardrail, error) {
	var ids []string
	for _, e := range h.entries {
		if e.Spec.ID == id {
			// In member accounts each guardrail acts through its own role,
			// which can call its spec's actions and nothing else.
			g, err := e.Build(h.cfg.Guardrails[id], h.provider.As(guardrail.MemberRoleName(id), sessionName), h.modes)
			if m := h.memory(id, sessionName); m != nil && err == nil {
				if d, ok := g.(interface {
					SetMemory(guardrail.Memory, guardrail.LoopBreaker)
					SetKeyStates(guardrail.KeyStates)
					SetPolicies(guardrail.Policies)
				}); ok {
					d.SetMemory(m, h.cfg.LoopBreakerOrDefault())
					d.SetKeyStates(m)
					d.SetPolicies(m)
				}
			}
			if n, ok := g.(interface{ SetAccountNames(guardrail.AccountNames) }); ok && err == nil && h.names != nil {
				n.SetAccountNames(h.names)
			}
			if o, ok := g.(interface{ SetOrganization(guardrail.Organization) }); ok && err == nil && h.names != nil {
				o.SetOrganization(h.names)
			}
			if u, ok := g.(interface{ SetUnmanaged([]string) }); ok && err == nil {
				var accounts []string
				for acct, ids := range h.cfg.Unmanaged {
					if slices.Contains(ids, id) {
						accounts = append(accounts, acct)
					}
				}
				u.SetUnmanaged(accounts)
			}
			return g, err
		}
		ids = append(ids, e.Spec.ID)
	}
	return nil, fmt.Errorf("unknown guardrail %q; this runtime has: %s", id, strings.Join(ids, ", "))
}

// memory is guardrail id's view of the ledger: CloudTrail is read through
// its own member role. Nil without a ledger.
func (h *Env) memory(id, sessionName string) *memory {
	if h.ledger == nil {
		return nil
	}
	trails := guardrail.ClientsOf(h.provider.As(guardrail.MemberRoleName(id), sessionName), func(c aws.Config) LookupAPI { return cloudtrail.NewFromConfig(c) })
	return &memory{l: h.ledger, trail: trails.Get, sleep: guardrail.Sleep}
}

// Ledger is the hub's ledger, nil when the runtime keeps none.
func (h *Env) Ledger() *ledger.Ledger { return h.ledger }

// Recorder records outcomes in the ledger (the sweep's); nil without one.
func (h *Env) Recorder() guardrail.OutcomeRecorder {
	if m := h.memory(guardrail.SweepID, "kmsguard-sweep"); m != nil {
		return m
	}
	return nil
}

// Entries are the guardrails of this runtime.
func (h *Env) Entries() []guardrail.Entry { return h.entries }

// RuntimeConfig is the configuration the runtime loaded.
func (h *Env) RuntimeConfig() runconfig.RuntimeConfig { return h.cfg }

// Alerts is the alert publisher, nil when no topic is configured.
func (h *Env) Alerts() alert.Publisher { return h.alerts }

// Log is the runtime's logger.
func (h *Env) Log() *slog.Logger { return h.log }

// AWS is the base SDK configuration.
func (h *Env) AWS() aws.Config { return h.base }

// HubAccount is the account whose credentials the runtime uses directly.
func (h *Env) HubAccount() string { return h.hub }

// Provider is the per-account configuration source of the sweep's
// listing: the read-only member role, with its sessions named sessionName.
func (h *Env) Provider(sessionName string) *awsenv.Provider {
	return h.provider.As(guardrail.MemberRoleName(guardrail.SweepID), sessionName)
}
