package guardrail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/events/patterns"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
)

type stubGuardrail struct {
	res guardrail.Result
	err error
}

func (s stubGuardrail) Spec() guardrail.Spec {
	return guardrail.Spec{ID: "key-deletion", Triggers: []patterns.Trigger{{Name: "key-deletion-api", Description: "d", EventSource: "kms.amazonaws.com", EventNames: []string{"ScheduleKeyDeletion"}}},
		Actions: []string{"kms:DescribeKey"}, Exemption: guardrail.Exemption{Tag: "kmsguard:x"}, DefaultMode: guardrail.ModeAlert}
}
func (s stubGuardrail) Evaluate(context.Context, *cloudtrail.Event) (guardrail.Result, error) {
	return s.res, s.err
}

type pub struct {
	n   int
	err error
}

func (p *pub) Publish(context.Context, alert.Message) error { p.n++; return p.err }

func decisionLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		if m["msg"] == "decision" {
			lines = append(lines, m)
		}
	}
	return lines
}

func TestRunner(t *testing.T) {
	raw := fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw
	msg := &alert.Message{Severity: "CRITICAL", Guardrail: "key-deletion", Account: "111122223333", Region: "eu-west-1", Action: "x", Verdict: "v", Body: "b"}
	transient := errors.New("throttled")
	tests := []struct {
		name      string
		raw       []byte
		g         stubGuardrail
		pubErr    error
		wantErr   bool
		terminal  bool
		lambdaErr bool
		published int
		alerted   bool
		level     string
	}{
		{"no-op", raw, stubGuardrail{res: guardrail.Result{Outcome: guardrail.Outcome{Reason: "fine"}}}, nil, false, false, false, 0, false, "INFO"},
		{"alert", raw, stubGuardrail{res: guardrail.Result{Alert: msg}}, nil, false, false, false, 1, true, "INFO"},
		{"bad input is terminal", []byte(`{"detail":`), stubGuardrail{}, nil, true, true, false, 0, false, "WARN"},
		{"transient failure is retried and still alerts", raw, stubGuardrail{res: guardrail.Result{Alert: msg}, err: transient}, nil, true, false, true, 1, true, "ERROR"},
		{"terminal failure is not retried", raw, stubGuardrail{err: guardrail.Terminal(errors.New("forged"))}, nil, true, true, false, 0, false, "WARN"},
		{"alert not delivered is retried", raw, stubGuardrail{res: guardrail.Result{Alert: msg}}, errors.New("sns down"), true, false, true, 1, false, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := &pub{err: tt.pubErr}
			r := guardrail.NewRunner(tt.g, p, slog.New(slog.NewJSONHandler(&buf, nil)))
			out, err := r.Handle(context.Background(), tt.raw)
			if (err != nil) != tt.wantErr || (err != nil && guardrail.IsTerminal(err) != tt.terminal) {
				t.Fatalf("err = %v (terminal %v)", err, guardrail.IsTerminal(err))
			}
			if p.n != tt.published || out.Alerted != tt.alerted {
				t.Errorf("published %d alerted %v", p.n, out.Alerted)
			}
			if out.Guardrail != "key-deletion" || out.Action == "" || out.Findings == nil {
				t.Errorf("outcome not completed: %+v", out)
			}
			lines := decisionLines(t, &buf)
			if len(lines) != 1 {
				t.Fatalf("%d decision lines, want 1", len(lines))
			}
			if lines[0]["level"] != tt.level {
				t.Errorf("level %v, want %s", lines[0]["level"], tt.level)
			}
			p2 := &pub{err: tt.pubErr}
			_, lerr := guardrail.NewRunner(tt.g, p2, nil).LambdaHandler()(context.Background(), tt.raw)
			if (lerr != nil) != tt.lambdaErr {
				t.Errorf("lambda error = %v, want error %v", lerr, tt.lambdaErr)
			}
		})
	}
}

type settings struct {
	guardrail.Common
	Days int `json:"days,omitempty" doc:"how many days" default:"7"`
}

