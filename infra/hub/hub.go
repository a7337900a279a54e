// Package hub builds the kmsguard hub stack: the central event bus, one Go
// Lambda per guardrail with its rules, log group, role and dead-letter queue,
// the encrypted alert topic and the alarms. Everything is derived from the
// guardrail specs in functions/hub.
package hub

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/infra/scope"
)

// BusName is the hub event bus that spokes forward to (the spoke health
// check looks for it among the forwarding rules' targets).
const BusName = sweep.HubBusName

// TopicName is the alert topic.
const TopicName = "kmsguard-alerts"

// Props configure the hub stack.
type Props struct {
	awscdk.StackProps
	// Specs are the guardrails to deploy (functions/catalog.Specs()).
	Specs []guardrail.Spec
	// AssetDir holds <guardrail-id>.zip, each a zip with the bootstrap binary.
	AssetDir string
	// AlertEmails get one subscription each (one confirmation per address).
	AlertEmails []string
	// OrganizationID, when set, lets every account of the organization put
	// events on the hub bus and scopes role assumption to the organization.
	OrganizationID string
	// SecurityHub lets each guardrail's role report findings about the hub
	// account's resources to Security Hub (alerts.security_hub).
	SecurityHub bool
	// SweepConcurrency bounds the account-Regions the organization sweep
	// sweeps at once (sweep.max_concurrency; 0: config.DefaultSweepConcurrency).
	SweepConcurrency int
	// RuntimeConfigJSON is runconfig.RuntimeConfig as JSON, written to the
	// SSM parameter the Lambdas read.
	RuntimeConfigJSON string
	// Regions limit the Lambdas' KMS and Logs actions (aws:RequestedRegion).
	Regions []string
	// SweepSchedule runs the scheduled sweep (EventBridge Scheduler
	// expression); empty deploys no sweep.
	SweepSchedule string
	// LogRetention of the Lambda log groups; zero means one year.
	LogRetention awslogs.RetentionDays
}

// NewStack builds the hub stack.
func NewStack(parent constructs.Construct, id string, props *Props) awscdk.Stack {
	if props == nil {
		props = &Props{}
	}
	sp := props.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String("kmsguard hub: guardrail Lambdas, event bus and alerts for KMS keys and CloudWatch Logs encryption")
	}
	sp.AnalyticsReporting = jsii.Bool(false)
	stack := awscdk.NewStack(parent, &id, &sp)
	account, region := stack.Account(), stack.Region()

	key := hubKey(stack, account, region)
	topic := alertTopic(stack, key, account, props.AlertEmails)
	alarmAction := awscloudwatchactions.NewSnsAction(topic)

	bus := awsevents.NewEventBus(stack, jsii.String("Bus"), &awsevents.EventBusProps{EventBusName: jsii.String(BusName)})
	if props.OrganizationID != "" {
		bus.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("OrganizationPutEvents"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
			Actions:    jsii.Strings("events:PutEvents"),
			Resources:  &[]*string{bus.EventBusArn()},
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": props.OrganizationID}},
		}))
	}

	// Events the bus could not deliver to a Lambda land here.
	deliveryDLQ := encryptedQueue(stack, "DeliveryDLQ", key)
	scope.Suppress(deliveryDLQ, "AwsSolutions-SQS3", scope.ReasonIsDLQ)
	queueAlarm(stack, "DeliveryDLQAlarm", deliveryDLQ, "kmsguard hub bus could not deliver events to a guardrail Lambda: inspect the kmsguard delivery DLQ", alarmAction)

	retention := props.LogRetention
	if retention == "" {
		retention = awslogs.RetentionDays_ONE_YEAR
	}
	cfgJSON := props.RuntimeConfigJSON
	if cfgJSON == "" {
		cfgJSON = "{}"
	}
	// Intelligent-Tiering: standard up to 4 KB, advanced above, and no
	// failed update when the configuration shrinks again (SSM cannot turn
	// an advanced parameter back into a standard one).
	param := awsssm.NewStringParameter(stack, jsii.String("Config"), &awsssm.StringParameterProps{
		ParameterName: jsii.String(bootstrap.ConfigParameter),
		Description:   jsii.String("kmsguard runtime configuration from kmsguard.yaml: modes and guardrail settings (kmsguard mode writes the mode store under /kmsguard/modes instead)"),
		StringValue:   jsii.String(cfgJSON),
		Tier:          awsssm.ParameterTier_INTELLIGENT_TIERING,
	})
	sh := shared{props: props, key: key, topic: topic, param: param, retention: retention, alarmAction: alarmAction, dlqs: &[]namedQueue{{"delivery", deliveryDLQ}},
		ledger: ledgerTable(stack, key)}
	var ruleARNs []*string
	for _, spec := range props.Specs {
		if err := spec.Validate(); err != nil {
			panic(err.Error()) // infra/app validates the catalog first; this guards other callers
		}
		ruleARNs = append(ruleARNs, guardrailFunction(stack, spec, sh, bus, deliveryDLQ)...)
	}
	if props.SweepSchedule != "" {
		sweepFunction(stack, props, sh)
	}
	dashboard(stack, props.Specs, *sh.dlqs, props.SweepSchedule != "", alarmAction)
	// EventBridge may only send to the delivery DLQ from our rules.
	if len(ruleARNs) > 0 {
		deliveryDLQ.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("EventBridgeDeadLetters"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
			Actions:    jsii.Strings("sqs:SendMessage"),
			Resources:  &[]*string{deliveryDLQ.QueueArn()},
			Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": ruleARNs}},
		}))
	}
	awscdk.NewCfnOutput(stack, jsii.String("AlertTopicArn"), &awscdk.CfnOutputProps{Value: topic.TopicArn()})
	awscdk.NewCfnOutput(stack, jsii.String("EventBusArn"), &awscdk.CfnOutputProps{Value: bus.EventBusArn()})
	return stack
}

