// Package ledger is kmsguard's memory: a DynamoDB table in the hub that
// records every outcome (written by the guardrail Lambdas and the sweep),
// the key states kmsguard has seen, and the resources kmsguard stepped
// back from. It is what lets the key-deletion guardrail restore the state
// a key had before it was scheduled, the driver stop fighting another
// actor (the loop breaker), and `kmsguard history` answer "what did
// kmsguard change last week?".
//
// Rows (pk, sk):
//
//	res#<guardrail>#<account>#<region>#<resource>  at#<time>#<event id>  an outcome
//	res#<guardrail>#<account>#<region>#<resource>  stepback               kmsguard stepped back, until
//	res#<guardrail>#<account>#<region>#<resource>  cleared                an operator cleared the loop breaker
//	key#<account>#<region>#<key id>                at#<time>#<event id>  a key state seen (Enabled, Disabled)
//
// An outcome's key is its event's time and id, so a redelivered event
// writes the same row again: the ledger is idempotent under redelivery.
// The account index (gsi1: acct#<account>, at#<time>) lists an account's
// outcomes by time. Rows expire (TTL attribute "expires").
package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableName is the hub's ledger table.
const TableName = "kmsguard-ledger"

// AccountIndex lists an account's outcomes by time.
const AccountIndex = "gsi1"

// KeepFor is how long rows are kept (DynamoDB TTL).
const KeepFor = 400 * 24 * time.Hour

// API is what the ledger calls in DynamoDB.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Ledger reads and writes the table.
type Ledger struct {
	API   API
	Table string
	Now   func() time.Time
}

// New is the ledger in table.
func New(api API, table string) *Ledger { return &Ledger{API: api, Table: table, Now: time.Now} }

// Ref names a resource as one guardrail sees it.
type Ref struct {
	Guardrail, Account, Region, Resource string
}

func (r Ref) pk() string {
	return "res#" + r.Guardrail + "#" + r.Account + "#" + r.Region + "#" + r.Resource
}

// Entry is one outcome.
type Entry struct {
	Ref
	At        time.Time `json:"at"`
	EventID   string    `json:"event_id"`
	EventName string    `json:"event_name"`
	Actor     string    `json:"actor,omitempty"`
	Mode      string    `json:"mode"`
	Action    string    `json:"action"`
	// Result is fixed, alerted, failed or nothing.
	Result   string `json:"result"`
	Severity string `json:"severity,omitempty"`
	Reason   string `json:"reason"`
	// Before and After are the resource's state as kmsguard saw it before
	// and after its action ("" when not known).
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Name is the resource as a person knows it (an alias).
	Name string `json:"name,omitempty"`
}

// Results.
const (
	ResultFixed   = "fixed"
	ResultAlerted = "alerted"
	ResultFailed  = "failed"
	ResultNothing = "nothing"
)

func at(t time.Time, id string) string {
	return "at#" + t.UTC().Format("2006-01-02T15:04:05.000000000Z") + "#" + id
}

func expires(t time.Time) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(t.Add(KeepFor).Unix(), 10)}
}

func s(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

// Record writes an outcome. The same event writes the same row.
func (l *Ledger) Record(ctx context.Context, e Entry) error {
	if e.Resource == "" || e.Guardrail == "" {
		return errors.New("ledger: an outcome needs its guardrail and resource")
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = l.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.Table), Item: map[string]ddbtypes.AttributeValue{
		"pk": s(e.pk()), "sk": s(at(e.At, e.EventID)),
		"gsi1pk": s("acct#" + e.Account), "gsi1sk": s(at(e.At, e.EventID)),
		"result": s(e.Result), "entry": s(string(b)), "expires": expires(e.At),
	}})
	if err != nil {
		return fmt.Errorf("ledger: record %s on %s: %w", e.EventID, e.Resource, err)
	}
	return nil
}

