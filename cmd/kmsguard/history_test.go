package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kmsguard/kmsguard/functions/ledger"
)

// kmsguard history lists the ledger by resource or account, newest first,
// and clear lets a guardrail act again on a resource it stepped back from.
func TestHistory(t *testing.T) {
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, "")
	ctx := context.Background()
	cfg, _ := srv.Config(ctx, "eu-west-1")
	db := dynamodb.NewFromConfig(cfg)
	if _, err := db.CreateTable(ctx, ledger.TableInput(ledger.TableName)); err != nil {
		t.Fatal(err)
	}
	l := ledger.New(db, ledger.TableName)
	arn := "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	ref := ledger.Ref{Guardrail: "key-deletion", Account: "111122223333", Region: "eu-west-1", Resource: arn}
	now := time.Now().UTC()
	for i, e := range []ledger.Entry{
		{Ref: ref, At: now.Add(-2 * time.Hour), EventID: "e1", EventName: "DisableKey", Result: ledger.ResultAlerted, Action: "none", Name: "alias/orders", Actor: "arn:aws:sts::111122223333:assumed-role/Admin/alice"},
		{Ref: ref, At: now.Add(-time.Hour), EventID: "e2", EventName: "ScheduleKeyDeletion", Result: ledger.ResultFixed, Action: "cancel-deletion", Name: "alias/orders", Before: "PendingDeletion (Disabled before it was scheduled)", After: "Disabled"},
		{Ref: ledger.Ref{Guardrail: "log-encryption", Account: "111122223333", Region: "eu-west-1", Resource: "arn:aws:logs:eu-west-1:111122223333:log-group:/app/a"}, At: now.Add(-30 * time.Minute), EventID: "e3", EventName: "CreateLogGroup", Result: ledger.ResultFixed, Action: "associate-kms-key"},
	} {
		if err := l.Record(ctx, e); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	code, out, errOut := runCLI(t, "history", "list", "--account", "111122223333")
	if code != exitOK || strings.Count(out, "\n") != 4 || !strings.Contains(out, "cancel-deletion") || strings.Index(out, "log-encryption") > strings.Index(out, "key-deletion") {
		t.Errorf("by account: exit %d %s\n%s", code, errOut, out)
	}
	code, out, _ = runCLI(t, "history", "list", arn, "--format", "json")
	var es []ledger.Entry
	if err := json.Unmarshal([]byte(out), &es); code != exitOK || err != nil || len(es) != 2 || es[0].EventID != "e2" || es[0].After != "Disabled" {
		t.Errorf("by resource: exit %d %v %+v", code, err, es)
	}
	if err := l.StepBack(ctx, ref, now.Add(time.Hour), "role Admin, session alice"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "history", "clear", "--guardrail", "key-deletion", arn)
	if stepped, _, _, _ := l.SteppedBack(ctx, ref); code != exitOK || stepped || !strings.Contains(out, "key-deletion may act on") {
		t.Errorf("clear: exit %d stepped %v %s %s", code, stepped, out, errOut)
	}
	if code, _, errOut := runCLI(t, "history", "list", "1234abcd"); code != exitBadInput || !strings.Contains(errOut, "names no account and Region") {
		t.Errorf("a bare id without --account: exit %d %s", code, errOut)
	}
}
