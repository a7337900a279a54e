package hub

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/infra/scope"
)

// SweepStateMachineName is the organization sweep's state machine.
const SweepStateMachineName = sweep.StateMachineName

// SweepTableName holds the sweep's run and item records.
const SweepTableName = sweep.TableName

// itemRetry is how the state machine retries a work item: Lambda's own
// transient errors and kmsguard's Transient (throttling that outlasted the
// SDK's retries), three more times, 10 s then 20 s then 40 s, jittered so
// retried items do not land together.
var itemRetry = []any{map[string]any{
	"ErrorEquals":     []string{"Transient", "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"},
	"IntervalSeconds": 10, "MaxAttempts": 3, "BackoffRate": 2, "JitterStrategy": "FULL",
}}

// sweepDefinition is the organization sweep in Amazon States Language:
// Plan writes the work items (one per account-Region) to S3; a Distributed
// Map sweeps them, at most ${MaxConcurrency} at once, each item retried
// on transient errors and, if it still fails, recorded as failed (the run
// goes on: ToleratedFailurePercentage 100); Digest aggregates the records
// and sends the one digest.
func sweepDefinition() string {
	lambdaTask := func(payload map[string]any, next string) map[string]any {
		t := map[string]any{
			"Type": "Task", "Resource": "arn:${Partition}:states:::lambda:invoke",
			"Parameters": map[string]any{"FunctionName": "${SweepFunction}", "Payload": payload},
			"Retry":      itemRetry,
		}
		if next == "" {
			t["End"] = true
		} else {
			t["Next"] = next
		}
		return t
	}
	plan := lambdaTask(map[string]any{"phase": "plan", "run.$": "$$.Execution.Name", "execution.$": "$$.Execution.Id"}, "Sweep")
	plan["ResultSelector"] = map[string]any{"run.$": "$.Payload.run", "bucket.$": "$.Payload.bucket", "key.$": "$.Payload.key", "expires.$": "$.Payload.expires"}
	item := lambdaTask(map[string]any{"phase": "item", "run.$": "$.run", "account.$": "$.account", "region.$": "$.region"}, "")
	item["Catch"] = []any{map[string]any{"ErrorEquals": []string{"States.ALL"}, "ResultPath": "$.error", "Next": "Record failure"}}
	item["ResultSelector"] = map[string]any{"status.$": "$.Payload.status"}
	failed := map[string]any{
		"Type": "Task", "Resource": "arn:${Partition}:states:::dynamodb:putItem",
		"Parameters": map[string]any{"TableName": "${Table}", "Item": map[string]any{
			"pk":      map[string]any{"S.$": "States.Format('run#{}', $.run)"},
			"sk":      map[string]any{"S.$": "States.Format('item#{}#{}', $.account, $.region)"},
			"status":  map[string]any{"S": "failed"},
			"error":   map[string]any{"S.$": "States.Format('{}: {}', $.error.Error, $.error.Cause)"},
			"expires": map[string]any{"N.$": "States.Format('{}', $.expires)"},
		}},
		"Retry": []any{map[string]any{"ErrorEquals": []string{"States.ALL"}, "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2}},
		"End":   true,
	}
	sweepMap := map[string]any{
		"Type": "Map",
		"ItemReader": map[string]any{
			"Resource":     "arn:${Partition}:states:::s3:getObject",
			"ReaderConfig": map[string]any{"InputType": "JSON"},
			"Parameters":   map[string]any{"Bucket.$": "$.bucket", "Key.$": "$.key"},
		},
		"ItemSelector": map[string]any{
			"run.$": "$.run", "expires.$": "$.expires",
			"account.$": "$$.Map.Item.Value.account", "region.$": "$$.Map.Item.Value.region",
		},
		"MaxConcurrency":             "${MaxConcurrency}",
		"ToleratedFailurePercentage": 100,
		"ItemProcessor": map[string]any{
			"ProcessorConfig": map[string]any{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
			"StartAt":         "Sweep one account-Region",
			"States":          map[string]any{"Sweep one account-Region": item, "Record failure": failed},
		},
		"ResultPath": nil,
		"Next":       "Digest",
	}
	digest := lambdaTask(map[string]any{"phase": "digest", "run.$": "$.run"}, "")
	b, _ := json.Marshal(map[string]any{
		"Comment": "kmsguard organization sweep: one work item per account-Region, one digest",
		"StartAt": "Plan",
		"States":  map[string]any{"Plan": plan, "Sweep": sweepMap, "Digest": digest},
	})
	// MaxConcurrency is a number: its placeholder is substituted unquoted.
	return strings.ReplaceAll(string(b), `"${MaxConcurrency}"`, "${MaxConcurrency}")
}

// DefaultSweepConcurrency is the sweep's MaxConcurrency when Props has
// none (infra/config.DefaultSweepConcurrency).
const DefaultSweepConcurrency = 40

func concurrency(n int) int {
	if n <= 0 {
		return DefaultSweepConcurrency
	}
	return n
}

// orgSweep builds the organization sweep around the sweep Lambda: the run
// table, the work items bucket, the state machine and its role. It returns
// the state machine's ARN, which the schedule starts.
func orgSweep(stack awscdk.Stack, group constructs.Construct, sh shared, fn awslambda.Function) *string {
	key := sh.key
	table := awsdynamodb.NewTable(group, jsii.String("Runs"), &awsdynamodb.TableProps{
		TableName:                        jsii.String(SweepTableName),
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:                          &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:                       awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey:                    key,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		TimeToLiveAttribute:              jsii.String("expires"),
		RemovalPolicy:                    awscdk.RemovalPolicy_RETAIN,
	})
	bucket := awss3.NewBucket(group, jsii.String("WorkItems"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_KMS,
		EncryptionKey:     key,
		BucketKeyEnabled:  jsii.Bool(true),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		LifecycleRules:    &[]*awss3.LifecycleRule{{Expiration: awscdk.Duration_Days(jsii.Number(7))}},
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	reason := "the bucket holds only each run's list of account-Region work items, written by the sweep and read by its state machine, deleted after 7 days: access logs and versioning would keep nothing worth having"
	scope.Suppress(bucket, "AwsSolutions-S1", reason)
	bucket.Node().DefaultChild().(awscdk.CfnResource).AddMetadata(jsii.String("checkov"), map[string]any{"skip": []any{
		map[string]any{"id": "CKV_AWS_18", "comment": reason},
		map[string]any{"id": "CKV_AWS_21", "comment": reason},
	}})

	// The sweep Lambda: records (read, write by key), the items file.
	fn.AddEnvironment(jsii.String(runconfig.EnvSweepTable), table.TableName(), nil)
	fn.AddEnvironment(jsii.String(runconfig.EnvSweepBucket), bucket.BucketName(), nil)
	fn.Role().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SweepRecords"),
		Actions:   jsii.Strings("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"),
		Resources: &[]*string{table.TableArn()},
	}))
	fn.Role().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SweepWorkItems"),
		Actions:   jsii.Strings("s3:PutObject"),
		Resources: &[]*string{bucket.ArnForObjects(jsii.String("runs/*"))},
	}))
	viaKey := func(sid string, services ...string) awsiam.PolicyStatement {
		var via []*string
		for _, s := range services {
			via = append(via, awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String(s + "."), stack.Region(), jsii.String(".amazonaws.com")}))
		}
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String(sid),
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
			Resources:  &[]*string{key.KeyArn()},
			Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": via}},
		})
	}
	fn.Role().AddToPrincipalPolicy(viaKey("SweepRecordsKey", "dynamodb", "s3"))

	smARN := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":states:"), stack.Region(), jsii.String(":"), stack.Account(), jsii.String(":stateMachine:" + SweepStateMachineName)})
	execARN := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":states:"), stack.Region(), jsii.String(":"), stack.Account(), jsii.String(":execution:" + SweepStateMachineName + "/*")})
	role := awsiam.NewRole(group, jsii.String("StateMachineRole"), &awsiam.RoleProps{
		Description: jsii.String("kmsguard: the organization sweep's state machine"),
		AssumedBy: awsiam.NewPrincipalWithConditions(awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), nil), &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
		}),
	})
	for _, st := range []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("InvokeSweep"), Actions: jsii.Strings("lambda:InvokeFunction"), Resources: &[]*string{fn.FunctionArn()}}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("ReadWorkItems"), Actions: jsii.Strings("s3:GetObject"), Resources: &[]*string{bucket.ArnForObjects(jsii.String("runs/*"))}}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("RecordFailedItems"), Actions: jsii.Strings("dynamodb:PutItem"), Resources: &[]*string{table.TableArn()}}),
		viaKey("WorkItemsAndRecordsKey", "dynamodb", "s3"),
		// A Distributed Map runs its items as child executions of this
		// state machine.
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("RunChildExecutions"), Actions: jsii.Strings("states:StartExecution"), Resources: &[]*string{smARN}}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("WatchChildExecutions"), Actions: jsii.Strings("states:DescribeExecution", "states:StopExecution"), Resources: &[]*string{execARN}}),
	} {
		role.AddToPrincipalPolicy(st)
	}
	role.AddToPrincipalPolicy(denyHubKeyChanges(key))
	scope.Suppress(role, "AwsSolutions-IAM5", scope.ReasonScopedWildcards)

	sm := awsstepfunctions.NewCfnStateMachine(group, jsii.String("StateMachine"), &awsstepfunctions.CfnStateMachineProps{
		StateMachineName: jsii.String(SweepStateMachineName),
		StateMachineType: jsii.String("STANDARD"),
		RoleArn:          role.RoleArn(),
		DefinitionString: jsii.String(sweepDefinition()),
		DefinitionSubstitutions: &map[string]any{
			"Partition":      awscdk.Aws_PARTITION(),
			"SweepFunction":  fn.FunctionArn(),
			"Table":          table.TableName(),
			"MaxConcurrency": jsii.String(strconv.Itoa(concurrency(sh.props.SweepConcurrency))),
		},
	})
	sm.Node().AddDependency(role)
	scope.Suppress(sm, "AwsSolutions-SF1", "each work item's outcome is recorded in the sweep table and the sweep Lambda's log; logging ALL would write tens of thousands of events per organization run")
	scope.Suppress(sm, "AwsSolutions-SF2", "X-Ray tracing would need an X-Ray policy on *; the execution history and the item records show each item")
	return sm.AttrArn()
}
