package bootstrap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/ledger"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// createLedger creates the ledger table as the hub stack does.
func createLedger(t *testing.T, sb *sandbox.Hub, name string) *ledger.Ledger {
	t.Helper()
	db := dynamodb.NewFromConfig(sb.Config)
	if _, err := db.CreateTable(context.Background(), ledger.TableInput(name)); err != nil {
		t.Fatal(err)
	}
	return ledger.New(db, name)
}

// fresh makes a fixture a new event, now: its own id and time.
func fresh(raw []byte, n int) []byte {
	raw = regexp.MustCompile(`"eventTime": ?"[^"]+"`).ReplaceAll(raw, []byte(fmt.Sprintf(`"eventTime": %q`, time.Now().UTC().Add(time.Duration(n)*time.Millisecond).Format(time.RFC3339Nano))))
	return regexp.MustCompile(`"eventID": ?"[^"]+"`).ReplaceAll(raw, []byte(fmt.Sprintf(`"eventID": "00000000-0000-4000-8000-%012d"`, n)))
}

func memoryWorld(t *testing.T, table, configJSON string) (*world, *ledger.Ledger) {
	t.Helper()
	ctx := context.Background()
	sb, err := sandbox.NewHub(ctx, srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	l := createLedger(t, sb, table)
	h, err := bootstrap.Load(ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &sb.Config, TopicARN: sb.TopicARN,
		HubAccount: sandbox.HubAccount, ConfigJSON: []byte(configJSON), LedgerTable: table})
	if err != nil {
		t.Fatal(err)
	}
	return &world{Hub: sb, t: t, ctx: ctx, hub: h}, l
}

// The loop breaker against a fake adversary that turns rotation off again
// after every fix: kmsguard fixes it three times, steps back on the fourth
// with one alert naming the adversary, stays back (no call, no alert)
// after that, and acts again once an operator clears it.
func TestIntegration_LoopBreaker(t *testing.T) {
	w, l := memoryWorld(t, "ledger-loop", `{"loop_breaker":{"max_fixes":3,"window_minutes":60}}`)
	id, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/fought"})
	if err != nil {
		t.Fatal(err)
	}
	adversary := func() {
		if _, err := w.kms().DisableKeyRotation(w.ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	event := func(n int) []byte {
		return fresh(fixtures.WithKey(fixtures.Get("key-rotation/disable-key-rotation").Raw, id, "", ""), n)
	}
	rotation := func() bool {
		st, err := w.kms().GetKeyRotationStatus(w.ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return st.KeyRotationEnabled
	}
	w.Alerts(w.ctx) // drain
	for i := 1; i <= 3; i++ {
		adversary()
		if out := w.run(event(i), "key-rotation")["key-rotation"]; out.Action != "enable-rotation" {
			t.Fatalf("fix %d: %+v", i, out)
		}
	}
	adversary()
	out := w.run(event(4), "key-rotation")["key-rotation"]
	alerts, _ := w.Alerts(w.ctx)
	if out.Action != guardrail.ActionNone || rotation() || !strings.Contains(alerts[len(alerts)-1].Subject, "kmsguard stepped back") ||
		!strings.Contains(strings.Join(strings.Fields(alerts[len(alerts)-1].Text), " "), "role Admin, session alice undid it again") {
		t.Fatalf("4th: %+v rotation %v alert %q\n%s", out, rotation(), alerts[len(alerts)-1].Subject, alerts[len(alerts)-1].Text)
	}
	out = w.run(event(5), "key-rotation")["key-rotation"]
	if alerts, _ := w.Alerts(w.ctx); out.Action != guardrail.ActionNone || len(alerts) != 0 || !strings.Contains(out.Reason, "stepped back") {
		t.Fatalf("5th: %+v, %d alerts", out, len(alerts))
	}
	arn := "arn:aws:kms:eu-west-1:" + member + ":key/" + id
	if err := l.Clear(w.ctx, ledger.Ref{Guardrail: "key-rotation", Account: member, Region: "eu-west-1", Resource: arn}); err != nil {
		t.Fatal(err)
	}
	sixth := event(6)
	if out = w.run(sixth, "key-rotation")["key-rotation"]; out.Action != "enable-rotation" || !rotation() {
		t.Fatalf("after clear: %+v", out)
	}
	es, err := l.Outcomes(w.ctx, ledger.Ref{Guardrail: "key-rotation", Account: member, Region: "eu-west-1", Resource: arn}, time.Now().Add(-time.Hour))
	if err != nil || len(es) != 6 {
		t.Fatalf("%d outcomes in the ledger (%v)", len(es), err)
	}
	// A redelivered event writes its own row again, not a new one.
	w.run(sixth, "key-rotation")
	if es2, _ := l.Outcomes(w.ctx, ledger.Ref{Guardrail: "key-rotation", Account: member, Region: "eu-west-1", Resource: arn}, time.Now().Add(-time.Hour)); len(es2) != 6 {
		t.Errorf("a redelivery added a row: %d", len(es2))
	}
}

// A key disabled on purpose and then scheduled for deletion comes back
// Disabled: the ledger saw the DisableKey. A key whose state before the
// deletion no source knows is re-enabled (the documented default), and
// the alert says it could not tell.
func TestIntegration_RestoresStateBeforeDeletion(t *testing.T) {
	w, _ := memoryWorld(t, "ledger-restore", `{}`)
	schedule := func(id string) {
		if _, err := w.kms().ScheduleKeyDeletion(w.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Fatal(err)
		}
	}
	disabled, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/retired"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.kms().DisableKey(w.ctx, &kms.DisableKeyInput{KeyId: aws.String(disabled)}); err != nil {
		t.Fatal(err)
	}
	w.run(fresh(fixtures.WithKey(fixtures.Get("key-deletion/disable-key").Raw, disabled, "", ""), 1), "key-deletion")
	schedule(disabled)
	w.Alerts(w.ctx)
	out := w.run(fresh(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, disabled, "", ""), 2), "key-deletion")["key-deletion"]
	if s, _ := w.KeyState(w.ctx, member, disabled); out.Action != "cancel-deletion" || s != kmstypes.KeyStateDisabled {
		t.Fatalf("%+v, key %s", out, s)
	}
	alerts, _ := w.Alerts(w.ctx)
	text := strings.Join(strings.Fields(alerts[0].Text), " ")
	if !strings.Contains(alerts[0].Subject, "cancelled, left Disabled") || !strings.Contains(text, "State before: Disabled (kmsguard's ledger") {
		t.Errorf("%s\n%s", alerts[0].Subject, alerts[0].Text)
	}

	unknown, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/old"})
	if err != nil {
		t.Fatal(err)
	}
	schedule(unknown)
	out = w.run(fresh(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, unknown, "", ""), 3), "key-deletion")["key-deletion"]
	if s, _ := w.KeyState(w.ctx, member, unknown); out.Action != "cancel-deletion,enable-key" || s != kmstypes.KeyStateEnabled {
		t.Fatalf("%+v, key %s", out, s)
	}
	alerts, _ = w.Alerts(w.ctx)
	text = strings.Join(strings.Fields(alerts[0].Text), " ")
	if !strings.Contains(text, "State before: unknown (") || !strings.Contains(text, "could not tell whether the key was Enabled or Disabled") {
		t.Errorf("%s", alerts[0].Text)
	}
}

