package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	kgconfig "github.com/kmsguard/kmsguard/infra/config"
)

// awsOptions are what a command knows about the AWS environment it wants.
type awsOptions struct {
	profile string
	debug   bool
	// region is the SDK's default Region ("" leaves the environment's).
	region string
	// maxAttempts per call (0: the SDK's default); AWS_MAX_ATTEMPTS wins.
	maxAttempts int
	// log receives the SDK's log with --debug.
	log io.Writer
	// appID goes in the user agent CloudTrail records ("app/<appID>"): the
	// tamper guardrail tells kmsguard mode's changes to the configuration
	// from anyone else's by it.
	appID string
}

// Bounds for an interactive command: a connection that cannot be opened is
// reported, not retried for a minute.
const (
	dialTimeout       = 5 * time.Second
	credentialTimeout = 15 * time.Second
	whoAmITimeout     = 20 * time.Second
)

// loadAWS loads the SDK configuration the way an operator's terminal needs
// it: no SDK log lines unless --debug, the EC2 instance metadata service
// only when AWS_EC2_METADATA_DISABLED=false (no IMDS retry storm, no
// "falling back to IMDSv1" off EC2), connections that fail are not retried,
// and credentials resolved up front, so that their absence is one sentence
// (an *envError) before any call.
func loadAWS(ctx context.Context, o awsOptions) (aws.Config, error) {
	debug := o.debug
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = dialTimeout }).
			WithTransportOptions(func(t *http.Transport) { t.TLSHandshakeTimeout = dialTimeout })),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(s *retry.StandardOptions) {
				if o.maxAttempts > 0 {
					s.MaxAttempts = o.maxAttempts
				}
				s.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(noRetryUnreachable)}, s.Retryables...)
			})
		}),
	}
	if debug && o.log != nil {
		opts = append(opts, config.WithLogger(logging.NewStandardLogger(o.log)), config.WithClientLogMode(aws.LogRetries|aws.LogDeprecatedUsage))
	} else {
		opts = append(opts, config.WithLogger(logging.Nop{}), config.WithClientLogMode(0))
	}
	if !imdsAllowed() {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if o.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.profile))
	}
	if o.appID != "" {
		opts = append(opts, config.WithAppID(o.appID))
	}
	if o.region != "" {
		opts = append(opts, config.WithRegion(o.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, explainAWS(err, o.profile)
	}
	if !imdsAllowed() && aws.IsCredentialsProvider(cfg.Credentials, (*ec2rolecreds.Provider)(nil)) {
		// Nothing configured: the chain fell through to the instance role.
		return cfg, &envError{msg: noCredentials}
	}
	cctx, cancel := context.WithTimeout(ctx, credentialTimeout)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
		return cfg, explainAWS(err, o.profile)
	}
	return cfg, nil
}

// imdsAllowed: the instance metadata service is asked for credentials only
// when AWS_EC2_METADATA_DISABLED says false (on an EC2 instance).
func imdsAllowed() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("AWS_EC2_METADATA_DISABLED")))
	return v == "false" || v == "0"
}

// noRetryUnreachable: a connection that cannot be opened (refused, no such
// host, no route, timed out) is reported at once rather than retried.
func noRetryUnreachable(err error) aws.Ternary {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return aws.FalseTernary
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// whoAmI is the first AWS call of most commands: which account the
// credentials belong to. Its errors are explained.
func whoAmI(ctx context.Context, cfg aws.Config, profile string) (string, error) {
	if cfg.Region == "" {
		return "", &envError{msg: noRegion}
	}
	ctx, cancel := context.WithTimeout(ctx, whoAmITimeout)
	defer cancel()
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", explainAWS(err, profile)
	}
	return aws.ToString(out.Account), nil
}

// connect loads the configuration and asks who the caller is.
func connect(ctx context.Context, o awsOptions) (aws.Config, string, error) {
	cfg, err := loadAWS(ctx, o)
	if err != nil {
		return cfg, "", err
	}
	me, err := whoAmI(ctx, cfg, o.profile)
	return cfg, me, err
}

// wrongAccount is the sentence for credentials of another account than the
// one the configuration file names.
func wrongAccount(o awsOptions, me, want, file, why string) error {
	return &envError{msg: fmt.Sprintf("these AWS credentials (%s) are for account %s, but hub_account in %s is %s, and %s: set AWS_PROFILE (or --profile) to a profile of account %s",
		credentialSource(o.profile), me, file, want, why, want)}
}

// envError is a problem with the AWS environment, said in one sentence with
// its fix; err is the SDK's own error (shown with --debug).
type envError struct {
	msg string
	err error
}

func (e *envError) Error() string { return e.msg }
func (e *envError) Unwrap() error { return e.err }

const (
	noCredentials = "no AWS credentials found: set AWS_PROFILE (or --profile) to a profile in ~/.aws/config, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; on an EC2 instance, set AWS_EC2_METADATA_DISABLED=false to use its role"
	noRegion      = "no AWS Region: set AWS_REGION (or --region), or a region in the profile"
)

// explainAWS turns an error about the AWS environment (credentials, profile,
// account, endpoint) into an *envError; other errors are returned as they
// are.
func explainAWS(err error, profile string) error {
	if err == nil {
		return nil
	}
	var ee *envError
	if errors.As(err, &ee) {
		return err
	}
	if msg := describeAWS(err, profile); msg != "" {
		return &envError{msg: msg, err: err}
	}
	return err
}

