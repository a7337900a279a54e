package bootstrap_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/internal/faultproxy"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// Fault injection for every guardrail of the catalog: each runs with the
// SDK configured as in Lambda (six attempts, standard retryer; short
// backoffs to keep the tests quick) through internal/faultproxy in front of
// moto. The cases come from each spec's Example; the example's event is
// staged by performing the call it records (sandbox.Enact).

// faultyRunner returns the guardrail's runner talking to moto through a
// fault proxy. The world itself (staging, reading back) goes direct.
func faultyRunner(t *testing.T, w *world, id, configJSON string) (*guardrail.Runner, *faultproxy.Proxy) {
	t.Helper()
	p := faultproxy.New(srv.URL)
	t.Cleanup(p.Close)
	cfg := p.Config(w.Config)
	h, err := bootstrap.Load(w.ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &cfg,
		TopicARN: w.TopicARN, HubAccount: sandbox.HubAccount, ConfigJSON: []byte(configJSON)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.Runner(id)
	if err != nil {
		t.Fatal(err)
	}
	return r, p
}

// faultCase is one guardrail's example.
type faultCase struct {
	spec   guardrail.Spec
	config string
	// reads are the calls before the remediation's first write.
	reads []string
	write string
	// verdict ends the subject of the alert of a successful remediation.
	verdict string
}

func faultCases() []faultCase {
	var out []faultCase
	for _, s := range catalog.Specs() {
		ex := s.Example
		tc := faultCase{spec: s, verdict: "— " + ex.Verdict}
		for _, c := range ex.Calls {
			read := guardrail.IsRead(c)
			if read && tc.write == "" {
				tc.reads = append(tc.reads, c)
			} else if tc.write == "" {
				tc.write = c // the first write
			}
		}
		if ex.Mode != "" {
			tc.config = fmt.Sprintf(`{"modes":{"guardrails":{%q:%q}}}`, s.ID, ex.Mode)
		}
		out = append(out, tc)
	}
	return out
}

// fixed reports whether the example's problem is gone: the guardrail, run
// again directly on moto (no proxy, no topic) in remediate mode, finds
// nothing to do.
func (w *world) fixed(id string, event []byte) bool {
	h, err := bootstrap.Load(w.ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &w.Config,
		HubAccount: sandbox.HubAccount, Mode: guardrail.ModeRemediate})
	if err != nil {
		w.t.Fatal(err)
	}
	r, err := h.Runner(id)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := r.Handle(w.ctx, event)
	return err == nil && out.Action == guardrail.ActionNone
}

// faultSetup stages the case's example in a fresh world, sends its event
// through moto's EventBridge, and returns what the rule delivered with the
// guardrail's runner behind a fault proxy.
func faultSetup(t *testing.T, tc faultCase) (*world, []byte, *guardrail.Runner, *faultproxy.Proxy) {
	t.Helper()
	w := newWorld(t, tc.config)
	staged, err := w.Enact(w.ctx, fixtures.Get(tc.spec.Example.Fixture).Raw)
	if err != nil {
		t.Fatal(err)
	}
	events, err := w.Deliver(w.ctx, staged)
	if err != nil || len(events) == 0 {
		t.Fatalf("delivered %d events: %v", len(events), err)
	}
	r, p := faultyRunner(t, w, tc.spec.ID, tc.config)
	return w, events[0], r, p
}

// Every call a guardrail makes in its example is one of its spec's actions
// (what its IAM role is granted); the alert's Publish and the role
// assumption are the runtime's own.
func TestFaults_CallsAreTheSpecsActions(t *testing.T) {
	for _, tc := range faultCases() {
		t.Run(tc.spec.ID, func(t *testing.T) {
			w, event, r, p := faultSetup(t, tc)
			if out, err := r.Handle(w.ctx, event); err != nil || (out.Action == guardrail.ActionNone && tc.write != "") || !out.Alerted {
				t.Fatalf("%+v %v", out, err)
			}
			for _, op := range p.Seen() {
				if op == "sns:Publish" || op == "sts:AssumeRole" {
					continue
				}
				if !slices.Contains(tc.spec.Actions, op) {
					t.Errorf("%s called %s, which its spec's Actions do not grant", tc.spec.ID, op)
				}
			}
			var calls []string
			for _, c := range tc.spec.Example.Calls {
				if p.Calls(c) == 0 {
					calls = append(calls, c)
				}
			}
			if len(calls) > 0 {
				t.Errorf("the example's calls %v were not made", calls)
			}
		})
	}
}

