package keydeletion_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/keydeletion"
	"github.com/kmsguard/kmsguard/internal/faultproxy"
)

// faultyRunner runs key-deletion with the SDK configured as in Lambda (six
// attempts, standard retryer) but short backoffs, through a fault proxy.
func faultyRunner(t *testing.T, w *world) (*guardrail.Runner, *faultproxy.Proxy) {
	t.Helper()
	p := faultproxy.New(srv.URL)
	t.Cleanup(p.Close)
	cfg := p.Config(w.Config)
	h, err := bootstrap.Load(w.ctx, bootstrap.Options{Guardrails: []guardrail.Entry{keydeletion.Entry()}, Log: slog.New(slog.DiscardHandler), AWS: &cfg, TopicARN: w.TopicARN, HubAccount: hubAccount})
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.Runner("key-deletion")
	if err != nil {
		t.Fatal(err)
	}
	return r, p
}

// Transient faults on every step: the remediation still completes in one
// invocation, and exactly one alert says so.
func TestFaults_TransientAreAbsorbed(t *testing.T) {
	w := newWorld(t)
	id := w.pendingKey(memberAccount, "alias/faulty", nil)
	event := w.deliver(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, id, "", ""))
	r, p := faultyRunner(t, w)
	p.Inject("DescribeKey", faultproxy.Fault{Kind: faultproxy.Reset, Times: 1})
	p.Inject("ListResourceTags", faultproxy.Fault{Kind: faultproxy.Slow, Times: 1, Delay: 200 * time.Millisecond})
	p.Inject("CancelKeyDeletion", faultproxy.Fault{Kind: faultproxy.Throttle, Times: 2})
	p.Inject("EnableKey", faultproxy.Fault{Kind: faultproxy.Unavailable, Times: 1})
	p.Inject("Publish", faultproxy.Fault{Kind: faultproxy.InternalError, Times: 1})

	out, err := r.Handle(w.ctx, event)
	if err != nil || out.Action != "cancel-deletion,enable-key" || !out.Alerted {
		t.Fatalf("%+v %v", out, err)
	}
	if s := w.state(memberAccount, id); s != kmstypes.KeyStateEnabled {
		t.Errorf("key is %s", s)
	}
	if n := p.Calls("CancelKeyDeletion"); n != 3 {
		t.Errorf("CancelKeyDeletion called %d times, want 3 (two throttled)", n)
	}
	if a := w.alerts(); len(a) != 1 || !strings.HasSuffix(a[0].Subject, "— cancelled") {
		t.Errorf("alerts %+v", a)
	}
}

// A persistent fault: the invocation fails (Lambda retries, then the DLQ)
// and an alert says the remediation failed.
func TestFaults_PersistentFailLoudly(t *testing.T) {
	w := newWorld(t)
	id := w.pendingKey(memberAccount, "alias/broken", nil)
	event := w.deliver(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, id, "", ""))
	r, p := faultyRunner(t, w)
	p.Inject("CancelKeyDeletion", faultproxy.Fault{Kind: faultproxy.Unavailable})

	out, err := r.Handle(w.ctx, event)
	if err == nil || guardrail.IsTerminal(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if n := p.Calls("CancelKeyDeletion"); n != 6 {
		t.Errorf("CancelKeyDeletion tried %d times, want the SDK's 6 attempts", n)
	}
	if _, lerr := r.LambdaHandler()(w.ctx, event); lerr == nil {
		t.Error("the Lambda handler must return the error so Lambda retries and then uses the DLQ")
	}
	if s := w.state(memberAccount, id); s != kmstypes.KeyStatePendingDeletion {
		t.Errorf("key is %s", s)
	}
	a := w.alerts()
	if len(a) == 0 || !strings.HasSuffix(a[0].Subject, "— remediation FAILED") || out.Error == "" {
		t.Errorf("alerts %+v, outcome %+v", a, out)
	}
}

// The answer to CancelKeyDeletion is lost after it took effect; the SDK
// retries it. The key still ends Enabled, once, with one alert.
func TestFaults_LostAnswerIsNotHarmful(t *testing.T) {
	w := newWorld(t)
	id := w.pendingKey(memberAccount, "alias/lost", nil)
	event := w.deliver(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, id, "", ""))
	r, p := faultyRunner(t, w)
	p.Inject("CancelKeyDeletion", faultproxy.Fault{Kind: faultproxy.LostAnswer, Times: 1})
	out, err := r.Handle(w.ctx, event)
	if err != nil || !strings.HasPrefix(out.Action, "cancel-deletion") {
		t.Fatalf("%+v %v", out, err)
	}
	if s := w.state(memberAccount, id); s != kmstypes.KeyStateEnabled {
		t.Errorf("key is %s", s)
	}
	if n := len(w.alerts()); n != 1 {
		t.Errorf("%d alerts", n)
	}
	// And a retry of the whole event by Lambda is a no-op.
	out, err = r.Handle(w.ctx, event)
	if err != nil || out.Action != guardrail.ActionNone || out.Alerted {
		t.Errorf("retry: %+v %v", out, err)
	}
}
