package logencryption

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/awsenv"
)

// Clients returns the Logs and KMS clients for an account and Region.
type Clients interface {
	Logs(account, region string) (logsAPI, error)
	KMS(account, region string) (kmsAPI, error)
}

type sdkClients struct {
	logs *awsenv.Clients[logsAPI]
	kms  *awsenv.Clients[kmsAPI]
}

func (c sdkClients) Logs(account, region string) (logsAPI, error) { return c.logs.Get(account, region) }
func (c sdkClients) KMS(account, region string) (kmsAPI, error)   { return c.kms.Get(account, region) }

// Guardrail is the log-encryption guardrail.
type Guardrail struct {
	clients  Clients
	modes    guardrail.ModeLookup
	settings Settings
	sleep    func(context.Context, time.Duration) error
	// keys remembers a usable logs key per account and Region for a
	// minute; nil remembers nothing.
	keys *keyCache
}

// New builds the guardrail around per-account clients from provider.
func New(provider *awsenv.Provider, modes guardrail.ModeLookup, settings Settings) *Guardrail {
	return &Guardrail{
		clients: sdkClients{
			logs: awsenv.NewClients(provider, func(c aws.Config) logsAPI { return cloudwatchlogs.NewFromConfig(c) }),
			kms:  awsenv.NewClients(provider, func(c aws.Config) kmsAPI { return kms.NewFromConfig(c) }),
		},
		modes: modes, settings: settings, sleep: guardrail.Sleep, keys: newKeyCache(time.Now),
	}
}

// Spec declares the guardrail.
func (g *Guardrail) Spec() guardrail.Spec { return Spec() }

// Evaluate handles one CreateLogGroup or DisassociateKmsKey event.
func (g *Guardrail) Evaluate(ctx context.Context, ev *cloudtrail.Event) (guardrail.Result, error) {
	out, res, err, done := guardrail.Begin(ev, Spec(), g.modes, "CreateLogGroup", "DisassociateKmsKey")
	if done {
		return res, err
	}
	req, err := ev.Record.Logs()
	if err != nil {
		return guardrail.Reject(out, err)
	}
	if req.LogGroupName == "" {
		return guardrail.Reject(out, fmt.Errorf("%s record names no log group (resourceIdentifier %q is not handled)", ev.Name(), req.ResourceIdentifier))
	}
	if req.KMSKeyID != "" && ev.Name() == "CreateLogGroup" {
		out.Resource, out.Reason = req.LogGroupName, "the log group was created with a KMS key"
		return guardrail.Result{Outcome: out}, nil
	}
	out.Resource = req.LogGroupName
	logs, err := g.clients.Logs(out.Account, out.Region)
	if err != nil {
		if guardrail.IsTerminal(err) {
			return guardrail.Reject(out, err)
		}
		return g.fail(out, ev, LogGroup{Name: req.LogGroupName}, nil, err)
	}
	if g.settings.DelaySeconds > 0 {
		if err := g.sleep(ctx, time.Duration(g.settings.DelaySeconds)*time.Second); err != nil {
			return g.fail(out, ev, LogGroup{Name: req.LogGroupName}, nil, err)
		}
	}
	group, err := observeGroup(ctx, logs, req.LogGroupName)
	if err != nil {
		return g.fail(out, ev, group, nil, err)
	}
	return g.decideAndAct(ctx, out, ev, logs, group)
}

// ReconcileGroup is the sweep's entry for a log group already listed (by
// DescribeLogGroups) in account and Region. Encrypted and excluded groups
// cost no call.
func (g *Guardrail) ReconcileGroup(ctx context.Context, account, region string, group LogGroup, now time.Time) (guardrail.Result, error) {
	if !group.Found || group.KMSKeyID != "" || exemption(group, g.settings) != "" {
		return guardrail.Result{}, nil
	}
	ev := guardrail.SweepEvent(account, region, "logs.amazonaws.com", "CreateLogGroup", group.Name, now)
	spec := Spec()
	out := guardrail.NewOutcome(ev, g.modes.Resolve(account, spec.ID, spec.DefaultMode))
	out.Resource = group.Name
	logs, err := g.clients.Logs(account, region)
	if err != nil {
		return g.fail(out, ev, group, nil, err)
	}
	tags, err := logs.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(group.ARN)})
	if err != nil {
		return g.fail(out, ev, group, nil, fmt.Errorf("list tags of log group %s: %w", group.Name, err))
	}
	group.Tags = tags.Tags
	return g.decideAndAct(ctx, out, ev, logs, group)
}