// query runs a paginated query and decodes the entries.
func (l *Ledger) query(ctx context.Context, in *dynamodb.QueryInput, limit int) ([]Entry, error) {
	var out []Entry
	for {
		page, err := l.API.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			var e Entry
			if v, ok := it["entry"].(*ddbtypes.AttributeValueMemberS); ok && json.Unmarshal([]byte(v.Value), &e) == nil {
				out = append(out, e)
				if limit > 0 && len(out) == limit {
					return out, nil
				}
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// Outcomes are a resource's outcomes since a time, oldest first.
func (l *Ledger) Outcomes(ctx context.Context, r Ref, since time.Time) ([]Entry, error) {
	return l.query(ctx, &dynamodb.QueryInput{TableName: aws.String(l.Table),
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": s(r.pk()), ":from": s(at(since, "")), ":to": s("at#~")}}, 0)
}

// AccountOutcomes are an account's outcomes since a time, newest first, at
// most limit (0: all).
func (l *Ledger) AccountOutcomes(ctx context.Context, account string, since time.Time, limit int) ([]Entry, error) {
	return l.query(ctx, &dynamodb.QueryInput{TableName: aws.String(l.Table), IndexName: aws.String(AccountIndex), ScanIndexForward: aws.Bool(false),
		KeyConditionExpression:    aws.String("gsi1pk = :pk AND gsi1sk >= :from"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": s("acct#" + account), ":from": s(at(since, ""))}}, limit)
}

// marker reads a marker row's time attribute.
func (l *Ledger) marker(ctx context.Context, r Ref, sk string) (time.Time, string, error) {
	out, err := l.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"pk": s(r.pk()), "sk": s(sk)}})
	if err != nil || out.Item == nil {
		return time.Time{}, "", err
	}
	var t time.Time
	if v, ok := out.Item["time"].(*ddbtypes.AttributeValueMemberS); ok {
		t, _ = time.Parse(time.RFC3339Nano, v.Value)
	}
	actor := ""
	if v, ok := out.Item["actor"].(*ddbtypes.AttributeValueMemberS); ok {
		actor = v.Value
	}
	return t, actor, nil
}

func (l *Ledger) putMarker(ctx context.Context, r Ref, sk string, t time.Time, actor string) error {
	item := map[string]ddbtypes.AttributeValue{"pk": s(r.pk()), "sk": s(sk), "time": s(t.UTC().Format(time.RFC3339Nano)), "expires": expires(t)}
	if actor != "" {
		item["actor"] = s(actor)
	}
	_, err := l.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.Table), Item: item})
	return err
}

// Remediations counts what kmsguard fixed on a resource since a time, or
// since an operator last cleared it if later.
func (l *Ledger) Remediations(ctx context.Context, r Ref, since time.Time) (int, error) {
	cleared, _, err := l.marker(ctx, r, "cleared")
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	if cleared.After(since) {
		since = cleared
	}
	es, err := l.Outcomes(ctx, r, since)
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	n := 0
	for _, e := range es {
		if e.Result == ResultFixed {
			n++
		}
	}
	return n, nil
}

// SteppedBack reports whether kmsguard stepped back from the resource and
// until when, and who it stepped back from.
func (l *Ledger) SteppedBack(ctx context.Context, r Ref) (bool, time.Time, string, error) {
	until, actor, err := l.marker(ctx, r, "stepback")
	if err != nil {
		return false, time.Time{}, "", fmt.Errorf("ledger: %w", err)
	}
	return until.After(l.Now()), until, actor, nil
}

// StepBack records that kmsguard stops acting on the resource until then.
func (l *Ledger) StepBack(ctx context.Context, r Ref, until time.Time, actor string) error {
	return l.putMarker(ctx, r, "stepback", until, actor)
}

// Clear lets kmsguard act on the resource again and restarts its count.
func (l *Ledger) Clear(ctx context.Context, r Ref) error {
	if _, err := l.API.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(l.Table),
		Key: map[string]ddbtypes.AttributeValue{"pk": s(r.pk()), "sk": s("stepback")}}); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return l.putMarker(ctx, r, "cleared", l.Now(), "")
}