func validSpec() guardrail.Spec {
	return guardrail.Spec{
		ID: "key-thing", Summary: "Does a thing.", Concern: "thing", Resource: "KMS key", Reads: "the key",
		Triggers:    []patterns.Trigger{{Name: "key-thing-api", Description: "d", EventSource: "kms.amazonaws.com", EventNames: []string{"DisableKey"}}},
		Actions:     []string{"kms:DescribeKey"},
		Exemption:   guardrail.Exemption{Tag: "kmsguard:skip-thing"},
		DefaultMode: guardrail.ModeAlert, Severity: guardrail.SeverityHigh, FailureSeverity: guardrail.SeverityHigh,
		Settings: settings{},
		Example:  guardrail.Example{Fixture: "key-deletion/disable-key", Calls: []string{"DescribeKey"}, Verdict: "x"},
	}
}

func TestSpecValidate(t *testing.T) {
	ok := validSpec()
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		mut  func(*guardrail.Spec)
		want string
	}{
		"wildcard action":                      {func(s *guardrail.Spec) { s.Actions = []string{"kms:*"} }, "kms:*"},
		"tag outside kmsguard:":                {func(s *guardrail.Spec) { s.Exemption.Tag = "skip" }, "exemption tag"},
		"alerting exemption without a verdict": {func(s *guardrail.Spec) { s.Exemption.Alert = true }, "verdict"},
		"unknown mode":                         {func(s *guardrail.Spec) { s.DefaultMode = "enforce" }, "default mode"},
		"no trigger":                           {func(s *guardrail.Spec) { s.Triggers = nil }, "no triggers"},
		"trigger of another":                   {func(s *guardrail.Spec) { s.Triggers[0].Name = "other-api" }, "must be named key-thing-"},
		"native and API call":                  {func(s *guardrail.Spec) { s.Triggers[0].DetailType = "KMS CMK Deletion" }, "both"},
		"undocumented setting": {func(s *guardrail.Spec) {
			s.Settings = struct {
				X int `json:"x"`
			}{}
		}, "no doc tag"},
		"no example":         {func(s *guardrail.Spec) { s.Example = guardrail.Example{} }, "no example"},
		"unknown sweep kind": {func(s *guardrail.Spec) { s.Sweep.Kind = "bucket" }, "sweep kind"},
		"bad severity":       {func(s *guardrail.Spec) { s.Severity = "LOUD" }, "severity"},
		// An alert-only guardrail (no write action) can only alert: it
		// defaults to alert and its example sets no mode.
		"alert-only defaulting to remediate": {func(s *guardrail.Spec) { s.DefaultMode = guardrail.ModeRemediate }, "alert-only guardrail (no write among its actions) must default to mode alert"},
		"alert-only example with a mode":     {func(s *guardrail.Spec) { s.Example.Mode = guardrail.ModeRemediate }, "sets no mode"},
		// One that remediates ends its example with the write.
		"remediation example ending in a read": {func(s *guardrail.Spec) {
			s.Actions = []string{"kms:DescribeKey", "kms:EnableKey"}
			s.Example.Calls = []string{"EnableKey", "DescribeKey"}
		}, "last call DescribeKey must be its remediation's write"},
	} {
		t.Run(name, func(t *testing.T) {
			bad := validSpec()
			tt.mut(&bad)
			if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v lacks %q", err, tt.want)
			}
		})
	}
	if !ok.AlertOnly() || len(ok.Writes()) != 0 {
		t.Errorf("a spec with only kms:DescribeKey is alert-only: %v", ok.Writes())
	}
	fixer := validSpec()
	fixer.Actions, fixer.DefaultMode = []string{"kms:DescribeKey", "kms:EnableKey"}, guardrail.ModeRemediate
	fixer.Example.Calls = []string{"DescribeKey", "EnableKey"}
	if err := fixer.Validate(); err != nil || fixer.AlertOnly() || len(fixer.Writes()) != 1 {
		t.Errorf("a guardrail that remediates: %v %v", err, fixer.Writes())
	}
	schema, err := guardrail.SettingsSchema(settings{})
	if err != nil || len(schema) != 2 || schema[1].Name != "days" || schema[1].Default != "7" || schema[1].Type != "integer" {
		t.Errorf("schema %+v %v", schema, err)
	}
}

