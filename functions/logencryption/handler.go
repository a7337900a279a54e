package logencryption

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/loggroup"
)

// api is the guardrail's clients for one account and Region.
type api struct {
	logs logsAPI
	kms  kmsAPI
}

// State is the log group, the logs key when the decision needs it, and
// once kmsguard acted, the log group it left.
type State struct {
	Group LogGroup
	// Key is nil when it was not needed (the log group needs nothing).
	Key   *LogsKey
	After *LogGroup
}

// logic is the log-encryption guardrail's part of guardrail.Logic.
type logic struct {
	settings Settings
	sleep    func(context.Context, time.Duration) error
	// keys remembers a usable logs key per account and Region for a
	// minute; nil remembers nothing.
	keys *keyCache
}

func newLogic(s Settings) guardrail.Logic[api, State] {
	return &logic{settings: s, sleep: guardrail.Sleep, keys: newKeyCache(time.Now)}
}

// Target is the log group the record names.
func (l *logic) Target(ev *cloudtrail.Event) (string, error) {
	req, err := ev.Record.Logs()
	if err != nil {
		return "", guardrail.Terminal(err)
	}
	if req.LogGroupName == "" {
		return "", guardrail.Terminal(fmt.Errorf("%s record names no log group (resourceIdentifier %q is not handled)", ev.Name(), req.ResourceIdentifier))
	}
	return req.LogGroupName, nil
}

// Observe waits the configured delay, then reads the log group by its
// exact name (with its tags when it is unencrypted) and, when the decision
// depends on it, the logs key (one DescribeKey, remembered for a minute).
func (l *logic) Observe(ctx context.Context, c *guardrail.Call[api]) (State, error) {
	if req, _ := c.Event.Record.Logs(); req.KMSKeyID != "" && c.Event.Name() == "CreateLogGroup" {
		// Created with a key: nothing to read (the hub rule excludes these).
		return State{Group: LogGroup{Found: true, Name: c.Target, KMSKeyID: req.KMSKeyID}}, nil
	}
	if l.settings.DelaySeconds > 0 {
		if err := l.sleep(ctx, time.Duration(l.settings.DelaySeconds)*time.Second); err != nil {
			return State{Group: LogGroup{Name: c.Target}}, err
		}
	}
	group, err := observeGroup(ctx, c.API.logs, c.Target)
	if err != nil {
		return State{Group: group}, err
	}
	return l.withKey(ctx, c, State{Group: group})
}

// FromListing takes a listed log group without a key, with its tags: the
// sweep's bulk read hands them (TagsRead), else they are read here.
func (l *logic) FromListing(ctx context.Context, c *guardrail.Call[api], resource any) (State, bool, error) {
	group, ok := resource.(loggroup.Group)
	if !ok {
		return State{}, false, fmt.Errorf("the sweep handed log-encryption a %T", resource)
	}
	if !group.Found || group.KMSKeyID != "" || excluded(group, l.settings) != "" {
		return State{Group: group}, false, nil
	}
	if !group.TagsRead {
		tags, err := c.API.logs.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(group.ARN)})
		if err != nil {
			return State{Group: group}, true, fmt.Errorf("list tags of log group %s: %w", group.Name, err)
		}
		group.Tags, group.TagsRead = tags.Tags, true
	}
	st, err := l.withKey(ctx, c, State{Group: group})
	return st, true, err
}

// withKey adds the logs key when the decision depends on it.
func (l *logic) withKey(ctx context.Context, c *guardrail.Call[api], st State) (State, error) {
	if !needsKey(st.Group, l.settings) || exemptTag(st.Group, l.settings.ExemptionTagOr(ExemptionTag)) {
		return st, nil
	}
	k, err := l.keys.get(ctx, c.API.kms, l.settings.keyAlias(), c.Account, c.Region)
	if err != nil {
		return st, err
	}
	st.Key = &k
	return st, nil
}

func (l *logic) Decide(in guardrail.Input[State]) guardrail.Decision { return decide(in, l.settings) }

// Exempt checks the tags Observe read.
func (l *logic) Exempt(_ context.Context, _ *guardrail.Call[api], s *State, tag string) (bool, error) {
	return exemptTag(s.Group, tag), nil
}

func exemptTag(g LogGroup, tag string) bool {
	v, ok := g.Tags[tag]
	return ok && strings.EqualFold(strings.TrimSpace(v), "true")
}

// Act associates the logs key. CloudWatch Logs's acceptance is the
// verification: it checks the key and its policy before it answers, and a
// read-back may not show the key yet (it can take five minutes to apply).
// When CloudWatch Logs refuses the key, its policy is read to say what to
// add.
func (l *logic) Act(ctx context.Context, c *guardrail.Call[api], s *State, _ guardrail.Decision) (string, error) {
	keyARN := s.Key.ARN
	_, err := c.API.logs.AssociateKmsKey(ctx, &cloudwatchlogs.AssociateKmsKeyInput{LogGroupName: aws.String(s.Group.Name), KmsKeyId: aws.String(keyARN)})
	if err == nil {
		after := s.Group
		after.KMSKeyID = keyARN
		s.After = &after
		return "associate-kms-key", nil
	}
	err = fmt.Errorf("associate %s with log group %s: %w", keyARN, s.Group.Name, err)
	if keyRefused(err) {
		l.keys.forget(c.Account, c.Region)
		full, derr := observeKey(ctx, c.API.kms, l.settings.keyAlias(), c.Region, c.Account, s.Group.ARN)
		if derr == nil && full.Problem != "" {
			s.Key = &full
			return "", &guardrail.Declined{Decision: keyProblem(&full)}
		}
	}
	s.After = &LogGroup{Name: s.Group.Name}
	return "associate-kms-key", err
}

// keyRefused reports CloudWatch Logs refusing the key itself: it does not
// exist, is disabled, or its policy does not let CloudWatch Logs use it for
// this log group (AccessDeniedException or InvalidParameterException).
func keyRefused(err error) bool {
	var denied *logstypes.AccessDeniedException
	var invalid *logstypes.InvalidParameterException
	return errors.As(err, &denied) || errors.As(err, &invalid)
}

func (l *logic) Enrich(context.Context, *guardrail.Call[api], *State) {}

func (l *logic) Name(State) string { return "" }

// ResourceID is the log group's ARN (guardrail.Identifier), "" when it was
// not read.
func (l *logic) ResourceID(s State) string { return s.Group.ARN }