// The key-policy guardrail keeps each key's last policy without findings
// and, when a bad policy is written, offers it back in the alert, or with
// restore_previous puts it back in remediate mode.
func TestIntegration_PreviousKeyPolicy(t *testing.T) {
	w, _ := memoryWorld(t, "ledger-policy", `{"modes":{"guardrails":{"key-policy":"alert"}}}`)
	id, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/orders"})
	if err != nil {
		t.Fatal(err)
	}
	good := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"}]}`, member)
	put := func(policy string) []byte {
		if _, err := w.kms().PutKeyPolicy(w.ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"), Policy: aws.String(policy)}); err != nil {
			t.Fatal(err)
		}
		raw := fixtures.WithKey(fixtures.Get("key-policy/put-key-policy-public").Raw, id, "", "")
		// The event carries the policy the caller wrote.
		b, _ := json.Marshal(policy)
		return regexp.MustCompile(`"policy": ?"(\\.|[^"\\])*"`).ReplaceAll(raw, []byte(`"policy": `+string(b)))
	}
	w.run(fresh(put(good), 1), "key-policy")
	w.Alerts(w.ctx)
	bad := strings.Replace(good, `]}`, `,{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}`, 1)
	out := w.run(fresh(put(bad), 2), "key-policy")["key-policy"]
	alerts, _ := w.Alerts(w.ctx)
	if out.Action != guardrail.ActionNone || len(alerts) != 1 || !strings.Contains(alerts[0].Text, "Or put back the last policy kmsguard saw without findings") || !strings.Contains(alerts[0].Text, `"Sid": "Root"`) {
		t.Fatalf("%+v\n%v", out, alerts)
	}
	if strings.Contains(alerts[0].Subject, "Statement") {
		t.Errorf("a policy in the subject: %s", alerts[0].Subject)
	}

	// restore_previous: remediate mode puts the good policy back whole.
	w2, _ := memoryWorld(t, "ledger-policy-restore", `{"modes":{"guardrails":{"key-policy":"remediate"}},"guardrails":{"key-policy":{"restore_previous":true}}}`)
	w = w2
	id, err = w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/orders2"})
	if err != nil {
		t.Fatal(err)
	}
	w.run(fresh(put(good), 3), "key-policy")
	if out := w.run(fresh(put(bad), 4), "key-policy")["key-policy"]; out.Action != "restore-previous-policy" {
		t.Fatalf("%+v", out)
	}
	got, err := w.kms().GetKeyPolicy(w.ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default")})
	if err != nil || aws.ToString(got.Policy) != good {
		t.Errorf("policy now %s (%v)", aws.ToString(got.Policy), err)
	}
}

// A CRITICAL remediation never steps back: a key scheduled for deletion a
// fourth time within the hour is still cancelled, or whoever can undo a
// fix three times could switch kmsguard off for that key.
func TestIntegration_LoopBreakerNeverForDeletion(t *testing.T) {
	w, _ := memoryWorld(t, "ledger-loop-critical", `{"loop_breaker":{"max_fixes":3,"window_minutes":60}}`)
	id, err := w.CreateKey(w.ctx, member, sandbox.KeySpec{Alias: "alias/target"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		if _, err := w.kms().ScheduleKeyDeletion(w.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Fatal(err)
		}
		out := w.run(fresh(fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, id, "", ""), 100+i), "key-deletion")["key-deletion"]
		if s, _ := w.KeyState(w.ctx, member, id); out.Action == guardrail.ActionNone || s == kmstypes.KeyStatePendingDeletion {
			t.Fatalf("deletion %d: %+v, key %s", i, out, s)
		}
	}
}
