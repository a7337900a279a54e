package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kmsguard/kmsguard/internal/moto"
)

// opCost is what one kind of call costs moto: its CPU per call over n
// calls made one after the other by one client, straight to moto.
type opCost struct {
	op    string // as the counting proxy names it
	shape string // what each call asked for
	n     int
	par   int           // callers at once
	cpu   time.Duration // moto CPU per call
	wall  time.Duration // round trip per call (wall time over calls)
}

// opCosts stages the side-by-side data and times each operation either
// tool makes on it. moto's CPU is read from /proc in 10 ms ticks, so each
// operation runs long enough (n calls) for the tick to be noise.
func opCosts(ctx context.Context, srv *moto.Server, keys, groups int) []opCost {
	stageSide(ctx, srv, keys, groups)
	cfg, _ := srv.Config(ctx, "eu-west-1")
	k, l := kms.NewFromConfig(cfg), cloudwatchlogs.NewFromConfig(cfg)
	tg, p := resourcegroupstaggingapi.NewFromConfig(cfg), ssm.NewFromConfig(cfg)
	var ids, keyARNs []string
	kp := kms.NewListKeysPaginator(k, &kms.ListKeysInput{})
	for kp.HasMorePages() {
		page, err := kp.NextPage(ctx)
		must(err)
		for _, key := range page.Keys {
			ids, keyARNs = append(ids, aws.ToString(key.KeyId)), append(keyARNs, aws.ToString(key.KeyArn))
		}
	}
	var names, groupARNs []string
	lp := cloudwatchlogs.NewDescribeLogGroupsPaginator(l, &cloudwatchlogs.DescribeLogGroupsInput{})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		must(err)
		for _, g := range page.LogGroups {
			names, groupARNs = append(names, aws.ToString(g.LogGroupName)), append(groupARNs, aws.ToString(g.LogGroupArn))
		}
	}
	logsKey, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/kmsguard/logs")})
	must(err)
	logsKeyARN := logsKey.KeyMetadata.Arn
	// A page of log groups after the first, as a sweep reads most pages.
	second, err := l.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	must(err)
	type probe struct {
		op, shape string
		n         int
		call      func(i int) error
		par       int // callers at once
	}
	hundred := func(arns []string, i int) []string {
		start := (i * 100) % max(1, len(arns)-100)
		return arns[start:min(len(arns), start+100)]
	}
	probes := []probe{
		{"DescribeKey", "one key", 400, func(i int) error {
			_, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ids[i%len(ids)])})
			return err
		}, 1},
		{"DescribeKey", "one key, 2 callers at once", 800, func(i int) error {
			_, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ids[i%len(ids)])})
			return err
		}, 2},
		{"DescribeKey", "one key, 4 callers at once", 800, func(i int) error {
			_, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ids[i%len(ids)])})
			return err
		}, 4},
		{"DescribeKey", "one key, 8 callers at once", 800, func(i int) error {
			_, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ids[i%len(ids)])})
			return err
		}, 8},
		{"GetKeyRotationStatus", "one key", 400, func(i int) error {
			_, err := k.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(ids[i%len(ids)])})
			return err
		}, 1},
		{"EnableKeyRotation", "one key", 400, func(i int) error {
			_, err := k.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(ids[i%len(ids)])})
			return err
		}, 1},
		{"ListResourceTags", "one key", 400, func(i int) error {
			_, err := k.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(ids[i%len(ids)])})
			return err
		}, 1},
		{"ListAliases", "one key's (KeyId)", 400, func(i int) error {
			_, err := k.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(ids[i%len(ids)])})
			return err
		}, 1},
		{"ListKeys", fmt.Sprintf("all %d keys", len(ids)), 50, func(int) error {
			_, err := k.ListKeys(ctx, &kms.ListKeysInput{})
			return err
		}, 1},
		{"ListTagsForResource", "one log group", 400, func(i int) error {
			_, err := l.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(groupARNs[i%len(groupARNs)])})
			return err
		}, 1},
		{"AssociateKmsKey", "one log group", 400, func(i int) error {
			_, err := l.AssociateKmsKey(ctx, &cloudwatchlogs.AssociateKmsKeyInput{LogGroupName: aws.String(names[i%len(names)]), KmsKeyId: logsKeyARN})
			return err
		}, 1},
		{"DescribeLogGroups", fmt.Sprintf("a page of 50 of %d", len(names)), 100, func(int) error {
			_, err := l.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{NextToken: second.NextToken})
			return err
		}, 1},
		{"GetResources", "kms:key, a page of 100", 100, func(int) error {
			_, err := tg.GetResources(ctx, &resourcegroupstaggingapi.GetResourcesInput{ResourceTypeFilters: []string{"kms:key"}, ResourcesPerPage: aws.Int32(100)})
			return err
		}, 1},
		{"GetResources", "logs:log-group (none tagged)", 100, func(int) error {
			_, err := tg.GetResources(ctx, &resourcegroupstaggingapi.GetResourcesInput{ResourceTypeFilters: []string{"logs:log-group"}, ResourcesPerPage: aws.Int32(100)})
			return err
		}, 1},
		{"GetResources", "100 key ARNs (ResourceARNList)", 100, func(i int) error {
			_, err := tg.GetResources(ctx, &resourcegroupstaggingapi.GetResourcesInput{ResourceARNList: hundred(keyARNs, i)})
			return err
		}, 1},
		{"GetResources", "100 log group ARNs (ResourceARNList)", 100, func(i int) error {
			_, err := tg.GetResources(ctx, &resourcegroupstaggingapi.GetResourcesInput{ResourceARNList: hundred(groupARNs, i)})
			return err
		}, 1},
		{"GetParametersByPath", "an empty path", 200, func(int) error {
			_, err := p.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/kmsguard/modes"), MaxResults: aws.Int32(10)})
			return err
		}, 1},
	}
	var out []opCost
	for _, pr := range probes {
		must(pr.call(0)) // warm: connection, lazily built moto backends
		start, cpu0 := time.Now(), cpuTime(srv.PID())
		par := pr.par
		var wg sync.WaitGroup
		for w := 0; w < par; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < pr.n; i += par {
					if err := pr.call(i); err != nil {
						must(fmt.Errorf("%s: %w", pr.op, err))
					}
				}
			}()
		}
		wg.Wait()
		wall, cpu := time.Since(start), cpuTime(srv.PID())-cpu0
		out = append(out, opCost{op: pr.op, shape: pr.shape, n: pr.n, par: pr.par, cpu: cpu / time.Duration(pr.n), wall: wall / time.Duration(pr.n)})
	}
	return out
}

