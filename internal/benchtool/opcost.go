package main

import (
	"context"
	"fmt"
	"slices"
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
		must(pr.call(0)) // warm: connections, moto's lazily built backends (firstCalls measures those)
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
	return append(out, firstCalls(ctx, srv)...)
}

// warmTagging sends moto one GetResources of each shape the tools use and
// returns the moto CPU that took (on a fresh moto: mostly imports).
func warmTagging(ctx context.Context, srv *moto.Server) time.Duration {
	cfg, err := srv.Config(ctx, "eu-west-1")
	must(err)
	tg := resourcegroupstaggingapi.NewFromConfig(cfg)
	cpu0 := cpuTime(srv.PID())
	for _, in := range []*resourcegroupstaggingapi.GetResourcesInput{
		{ResourceTypeFilters: []string{"kms:key"}}, {ResourceTypeFilters: []string{"logs:log-group"}},
		{ResourceARNList: []string{"arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"}},
		{ResourceARNList: []string{"arn:aws:logs:eu-west-1:123456789012:log-group:/none"}},
	} {
		_, err := tg.GetResources(ctx, in)
		must(err)
	}
	return cpuTime(srv.PID()) - cpu0
}

// firstCalls times the first GetResources of each shape on a fresh moto
// (reset, one key and one log group): moto builds the backends of the
// services GetResources could list when a call first needs them, a cost
// each tool pays once per account-Region, and AWS not at all. It wipes
// moto.
func firstCalls(ctx context.Context, srv *moto.Server) []opCost {
	var out []opCost
	for _, shape := range []string{"kms:key, a page of 100", "logs:log-group (none tagged)", "100 key ARNs (ResourceARNList)", "100 log group ARNs (ResourceARNList)"} {
		must(srv.Reset())
		cfg, _ := srv.Config(ctx, "eu-west-1")
		key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{})
		must(err)
		l := cloudwatchlogs.NewFromConfig(cfg)
		_, err = l.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/first")})
		must(err)
		g, err := l.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
		must(err)
		in := map[string]*resourcegroupstaggingapi.GetResourcesInput{
			"kms:key, a page of 100":               {ResourceTypeFilters: []string{"kms:key"}, ResourcesPerPage: aws.Int32(100)},
			"logs:log-group (none tagged)":         {ResourceTypeFilters: []string{"logs:log-group"}, ResourcesPerPage: aws.Int32(100)},
			"100 key ARNs (ResourceARNList)":       {ResourceARNList: []string{aws.ToString(key.KeyMetadata.Arn)}},
			"100 log group ARNs (ResourceARNList)": {ResourceARNList: []string{aws.ToString(g.LogGroups[0].LogGroupArn)}},
		}[shape]
		tg := resourcegroupstaggingapi.NewFromConfig(cfg)
		start, cpu0 := time.Now(), cpuTime(srv.PID())
		_, err = tg.GetResources(ctx, in)
		must(err)
		out = append(out, opCost{op: "GetResources", shape: firstShape + shape, n: 1, par: 1, cpu: cpuTime(srv.PID()) - cpu0, wall: time.Since(start)})
	}
	return out
}

// firstShape starts the shape of an operation's costly first call.
const firstShape = "first call in the account-Region: "

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
	var first []string
	for _, c := range costs {
		switch {
		case strings.HasPrefix(c.shape, firstShape):
			first = append(first, fmt.Sprintf("%.2f s (%s)", c.cpu.Seconds(), strings.TrimPrefix(c.shape, firstShape)))
		case c.op == "GetResources":
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
	if len(first) > 0 {
		out += fmt.Sprintf(" A first call costs more: the first GetResources in an account-Region makes moto build the "+
			"backends of the services it could list (AWS has no such cost), each timed alone on a freshly reset moto: %s. "+
			"A tool that calls GetResources pays this once per account-Region, here once per run.", strings.Join(first, ", "))
	}
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
// It returns each tool's estimated total.
func writeOpCosts(w func(string, ...any), costs []opCost, tools []string, runs []callStats, shapes map[string][]string) []time.Duration {
	w("| operation | each call asks for | moto CPU ms per call | round trip ms |\n|---|---|---|---|")
	for _, c := range costs {
		w("| %s | %s | %.2f | %.2f |", c.op, c.shape, ms(c.cpu), ms(c.wall))
	}
	w("")
	if len(runs) == 0 {
		return nil
	}
	var totals []time.Duration
	// The cost of an operation as each tool calls it (shapes: the shape
	// kmsguard's and Cloud Custodian's GetResources differ).
	// An operation's cost per call as the tool calls it (shapes[tool+" "+op]
	// lists the shapes it uses, the first for the cost per call; none: the
	// first profiled), and what the first calls of those shapes cost.
	cost := func(tool, op string) (time.Duration, bool) {
		want := shapes[tool+" "+op]
		for _, c := range costs {
			if c.op == op && !strings.HasPrefix(c.shape, firstShape) && c.par == 1 && (len(want) == 0 || c.shape == want[0]) {
				return c.cpu, true
			}
		}
		return 0, false
	}
	firstCost := func(tool, op string) (most time.Duration, ok bool) {
		for _, c := range costs {
			if c.op == op && strings.HasPrefix(c.shape, firstShape) && slices.Contains(shapes[tool+" "+op], strings.TrimPrefix(c.shape, firstShape)) {
				most, ok = max(most, c.cpu), true // the first call of a run builds what the later ones need, or most of it
			}
		}
		return most, ok
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
			if f, ok := firstCost(tool, op); ok && n > 0 {
				rows = append(rows, row{op + ", moto's set-up (its first calls)", 0, f})
				total += f
			}
			if c, ok := cost(tool, op); ok && n > 0 {
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
			n := fmt.Sprint(r.n)
			if r.n == 0 {
				n = "—"
			}
			w("| %s | %s | %s | %.2f | %.0f%% |", tool, r.op, n, r.spent.Seconds(), 100*r.spent.Seconds()/total.Seconds())
		}
		w("| %s | **all profiled** | | **%.2f** | |", tool, total.Seconds())
		totals = append(totals, total)
	}
	w("")
	return totals
}
