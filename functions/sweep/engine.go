package sweep

// The organization-scale sweep runs on AWS Step Functions, not in one
// process: a Distributed Map over account-Region work items
// (infra/hub/sweep.go builds the state machine). The sweep Lambda plays
// three parts, by the "phase" of its input:
//
//	plan    lists the targets (the organization's accounts × Regions, minus
//	        Regions an account has not enabled), writes them as the work
//	        items file the Distributed Map reads from S3, and records the run
//	item    sweeps one account-Region with the guardrails' own decide and
//	        act code (Run with one target) and records the item's result;
//	        a transient failure is returned as a Transient error, which the
//	        state machine retries with backoff; anything else is recorded as
//	        the item's failure and the run goes on
//	digest  reads every item's record, aggregates the run and publishes
//	        one digest for the whole organization
//
// The records live in one DynamoDB table (run and item rows, expiring after
// RecordsFor), which also answers `kmsguard sweep status`.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// TableName is the hub's table of sweep runs (infra/hub creates it).
const TableName = "kmsguard-sweep-runs"

// StateMachineName is the organization sweep's state machine.
const StateMachineName = "kmsguard-sweep"

// RecordsFor is how long run and item records are kept (DynamoDB TTL).
const RecordsFor = 90 * 24 * time.Hour

// MaxItemWorst and MaxItemErrors bound what an item records, so a record
// stays far under DynamoDB's 400 KB item limit whatever the account holds.
const (
	MaxItemWorst  = 10
	MaxItemErrors = 10
)

// Phase inputs and outputs of the sweep Lambda.
type (
	// Input is what the state machine (or a direct invocation) passes.
	Input struct {
		Phase     string `json:"phase"`
		Run       string `json:"run,omitempty"`
		Execution string `json:"execution,omitempty"`
		Account   string `json:"account,omitempty"`
		Region    string `json:"region,omitempty"`
	}
	// PlanOutput tells the Distributed Map where its items are.
	PlanOutput struct {
		Run     string `json:"run"`
		Bucket  string `json:"bucket"`
		Key     string `json:"key"`
		Items   int    `json:"items"`
		Expires int64  `json:"expires"`
	}
	// WorkItem is one line of the items file.
	WorkItem struct {
		Account string `json:"account"`
		Region  string `json:"region"`
	}
)

// Item statuses.
const (
	ItemDone       = "done"
	ItemFailed     = "failed"
	ItemNotEnabled = "not-enabled"
)

// ItemResult is what one account-Region's sweep recorded.
type ItemResult struct {
	Account  string    `json:"account"`
	Region   string    `json:"region"`
	Status   string    `json:"status"`
	Keys     int       `json:"keys"`
	Groups   int       `json:"log_groups"`
	Orphans  int       `json:"orphans,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Counts are findings and fixes per guardrail.
	Counts map[string]Count `json:"counts,omitempty"`
	// Worst are the most severe findings, at most MaxItemWorst.
	Worst []Finding `json:"worst,omitempty"`
	// Errors are what could not be checked, at most MaxItemErrors.
	Errors []string `json:"errors,omitempty"`
	// More counts the findings and errors left out of Worst and Errors.
	MoreWorst  int `json:"more_worst,omitempty"`
	MoreErrors int `json:"more_errors,omitempty"`
	// Spoke are problems with the target's spoke.
	Spoke []SpokeIssue `json:"spoke,omitempty"`
}

// Count is one guardrail's findings (by severity) and fixes.
type Count struct {
	Findings   int            `json:"findings"`
	Fixed      int            `json:"fixed"`
	BySeverity map[string]int `json:"by_severity,omitempty"`
}

// Transient is an item failure worth retrying (throttling that outlasted
// the SDK's retries, a 5xx, a dropped connection): the Lambda returns it
// and the state machine retries the item with backoff (its error name is
// "Transient"). Anything else is recorded as the item's failure.
type Transient struct{ Err error }

func (t *Transient) Error() string { return t.Err.Error() }
func (t *Transient) Unwrap() error { return t.Err }

// RunAPI is what the engine calls in DynamoDB.
type RunAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// ItemsAPI writes the work items file.
type ItemsAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Store is a run's records: table in DynamoDB, items file in bucket.
type Store struct {
	DB     RunAPI
	S3     ItemsAPI
	Table  string
	Bucket string
}

// RunMeta is a run's own record.
type RunMeta struct {
	Run       string    `json:"run"`
	Execution string    `json:"execution,omitempty"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished,omitzero"`
	// Planned are the work items; NotEnabled the account-Regions left out
	// because the account has not enabled the Region.
	Planned    int      `json:"planned"`
	NotEnabled []Target `json:"regions_not_enabled,omitempty"`
	// Notes are what planning could not check (an account's opt-in
	// Regions).
	Notes   []string `json:"notes,omitempty"`
	State   string   `json:"state"` // running, finished
	Summary *Summary `json:"summary,omitempty"`
}

