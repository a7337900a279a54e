package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/internal/moto"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// The organization-scale model: one work item (an account-Region with 50
// keys and 200 log groups) is measured on moto through the counting proxy
// — its calls by operation, and its wall time with 20 ms added to every
// call — and the organization sweep is then modelled from it: Step
// Functions runs items at most `max_concurrency` at once, each item's
// calls hit that account-Region's own quotas, the hub's STS calls are
// shared. Everything past the measured item is a model and says so.

// Model assumptions (labelled in docs/benchmarks.md).
const (
	scaleKeys, scaleGroups = 50, 200
	scaleRegions           = 17 // the Regions enabled by default
	// itemOverhead is the model's time per item outside the sweep code:
	// the Distributed Map starting a child execution and the Lambda
	// invoke (warm). A cold start adds coldStart to the first item of
	// each concurrent slot.
	itemOverhead = 300 * time.Millisecond
	coldStart    = 250 * time.Millisecond
	// stsRate is the sustained AssumeRole rate the model gives the hub:
	// STS publishes no quota; throttled calls are retried by the SDK, each
	// costing stsBackoff.
	stsRate    = 100.0
	stsBackoff = 500 * time.Millisecond
	// orgPageAccounts and orgPageTime: ListAccountsForParent returns up
	// to 20 accounts a page; Organizations is slow and throttles early.
	orgPageAccounts = 20
	orgPageTime     = 200 * time.Millisecond
	// recordBytes is an item record's size (counts, the 10 worst items).
	recordBytes = 3 * 1024
)

// Prices (us-east-1 list prices, arm64 Lambda; a model, not a bill).
const (
	priceTransition = 0.025 / 1000     // Step Functions Standard, per state transition
	priceLambdaGBs  = 0.0000133334     // Lambda arm64, per GB-second
	priceLambdaReq  = 0.20 / 1_000_000 // per request
	priceWRU        = 1.25 / 1_000_000 // DynamoDB on-demand, per write request unit (1 KB)
	priceRRU        = 0.25 / 1_000_000 // per read request unit (4 KB, strongly consistent)
	priceKMSReq     = 0.03 / 10_000    // KMS API requests in the member accounts
	lambdaGB        = 0.5              // the sweep Lambda's memory
	transitionsItem = 4                // child start, item task, its result, child end
)

type itemMeasure struct {
	calls    callStats
	wall0    time.Duration // no added latency
	wall20   time.Duration // 20 ms added per call
	findings int
}

// measureItem stages one account-Region and sweeps it as a work item
// does (Run with one target, every guardrail, alert mode: a steady-state
// daily sweep, which mostly confirms).
func measureItem(ctx context.Context) itemMeasure {
	srv, err := moto.Start(ctx)
	must(err)
	defer srv.Stop()
	cnt := &counter{}
	proxy := httptest.NewServer(cnt.handler(srv.URL))
	defer proxy.Close()
	proxied := *srv
	proxied.URL = proxy.URL
	sb, err := sandbox.NewHub(ctx, &proxied, "eu-west-1")
	must(err)
	const member = "111122223333"
	cfg, _ := srv.AccountConfig(ctx, member, "eu-west-1")
	cfg.RetryMaxAttempts = 5
	k, l := kms.NewFromConfig(cfg), cloudwatchlogs.NewFromConfig(cfg)
	logsKey, err := sb.LogsKey(ctx, member)
	must(err)
	parallel(scaleKeys-1, func(i int) { // the logs key is the 50th
		out, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
		must(err)
		_, err = k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(fmt.Sprintf("alias/app-%d", i)), TargetKeyId: out.KeyMetadata.KeyId})
		must(err)
		if i%10 != 0 { // one in ten without rotation
			_, err = k.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: out.KeyMetadata.KeyId})
			must(err)
		}
	})
	parallel(scaleGroups, func(i int) {
		in := &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(fmt.Sprintf("/app/g-%04d", i))}
		if i%10 != 0 { // one in ten unencrypted
			in.KmsKeyId = aws.String(logsKey)
		}
		_, err := l.CreateLogGroup(ctx, in)
		must(err)
	})
	h, err := bootstrap.Load(ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &sb.Config, HubAccount: sandbox.HubAccount, Mode: "alert"})
	must(err)
	var m itemMeasure
	target := []sweep.Target{{Account: member, Region: "eu-west-1"}}
	for _, lat := range []time.Duration{0, 20 * time.Millisecond} {
		cnt.reset()
		cnt.latency = lat
		// A fresh runtime per run: the item Lambda assumes its roles anew.
		h, err = bootstrap.Load(ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &sb.Config, HubAccount: sandbox.HubAccount, Mode: "alert"})
		must(err)
		start := time.Now()
		rep, err := sweep.Run(ctx, h, sweep.Options{Targets: target})
		d := time.Since(start)
		must(err)
		if len(rep.Errors) > 0 {
			must(fmt.Errorf("the measured item had errors: %v", rep.Errors))
		}
		if lat == 0 {
			m.calls, m.wall0, m.findings = cnt.snapshot(), d, len(rep.Findings)
		} else {
			m.wall20 = d
		}
	}
	cnt.latency = 0
	return m
}