// Every decision line is a valid embedded-metric-format document: _aws
// with a millisecond Timestamp and one directive, every dimension and
// metric a top-level member (dimension values strings, metric values
// numbers), at most 100 metrics and 30 dimensions per set; the values say
// what happened.
func TestRunner_DecisionLineIsEMF(t *testing.T) {
	raw := fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw
	msg := &alert.Message{Severity: "CRITICAL", Guardrail: "key-deletion", Account: "111122223333", Region: "eu-west-1", Action: "x", Verdict: "v", Body: "b"}
	tests := []struct {
		name                   string
		g                      stubGuardrail
		outcome                string
		remediations, failures float64
		alerts                 float64
	}{
		{"remediated", stubGuardrail{res: guardrail.Result{Outcome: guardrail.Outcome{Action: "CancelKeyDeletion"}, Alert: msg}}, guardrail.OutcomeRemediated, 1, 0, 1},
		{"alerted", stubGuardrail{res: guardrail.Result{Alert: msg}}, guardrail.OutcomeAlerted, 0, 0, 1},
		{"nothing", stubGuardrail{}, guardrail.OutcomeNothing, 0, 0, 0},
		{"failed", stubGuardrail{err: errors.New("throttled")}, guardrail.OutcomeFailed, 0, 1, 0},
		{"rejected", stubGuardrail{err: guardrail.Terminal(errors.New("forged"))}, guardrail.OutcomeRejected, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, _ = guardrail.NewRunner(tt.g, &pub{}, slog.New(slog.NewJSONHandler(&buf, nil))).WithMetrics().Handle(context.Background(), raw)
			line := decisionLines(t, &buf)[0]
			aws, ok := line["_aws"].(map[string]any)
			if !ok {
				t.Fatalf("no _aws member: %v", line)
			}
			if ts, ok := aws["Timestamp"].(float64); !ok || ts < 1e12 {
				t.Errorf("Timestamp %v is not epoch milliseconds", aws["Timestamp"])
			}
			directives := aws["CloudWatchMetrics"].([]any)
			if len(directives) != 1 {
				t.Fatalf("%d directives", len(directives))
			}
			d := directives[0].(map[string]any)
			if d["Namespace"] != guardrail.MetricsNamespace {
				t.Errorf("namespace %v", d["Namespace"])
			}
			for _, set := range d["Dimensions"].([]any) {
				if len(set.([]any)) > 30 {
					t.Errorf("dimension set too large: %v", set)
				}
				for _, dim := range set.([]any) {
					if _, ok := line[dim.(string)].(string); !ok {
						t.Errorf("dimension %v is not a top-level string: %v", dim, line[dim.(string)])
					}
				}
			}
			metrics := d["Metrics"].([]any)
			if len(metrics) > 100 {
				t.Errorf("%d metrics", len(metrics))
			}
			for _, m := range metrics {
				name := m.(map[string]any)["Name"].(string)
				if _, ok := line[name].(float64); !ok {
					t.Errorf("metric %s is not a top-level number: %v", name, line[name])
				}
			}
			if line["Guardrail"] != "key-deletion" || line["Outcome"] != tt.outcome || line[guardrail.MetricEvents] != 1.0 ||
				line[guardrail.MetricRemediations] != tt.remediations || line[guardrail.MetricFailures] != tt.failures || line[guardrail.MetricAlerts] != tt.alerts {
				t.Errorf("values: %v", line)
			}
		})
	}
}

// Without WithMetrics (the CLI), the decision line carries no metrics.
func TestRunner_NoMetricsOffLambda(t *testing.T) {
	var buf bytes.Buffer
	_, _ = guardrail.NewRunner(stubGuardrail{}, &pub{}, slog.New(slog.NewJSONHandler(&buf, nil))).Handle(context.Background(), fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw)
	if line := decisionLines(t, &buf)[0]; line["_aws"] != nil || line[guardrail.MetricEvents] != nil {
		t.Errorf("metrics on a terminal line: %v", line)
	}
}

func TestBumpSeverity(t *testing.T) {
	for in, want := range map[guardrail.Severity]guardrail.Severity{
		guardrail.SeverityInfo: guardrail.SeverityWarning, guardrail.SeverityWarning: guardrail.SeverityHigh,
		guardrail.SeverityHigh: guardrail.SeverityCritical, guardrail.SeverityCritical: guardrail.SeverityCritical, "": "",
	} {
		if got := guardrail.BumpSeverity(in); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}