func runKey(run string) string { return "run#" + run }

func itemKey(account, region string) string { return "item#" + account + "#" + region }

// put stores v as JSON in the record (pk, sk), with its status and expiry.
func (s Store) put(ctx context.Context, pk, sk, status string, v any, expires time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: map[string]ddbtypes.AttributeValue{
		"pk":      &ddbtypes.AttributeValueMemberS{Value: pk},
		"sk":      &ddbtypes.AttributeValueMemberS{Value: sk},
		"status":  &ddbtypes.AttributeValueMemberS{Value: status},
		"record":  &ddbtypes.AttributeValueMemberS{Value: string(b)},
		"expires": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)},
	}})
	return err
}

// Plan lists the targets, writes the items file and records the run.
func Plan(ctx context.Context, s Store, targets []Target, accounts AccountAPI, self, run, execution string, now time.Time) (PlanOutput, error) {
	sw := &sweep{o: Options{Accounts: accounts, Self: self}, rep: &Report{NotEnabled: []Target{}, Errors: []string{}}}
	enabled := sw.enabled(ctx, targets)
	items := make([]WorkItem, len(enabled))
	for i, t := range enabled {
		items[i] = WorkItem{Account: t.Account, Region: t.Region}
	}
	body, err := json.Marshal(items)
	if err != nil {
		return PlanOutput{}, err
	}
	key := "runs/" + run + "/items.json"
	if _, err := s.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: bytes.NewReader(body), ContentType: aws.String("application/json")}); err != nil {
		return PlanOutput{}, fmt.Errorf("write the work items to s3://%s/%s: %w", s.Bucket, key, err)
	}
	expires := now.Add(RecordsFor)
	meta := RunMeta{Run: run, Execution: execution, Started: now.UTC(), Planned: len(items), NotEnabled: sw.rep.NotEnabled, Notes: sw.rep.Errors, State: "running"}
	if err := s.put(ctx, runKey(run), "meta", meta.State, meta, expires); err != nil {
		return PlanOutput{}, fmt.Errorf("record the run: %w", err)
	}
	if err := s.put(ctx, "latest", "meta", meta.State, map[string]string{"run": run}, expires); err != nil {
		return PlanOutput{}, fmt.Errorf("record the latest run: %w", err)
	}
	return PlanOutput{Run: run, Bucket: s.Bucket, Key: key, Items: len(items), Expires: expires.Unix()}, nil
}

// Tally turns one target's report into its item record.
func Tally(t Target, rep *Report) ItemResult {
	r := ItemResult{Account: t.Account, Region: t.Region, Status: ItemDone, Keys: rep.Keys, Groups: rep.Groups, Orphans: len(rep.Orphans),
		Started: rep.Started, Finished: rep.Finished, Counts: map[string]Count{}, Spoke: rep.Spoke}
	for _, f := range rep.Findings { // Run sorts them worst first
		c := r.Counts[f.Guardrail]
		c.Findings++
		if f.Action != "" && f.Action != guardrail.ActionNone && f.Error == "" {
			c.Fixed++
		}
		if c.BySeverity == nil {
			c.BySeverity = map[string]int{}
		}
		c.BySeverity[string(f.Severity)]++
		r.Counts[f.Guardrail] = c
		if len(r.Worst) < MaxItemWorst {
			f.Remedy = nil // the digest names the item; audit gives the commands
			r.Worst = append(r.Worst, f)
		} else {
			r.MoreWorst++
		}
	}
	for _, e := range rep.Errors {
		if len(r.Errors) < MaxItemErrors {
			r.Errors = append(r.Errors, bounded(e, 500))
		} else {
			r.MoreErrors++
		}
	}
	return r
}