// orgRun is one modelled organization run.
type orgRun struct {
	accounts, items, concurrency int
	wall                         time.Duration
	calls, kmsCalls              int
	stsThrottles, quotaThrottles int
	cost                         float64
	slotsBusy                    float64 // share of the run the slots are busy
}

// modelOrg schedules items on concurrency slots in virtual time. Each
// item's duration is the measured one, varied by ±20% (a fixed seed: the
// same inputs give the same figures), plus the overhead; the hub's
// AssumeRole rate is checked per second of the run and each call over
// stsRate costs one SDK backoff to the item that made it.
func modelOrg(m itemMeasure, accounts, concurrency int) orgRun {
	items := accounts * scaleRegions
	r := orgRun{accounts: accounts, items: items, concurrency: concurrency}
	assume := m.calls.byOp["AssumeRole"]
	perItem := m.calls.total
	kmsOps := 0
	for op, n := range m.calls.byOp {
		switch op {
		case "ListKeys", "ListAliases", "DescribeKey", "GetKeyRotationStatus", "GetKeyPolicy", "ListResourceTags":
			kmsOps += n
		}
	}
	// Plan: the organization's accounts, a page of 20 at a time.
	plan := time.Duration(math.Ceil(float64(accounts)/orgPageAccounts)) * orgPageTime
	// Items on slots, earliest-free first, durations from a fixed LCG.
	seed := uint64(42)
	next := func() float64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return float64(seed>>11) / float64(1<<53)
	}
	slots := make([]time.Duration, concurrency)
	cold := make([]bool, concurrency)
	var busy time.Duration
	stsPerSecond := map[int64]int{}
	for i := 0; i < items; i++ {
		// The slot that frees first.
		s := 0
		for j := range slots {
			if slots[j] < slots[s] {
				s = j
			}
		}
		d := time.Duration(float64(m.wall20)*(0.8+0.4*next())) + itemOverhead
		if !cold[s] {
			d += coldStart
			cold[s] = true
		}
		start := slots[s]
		sec := int64(start / time.Second)
		stsPerSecond[sec] += assume
		if over := stsPerSecond[sec] - int(stsRate); over > 0 {
			n := min(over, assume)
			r.stsThrottles += n
			d += time.Duration(n) * stsBackoff
		}
		slots[s] = start + d
		busy += d
	}
	end := time.Duration(0)
	for _, t := range slots {
		end = max(end, t)
	}
	// Digest: Query the records, 1 MB a page.
	pages := math.Ceil(float64(items*recordBytes) / (1 << 20))
	digest := time.Duration(pages) * 50 * time.Millisecond
	r.wall = plan + end + digest
	r.slotsBusy = float64(busy) / float64(end*time.Duration(concurrency))
	r.calls = items * perItem
	r.kmsCalls = items * kmsOps
	// Per account-Region quotas: the busiest operation's rate within an
	// item, against its quota (DescribeLogGroups 5/s is the lowest).
	lgPages := m.calls.byOp["DescribeLogGroups"]
	if rate := float64(lgPages) / m.wall20.Seconds(); rate > 5 && float64(lgPages) > 5 {
		r.quotaThrottles = items * int(float64(lgPages)-5)
	}
	gbs := (busy.Seconds()) * lambdaGB
	wru := float64(items) * math.Ceil(recordBytes/1024.0)
	rru := pages * 256 // 1 MB page = 256 RRU
	r.cost = float64(items*transitionsItem+6)*priceTransition + gbs*priceLambdaGBs + float64(items+2)*priceLambdaReq +
		wru*priceWRU + rru*priceRRU + float64(r.kmsCalls)*priceKMSReq
	return r
}