// opCostMethod says how opCosts measures.
const opCostMethod = "one client calls moto directly, one call after the other, and moto's CPU time over the calls (from /proc, " +
	"in 10 ms ticks) is divided by their number"

// opCostFinding says what the costs show: the range of a call about one
// resource, and what a bulk read of 100 costs against it.
func opCostFinding(costs []opCost) string {
	lo, hi := time.Duration(1<<62), time.Duration(0)
	var bulk []string
	var worst time.Duration
	var alone, crowd opCost
	for _, c := range costs {
		if strings.HasPrefix(c.shape, "one ") && c.par == 1 {
			lo, hi = min(lo, c.cpu), max(hi, c.cpu)
		}
		if c.op == "DescribeKey" && c.par == 1 {
			alone = c
		}
		if c.op == "DescribeKey" && c.par == 8 {
			crowd = c
		}
	}
	for _, c := range costs {
		if c.op == "GetResources" {
			bulk = append(bulk, fmt.Sprintf("%.1f ms (%s)", ms(c.cpu), c.shape))
			worst = max(worst, c.cpu)
		}
	}
	if hi == 0 || lo == 0 {
		return ""
	}
	out := fmt.Sprintf("A call about one resource costs moto %.1f–%.1f ms of CPU whatever it asks for: the HTTP handling, "+
		"parsing and dispatch of one Python process, not the operation's own work, make up nearly all of it. A bulk read of "+
		"the tags of up to 100 resources costs no more than %.1f single reads: %s. So on plain moto a tool's time follows its "+
		"number of calls, and the calls worth cutting are the ones made per resource.",
		ms(lo), ms(hi), float64(worst)/float64(lo), strings.Join(bulk, ", "))
	if alone.cpu > 0 && crowd.cpu > 0 {
		out += fmt.Sprintf(" Made 8 at a time, the same calls cost moto %.2f ms each against %.2f ms one at a time (DescribeKey, "+
			"%+.0f%%: moto's threads share one interpreter), and take %.2f ms of wall time each against %.2f ms.",
			ms(crowd.cpu), ms(alone.cpu), 100*(float64(crowd.cpu)/float64(alone.cpu)-1), ms(crowd.wall), ms(alone.wall))
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// tagReads says how kmsguard read tags and aliases in a run, from its calls.
func tagReads(calls callStats) string {
	single := calls.byOp["ListResourceTags"] + calls.byOp["ListTagsForResource"]
	var out string
	if bulk := calls.byOp["GetResources"]; bulk > 0 && single == 0 {
		out = fmt.Sprintf("kmsguard read the tags of the keys and log groups in bulk with the Resource Groups Tagging API's "+
			"GetResources (%d calls, by resource type, 100 resources a page), as Cloud Custodian does (by lists of ARNs): no "+
			"guardrail read the tags of a key or log group on its own.", bulk)
	} else {
		out = fmt.Sprintf("kmsguard read tags one resource at a time (%d ListResourceTags, %d ListTagsForResource; %d GetResources).",
			calls.byOp["ListResourceTags"], calls.byOp["ListTagsForResource"], calls.byOp["GetResources"])
	}
	if calls.byOp["ListAliases"] == 1 {
		out += " The aliases named in its alerts came from its one ListAliases."
	}
	return out
}

// writeOpCosts writes the cost table and, for each tool's last run, where
// its moto CPU went: calls × cost per call for every operation it made.
func writeOpCosts(w func(string, ...any), costs []opCost, tools []string, runs []callStats, shapes map[string]string) {
	w("| operation | each call asks for | moto CPU ms per call | round trip ms |\n|---|---|---|---|")
	for _, c := range costs {
		w("| %s | %s | %.2f | %.2f |", c.op, c.shape, ms(c.cpu), ms(c.wall))
	}
	w("")
	if len(runs) == 0 {
		return
	}
	// The cost of an operation as each tool calls it (shapes: the shape
	// kmsguard's and Cloud Custodian's GetResources differ).
	cost := func(tool, op string) (time.Duration, bool) {
		want := shapes[tool+" "+op]
		for _, c := range costs {
			if c.op == op && (want == "" || c.shape == want) {
				return c.cpu, true
			}
		}
		return 0, false
	}
	w("Estimated moto CPU by operation in the last run (calls × moto CPU per call above; operations not profiled are")
	w("left out):")
	w("")
	w("| tool | operation | calls | moto CPU s (est.) | share |\n|---|---|---|---|---|")
	for i, tool := range tools {
		type row struct {
			op    string
			n     int
			spent time.Duration
		}
		var rows []row
		var total time.Duration
		for op, n := range runs[i].byOp {
			if c, ok := cost(tool, op); ok {
				rows = append(rows, row{op, n, c * time.Duration(n)})
				total += c * time.Duration(n)
			}
		}
		sort.Slice(rows, func(a, b int) bool {
			if rows[a].spent != rows[b].spent {
				return rows[a].spent > rows[b].spent
			}
			return rows[a].op < rows[b].op
		})
		for _, r := range rows {
			w("| %s | %s | %d | %.2f | %.0f%% |", tool, r.op, r.n, r.spent.Seconds(), 100*r.spent.Seconds()/total.Seconds())
		}
		w("| %s | **all profiled** | | **%.2f** | |", tool, total.Seconds())
	}
	w("")
}
