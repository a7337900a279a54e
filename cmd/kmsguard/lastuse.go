package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// lookupAPI is the CloudTrail call that finds a key's last use.
type lookupAPI interface {
	LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, opts ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error)
}

// MaxOrphanLookups bounds the CloudTrail look-ups an audit makes:
// LookupEvents allows 2 requests per second per account and Region.
const MaxOrphanLookups = 20

// lastUse is the most recent CloudTrail event (90 days of management
// events) that names the key: the evidence for deciding whether an orphaned
// key can go.
func lastUse(ctx context.Context, api lookupAPI, keyARN string) string {
	out, err := api.LookupEvents(ctx, &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String(keyARN)}},
		MaxResults:       aws.Int32(1),
	})
	if err != nil {
		return "last use unknown (CloudTrail LookupEvents: " + brief(err) + ")"
	}
	if len(out.Events) == 0 {
		return "no management event names it in the last 90 days"
	}
	e := out.Events[0]
	return fmt.Sprintf("last named by %s on %s by %s", aws.ToString(e.EventName), aws.ToTime(e.EventTime).UTC().Format(time.RFC3339), aws.ToString(e.Username))
}
