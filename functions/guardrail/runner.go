package guardrail

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
)

// Result is what a guardrail's Evaluate returns: the outcome and, unless the
// outcome is a no-op, the alert to send.
type Result struct {
	Outcome Outcome
	Alert   *alert.Message
}

// Guardrail is implemented by each guardrail package.
type Guardrail interface {
	Spec() Spec
	// Evaluate observes, decides and (in remediate mode) acts on one event.
	// A non-nil error means the work is unfinished: the Result still carries
	// the failure alert. Errors marked Terminal are not retried.
	Evaluate(ctx context.Context, ev *cloudtrail.Event) (Result, error)
}

// Runner is the common path of every guardrail Lambda: parse, evaluate,
// alert, log one decision line, classify the error.
type Runner struct {
	g      Guardrail
	alerts alert.Publisher // nil: no alerts are sent
	log    *slog.Logger
	now    func() time.Time
	// metrics adds the embedded-metric-format members to the decision
	// line: only where CloudWatch Logs reads it (a Lambda logging JSON),
	// not on an operator's terminal.
	metrics bool
	// findings copies each alert to Security Hub; nil: off.
	findings FindingReporter
	// recorder records every outcome (the ledger); nil: off.
	recorder OutcomeRecorder
}

// FindingReporter copies an alert-worthy outcome somewhere security teams
// triage (Security Hub). Its failure is logged, never fails the
// invocation: the alert is the product.
type FindingReporter interface {
	Report(ctx context.Context, out Outcome, m alert.Message) error
}

// WithFindings reports every alerted outcome to f as well.
func (r *Runner) WithFindings(f FindingReporter) *Runner {
	r.findings = f
	return r
}

// WithMetrics makes each decision line a CloudWatch embedded-metric-format
// document too (the deployed Lambdas).
func (r *Runner) WithMetrics() *Runner {
	r.metrics = true
	return r
}

// NewRunner wires a guardrail to its publisher and logger. A nil publisher
// sends no alert (Outcome.Alerted stays false).
func NewRunner(g Guardrail, alerts alert.Publisher, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{g: g, alerts: alerts, log: log, now: time.Now}
}

// Handle processes one raw EventBridge event. The returned error is nil for
// success and for terminal problems (bad input, resources gone); it is
// non-nil, and wraps the cause, when a retry could succeed.
func (r *Runner) Handle(ctx context.Context, raw []byte) (Outcome, error) {
	start := r.now()
	spec := r.g.Spec()
	ev, err := cloudtrail.Parse(raw)
	if err != nil {
		out := Outcome{Guardrail: spec.ID, Action: ActionNone, Reason: "rejected: " + err.Error(), Findings: []string{}, Error: err.Error()}
		r.logOutcome(ctx, out, start, err)
		return out, Terminal(err)
	}
	res, err := r.g.Evaluate(ctx, ev)
	out := res.Outcome
	out.Guardrail = spec.ID
	if out.EventID == "" {
		out.EventID = ev.EventID()
	}
	if out.EventName == "" {
		out.EventName = ev.Name()
	}
	if out.Action == "" {
		out.Action = ActionNone
	}
	if out.Findings == nil {
		out.Findings = []string{}
	}
	if err != nil {
		out.Error = err.Error()
	}
	if res.Alert != nil && r.alerts != nil {
		if perr := r.alerts.Publish(ctx, *res.Alert); perr != nil {
			// The alert is the product: without it the invocation failed,
			// even if the remediation held. The log keeps the alert text.
			r.log.ErrorContext(ctx, "alert not delivered", "subject", res.Alert.Subject(), "text", res.Alert.Text(), "error", perr.Error())
			err = errors.Join(err, perr)
			out.Error = err.Error()
		} else {
			out.Alerted = true
		}
	}
	if r.recorder != nil {
		// Keyed by the event: a retry or a redelivery rewrites its row.
		if rerr := r.recorder.RecordOutcome(ctx, out, ev.When()); rerr != nil {
			r.log.WarnContext(ctx, "outcome not recorded in the ledger", "guardrail", spec.ID, "error", rerr.Error())
		}
	}
	if res.Alert != nil && r.findings != nil {
		if ferr := r.findings.Report(ctx, out, *res.Alert); ferr != nil {
			r.log.WarnContext(ctx, "finding not reported to Security Hub", "guardrail", spec.ID, "account", out.Account, "region", out.Region, "error", ferr.Error())
		}
	}
	r.logOutcome(ctx, out, start, err)
	return out, err
}