func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// RecordItem stores an item's result; the item key makes a retried or
// redelivered item overwrite its own record, never add one.
func RecordItem(ctx context.Context, s Store, run string, r ItemResult, expires time.Time) error {
	return s.put(ctx, runKey(run), itemKey(r.Account, r.Region), r.Status, r, expires)
}

// transient reports an error a retry may cure: the target could not be
// reached at all (its role could not be assumed for a reason other than
// access denied, the listing was throttled past the SDK's retries).
func transient(rep *Report) error {
	if len(rep.Errors) == 0 || rep.Keys+rep.Groups > 0 {
		return nil
	}
	msg := strings.Join(rep.Errors, "; ")
	for _, s := range []string{"Throttling", "ThrottlingException", "TooManyRequests", "RequestLimitExceeded", "ServiceUnavailable", "InternalError", "InternalFailure", "connection reset", "timeout", "EOF"} {
		if strings.Contains(msg, s) {
			return &Transient{errors.New(msg)}
		}
	}
	return nil
}

// ItemSweep sweeps one account-Region (the guardrails' own code, through
// Run) and records the result. A transient failure of the whole target is
// returned as *Transient and not recorded (the state machine retries it;
// after the last attempt it records the failure itself).
func ItemSweep(ctx context.Context, run func(context.Context, Target) (*Report, error), s Store, runID string, t Target, expires time.Time) (ItemResult, error) {
	rep, err := run(ctx, t)
	if err != nil {
		return ItemResult{}, &Transient{err}
	}
	if terr := transient(rep); terr != nil {
		return ItemResult{}, terr
	}
	r := Tally(t, rep)
	if len(rep.Errors) > 0 && rep.Keys+rep.Groups == 0 {
		r.Status = ItemFailed
	}
	if err := RecordItem(ctx, s, runID, r, expires); err != nil {
		return r, &Transient{fmt.Errorf("record the item: %w", err)}
	}
	return r, nil
}

// Records reads a run: its meta record and every item's.
func Records(ctx context.Context, s Store, run string) (RunMeta, []ItemResult, error) {
	var meta RunMeta
	var items []ItemResult
	var start map[string]ddbtypes.AttributeValue
	found := false
	for {
		out, err := s.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(s.Table), KeyConditionExpression: aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: runKey(run)}}, ExclusiveStartKey: start})
		if err != nil {
			return meta, nil, fmt.Errorf("read run %s: %w", run, err)
		}
		for _, it := range out.Items {
			sk := str(it["sk"])
			switch {
			case sk == "meta":
				found = true
				if err := json.Unmarshal([]byte(str(it["record"])), &meta); err != nil {
					return meta, nil, fmt.Errorf("run %s: bad record: %w", run, err)
				}
			case strings.HasPrefix(sk, "item#"):
				items = append(items, itemFrom(sk, it))
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	if !found {
		return meta, nil, fmt.Errorf("no sweep run %q (runs are kept %d days)", run, int(RecordsFor.Hours()/24))
	}
	sort.Slice(items, func(i, j int) bool {
		return items[i].Account+items[i].Region < items[j].Account+items[j].Region
	})
	return meta, items, nil
}

// itemFrom reads an item row: the Lambda writes a JSON record; the state
// machine's failure path writes only status and error.
func itemFrom(sk string, it map[string]ddbtypes.AttributeValue) ItemResult {
	var r ItemResult
	if rec := str(it["record"]); rec != "" && json.Unmarshal([]byte(rec), &r) == nil {
		return r
	}
	parts := strings.SplitN(strings.TrimPrefix(sk, "item#"), "#", 2)
	r = ItemResult{Status: str(it["status"])}
	if len(parts) == 2 {
		r.Account, r.Region = parts[0], parts[1]
	}
	if e := str(it["error"]); e != "" {
		r.Errors = []string{bounded(e, 500)}
	}
	if r.Status == "" {
		r.Status = ItemFailed
	}
	return r
}

func str(v ddbtypes.AttributeValue) string {
	if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// Latest is the most recent run's id.
func Latest(ctx context.Context, s Store) (string, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "latest"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "meta"}}})
	if err != nil {
		return "", fmt.Errorf("read the latest sweep run: %w", err)
	}
	var v struct{ Run string }
	if err := json.Unmarshal([]byte(str(out.Item["record"])), &v); err != nil || v.Run == "" {
		return "", errors.New("no sweep run recorded yet")
	}
	return v.Run, nil
}

