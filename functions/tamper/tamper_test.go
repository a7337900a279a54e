package tamper

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alerttest"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

type fakeSSM struct {
	history []string
	calls   []string
	err     error
}

// GetParameterHistory pages the history two versions at a time, oldest
// first, as SSM does (versions from 1).
func (f *fakeSSM) GetParameterHistory(_ context.Context, in *ssm.GetParameterHistoryInput, _ ...func(*ssm.Options)) (*ssm.GetParameterHistoryOutput, error) {
	f.calls = append(f.calls, "GetParameterHistory")
	if f.err != nil {
		return nil, f.err
	}
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	out := &ssm.GetParameterHistoryOutput{}
	for i := start; i < len(f.history) && i < start+2; i++ {
		out.Parameters = append(out.Parameters, ssmtypes.ParameterHistory{Name: in.Name, Value: aws.String(f.history[i]), Version: int64(i + 1)})
	}
	if start+2 < len(f.history) {
		out.NextToken = aws.String(strconv.Itoa(start + 2))
	}
	return out, nil
}

type clients struct{ f *fakeSSM }

func (c clients) Get(string, string) (ssmAPI, error) { return c.f, nil }

func runner(f *fakeSSM, a *alerttest.Recorder) *guardrail.Runner {
	return guardrail.NewRunner(guardrail.NewDriver(Spec(), newLogic(Settings{}), clients{f}, runconfig.ModeConfig{}, "123456789012", ""), a, nil)
}

const before = `{"modes":{"default":"remediate"},"guardrails":{"key-policy":{"trusted_accounts":["444455556666"]}}}`
const after = `{"modes":{"default":"remediate","kill_switch":true},"guardrails":{"key-policy":{"trusted_accounts":["444455556666","999988887777"]}}}`

func TestHandle_Fixtures(t *testing.T) {
	for _, f := range fixtures.For(Spec().ID) {
		t.Run(f.Name, func(t *testing.T) {
			fs, a := &fakeSSM{history: []string{before, after}}, &alerttest.Recorder{}
			out, err := runner(fs, a).Handle(context.Background(), f.Raw)
			alerttest.CallsAllowed(t, Spec(), "ssm", fs.calls)
			if f.Name == "tamper/put-rule-by-cloudformation" {
				if err != nil || len(a.Msgs) != 0 || out.Reason == "" {
					t.Fatalf("a deployment alerted: %+v %v", out, err)
				}
				return
			}
			if err != nil || len(a.Msgs) != 1 || out.Severity != guardrail.SeverityCritical || out.Action != guardrail.ActionNone {
				t.Fatalf("%+v %v alerts %d", out, err, len(a.Msgs))
			}
			alerttest.Check(t, a.Msgs[0])
			alerttest.Golden(t, filepath.Base(f.Name), a.Msgs[0])
		})
	}
}