// hubKey encrypts the topic, the queues and the log groups. AWS services
// that write to them get only what they need, from this account.
func hubKey(stack awscdk.Stack, account, region *string) awskms.Key {
	key := awskms.NewKey(stack, jsii.String("HubKey"), &awskms.KeyProps{
		Alias:             jsii.String("alias/kmsguard/hub"),
		Description:       jsii.String("kmsguard hub: encrypts the alert topic, dead-letter queues and Lambda logs"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	for _, svc := range []string{"events.amazonaws.com", "cloudwatch.amazonaws.com"} {
		key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("Allow" + strings.Split(svc, ".")[0]),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(svc), nil)},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": account}},
		}), jsii.Bool(false))
	}
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchLogs"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("logs."), region, jsii.String(".amazonaws.com")}), nil)},
		Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnLike": map[string]any{
			"kms:EncryptionContext:aws:logs:arn": awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":logs:"), region, jsii.String(":"), account, jsii.String(":*")}),
		}},
	}), jsii.Bool(false))
	return key
}

func alertTopic(stack awscdk.Stack, key awskms.Key, account *string, emails []string) awssns.Topic {
	topic := awssns.NewTopic(stack, jsii.String("AlertTopic"), &awssns.TopicProps{
		TopicName:   jsii.String(TopicName),
		DisplayName: jsii.String("kmsguard"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": account}},
	}))
	for _, e := range emails {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(e), nil))
	}
	return topic
}

func encryptedQueue(stack constructs.Construct, id string, key awskms.Key) awssqs.Queue {
	return awssqs.NewQueue(stack, jsii.String(id), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: key,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
	})
}

