package hub

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/functions/ledger"
)

// ledgerTable is kmsguard's memory (functions/ledger): on demand, point-in-
// time recovery, encrypted with the hub key, rows expiring (TTL), and an
// index of each account's outcomes by time for `kmsguard history`.
func ledgerTable(stack awscdk.Stack, key awskms.Key) awsdynamodb.Table {
	t := awsdynamodb.NewTable(stack, jsii.String("Ledger"), &awsdynamodb.TableProps{
		TableName:                        jsii.String(ledger.TableName),
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:                          &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:                       awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:                    key,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		TimeToLiveAttribute:              jsii.String("expires"),
		RemovalPolicy:                    awscdk.RemovalPolicy_RETAIN,
	})
	t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:    jsii.String(ledger.AccountIndex),
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("gsi1pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String("gsi1sk"), Type: awsdynamodb.AttributeType_STRING},
	})
	return t
}

// useLedger lets a hub Lambda read and write the ledger by key: record an
// outcome, read a resource's recent ones and its loop-breaker markers, a
// key's states. No delete, no scan (only an operator clears a resource:
// kmsguard history clear).
func useLedger(role awsiam.IRole, t awsdynamodb.Table, key awskms.Key, region *string) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("Ledger"),
		Actions:   jsii.Strings("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"),
		Resources: &[]*string{t.TableArn()},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("LedgerKey"),
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
		Resources:  &[]*string{key.KeyArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("dynamodb."), region, jsii.String(".amazonaws.com")})}},
	}))
}
