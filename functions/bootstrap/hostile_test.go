package bootstrap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// mutate returns the fixture with its JSON changed by fn.
func mutate(t *testing.T, name string, fn func(ev map[string]any, d map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(fixtures.Get(name).Raw, &ev); err != nil {
		t.Fatal(err)
	}
	d, _ := ev["detail"].(map[string]any)
	fn(ev, d)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostileEvents feeds every guardrail a corpus of malformed and hostile
// events. Each must end in a terminal rejection or a no-op with a reason:
// never a panic, never a retryable error (a retry storm), and never a call
// to AWS (the endpoint is a listener that counts connections).
func TestHostileEvents(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	cfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://" + l.Addr().String()), Credentials: credentials.NewStaticCredentialsProvider("x", "x", ""), RetryMaxAttempts: 1}
	h, err := bootstrap.Load(context.Background(), bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &cfg, HubAccount: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}

	sched := "key-deletion/schedule-key-deletion-arn"
	put := "key-policy/put-key-policy-public"
	logs := "log-encryption/create-log-group"
	corpus := map[string][]byte{
		"empty":                   []byte(``),
		"whitespace":              []byte("   \n\t "),
		"null":                    []byte(`null`),
		"array":                   []byte(`[{"detail":{}}]`),
		"number":                  []byte(`42`),
		"string":                  []byte(`"ScheduleKeyDeletion"`),
		"truncated":               fixtures.Get(sched).Raw[:300],
		"invalid utf-8":           append([]byte(`{"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"`), 0xff, 0xfe, '"', '}', '}'),
		"deep nesting":            []byte(strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000)),
		"oversized event":         []byte(`{"detail":{"eventName":"DisableKey","x":"` + strings.Repeat("A", 300*1024) + `"}}`),
		"no detail":               mutate(t, sched, func(ev, d map[string]any) { delete(ev, "detail") }),
		"detail null":             mutate(t, sched, func(ev, d map[string]any) { ev["detail"] = nil }),
		"detail string":           mutate(t, sched, func(ev, d map[string]any) { ev["detail"] = "ScheduleKeyDeletion" }),
		"eventName number":        mutate(t, sched, func(ev, d map[string]any) { d["eventName"] = 7 }),
		"eventName missing":       mutate(t, sched, func(ev, d map[string]any) { delete(d, "eventName") }),
		"unknown eventName":       mutate(t, sched, func(ev, d map[string]any) { d["eventName"] = "DeleteEverything" }),
		"userIdentity string":     mutate(t, sched, func(ev, d map[string]any) { d["userIdentity"] = "root" }),
		"requestParameters array": mutate(t, sched, func(ev, d map[string]any) { d["requestParameters"] = []any{1, 2} }),
		"keyId number":            mutate(t, sched, func(ev, d map[string]any) { d["requestParameters"] = map[string]any{"keyId": 12} }),
		"no key anywhere": mutate(t, sched, func(ev, d map[string]any) {
			d["requestParameters"] = map[string]any{}
			d["responseElements"] = nil
			delete(d, "resources")
		}),
		"key in another account": mutate(t, sched, func(ev, d map[string]any) {
			d["requestParameters"] = map[string]any{"keyId": "arn:aws:kms:eu-west-1:999988887777:key/x"}
			d["responseElements"] = nil
			delete(d, "resources")
		}),
		"recipient mismatch":  mutate(t, sched, func(ev, d map[string]any) { d["recipientAccountId"] = "999988887777" }),
		"account not digits":  mutate(t, sched, func(ev, d map[string]any) { ev["account"] = "x;rm -rf /"; d["recipientAccountId"] = "x;rm -rf /" }),
		"region traversal":    mutate(t, sched, func(ev, d map[string]any) { d["awsRegion"] = "../../etc/passwd" }),
		"region with newline": mutate(t, sched, func(ev, d map[string]any) { d["awsRegion"] = "eu-west-1\nSubject: pwned" }),
		"failed call":         mutate(t, sched, func(ev, d map[string]any) { d["errorCode"] = "AccessDenied" }),
		// kmsguard's own remediation, recognised by the exact session ARN.
		"remediator actor": fixtures.Get("none/enable-key-rotation-by-remediator").Raw,
		"sweep actor": mutate(t, "none/enable-key-rotation-by-remediator", func(ev, d map[string]any) {
			d["userIdentity"].(map[string]any)["arn"] = "arn:aws:sts::111122223333:assumed-role/kmsguard-remediator-key-rotation/kmsguard-sweep"
		}),
		"bad time":                mutate(t, sched, func(ev, d map[string]any) { d["eventTime"] = "yesterday" }),
		"native deletion, no key": mutate(t, "key-deletion/kms-cmk-deletion", func(ev, d map[string]any) { ev["detail"] = map[string]any{"key-id": 5} }),
		"policy not a string": mutate(t, put, func(ev, d map[string]any) {
			d["requestParameters"].(map[string]any)["policy"] = map[string]any{"Statement": []any{}}
		}),
		"policy over 32 KB, forged": mutate(t, put, func(ev, d map[string]any) {
			d["recipientAccountId"] = "999988887777"
			d["requestParameters"].(map[string]any)["policy"] = strings.Repeat(" ", 40*1024)
		}),
		"log group by resourceIdentifier": mutate(t, logs, func(ev, d map[string]any) {
			d["requestParameters"] = map[string]any{"resourceIdentifier": "arn:aws:logs:eu-west-1:111122223333:log-group:/x"}
		}),
		"log group name not a string":  mutate(t, logs, func(ev, d map[string]any) { d["requestParameters"] = map[string]any{"logGroupName": []any{"/a", "/b"}} }),
		"log group created with a key": fixtures.Get("none/create-log-group-encrypted").Raw,
		// Imported key material: a native expiration naming another
		// account's key, or none; a forged deletion record.
		"material expiration, key in another account": mutate(t, "key-material/kms-imported-key-material-expiration", func(ev, d map[string]any) {
			ev["detail"] = map[string]any{}
			ev["resources"] = []any{"arn:aws:kms:eu-west-1:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
		}),
		"material expiration, no key": mutate(t, "key-material/kms-imported-key-material-expiration", func(ev, d map[string]any) {
			ev["detail"] = map[string]any{"key-id": ""}
			ev["resources"] = []any{}
		}),
		"material deletion, forged account": mutate(t, "key-material/delete-imported-key-material", func(ev, d map[string]any) { d["recipientAccountId"] = "999988887777" }),
		"material deletion, failed call":    mutate(t, "key-material/delete-imported-key-material", func(ev, d map[string]any) { d["errorCode"] = "KMSInvalidStateException" }),
	}
	if len(corpus) < 30 {
		t.Fatalf("corpus has %d events", len(corpus))
	}
	for name, raw := range corpus {
		for _, id := range catalog.IDs() {
			t.Run(fmt.Sprintf("%s/%s", id, name), func(t *testing.T) {
				r, err := h.Runner(id)
				if err != nil {
					t.Fatal(err)
				}
				before := conns.Load()
				var out guardrail.Outcome
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("panic: %v", p)
						}
					}()
					out, err = r.Handle(context.Background(), raw)
				}()
				if err != nil && !guardrail.IsTerminal(err) {
					t.Errorf("retryable error (a retry storm): %v", err)
				}
				if out.Reason == "" {
					t.Error("no reason")
				}
				if out.Action != guardrail.ActionNone || out.Alerted {
					t.Errorf("acted or alerted: %+v", out)
				}
				if conns.Load() != before {
					t.Errorf("reached AWS (%s)", out.Reason)
				}
			})
		}
	}
}
