package hub

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/infra/scope"
)

// DashboardName is the hub's CloudWatch dashboard.
const DashboardName = "kmsguard"

// FailureRateThreshold is the share of a guardrail's events in 15 minutes
// that may fail (after Lambda's retries) before its alarm goes off.
const FailureRateThreshold = 0.1

// SweepMetrics are the scheduled sweep's metrics (functions/sweep).
var SweepMetrics = []string{"SweepFindings", "SweepFixed", "SweepErrors", "SweepRegionsNotEnabled"}

// dashboard builds the hub's dashboard from the metrics each invocation
// writes in the embedded metric format (guardrail.MetricsNamespace: events,
// remediations, alerts, failures, duration per guardrail), the DLQ depths
// and the sweep's results, and one failure-rate alarm per guardrail.
func dashboard(stack awscdk.Stack, specs []guardrail.Spec, dlqs []namedQueue, sweep bool, action awscloudwatch.IAlarmAction) {
	period := awscdk.Duration_Minutes(jsii.Number(5))
	metric := func(name, id, stat string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(guardrail.MetricsNamespace), MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{"Guardrail": jsii.String(id)},
			Statistic:     jsii.String(stat), Period: period, Label: jsii.String(id),
		})
	}
	graph := func(title, name, stat string) awscloudwatch.IWidget {
		var ms []awscloudwatch.IMetric
		for _, s := range specs {
			ms = append(ms, metric(name, s.ID, stat))
		}
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &ms, Width: jsii.Number(8), Height: jsii.Number(6)})
	}
	var depths []awscloudwatch.IMetric
	for _, q := range dlqs {
		depths = append(depths, q.queue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Maximum"), Label: jsii.String(q.name)}))
	}
	rows := [][]awscloudwatch.IWidget{
		{awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{Width: jsii.Number(24), Height: jsii.Number(2),
			Markdown: jsii.String("# kmsguard\nEvents, remediations, alerts and failures per guardrail (from each decision line), DLQ depths and the sweep. Failures are counted after Lambda's retries; a failed event is in its guardrail's DLQ.")})},
		{graph("Events handled", guardrail.MetricEvents, "Sum"), graph("Remediations", guardrail.MetricRemediations, "Sum"), graph("Alerts sent", guardrail.MetricAlerts, "Sum")},
		{graph("Failures", guardrail.MetricFailures, "Sum"), graph("Duration p99 (ms)", guardrail.MetricDuration, "p99"),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("DLQ depth"), Left: &depths, Width: jsii.Number(8), Height: jsii.Number(6)})},
	}
	if sweep {
		var ms []awscloudwatch.IMetric
		for _, name := range SweepMetrics {
			ms = append(ms, awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(guardrail.MetricsNamespace), MetricName: jsii.String(name),
				DimensionsMap: &map[string]*string{"Guardrail": jsii.String(guardrail.SweepID)}, Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Days(jsii.Number(1)), Label: jsii.String(name)}))
		}
		rows = append(rows, []awscloudwatch.IWidget{awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Sweep results (per run)"), Left: &ms, Width: jsii.Number(24), Height: jsii.Number(6)})})
	}
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	d := awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{DashboardName: jsii.String(DashboardName), Widgets: &widgets})
	// The stack's tags reach the dashboard, whose CloudFormation schema (as
	// cfn-lint 1.51.0 has it) takes no Tags: leave them off.
	d.Node().DefaultChild().(awscdk.CfnResource).AddPropertyDeletionOverride(jsii.String("Tags"))

	for _, s := range specs {
		rate := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("IF(events > 0, failures / events, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"events":   metric(guardrail.MetricEvents, s.ID, "Sum"),
				"failures": metric(guardrail.MetricFailures, s.ID, "Sum"),
			},
			Period: awscdk.Duration_Minutes(jsii.Number(15)),
			Label:  jsii.String(s.ID + " failure rate"),
		})
		alarm := awscloudwatch.NewAlarm(stack, jsii.String(scope.ConstructID(s.ID)+"FailureRateAlarm"), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String("kmsguard " + s.ID + ": more than 10% of its events failed in 15 minutes (after retries): read the guardrail's log group and its DLQ"),
			Metric:             rate,
			Threshold:          jsii.Number(FailureRateThreshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		alarm.AddAlarmAction(action)
	}
}
