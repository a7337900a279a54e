package bootstrap_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/keypolicy"
	"github.com/kmsguard/kmsguard/internal/faultproxy"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// Fault injection for key-rotation, key-policy and log-encryption (the
// key-deletion ones are in its own package): each guardrail runs with the
// SDK configured as in Lambda (six attempts, standard retryer; short
// backoffs to keep the tests quick) through internal/faultproxy in front of
// moto.

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

// faultCase is one guardrail's scenario: stage a problem, say which calls
// its remediation makes, and check the end state.
type faultCase struct {
	id, config string
	// stage creates the problem and returns the event to handle.
	stage func(w *world) []byte
	// reads and write are the calls the remediation makes.
	reads []string
	write string
	// fixed reports whether the problem is fixed in moto.
	fixed func(w *world) bool
	// verdict ends the subject of the alert of a successful remediation.
	verdict string
}

func faultCases() []faultCase {
	const publicPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},{"Sid":"ShareWithEveryone","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}`
	var keyID string
	return []faultCase{
		{
			id: "key-rotation",
			stage: func(w *world) []byte {
				id, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/faulty"})
				if err != nil {
					w.t.Fatal(err)
				}
				keyID = id
				return fixtures.WithKey(fixtures.Get("key-rotation/disable-key-rotation").Raw, id, "", "")
			},
			reads: []string{"GetKeyRotationStatus", "ListResourceTags"}, write: "EnableKeyRotation",
			fixed: func(w *world) bool {
				st, err := w.kms().GetKeyRotationStatus(w.ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(keyID)})
				return err == nil && st.KeyRotationEnabled
			},
			verdict: "— rotation on, 365 days",
		},
		{
			id: "key-policy", config: `{"modes":{"guardrails":{"key-policy":"remediate"}}}`,
			stage: func(w *world) []byte {
				id, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/faulty"})
				if err != nil {
					w.t.Fatal(err)
				}
				keyID = id
				if _, err := w.kms().PutKeyPolicy(w.ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"), Policy: aws.String(publicPolicy)}); err != nil {
					w.t.Fatal(err)
				}
				return fixtures.WithKey(fixtures.Get("key-policy/put-key-policy-public").Raw, id, "", "")
			},
			reads: []string{"DescribeKey", "ListResourceTags", "GetKeyPolicy"}, write: "PutKeyPolicy",
			fixed: func(w *world) bool {
				got, err := w.kms().GetKeyPolicy(w.ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyID), PolicyName: aws.String("default")})
				return err == nil && len(keypolicy.Analyze(aws.ToString(got.Policy), keypolicy.Context{Account: member}).Findings) == 0
			},
			verdict: "— statements removed",
		},
		{
			id: "log-encryption",
			stage: func(w *world) []byte {
				if _, err := w.LogsKey(w.ctx, member); err != nil {
					w.t.Fatal(err)
				}
				logs, err := w.Logs(w.ctx, member)
				if err != nil {
					w.t.Fatal(err)
				}
				if _, err := logs.CreateLogGroup(w.ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/app/payments/api")}); err != nil {
					w.t.Fatal(err)
				}
				return fixtures.Get("log-encryption/create-log-group").Raw
			},
			reads: []string{"DescribeLogGroups", "ListTagsForResource", "DescribeKey"}, write: "AssociateKmsKey",
			fixed: func(w *world) bool {
				k, err := w.LogGroupKey(w.ctx, member, "/app/payments/api")
				return err == nil && k != ""
			},
			verdict: "— encrypted",
		},
	}
}

// faultSetup stages the case's problem in a fresh world, sends its event
// through moto's EventBridge, and returns what the rule delivered with the
// guardrail's runner behind a fault proxy.
func faultSetup(t *testing.T, tc faultCase) (*world, []byte, *guardrail.Runner, *faultproxy.Proxy) {
	t.Helper()
	w := newWorld(t, tc.config)
	events, err := w.Deliver(w.ctx, tc.stage(w))
	if err != nil || len(events) == 0 {
		t.Fatalf("delivered %d events: %v", len(events), err)
	}
	r, p := faultyRunner(t, w, tc.id, tc.config)
	return w, events[0], r, p
}

// Transient faults on every call of the remediation — a dropped connection,
// a slow answer, throttling, 503 and 500 — are absorbed within one
// invocation: the problem is fixed and exactly one alert says so.
func TestFaults_TransientAreAbsorbed(t *testing.T) {
	for _, tc := range faultCases() {
		t.Run(tc.id, func(t *testing.T) {
			w, event, r, p := faultSetup(t, tc)
			p.Inject(tc.reads[0], faultproxy.Fault{Kind: faultproxy.Reset, Times: 1})
			p.Inject(tc.reads[1], faultproxy.Fault{Kind: faultproxy.Slow, Times: 1, Delay: 200 * time.Millisecond})
			if len(tc.reads) > 2 {
				p.Inject(tc.reads[2], faultproxy.Fault{Kind: faultproxy.Unavailable, Times: 1})
			}
			p.Inject(tc.write, faultproxy.Fault{Kind: faultproxy.Throttle, Times: 2})
			p.Inject("Publish", faultproxy.Fault{Kind: faultproxy.InternalError, Times: 1})

			out, err := r.Handle(w.ctx, event)
			if err != nil || out.Action == guardrail.ActionNone || !out.Alerted {
				t.Fatalf("%+v %v", out, err)
			}
			if !tc.fixed(w) {
				t.Error("not fixed")
			}
			if n := p.Calls(tc.write); n != 3 {
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
		t.Run(tc.id, func(t *testing.T) {
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
			if tc.fixed(w) {
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
		t.Run(tc.id, func(t *testing.T) {
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
		t.Run(tc.id, func(t *testing.T) {
			w, event, r, p := faultSetup(t, tc)
			p.Inject(tc.write, faultproxy.Fault{Kind: faultproxy.LostAnswer, Times: 1})

			out, err := r.Handle(w.ctx, event)
			if err != nil || out.Action == guardrail.ActionNone {
				t.Fatalf("%+v %v", out, err)
			}
			if !tc.fixed(w) {
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
