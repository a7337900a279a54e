package sweep

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// SpokeDLQ is the regional spoke's forwarding dead-letter queue
// (infra/spoke): events EventBridge could not deliver to the hub bus.
const SpokeDLQ = "kmsguard-forward-dlq"

// SpokeIssue is something wrong with a target's spoke: its events may not
// reach the hub, so its guardrails may not run on them.
type SpokeIssue struct {
	Target
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

// RulesAPI lists the spoke's forwarding rules.
type RulesAPI interface {
	ListRules(ctx context.Context, in *eventbridge.ListRulesInput, opts ...func(*eventbridge.Options)) (*eventbridge.ListRulesOutput, error)
}

// QueueAPI reads the spoke DLQ's depth.
type QueueAPI interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// MissingRules are the forwarding rules specs need that are not deployed
// and enabled in the target ("" and nil: all there).
func MissingRules(ctx context.Context, api RulesAPI, specs []guardrail.Spec) ([]string, error) {
	want := map[string]bool{}
	for _, r := range catalog.ForwardRules(specs, "ACCOUNT", "HUB", "aws") {
		want[r.Name] = true // the names do not depend on the accounts
	}
	p := eventbridge.ListRulesInput{NamePrefix: aws.String(catalog.ForwardPrefix + "-")}
	for {
		out, err := api.ListRules(ctx, &p)
		if err != nil {
			return nil, err
		}
		for _, r := range out.Rules {
			if r.State == "ENABLED" {
				delete(want, aws.ToString(r.Name))
			}
		}
		if out.NextToken == nil {
			break
		}
		p.NextToken = out.NextToken
	}
	missing := make([]string, 0, len(want))
	for n := range want {
		missing = append(missing, n)
	}
	slices.Sort(missing)
	return missing, nil
}

// SpokeHealth checks a target's spoke: every forwarding rule deployed and
// enabled, and nothing waiting in its DLQ (an event there never reached
// the hub: its guardrail never saw it).
func SpokeHealth(ctx context.Context, t Target, rules RulesAPI, queues QueueAPI, specs []guardrail.Spec) []SpokeIssue {
	var out []SpokeIssue
	add := func(problem, fix string) { out = append(out, SpokeIssue{Target: t, Problem: problem, Fix: fix}) }
	missing, err := MissingRules(ctx, rules, specs)
	switch {
	case err != nil:
		add("the forwarding rules could not be read: "+err.Error(), "allow events:ListRules to kmsguard-remediator-sweep (the global spoke)")
	case len(missing) > 0:
		add(fmt.Sprintf("%d forwarding rules missing or disabled (%s): this account-Region's events do not reach the hub", len(missing), strings.Join(missing, ", ")),
			"deploy the regional spoke here (StackSet kmsguard-regional, or kmsguard-regional-<region>), or enable the rules")
	}
	u, err := queues.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(SpokeDLQ), QueueOwnerAWSAccountId: aws.String(t.Account)})
	var none *sqstypes.QueueDoesNotExist
	switch {
	case errors.As(err, &none):
		add("the forwarding DLQ "+SpokeDLQ+" does not exist: the regional spoke is not deployed here", "deploy the regional spoke here (StackSet kmsguard-regional)")
		return out
	case err != nil:
		add("the forwarding DLQ could not be read: "+err.Error(), "allow sqs:GetQueueUrl and sqs:GetQueueAttributes on "+SpokeDLQ+" to kmsguard-remediator-sweep")
		return out
	}
	a, err := queues.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: u.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		add("the forwarding DLQ could not be read: "+err.Error(), "allow sqs:GetQueueAttributes on "+SpokeDLQ+" to kmsguard-remediator-sweep")
		return out
	}
	if n, _ := strconv.Atoi(a.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]); n > 0 {
		add(fmt.Sprintf("%d events are in the forwarding DLQ %s: they never reached the hub, so no guardrail saw them", n, SpokeDLQ),
			fmt.Sprintf("read them (aws sqs receive-message --queue-url %s --region %s in account %s), check the hub bus policy and the forwarder role, then run kmsguard audit --accounts %s --regions %s to catch what they were about", aws.ToString(u.QueueUrl), t.Region, t.Account, t.Account, t.Region))
	}
	return out
}
