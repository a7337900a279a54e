package alert

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// Publisher sends an alert somewhere.
type Publisher interface {
	Publish(ctx context.Context, m Message) error
}

// snsAPI is the one SNS call kmsguard makes.
type snsAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNS publishes alerts to one topic.
type SNS struct {
	api      snsAPI
	topicARN string
}

// NewSNS returns a publisher for the topic. client is an *sns.Client built
// for the topic's Region.
func NewSNS(client snsAPI, topicARN string) *SNS {
	return &SNS{api: client, topicARN: topicARN}
}

// Publish sends the message with MessageStructure json: email subscribers get
// the text, others the JSON form. Attributes carry severity, guardrail,
// account, region and action for filter policies.
func (p *SNS) Publish(ctx context.Context, m Message) error {
	attrs := map[string]snstypes.MessageAttributeValue{}
	for k, v := range m.Attributes() {
		if v == "" {
			continue // SNS rejects empty attribute values
		}
		attrs[k] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	_, err := p.api.Publish(ctx, &sns.PublishInput{
		TopicArn:          aws.String(p.topicARN),
		Subject:           aws.String(m.Subject()),
		Message:           aws.String(m.Structure()),
		MessageStructure:  aws.String("json"),
		MessageAttributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("publish alert to %s: %w", p.topicARN, err)
	}
	return nil
}
