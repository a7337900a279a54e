package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
)

// kmsguard sweep status reads a run's records in the hub's table: the
// latest run by default, its progress while it runs, and what it found.
func TestSweepStatus(t *testing.T) {
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, "")
	ctx := context.Background()
	cfg, _ := srv.Config(ctx, "eu-west-1")
	db := dynamodb.NewFromConfig(cfg)
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(sweep.TableName), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}}}); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "sweep", "status"); code != exitFailed || !strings.Contains(errOut, "no sweep run recorded yet") {
		t.Errorf("before any run: exit %d %s", code, errOut)
	}
	store := sweep.Store{DB: db, Table: sweep.TableName}
	now := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	// A run of three account-Regions, two recorded so far.
	meta := `{"run":"20261130T030000Z","started":"2026-11-30T03:00:00Z","planned":3,"state":"running"}`
	for _, row := range [][2]string{{"run#20261130T030000Z", "meta"}, {"latest", "meta"}} {
		rec := meta
		if row[0] == "latest" {
			rec = `{"run":"20261130T030000Z"}`
		}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(sweep.TableName), Item: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: row[0]}, "sk": &ddbtypes.AttributeValueMemberS{Value: row[1]}, "record": &ddbtypes.AttributeValueMemberS{Value: rec}}}); err != nil {
			t.Fatal(err)
		}
	}
	done := sweep.ItemResult{Account: "111122223333", Region: "eu-west-1", Status: sweep.ItemDone, Keys: 50, Groups: 200,
		Counts: map[string]sweep.Count{"key-deletion": {Findings: 1, Fixed: 1, BySeverity: map[string]int{"CRITICAL": 1}}},
		Worst:  []sweep.Finding{{Target: sweep.Target{Account: "111122223333", Region: "eu-west-1"}, Guardrail: "key-deletion", Resource: "alias/orders", Severity: guardrail.SeverityCritical, Action: "cancel-deletion,enable-key"}}}
	done.Spoke = []sweep.SpokeIssue{{Target: sweep.Target{Account: "111122223333", Region: "eu-west-1"}, Problem: "3 events are in the forwarding DLQ kmsguard-forward-dlq", Fix: "read them"}}
	failed := sweep.ItemResult{Account: "444455556666", Region: "eu-west-1", Status: sweep.ItemFailed, Errors: []string{"AccessDenied: cannot assume kmsguard-remediator-sweep"}}
	for _, r := range []sweep.ItemResult{done, failed} {
		if err := sweep.RecordItem(ctx, store, "20261130T030000Z", r, now.Add(sweep.RecordsFor)); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runCLI(t, "sweep", "status")
	if code != exitOK {
		t.Fatalf("exit %d %s", code, errOut)
	}
	for _, want := range []string{"Sweep run 20261130T030000Z: running", "Progress:  2 of 3 account-Regions (67%): 1 swept, 1 failed, 1 without a record yet",
		"Checked:   50 keys, 200 log groups", "key-deletion", "CRITICAL key-deletion 111122223333/eu-west-1 alias/orders", "444455556666/eu-west-1: AccessDenied", "Spoke health", "111122223333/eu-west-1: 3 events are in the forwarding DLQ"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "sweep", "status", "--run", "20261130T030000Z", "--format", "json")
	var s struct {
		Run                    string
		Planned, Swept, Failed int
		NoRecord               int `json:"no_record"`
		Findings, Fixed        int
		FailedItems            []string `json:"failed_items"`
	}
	if err := json.Unmarshal([]byte(out), &s); code != exitOK || err != nil || s.Planned != 3 || s.Swept != 1 || s.Failed != 1 || s.NoRecord != 1 || s.Fixed != 1 || len(s.FailedItems) != 1 {
		t.Errorf("json: exit %d %v %+v\n%s", code, err, s, out)
	}
	if code, _, errOut := runCLI(t, "sweep", "status", "--run", "nope"); code != exitFailed || !strings.Contains(errOut, `no sweep run "nope"`) {
		t.Errorf("unknown run: exit %d %s", code, errOut)
	}
}
