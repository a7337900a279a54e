package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/internal/moto"
)

// TestMoto_AgreesWithMatcher puts every hub rule and every forwarding rule
// (rendered for the fixtures' account) into moto's EventBridge (an
// independent matcher) with an SQS target, sends every fixture through
// PutEvents, and checks that moto delivers exactly what our matcher
// predicts: the look-alike role and forged session fixtures included.
func TestMoto_AgreesWithMatcher(t *testing.T) {
	ctx := context.Background()
	srv, err := moto.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cfg, err := srv.Config(ctx, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	eb, sq := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)

	queues := map[string]string{} // rule name -> queue URL
	rules := map[string]patterns.Rule{}
	all := append(catalog.HubRules(catalog.Specs()), catalog.ForwardRules(catalog.Specs(), fixtures.Account, hubAccount, "aws")...)
	for _, r := range all {
		{
			q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(r.Name)})
			if err != nil {
				t.Fatal(err)
			}
			attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(r.Name), EventPattern: aws.String(r.Pattern.JSON())}); err != nil {
				t.Fatalf("moto rejects pattern %s: %v", r.Name, err)
			}
			if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(r.Name), Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
				t.Fatal(err)
			}
			queues[r.Name], rules[r.Name] = *q.QueueUrl, r
		}
	}

	for _, f := range fixtures.All() {
		t.Run(f.Name, func(t *testing.T) {
			var env cloudtrail.Envelope
			if err := json.Unmarshal(f.Raw, &env); err != nil {
				t.Fatal(err)
			}
			out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
				Source: aws.String(env.Source), DetailType: aws.String(env.DetailType),
				Detail: aws.String(string(env.Detail)), Resources: env.Resources,
			}}})
			if err != nil || out.FailedEntryCount != 0 {
				t.Fatalf("PutEvents: %v (failed %s)", err, failed(out))
			}
			for name, url := range queues {
				ours, err := patterns.Match(rules[name].Pattern, f.Raw)
				if err != nil {
					t.Fatal(err)
				}
				msgs, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
				if err != nil {
					t.Fatal(err)
				}
				if got := len(msgs.Messages) == 1; got != ours || len(msgs.Messages) > 1 {
					t.Errorf("rule %s: moto delivered %d, our matcher says %v", name, len(msgs.Messages), ours)
				}
				for _, m := range msgs.Messages {
					if _, err := sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

func failed(out *eventbridge.PutEventsOutput) string {
	if out == nil {
		return "no output"
	}
	return fmt.Sprint(out.FailedEntryCount)
}