// decideAndAct is the shared tail of Evaluate and ReconcileGroup.
//
// The logs key is checked before acting with one DescribeKey (remembered
// for a minute): it exists, is customer managed, symmetric and Enabled.
// Whether its policy admits CloudWatch Logs is AssociateKmsKey's own check:
// when CloudWatch Logs refuses the key, the policy is read to say what to
// add.
func (g *Guardrail) decideAndAct(ctx context.Context, out guardrail.Outcome, ev *cloudtrail.Event, logs logsAPI, group LogGroup) (guardrail.Result, error) {
	var key *LogsKey
	var kmsc kmsAPI
	if needsKey(group, g.settings) {
		var err error
		if kmsc, err = g.clients.KMS(out.Account, out.Region); err != nil {
			return g.fail(out, ev, group, nil, err)
		}
		lk, err := g.keys.get(ctx, kmsc, g.settings.keyAlias(), out.Account, out.Region)
		if err != nil {
			return g.fail(out, ev, group, nil, err)
		}
		key = &lk
	}
	in := Input{Group: group, Key: key, Mode: out.Mode, Settings: g.settings}
	d := decide(in)
	out.Reason, out.Severity = d.Reason, d.Severity
	switch d.Action {
	case Ignore:
		return guardrail.Result{Outcome: out}, nil
	case Notify:
		return g.result(out, ev, d, group, key, nil, nil), nil
	}
	out.Action = "associate-kms-key"
	after, err := associate(ctx, logs, group, key.ARN)
	if err != nil && keyRefused(err) {
		// CloudWatch Logs refused the key: find out why and say what to fix.
		g.keys.forget(out.Account, out.Region)
		full, derr := observeKey(ctx, kmsc, g.settings.keyAlias(), out.Region, out.Account, group.ARN)
		if derr == nil && full.Problem != "" {
			in.Key = &full
			d = decide(in)
			out.Action, out.Reason, out.Severity = guardrail.ActionNone, d.Reason, d.Severity
			return g.result(out, ev, d, group, &full, nil, nil), nil
		}
	}
	if err != nil {
		return g.result(out, ev, d, group, key, &after, err), err
	}
	return g.result(out, ev, d, group, key, &after, nil), nil
}

// associate sets the key. CloudWatch Logs's acceptance is the
// verification: it checks the key and its policy before it answers, and a
// read-back may not show the key yet (it can take five minutes to apply).
func associate(ctx context.Context, api logsAPI, group LogGroup, keyARN string) (LogGroup, error) {
	if _, err := api.AssociateKmsKey(ctx, &cloudwatchlogs.AssociateKmsKeyInput{LogGroupName: aws.String(group.Name), KmsKeyId: aws.String(keyARN)}); err != nil {
		return LogGroup{Name: group.Name}, fmt.Errorf("associate %s with log group %s: %w", keyARN, group.Name, err)
	}
	group.KMSKeyID = keyARN
	return group, nil
}

// keyRefused reports CloudWatch Logs refusing the key itself: it does not
// exist, is disabled, or its policy does not let CloudWatch Logs use it for
// this log group (AccessDeniedException or InvalidParameterException).
func keyRefused(err error) bool {
	var denied *logstypes.AccessDeniedException
	var invalid *logstypes.InvalidParameterException
	return errors.As(err, &denied) || errors.As(err, &invalid)
}

func (g *Guardrail) fail(out guardrail.Outcome, ev *cloudtrail.Event, group LogGroup, key *LogsKey, err error) (guardrail.Result, error) {
	d := Decision{Notify, guardrail.SeverityHigh, guardrail.VerdictCheckFailed, "kmsguard could not read the log group or the logs key, so it could not check it"}
	out.Reason, out.Severity = d.Reason, d.Severity
	return g.result(out, ev, d, group, key, nil, err), err
}