// KeyState records a key state kmsguard saw (from DisableKey, EnableKey,
// CreateKey events) at the event's time.
func (l *Ledger) KeyState(ctx context.Context, account, region, keyID, state string, t time.Time, eventID string) error {
	_, err := l.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.Table), Item: map[string]ddbtypes.AttributeValue{
		"pk": s("key#" + account + "#" + region + "#" + keyID), "sk": s(at(t, eventID)), "state": s(state), "expires": expires(t),
	}})
	return err
}

// KeyStateBefore is the last key state recorded before t, and when.
func (l *Ledger) KeyStateBefore(ctx context.Context, account, region, keyID string, t time.Time) (string, time.Time, bool, error) {
	out, err := l.API.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(l.Table), ScanIndexForward: aws.Bool(false), Limit: aws.Int32(1),
		KeyConditionExpression:    aws.String("pk = :pk AND sk < :t"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": s("key#" + account + "#" + region + "#" + keyID), ":t": s(at(t, ""))}})
	if err != nil || len(out.Items) == 0 {
		return "", time.Time{}, false, err
	}
	st, _ := out.Items[0]["state"].(*ddbtypes.AttributeValueMemberS)
	sk, _ := out.Items[0]["sk"].(*ddbtypes.AttributeValueMemberS)
	var when time.Time
	if sk != nil {
		if parts := strings.SplitN(sk.Value, "#", 3); len(parts) == 3 {
			when, _ = time.Parse("2006-01-02T15:04:05.000000000Z", parts[1])
		}
	}
	if st == nil {
		return "", time.Time{}, false, nil
	}
	return st.Value, when, true, nil
}

// MaxPolicy is the largest key policy KMS accepts (32 KB, not adjustable):
// a good policy always fits in a ledger row (DynamoDB's 400 KB item).
const MaxPolicy = 32 * 1024

func policyKey(account, region, keyID string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": s("policy#" + account + "#" + region + "#" + keyID), "sk": s("last-good")}
}

// SetGoodPolicy keeps a key's last policy without findings.
func (l *Ledger) SetGoodPolicy(ctx context.Context, account, region, keyID, policy string, t time.Time, eventID string) error {
	if len(policy) > MaxPolicy {
		return fmt.Errorf("ledger: a key policy of %d bytes is over KMS's %d", len(policy), MaxPolicy)
	}
	item := policyKey(account, region, keyID)
	item["policy"], item["time"], item["event_id"], item["expires"] = s(policy), s(t.UTC().Format(time.RFC3339Nano)), s(eventID), expires(t)
	_, err := l.API.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.Table), Item: item})
	return err
}

// GoodPolicy is a key's last policy without findings, when and from which
// event; ok is false when kmsguard has seen none.
func (l *Ledger) GoodPolicy(ctx context.Context, account, region, keyID string) (policy string, at time.Time, eventID string, ok bool, err error) {
	out, err := l.API.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.Table), Key: policyKey(account, region, keyID)})
	if err != nil || out.Item == nil {
		return "", time.Time{}, "", false, err
	}
	get := func(k string) string {
		if v, ok := out.Item[k].(*ddbtypes.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	at, _ = time.Parse(time.RFC3339Nano, get("time"))
	return get("policy"), at, get("event_id"), get("policy") != "", nil
}

// TableInput creates a table shaped as the hub stack's (infra/hub): keys,
// the account index, on demand. For tests and local runs.
func TableInput(name string) *dynamodb.CreateTableInput {
	str := ddbtypes.ScalarAttributeTypeS
	key := func(pk, sk string) []ddbtypes.KeySchemaElement {
		return []ddbtypes.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String(sk), KeyType: ddbtypes.KeyTypeRange}}
	}
	return &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: str}, {AttributeName: aws.String("sk"), AttributeType: str},
			{AttributeName: aws.String("gsi1pk"), AttributeType: str}, {AttributeName: aws.String("gsi1sk"), AttributeType: str}},
		KeySchema: key("pk", "sk"),
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{IndexName: aws.String(AccountIndex), KeySchema: key("gsi1pk", "gsi1sk"),
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll}}},
	}
}