func describeAWS(err error, profile string) string {
	var notExist config.SharedConfigProfileNotExistError
	if errors.As(err, &notExist) {
		return fmt.Sprintf("the AWS profile %q is not defined: \"aws configure list-profiles\" lists the profiles; set AWS_PROFILE (or --profile) to one of them", notExist.Profile)
	}
	var sso *ssocreds.InvalidTokenError
	if errors.As(err, &sso) {
		p := profileName(profile)
		return fmt.Sprintf("the AWS SSO session of profile %q has expired or was never started: run \"aws sso login --profile %s\"", p, p)
	}
	var op *smithy.OperationError
	if errors.As(err, &op) && op.ServiceID == imds.ServiceID {
		if strings.Contains(op.Err.Error(), "access disabled") {
			return noCredentials
		}
		return "no AWS credentials found: no profile or access keys, and the EC2 instance metadata service gave none (" + short(op.Err) + "): set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		src := credentialSource(profile)
		switch api.ErrorCode() {
		case "ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired":
			return fmt.Sprintf("the AWS credentials (%s) have expired: %s", src, refreshHint(profile))
		case "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature", "AuthFailure", "InvalidAccessKeyId":
			return fmt.Sprintf("AWS rejected the credentials (%s) with %s: %s", src, api.ErrorCode(), refreshHint(profile))
		}
		return ""
	}
	if endpoint, cause, ok := unreachable(err); ok {
		if env := endpointVariable(); env != "" {
			return fmt.Sprintf("cannot reach the AWS endpoint %s (%s): %s is set to %s; start that endpoint or unset the variable", endpoint, cause, env, os.Getenv(env))
		}
		return fmt.Sprintf("cannot reach the AWS endpoint %s (%s): check the network, the proxy (HTTPS_PROXY) and the Region", endpoint, cause)
	}
	return ""
}

// unreachable recognises a connection that could not be made or was not
// answered in time.
func unreachable(err error) (endpoint, cause string, ok bool) {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			endpoint = u.Scheme + "://" + u.Host
		}
	}
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		return endpoint, "no such host " + dns.Name, true
	case errors.As(err, &op) && op.Op == "dial":
		cause := short(op.Err)
		if i := strings.LastIndex(cause, ": "); i >= 0 {
			cause = cause[i+2:]
		}
		return endpoint, cause, true
	case errors.Is(err, context.DeadlineExceeded) && endpoint != "":
		return endpoint, "no answer in time", true
	}
	return "", "", false
}

func endpointVariable() string {
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_ENDPOINT_URL") && v != "" {
			return k
		}
	}
	return ""
}

// credentialSource says where the SDK took the credentials from, in the
// order it looks: --profile, access keys in the environment, AWS_PROFILE.
func credentialSource(flagProfile string) string {
	switch {
	case flagProfile != "":
		return fmt.Sprintf("profile %q", flagProfile)
	case os.Getenv("AWS_ACCESS_KEY_ID") != "":
		return "AWS_ACCESS_KEY_ID in the environment"
	}
	return fmt.Sprintf("profile %q", profileName(""))
}

func profileName(flagProfile string) string {
	switch {
	case flagProfile != "":
		return flagProfile
	case os.Getenv("AWS_PROFILE") != "":
		return os.Getenv("AWS_PROFILE")
	}
	return "default"
}

func refreshHint(flagProfile string) string {
	if flagProfile == "" && os.Getenv("AWS_ACCESS_KEY_ID") != "" {
		return "export fresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or unset them and set AWS_PROFILE"
	}
	p := profileName(flagProfile)
	return fmt.Sprintf("refresh profile %q (for SSO: aws sso login --profile %s), or set AWS_PROFILE (or --profile) to another", p, p)
}

func short(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ", "); i >= 0 && strings.HasPrefix(s, "operation error") {
		s = s[i+2:]
	}
	return s
}

// awsError prints an AWS error as its service, operation, code and message,
// without the SDK's HTTP details, and unwraps to it (explainAWS and
// errors.As still see it; --debug prints it whole).
type awsError struct{ err error }

func (e awsError) Error() string { return brief(e.err) }
func (e awsError) Unwrap() error { return e.err }

func brief(err error) string {
	var ee *envError
	if errors.As(err, &ee) {
		return ee.msg
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		return err.Error()
	}
	msg := api.ErrorCode()
	if m := api.ErrorMessage(); m != "" {
		msg += ": " + m
	}
	var op *smithy.OperationError
	if errors.As(err, &op) {
		msg = op.ServiceID + " " + op.OperationName + ": " + msg
	}
	return msg
}

// hubConn is the hub as a command reaches it: kmsguard.yaml's home_region
// (unless --region says otherwise) and hub_account, checked against the
// credentials.
type hubConn struct {
	cfg  aws.Config
	file *kgconfig.Config // nil without --config
	me   string
}

// connectHub loads cfgFile (when given), connects in region (default: its
// home_region) and refuses credentials of another account than its
// hub_account, saying why the hub is needed. appID names the caller in
// the requests' user agent ("" for none). ok is false, and code the exit
// code, when that fails.
func connectHub(ctx context.Context, c *call, af *awsFlags, region, cfgFile, why, appID string) (h hubConn, code int, ok bool) {
	o := af.options(c.stderr)
	o.region, o.appID = region, appID
	if cfgFile != "" {
		file, err := kgconfig.Load(cfgFile)
		if err != nil {
			return h, c.badInput(err), false
		}
		if o.region == "" {
			o.region = file.HomeRegion
		}
		h.file = file
	}
	cfg, me, err := connect(ctx, o)
	if err != nil {
		return h, c.failed(err), false
	}
	if h.file != nil && me != h.file.HubAccount {
		return h, c.failed(wrongAccount(o, me, h.file.HubAccount, cfgFile, why)), false
	}
	h.cfg, h.me = cfg, me
	return h, exitOK, true
}
