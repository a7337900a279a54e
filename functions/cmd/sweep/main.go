// Command sweep is the sweep Lambda: wiring only; the sweep lives in
// functions/sweep and the guardrails in functions/catalog. Invoked by the
// organization sweep's state machine with a phase (plan, item, digest), it
// runs that part; invoked without one, it sweeps the whole scope in this
// one process (small deployments, a manual run).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/functions/sweep"
)

func main() {
	o := bootstrap.FromEnv()
	o.Guardrails, o.Known = catalog.Entries(), catalog.IDs()
	ctx := context.Background()
	h, err := bootstrap.Load(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kmsguard sweep: cold start failed: %v\n", err)
		os.Exit(1)
	}
	store := sweep.Store{DB: dynamodb.NewFromConfig(h.AWS()), S3: s3.NewFromConfig(h.AWS()),
		Table: os.Getenv(runconfig.EnvSweepTable), Bucket: os.Getenv(runconfig.EnvSweepBucket)}
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (any, error) {
		var in sweep.Input
		if len(raw) > 0 {
			_ = json.Unmarshal(raw, &in) // a schedule's own event has no phase
		}
		if in.Phase == "" {
			return sweep.Scheduled(ctx, h)
		}
		if store.Table == "" || store.Bucket == "" {
			return nil, fmt.Errorf("phase %s needs %s and %s", in.Phase, runconfig.EnvSweepTable, runconfig.EnvSweepBucket)
		}
		return sweep.Phase(ctx, h, store, in)
	})
}