func queueAlarm(scope constructs.Construct, id string, q awssqs.Queue, description string, action awscloudwatch.IAlarmAction) {
	alarm := awscloudwatch.NewAlarm(scope, jsii.String(id), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(description),
		Metric:             q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	alarm.AddAlarmAction(action)
}

// guardrailFunction builds one guardrail: role, log group, Lambda, on-failure
// DLQ and alarms, and one rule on the hub bus per trigger. It returns the
// rule ARNs.
// shared are the hub resources every function uses.
type shared struct {
	props       *Props
	key         awskms.Key
	topic       awssns.Topic
	param       awsssm.StringParameter
	retention   awslogs.RetentionDays
	alarmAction awscloudwatch.IAlarmAction
	// dlqs are every hub DLQ, for the dashboard.
	dlqs *[]namedQueue
	// ledger is kmsguard's memory, which every hub Lambda records in.
	ledger awsdynamodb.Table
}

type namedQueue struct {
	name  string
	queue awssqs.Queue
}

// function describes one hub Lambda.
type function struct {
	ID, RoleName, Summary string
	Actions               []string
	// MemberRoles are the roles it may assume in member accounts.
	MemberRoles    []string
	TimeoutSeconds float64
	MemoryMB       float64
	// FailureText explains the failure DLQ alarm.
	FailureText string
	// Findings lets it report findings to Security Hub in the hub account.
	Findings bool
}

// hubFunction builds a hub Lambda: its role (the function's actions on the
// account's keys and log groups, the remediator role elsewhere, its log
// group, the topic and the configuration parameter), pre-created encrypted
// log group, on-failure DLQ and alarms.
func hubFunction(stack awscdk.Stack, f function, sh shared) (awslambda.Function, constructs.Construct) {
	props, key, topic, param, retention, alarmAction := sh.props, sh.key, sh.topic, sh.param, sh.retention, sh.alarmAction
	group := constructs.NewConstruct(stack, jsii.String(scope.ConstructID(f.ID)))
	account := stack.Account()

	role := awsiam.NewRole(group, jsii.String("Role"), &awsiam.RoleProps{
		// A fixed name: the event patterns exclude calls made by it, so
		// kmsguard never reacts to its own remediation in the hub account.
		RoleName:    jsii.String(f.RoleName),
		Description: jsii.String("kmsguard " + f.ID + " Lambda"),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
	})
	grants, err := scope.Grants(f.Actions, account, props.Regions...)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", f.ID, err))
	}
	for _, g := range grants {
		role.AddToPrincipalPolicy(g.Statement())
	}
	// In an organization, the function acts in member accounts through its
	// own member role(s) only; in single-account mode it never leaves the
	// hub account, so it may assume nothing.
	if props.OrganizationID != "" && len(f.MemberRoles) > 0 {
		var roles []*string
		for _, r := range f.MemberRoles {
			roles = append(roles, awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":iam::*:role/" + r)}))
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AssumeOwnMemberRoles"),
			Actions:    jsii.Strings("sts:AssumeRole"),
			Resources:  &roles,
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": props.OrganizationID}},
		}))
	}
	// Nothing kmsguard runs may bypass KMS's lockout check, nor change or
	// delete the hub's own key, whatever its actions allow on the
	// account's keys; and it uses that key only as SNS and SQS need it
	// (kms:GenerateDataKey* and kms:Decrypt): the Encrypt and ReEncrypt*
	// that CDK's queue grants add are denied.
	role.AddToPrincipalPolicy(scope.DenyLockoutBypass())
	role.AddToPrincipalPolicy(scope.DenyKmsguardKeyChanges())
	role.AddToPrincipalPolicy(denyHubKeyChanges(key))

	logGroup := awslogs.NewLogGroup(group, jsii.String("Logs"), &awslogs.LogGroupProps{
		EncryptionKey: key,
		Retention:     retention,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{logGroup.LogGroupArn(), awscdk.Fn_Join(jsii.String(""), &[]*string{logGroup.LogGroupArn(), jsii.String(":log-stream:*")})},
	}))

	failures := encryptedQueue(group, "FailureDLQ", key)
	scope.Suppress(failures, "AwsSolutions-SQS3", scope.ReasonIsDLQ)
	queueAlarm(group, "FailureDLQAlarm", failures, "kmsguard "+f.ID+": "+f.FailureText, alarmAction)
	*sh.dlqs = append(*sh.dlqs, namedQueue{f.ID, failures})

	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadConfiguration"),
		Actions:   jsii.Strings("ssm:GetParameter"),
		Resources: &[]*string{param.ParameterArn()},
	}))
	// The mode store: one parameter per rule under /kmsguard/modes
	// (runconfig.ModesPath), read by path; and, only when rules per
	// organizational unit exist, the account's OUs.
	modesARN := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":ssm:"), awscdk.Aws_REGION(), jsii.String(":"), awscdk.Aws_ACCOUNT_ID(), jsii.String(":parameter" + runconfig.ModesPath)})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadModeStore"),
		Actions:   jsii.Strings("ssm:GetParametersByPath"),
		Resources: &[]*string{modesARN, awscdk.Fn_Join(jsii.String(""), &[]*string{modesARN, jsii.String("/*")})},
	}))
	if f.Findings {
		role.AddToPrincipalPolicy(scope.ReportFindings(account, props.Regions...))
	}
	if props.OrganizationID != "" {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ReadOrganization"),
			// An account's OUs (rules per OU) and its name (alerts). Read
			// only; they answer only in the management or delegated
			// administrator account.
			Actions:   jsii.Strings("organizations:DescribeAccount", "organizations:ListParents"),
			Resources: jsii.Strings("*"),
		}))
	}
	env := map[string]*string{
		runconfig.EnvTopicARN:        topic.TopicArn(),
		runconfig.EnvHubAccount:      account,
		runconfig.EnvConfigParameter: param.ParameterName(),
		runconfig.EnvLedgerTable:     sh.ledger.TableName(),
	}
	useLedger(role, sh.ledger, key, stack.Region())
	fn := awslambda.NewFunction(group, jsii.String("Function"), &awslambda.FunctionProps{
		FunctionName:          jsii.String(guardrail.HubRoleName(f.ID)), // Lambda names its role's session after the function
		Description:           jsii.String(truncate(f.Summary, 256)),
		Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:          awslambda.Architecture_ARM_64(),
		Handler:               jsii.String("bootstrap"),
		Code:                  awslambda.Code_FromAsset(jsii.String(filepath.Join(props.AssetDir, f.ID+".zip")), nil),
		Role:                  role,
		MemorySize:            jsii.Number(f.MemoryMB),
		Timeout:               awscdk.Duration_Seconds(jsii.Number(f.TimeoutSeconds)),
		LogGroup:              logGroup,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
		Environment:           &env,
		EnvironmentEncryption: key,
		RetryAttempts:         jsii.Number(2),
		MaxEventAge:           awscdk.Duration_Hours(jsii.Number(6)),
		OnFailure:             awslambdadestinations.NewSqsDestination(failures),
	})
	topic.GrantPublish(role)
	scope.Suppress(role, "AwsSolutions-IAM5", scope.ReasonScopedWildcards)

	errorsAlarm := awscloudwatch.NewAlarm(group, jsii.String("ErrorsAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String("kmsguard " + f.ID + ": the Lambda failed; Lambda retries, then the event goes to the failure DLQ. Check the function's logs."),
		Metric:             fn.MetricErrors(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	errorsAlarm.AddAlarmAction(alarmAction)

	return fn, group
}

// guardrailFunction builds one guardrail's Lambda and its rules on the hub
// bus, and returns the rule ARNs.
func guardrailFunction(stack awscdk.Stack, spec guardrail.Spec, sh shared, bus awsevents.EventBus, deliveryDLQ awssqs.Queue) []*string {
	fn, group := hubFunction(stack, function{
		ID: spec.ID, RoleName: guardrail.HubRoleName(spec.ID), Summary: spec.Summary, Actions: spec.Actions,
		MemberRoles:    []string{guardrail.MemberRoleName(spec.ID)},
		TimeoutSeconds: 60, MemoryMB: 256, Findings: sh.props.SecurityHub && !spec.EventOnly,
		FailureText: "an event failed after Lambda's retries; the key or log group may be unprotected. Inspect the queue and the function's logs.",
	}, sh)
	var ruleARNs []*string
	for _, r := range spec.HubRules() {
		rule := awsevents.NewCfnRule(group, jsii.String(scope.ConstructID(r.Name)), &awsevents.CfnRuleProps{
			Name:         jsii.String("kmsguard-" + r.Name),
			Description:  jsii.String(r.Description),
			EventBusName: bus.EventBusName(),
			EventPattern: map[string]any(r.Pattern),
			State:        jsii.String("ENABLED"),
			Targets: &[]any{&awsevents.CfnRule_TargetProperty{
				Id:  jsii.String("guardrail"),
				Arn: fn.FunctionArn(),
				RetryPolicy: &awsevents.CfnRule_RetryPolicyProperty{
					MaximumRetryAttempts:     jsii.Number(185),
					MaximumEventAgeInSeconds: jsii.Number(86400),
				},
				DeadLetterConfig: &awsevents.CfnRule_DeadLetterConfigProperty{Arn: deliveryDLQ.QueueArn()},
			}},
		})
		awslambda.NewCfnPermission(group, jsii.String(scope.ConstructID(r.Name)+"Invoke"), &awslambda.CfnPermissionProps{
			Action:       jsii.String("lambda:InvokeFunction"),
			FunctionName: fn.FunctionName(),
			Principal:    jsii.String("events.amazonaws.com"),
			SourceArn:    rule.AttrArn(),
		})
		ruleARNs = append(ruleARNs, rule.AttrArn())
	}
	return ruleARNs
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// SweepID names the sweep Lambda (kmsguard-sweep) and its asset (sweep.zip).
const SweepID = guardrail.SweepID

// sweepFunction builds the scheduled sweep: its Lambda, with every
// guardrail's actions, and an EventBridge Scheduler schedule with a retry
// policy and a DLQ.
func sweepFunction(stack awscdk.Stack, props *Props, sh shared) {
	var actions []string
	for _, spec := range props.Specs {
		for _, a := range spec.Actions {
			if !slices.Contains(actions, a) {
				actions = append(actions, a)
			}
		}
	}
	// The sweep enumerates keys and log groups before it reads each, and
	// lists the organization's accounts.
	// and checks the hub account's own spoke (its rules and DLQ).
	for _, a := range append(append(append(slices.Clone(sweep.Actions), sweep.DiscoveryActions...), sweep.RegionActions...), sweep.HealthActions...) {
		if !slices.Contains(actions, a) {
			actions = append(actions, a)
		}
	}
	fn, group := hubFunction(stack, function{
		ID: SweepID, RoleName: guardrail.HubRoleName(SweepID), Actions: actions,
		MemberRoles:    []string{guardrail.MemberRolePrefix + "*"}, // each guardrail's, and its own read-only one
		Summary:        "kmsguard scheduled sweep: reconciles every key and log group of the configured accounts and Regions, then sends one digest",
		TimeoutSeconds: 900, MemoryMB: 512, Findings: sh.props.SecurityHub, // the hub account's findings
		FailureText: "the scheduled sweep failed after Lambda's retries; nothing was swept this time. Check the function's logs.",
	}, sh)
	dlq := encryptedQueue(group, "ScheduleDLQ", sh.key)
	scope.Suppress(dlq, "AwsSolutions-SQS3", scope.ReasonIsDLQ)
	*sh.dlqs = append(*sh.dlqs, namedQueue{"sweep schedule", dlq})
	invoker := awsiam.NewRole(group, jsii.String("SchedulerRole"), &awsiam.RoleProps{
		Description: jsii.String("kmsguard: EventBridge Scheduler starts the organization sweep"),
		AssumedBy: awsiam.NewPrincipalWithConditions(awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), nil), &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
		}),
	})
	sm := orgSweep(stack, group, sh, fn)
	invoker.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("StartSweep"), Actions: jsii.Strings("states:StartExecution"), Resources: &[]*string{sm},
	}))
	dlq.GrantSendMessages(invoker)
	invoker.AddToPrincipalPolicy(denyHubKeyChanges(sh.key))
	scope.Suppress(invoker, "AwsSolutions-IAM5", scope.ReasonScopedWildcards)
	awsscheduler.NewCfnSchedule(group, jsii.String("Schedule"), &awsscheduler.CfnScheduleProps{
		Name:               jsii.String("kmsguard-sweep"),
		Description:        jsii.String("kmsguard: run the sweep"),
		ScheduleExpression: jsii.String(props.SweepSchedule),
		FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
		State:              jsii.String("ENABLED"),
		Target: &awsscheduler.CfnSchedule_TargetProperty{
			Arn:              sm,
			RoleArn:          invoker.RoleArn(),
			Input:            jsii.String("{}"),
			RetryPolicy:      &awsscheduler.CfnSchedule_RetryPolicyProperty{MaximumRetryAttempts: jsii.Number(2), MaximumEventAgeInSeconds: jsii.Number(3600)},
			DeadLetterConfig: &awsscheduler.CfnSchedule_DeadLetterConfigProperty{Arn: dlq.QueueArn()},
		},
	})
}

// denyHubKeyChanges keeps a hub role from changing the hub key and from the
// key uses SNS and SQS producers do not need (SNS and SQS developer guides:
// a producer needs kms:GenerateDataKey and kms:Decrypt).
func denyHubKeyChanges(key awskms.Key) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:    jsii.String("DenyChangesToTheHubKey"),
		Effect: awsiam.Effect_DENY,
		Actions: jsii.Strings("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DisableKeyRotation", "kms:CreateGrant",
			"kms:Encrypt", "kms:ReEncrypt*"),
		Resources: &[]*string{key.KeyArn()},
	})
}

// memberRoles are the roles a guardrail's Lambda may assume in member
// accounts: its own, unless it decides from the event alone.
func memberRoles(spec guardrail.Spec) []string {
	if spec.EventOnly {
		return nil
	}
	return []string{guardrail.MemberRoleName(spec.ID)}
}