func scaleModel(ctx context.Context, w func(string, ...any)) {
	m := measureItem(ctx)
	w("## Organization scale (model)")
	w("")
	w("**Measured** (this machine, moto through the counting proxy): one work item — one account-Region with %d keys (one", scaleKeys)
	w("in ten without rotation) and %d log groups (one in ten unencrypted), every guardrail, alert mode (a steady-state", scaleGroups)
	w("daily sweep), a fresh runtime that assumes its roles anew, as the item Lambda does:")
	w("")
	w("| | |\n|---|---|")
	w("| calls per item | %d: %s |", m.calls.total, m.calls)
	w("| item wall time, no added latency | %.2f s |", m.wall0.Seconds())
	w("| item wall time, 20 ms added to every call | %.2f s |", m.wall20.Seconds())
	w("| findings in the item | %d |", m.findings)
	w("")
	w("**Modelled** from that item — a model, not a measurement of AWS: items of %d keys and %d log groups in every", scaleKeys, scaleGroups)
	w("account × %d Regions; each item takes the measured 20 ms-latency time ±20%% (fixed seed) plus %v for the", scaleRegions, itemOverhead)
	w("Distributed Map's child execution and the Lambda invoke, plus a %v cold start the first time a concurrency slot", coldStart)
	w("is used; items run on `max_concurrency` slots, each taking the next item when it frees; planning lists the accounts")
	w("%d per Organizations page at %v a page; the digest reads the records (%d KB each) 1 MB per Query at 50 ms.", orgPageAccounts, orgPageTime, recordBytes/1024)
	w("Throttling: each item's calls use its own account-Region's quotas (KMS: 500 to 2,000 per second per operation;")
	w("DescribeLogGroups 5 per second — an item's %d pages stay within one second's allowance); the hub's AssumeRole", m.calls.byOp["DescribeLogGroups"])
	w("calls are shared: STS publishes no quota, so the model allows %.0f per second and charges each call over it one", stsRate)
	w("%v SDK backoff. No item is lost in the model: a throttled call is retried, a failed item is recorded (the state", stsBackoff)
	w("machine's Catch), and the digest counts every planned item. Cost: Step Functions Standard $0.025 per 1,000")
	w("transitions (%d per item), Lambda arm64 %.1f GB at $0.0000133334 per GB-s and $0.20 per million requests, DynamoDB", transitionsItem, lambdaGB)
	w("on-demand writes $1.25 and reads $0.25 per million units, KMS requests $0.03 per 10,000 in the member accounts")
	w("(us-east-1 list prices; the free tiers are ignored).")
	w("")
	w("| accounts | work items | max_concurrency | wall | target ≤ 15 min | AWS calls | STS throttles (retried) | per-account-Region throttles | slots busy | cost per run |\n|---|---|---|---|---|---|---|---|---|---|")
	type row struct{ accounts, concurrency int }
	rows := []row{{100, 40}, {1000, 40}, {1000, 100}, {5000, 100}, {5000, 200}}
	var runs []orgRun
	for _, rw := range rows {
		runs = append(runs, modelOrg(m, rw.accounts, rw.concurrency))
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].accounts < runs[j].accounts })
	for _, r := range runs {
		ok := "—"
		if r.accounts == 1000 {
			ok = "yes"
			if r.wall > 15*time.Minute {
				ok = "**no**"
			}
		}
		w("| %d | %d | %d | %s | %s | %d | %d | %d | %.0f%% | $%.2f |", r.accounts, r.items, r.concurrency, r.wall.Round(time.Second), ok, r.calls, r.stsThrottles, r.quotaThrottles, r.slotsBusy*100, r.cost)
	}
	w("")
	w("What the model leaves out: Lambda's own scaling ramp (a burst of %d concurrent invocations is within every Region's", rows[len(rows)-1].concurrency)
	w("initial burst), member accounts far larger than %d keys and %d log groups (an item's time grows with its", scaleKeys, scaleGroups)
	w("resources: the sweep throughput section above shows how), and remediation calls (CancelKeyDeletion and EnableKey")
	w("have 5-per-second quotas per account-Region; a first sweep that fixes many keys in one account-Region slows to them).")
	w("")
}
