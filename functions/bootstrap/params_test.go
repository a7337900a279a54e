package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

type fakeSSM struct {
	value string
	err   error
	calls int
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(f.value)}}, nil
}

func TestParamModes_RefreshEveryMinute(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &fakeSSM{value: `{"modes":{"default":"remediate"}}`}
	p := &paramModes{api: f, name: ConfigParameter, log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
	p.set(runconfig.ModeConfig{Default: guardrail.ModeRemediate}, now)

	if m := p.Resolve("111122223333", "key-deletion", guardrail.ModeRemediate); m.Mode != guardrail.ModeRemediate || f.calls != 0 {
		t.Fatalf("%+v after %d calls", m, f.calls)
	}
	// `kmsguard mode set` flips the kill switch; within a minute it applies.
	f.value = `{"modes":{"kill_switch":true}}`
	now = now.Add(59 * time.Second)
	if m := p.Resolve("111122223333", "key-deletion", guardrail.ModeRemediate); m.Mode != guardrail.ModeRemediate {
		t.Errorf("refreshed too early: %+v", m)
	}
	now = now.Add(2 * time.Second)
	m := p.Resolve("111122223333", "key-deletion", guardrail.ModeRemediate)
	if m.Mode != guardrail.ModeAlert || m.Source != "kill switch (parameter /kmsguard/config)" || f.calls != 1 {
		t.Errorf("%+v after %d calls", m, f.calls)
	}
	// A failed refresh keeps the last good modes and waits a minute to retry.
	f.err = errors.New("throttled")
	now = now.Add(RefreshEvery)
	if m := p.Resolve("111122223333", "key-deletion", guardrail.ModeRemediate); m.Mode != guardrail.ModeAlert {
		t.Errorf("%+v", m)
	}
	p.Resolve("111122223333", "key-deletion", guardrail.ModeRemediate)
	if f.calls != 2 {
		t.Errorf("%d calls: a failing parameter must not be read on every event", f.calls)
	}
	// A parameter that turns invalid is a failed refresh too.
	f.err, f.value = nil, `{"modes":{"default":"enforce"}}`
	now = now.Add(RefreshEvery)
	if m := p.Resolve("111122223333", "key-deletion", guardrail.ModeRemediate); m.Mode != guardrail.ModeAlert || m.Source != "kill switch (parameter /kmsguard/config)" {
		t.Errorf("%+v", m)
	}
}

func TestParamModes_NeverReadIsAlertOnly(t *testing.T) {
	now := time.Now()
	p := &paramModes{api: &fakeSSM{err: errors.New("denied")}, name: ConfigParameter, log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
	if m := p.Resolve("111122223333", "key-deletion", guardrail.ModeRemediate); m.Mode != guardrail.ModeAlert {
		t.Errorf("%+v", m)
	}
}
