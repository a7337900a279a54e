// Package hub is the runtime every guardrail Lambda and the kmsguard CLI
// share: it loads the configuration and AWS credentials once, and builds a
// Runner for any guardrail in the catalog.
package hub

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/internal/awsenv"
	"github.com/kmsguard/kmsguard/functions/keydeletion"
	"github.com/kmsguard/kmsguard/functions/keypolicy"
	"github.com/kmsguard/kmsguard/functions/keyrotation"
	"github.com/kmsguard/kmsguard/functions/logencryption"
)

// entry is one guardrail of the catalog: its spec, how to check its
// settings, and how to build it.
type entry struct {
	spec     guardrail.Spec
	validate func(raw []byte) error
	build    func(raw []byte, p *awsenv.Provider, m guardrail.ModeLookup) (guardrail.Guardrail, error)
}

func entryOf[S any, G guardrail.Guardrail](spec guardrail.Spec, parse func([]byte) (S, error), build func(*awsenv.Provider, guardrail.ModeLookup, S) G) entry {
	return entry{
		spec:     spec,
		validate: func(raw []byte) error { _, err := parse(raw); return err },
		build: func(raw []byte, p *awsenv.Provider, m guardrail.ModeLookup) (guardrail.Guardrail, error) {
			s, err := parse(raw)
			if err != nil {
				return nil, err
			}
			return build(p, m, s), nil
		},
	}
}

// catalog lists every guardrail, in a stable order: an explicit list, no
// registration side effects.
func catalog() []entry {
	return []entry{
		entryOf(keydeletion.Spec(), keydeletion.ParseSettings, keydeletion.New),
		entryOf(keyrotation.Spec(), keyrotation.ParseSettings, keyrotation.New),
		entryOf(keypolicy.Spec(), keypolicy.ParseSettings, keypolicy.New),
		entryOf(logencryption.Spec(), logencryption.ParseSettings, logencryption.New),
	}
}

// Specs lists every guardrail, in a stable order. Infra builds from it and
// meta-tests walk it.
func Specs() []guardrail.Spec {
	var specs []guardrail.Spec
	for _, e := range catalog() {
		specs = append(specs, e.spec)
	}
	return specs
}

// IDs lists the guardrail ids of Specs.
func IDs() []string {
	var ids []string
	for _, s := range Specs() {
		ids = append(ids, s.ID)
	}
	return ids
}

// ValidateSettings checks every guardrail's settings in a runtime
// configuration, as its Lambda will at cold start.
func ValidateSettings(rc guardrail.RuntimeConfig) error {
	var errs []string
	for _, e := range catalog() {
		if err := e.validate(rc.Guardrails[e.spec.ID]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

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
	// AWS is the base SDK config; nil loads the default chain.
	AWS *aws.Config
	// Log receives the decision lines; nil picks the Lambda logger in
	// Lambda and JSON on stderr elsewhere.
	Log *slog.Logger
}

// FromEnv reads the Lambda environment.
func FromEnv() Options {
	return Options{
		ConfigJSON:      []byte(os.Getenv(guardrail.EnvConfig)),
		ConfigParameter: os.Getenv(guardrail.EnvConfigParameter),
		TopicARN:        os.Getenv(guardrail.EnvTopicARN),
		HubAccount:      os.Getenv(guardrail.EnvHubAccount),
	}
}

// Hub holds what is built once per process.
type Hub struct {
	cfg      guardrail.RuntimeConfig
	modes    guardrail.ModeLookup
	provider *awsenv.Provider
	alerts   alert.Publisher
	log      *slog.Logger
	base     aws.Config
}

// Load builds the hub runtime. Errors name what is misconfigured.
func Load(ctx context.Context, o Options) (*Hub, error) {
	log := o.Log
	if log == nil {
		if os.Getenv("AWS_LAMBDA_FUNCTION_NAME") != "" {
			log = lambdacontext.NewLogger()
		} else {
			log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
		}
	}
	h := &Hub{log: log}
	if o.ConfigParameter == "" {
		cfg, err := guardrail.ParseRuntimeConfig(o.ConfigJSON, IDs())
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
		pm := &paramModes{api: ssm.NewFromConfig(h.base), name: o.ConfigParameter, log: log, now: time.Now}
		rc, err := readParameter(ctx, pm.api, pm.name)
		if err != nil {
			// Guardrail settings are needed to build the guardrails.
			return nil, err
		}
		pm.set(rc.Modes, time.Now())
		h.cfg, h.modes = rc, pm
	}
	if o.Mode != "" {
		if _, err := guardrail.ParseMode(string(o.Mode)); err != nil {
			return nil, err
		}
		h.modes = guardrail.FixedMode{Mode: o.Mode, Source: "command line"}
	}
	hubAccount := o.HubAccount
	if hubAccount == "" {
		id, err := sts.NewFromConfig(h.base).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("find the hub account (set %s to skip this call): %w", guardrail.EnvHubAccount, err)
		}
		hubAccount = aws.ToString(id.Account)
	}
	if !guardrail.ValidAccountID(hubAccount) {
		return nil, fmt.Errorf("%s=%q is not a 12-digit account id", guardrail.EnvHubAccount, hubAccount)
	}
	// The session name tells CloudTrail readers which guardrail acted.
	h.provider = awsenv.NewProvider(h.base, hubAccount, "kmsguard")
	if o.TopicARN != "" {
		region, err := arnRegion(o.TopicARN)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", guardrail.EnvTopicARN, err)
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

// HubAccount is the account the hub acts in without assuming a role.
func (h *Hub) HubAccount() string { return h.provider.HubAccount() }

// Runner builds the runner of one guardrail.
func (h *Hub) Runner(id string) (*guardrail.Runner, error) {
	g, err := h.guardrail(id)
	if err != nil {
		return nil, err
	}
	return guardrail.NewRunner(g, h.alerts, h.log), nil
}

func (h *Hub) guardrail(id string) (guardrail.Guardrail, error) {
	for _, e := range catalog() {
		if e.spec.ID == id {
			return e.build(h.cfg.Guardrails[id], h.provider.WithSession("kmsguard-"+id), h.modes)
		}
	}
	return nil, fmt.Errorf("unknown guardrail %q; known: %s", id, strings.Join(IDs(), ", "))
}

// Main is the whole body of a guardrail Lambda's main: load the runtime
// once (cold start), then serve invocations. A cold-start failure exits
// non-zero, so Lambda reports an init error instead of running half-wired.
func Main(id string) {
	h, err := Load(context.Background(), FromEnv())
	if err == nil {
		var r *guardrail.Runner
		if r, err = h.Runner(id); err == nil {
			lambda.Start(r.LambdaHandler())
			return
		}
	}
	fmt.Fprintf(os.Stderr, "kmsguard %s: cold start failed: %v\n", id, err)
	os.Exit(1)
}