func (r *Runner) logOutcome(ctx context.Context, out Outcome, start time.Time, err error) {
	level := slog.LevelInfo
	switch {
	case err != nil && IsTerminal(err):
		level = slog.LevelWarn
	case err != nil:
		level = slog.LevelError
	}
	// One line: the decision, and its metrics in the embedded metric
	// format.
	attrs := []any{
		"guardrail", out.Guardrail,
		"event_id", out.EventID,
		"event_name", out.EventName,
		"account", out.Account,
		"region", out.Region,
		"resource", out.Resource,
		"actor", out.Actor,
		"action", out.Action,
		"reason", out.Reason,
		"mode", string(out.Mode),
		"mode_source", out.ModeSource,
		"severity", string(out.Severity),
		"findings", out.Findings,
		"alerted", out.Alerted,
		"error", out.Error,
		"terminal", err != nil && IsTerminal(err),
		"duration_ms", r.now().Sub(start).Milliseconds(),
	}
	if r.metrics {
		attrs = append(attrs, metricAttrs(out, err, r.now(), r.now().Sub(start))...)
	}
	r.log.Log(ctx, level, "decision", attrs...)
}

// MetricsNamespace is the CloudWatch namespace of kmsguard's metrics.
const MetricsNamespace = "kmsguard"

// Metric names of each invocation (embedded metric format).
const (
	MetricEvents       = "Events"
	MetricRemediations = "Remediations"
	MetricAlerts       = "Alerts"
	MetricFailures     = "Failures"
	MetricDuration     = "Duration"
)

// Outcome classes, the Outcome dimension: few values, so the metrics stay
// cheap (each combination is a custom metric).
const (
	OutcomeRemediated = "remediated"
	OutcomeAlerted    = "alerted"
	OutcomeNothing    = "nothing"
	OutcomeFailed     = "failed"
	OutcomeRejected   = "rejected"
)

// OutcomeClass sorts an invocation into one Outcome dimension value.
func OutcomeClass(out Outcome, err error) string {
	switch {
	case err != nil && IsTerminal(err):
		return OutcomeRejected
	case err != nil:
		return OutcomeFailed
	case out.Action != ActionNone && out.Action != "":
		return OutcomeRemediated
	case out.Alerted:
		return OutcomeAlerted
	}
	return OutcomeNothing
}

// metricAttrs are one log line in CloudWatch's embedded metric format: the
// line the Lambda already writes becomes the metrics, with no API call
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
// The Lambdas log JSON (LoggingFormat JSON), so every attribute is a
// top-level member, as the format requires.
func metricAttrs(out Outcome, err error, now time.Time, d time.Duration) []any {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	class := OutcomeClass(out, err)
	return []any{
		"_aws", map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  MetricsNamespace,
				"Dimensions": [][]string{{"Guardrail"}, {"Guardrail", "Outcome"}},
				"Metrics": []any{
					map[string]string{"Name": MetricEvents, "Unit": "Count"},
					map[string]string{"Name": MetricRemediations, "Unit": "Count"},
					map[string]string{"Name": MetricAlerts, "Unit": "Count"},
					map[string]string{"Name": MetricFailures, "Unit": "Count"},
					map[string]string{"Name": MetricDuration, "Unit": "Milliseconds"},
				},
			}},
		},
		"Guardrail", out.Guardrail,
		"Outcome", class,
		MetricEvents, 1,
		MetricRemediations, b(class == OutcomeRemediated),
		MetricAlerts, b(out.Alerted),
		MetricFailures, b(class == OutcomeFailed),
		MetricDuration, d.Milliseconds(),
	}
}

// LambdaHandler adapts the runner to aws-lambda-go: terminal problems end the
// invocation successfully (they are logged, and retrying cannot help);
// anything else is returned so Lambda retries and then sends the event to the
// on-failure destination. The outcome is the response payload (EventBridge
// discards it; a synchronous invoke, or the demo, reads it).
func (r *Runner) LambdaHandler() func(ctx context.Context, raw json.RawMessage) (Outcome, error) {
	return func(ctx context.Context, raw json.RawMessage) (Outcome, error) {
		out, err := r.Handle(ctx, raw)
		if err != nil && IsTerminal(err) {
			return out, nil
		}
		return out, err
	}
}