// Org is a whole run aggregated: what the digest and `sweep status` show.
type Org struct {
	Meta RunMeta
	// Done, Failed are items recorded; Missing planned items with no
	// record (still running, or lost).
	Done, Failed, Missing int
	Keys, Groups, Orphans int
	Findings, Fixed       int
	PerGuardrail          map[string]Count
	PerAccount            map[string]Count
	PerRegion             map[string]Count
	// Worst are the worst findings of the whole run, at most
	// MaxDigestItems; FailedItems the items that failed and why.
	Worst       []Finding
	FailedItems []string
	Errors      []string
	// Spoke are the spokes whose events may not reach the hub.
	Spoke []SpokeIssue
}

// Aggregate folds the items' records into the run's totals.
func Aggregate(meta RunMeta, items []ItemResult) Org {
	o := Org{Meta: meta, PerGuardrail: map[string]Count{}, PerAccount: map[string]Count{}, PerRegion: map[string]Count{}, Errors: append([]string{}, meta.Notes...)}
	var worst []Finding
	add := func(m map[string]Count, k string, c Count) {
		x := m[k]
		x.Findings += c.Findings
		x.Fixed += c.Fixed
		for s, n := range c.BySeverity {
			if x.BySeverity == nil {
				x.BySeverity = map[string]int{}
			}
			x.BySeverity[s] += n
		}
		m[k] = x
	}
	for _, it := range items {
		if it.Status == ItemFailed {
			o.Failed++
			why := "failed"
			if len(it.Errors) > 0 {
				why = it.Errors[0]
			}
			o.FailedItems = append(o.FailedItems, it.Account+"/"+it.Region+": "+why)
			continue
		}
		o.Done++
		o.Keys += it.Keys
		o.Groups += it.Groups
		o.Orphans += it.Orphans
		for g, c := range it.Counts {
			o.Findings += c.Findings
			o.Fixed += c.Fixed
			add(o.PerGuardrail, g, c)
			add(o.PerAccount, it.Account, c)
			add(o.PerRegion, it.Region, c)
		}
		worst = append(worst, it.Worst...)
		o.Spoke = append(o.Spoke, it.Spoke...)
		for _, e := range it.Errors {
			o.Errors = append(o.Errors, e)
		}
		if it.MoreErrors > 0 {
			o.Errors = append(o.Errors, fmt.Sprintf("%s/%s: … and %d more", it.Account, it.Region, it.MoreErrors))
		}
	}
	o.Missing = max(0, meta.Planned-o.Done-o.Failed)
	sort.SliceStable(worst, func(i, j int) bool {
		a, b := worst[i], worst[j]
		if rank(a.Severity) != rank(b.Severity) {
			return rank(a.Severity) < rank(b.Severity)
		}
		return a.Account+a.Region+a.Guardrail+a.Resource < b.Account+b.Region+b.Guardrail+b.Resource
	})
	if len(worst) > MaxDigestItems {
		worst = worst[:MaxDigestItems]
	}
	o.Worst = worst
	sort.Strings(o.FailedItems)
	return o
}

// Summary is the run's summary line.
func (o Org) Summary() Summary {
	return Summary{Targets: o.Meta.Planned, Keys: o.Keys, Groups: o.Groups, Findings: o.Findings, Fixed: o.Fixed,
		Errors: len(o.Errors) + o.Failed + o.Missing + len(o.Spoke), NotEnabled: len(o.Meta.NotEnabled)}
}