func TestHandle_ConfigDiffAndKmsguardMode(t *testing.T) {
	raw := fixtures.Get("tamper/put-parameter-config").Raw
	fs, a := &fakeSSM{history: []string{before, after}}, &alerttest.Recorder{}
	if _, err := runner(fs, a).Handle(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	text := a.Msgs[0].Text()
	for _, want := range []string{"+ modes.kill_switch: true", `~ guardrails.key-policy.trusted_accounts: ["444455556666"] ->`} {
		if !strings.Contains(text, want) {
			t.Errorf("the diff lacks %q:\n%s", want, text)
		}
	}
	// The version this call wrote is diffed with the one before, however
	// many came after or how many pages the history has.
	a = &alerttest.Recorder{}
	v2 := []byte(strings.Replace(string(raw), `"responseElements": null`, `"responseElements": {"version": 2, "tier": "Standard"}`, 1))
	if _, err := runner(&fakeSSM{history: []string{before, after, `{"modes":{}}`, `{}`, `{"x":1}`}}, a).Handle(context.Background(), v2); err != nil || !strings.Contains(a.Msgs[0].Text(), "+ modes.kill_switch: true") {
		t.Errorf("the written version was not diffed: %v\n%s", err, a.Msgs[0].Text())
	}
	mode := []byte(strings.Replace(string(raw), `"userAgent": "`, `"userAgent": "aws-sdk-go-v2/1.0 app/kmsguard-mode `, 1))
	a = &alerttest.Recorder{}
	out, err := runner(&fakeSSM{history: []string{before, after}}, a).Handle(context.Background(), mode)
	if err != nil || out.Severity != guardrail.SeverityWarning || len(a.Msgs) != 1 {
		t.Errorf("kmsguard mode's change: %+v %v", out, err)
	}
	fs = &fakeSSM{err: context.DeadlineExceeded}
	a = &alerttest.Recorder{}
	out, err = runner(fs, a).Handle(context.Background(), raw)
	if err == nil || !slices.Contains([]string{"check FAILED"}, a.Msgs[0].Verdict) {
		t.Errorf("history unreadable: %+v %v", out, err)
	}
}

// CloudFormation acting for a stack of someone's own is not a deployment.
func TestHandle_OtherStacksAreNotDeployments(t *testing.T) {
	raw := []byte(strings.ReplaceAll(string(fixtures.Get("tamper/put-rule-by-cloudformation").Raw), "stacksets-exec-0123456789abcdef", "MyStackRole"))
	a := &alerttest.Recorder{}
	out, err := runner(&fakeSSM{}, a).Handle(context.Background(), raw)
	if err != nil || out.Severity != guardrail.SeverityCritical || len(a.Msgs) != 1 {
		t.Errorf("%+v %v", out, err)
	}
}

func TestDiff(t *testing.T) {
	if got := diff(before, before); !slices.Equal(got, []string{"no setting changed"}) {
		t.Error(got)
	}
	if got := diff(before, "{"); !slices.Equal(got, []string{"the parameter is not JSON any more"}) {
		t.Error(got)
	}
	if got := diff(`{"a":1}`, `{}`); !slices.Equal(got, []string{"- a: 1"}) {
		t.Error(got)
	}
	if got := diff(before, after); !slices.Equal(got, []string{"+ modes.kill_switch: true", `~ guardrails.key-policy.trusted_accounts: ["444455556666"] -> ["444455556666","999988887777"]`}) {
		t.Error(got)
	}
}

// A mode rule written outside kmsguard mode (here: an account switched to
// alert from the CLI) is CRITICAL and says how to see and restore the
// rules; kmsguard mode's own writes and removals are a WARNING.
func TestHandle_ModeRule(t *testing.T) {
	raw := fixtures.Get("tamper/put-parameter-mode-rule").Raw
	fs, a := &fakeSSM{}, &alerttest.Recorder{}
	out, err := runner(fs, a).Handle(context.Background(), raw)
	if err != nil || out.Severity != guardrail.SeverityCritical || len(fs.calls) != 0 {
		t.Fatalf("%+v %v, calls %v", out, err, fs.calls)
	}
	for _, want := range []string{"mode rule", "/kmsguard/modes/accounts/444455556666/mode", "kmsguard mode get"} {
		if !strings.Contains(a.Msgs[0].Text(), want) {
			t.Errorf("alert lacks %q:\n%s", want, a.Msgs[0].Text())
		}
	}
	del := strings.Replace(string(raw), `"eventName": "PutParameter"`, `"eventName": "DeleteParameter"`, 1)
	del = strings.Replace(del, `"userAgent": "`, `"userAgent": "aws-sdk-go-v2/1.0 app/kmsguard-mode `, 1)
	a = &alerttest.Recorder{}
	if out, err := runner(&fakeSSM{}, a).Handle(context.Background(), []byte(del)); err != nil || out.Severity != guardrail.SeverityWarning {
		t.Errorf("kmsguard mode inherit: %+v %v", out, err)
	}
	// A deployment role never writes the mode store: CRITICAL.
	cfn := strings.Replace(string(raw), `"sessionContext": {`, `"invokedBy": "cloudformation.amazonaws.com", "sessionContext": {`, 1)
	cfn = strings.ReplaceAll(cfn, "role/Admin", "role/cdk-hnb659fds-cfn-exec-role")
	cfn = strings.Replace(cfn, `"userName": "Admin"`, `"userName": "cdk-hnb659fds-cfn-exec-role"`, 1)
	a = &alerttest.Recorder{}
	if out, err := runner(&fakeSSM{}, a).Handle(context.Background(), []byte(cfn)); err != nil || out.Severity != guardrail.SeverityCritical {
		t.Errorf("a deployment role writing a mode rule: %+v %v", out, err)
	}
}

// tamper keeps its own copies of the hub's names (it links no runtime);
// they must be the runtime's.
func TestNamesAreTheRuntimes(t *testing.T) {
	if ModesPath != runconfig.ModesPath {
		t.Errorf("ModesPath %q, runtime %q", ModesPath, runconfig.ModesPath)
	}
}