// Transient faults on every call of the example — a dropped connection,
// a slow answer, throttling, 503 and 500 — are absorbed within one
// invocation: the problem is fixed (by a guardrail that remediates) and
// exactly one alert says so, with the example's verdict (an alert-only
// guardrail's too: a transient fault never turns into "check FAILED").
func TestFaults_TransientAreAbsorbed(t *testing.T) {
	for _, tc := range faultCases() {
		t.Run(tc.spec.ID, func(t *testing.T) {
			w, event, r, p := faultSetup(t, tc)
			p.Inject(tc.reads[0], faultproxy.Fault{Kind: faultproxy.Reset, Times: 1})
			if len(tc.reads) > 1 {
				p.Inject(tc.reads[1], faultproxy.Fault{Kind: faultproxy.Slow, Times: 1, Delay: 200 * time.Millisecond})
			}
			if len(tc.reads) > 2 {
				p.Inject(tc.reads[2], faultproxy.Fault{Kind: faultproxy.Unavailable, Times: 1})
			}
			if tc.write != "" {
				p.Inject(tc.write, faultproxy.Fault{Kind: faultproxy.Throttle, Times: 2})
			}
			p.Inject("Publish", faultproxy.Fault{Kind: faultproxy.InternalError, Times: 1})

			out, err := r.Handle(w.ctx, event)
			if err != nil || (out.Action == guardrail.ActionNone) != (tc.write == "") || !out.Alerted {
				t.Fatalf("%+v %v", out, err)
			}
			if tc.write != "" && !w.fixed(tc.spec.ID, event) {
				t.Error("not fixed")
			}
			if n := p.Calls(tc.write); tc.write != "" && n != 3 {
				t.Errorf("%s called %d times, want 3 (two throttled)", tc.write, n)
			}
			if a, _ := w.Alerts(w.ctx); len(a) != 1 || !strings.HasSuffix(a[0].Subject, tc.verdict) {
				t.Errorf("alerts %+v", a)
			}
		})
	}
}

// A persistent fault on the write: the invocation fails with a retryable
// error (Lambda retries, then the dead-letter queue), an alert says the
// remediation FAILED, nothing is changed, and nothing panics.
func TestFaults_PersistentFailLoudly(t *testing.T) {
	for _, tc := range faultCases() {
		t.Run(tc.spec.ID, func(t *testing.T) {
			if tc.write == "" {
				t.Skip("an alert-only guardrail: no remediation to fault (its reads are faulted in TestFaults_ReadFailureDoesNotWrite)")
			}
			w, event, r, p := faultSetup(t, tc)
			p.Inject(tc.write, faultproxy.Fault{Kind: faultproxy.Unavailable})

			out, err := r.Handle(w.ctx, event)
			if err == nil || guardrail.IsTerminal(err) {
				t.Fatalf("err = %v, want a retryable error", err)
			}
			if n := p.Calls(tc.write); n != 6 {
				t.Errorf("%s tried %d times, want the SDK's 6 attempts", tc.write, n)
			}
			if _, lerr := r.LambdaHandler()(w.ctx, event); lerr == nil {
				t.Error("the Lambda handler must return the error so Lambda retries and then uses the DLQ")
			}
			if w.fixed(tc.spec.ID, event) {
				t.Error("fixed through a persistent fault?")
			}
			a, _ := w.Alerts(w.ctx)
			if len(a) == 0 || !strings.HasSuffix(a[0].Subject, "— remediation FAILED") || out.Error == "" {
				t.Errorf("alerts %+v, outcome %+v", a, out)
			}
		})
	}
}

// A persistent fault on a read: the invocation fails with a retryable error
// and a "check FAILED" alert; no write is attempted.
func TestFaults_ReadFailureDoesNotWrite(t *testing.T) {
	for _, tc := range faultCases() {
		t.Run(tc.spec.ID, func(t *testing.T) {
			w, event, r, p := faultSetup(t, tc)
			p.Inject(tc.reads[0], faultproxy.Fault{Kind: faultproxy.Throttle})

			out, err := r.Handle(w.ctx, event)
			if err == nil || guardrail.IsTerminal(err) {
				t.Fatalf("err = %v, want a retryable error", err)
			}
			if n := p.Calls(tc.write); n != 0 {
				t.Errorf("%s called %d times after a failed read", tc.write, n)
			}
			if a, _ := w.Alerts(w.ctx); len(a) != 1 || !strings.HasSuffix(a[0].Subject, "— check FAILED") || out.Error == "" {
				t.Errorf("alerts %+v, outcome %+v", a, out)
			}
		})
	}
}

// The answer to the write is lost after it took effect, so the SDK sends it
// again; the write is idempotent and the end state is right. Lambda then
// retries the whole event (and EventBridge may deliver it twice more): no
// further write, no further "fixed" alert.
func TestFaults_LostAnswerAndRedeliveryAreHarmless(t *testing.T) {
	for _, tc := range faultCases() {
		t.Run(tc.spec.ID, func(t *testing.T) {
			if tc.write == "" {
				t.Skip("an alert-only guardrail: no remediation to fault (its reads are faulted in TestFaults_ReadFailureDoesNotWrite)")
			}
			w, event, r, p := faultSetup(t, tc)
			p.Inject(tc.write, faultproxy.Fault{Kind: faultproxy.LostAnswer, Times: 1})

			out, err := r.Handle(w.ctx, event)
			if err != nil || out.Action == guardrail.ActionNone {
				t.Fatalf("%+v %v", out, err)
			}
			if !w.fixed(tc.spec.ID, event) {
				t.Error("not fixed")
			}
			writes := p.Calls(tc.write)
			for i := 0; i < 2; i++ {
				out, err = r.Handle(w.ctx, event)
				if err != nil || out.Action != guardrail.ActionNone {
					t.Errorf("redelivery %d: %+v %v", i+1, out, err)
				}
			}
			if n := p.Calls(tc.write); n != writes {
				t.Errorf("redeliveries wrote again: %s %d → %d calls", tc.write, writes, n)
			}
			a, _ := w.Alerts(w.ctx)
			fixedAlerts := 0
			for _, m := range a {
				if strings.HasSuffix(m.Subject, tc.verdict) {
					fixedAlerts++
				}
			}
			if fixedAlerts != 1 {
				t.Errorf("%d alerts say it was fixed, want 1: %+v", fixedAlerts, a)
			}
		})
	}
}
