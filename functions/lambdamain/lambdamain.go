// Package lambdamain is the whole body of each Lambda's main: load the
// runtime once (cold start), then serve invocations through aws-lambda-go.
//
// It is the only package that links aws-lambda-go's lambda package, so the
// kmsguard CLI, which shares functions/hub and functions/sweep with the
// Lambdas, does not carry its RPC mode and templates (half the CLI binary,
// and its memory, when built without the lambda.norpc tag).
package lambdamain

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kmsguard/kmsguard/functions/hub"
	"github.com/kmsguard/kmsguard/functions/sweep"
)

// Guardrail serves one guardrail's events. A cold-start failure exits
// non-zero, so Lambda reports an init error instead of running half-wired.
func Guardrail(e hub.Entry) {
	o := hub.FromEnv()
	o.Guardrails = []hub.Entry{e}
	h, err := hub.Load(context.Background(), o)
	if err == nil {
		r, rerr := h.Runner(e.Spec.ID)
		if rerr == nil {
			lambda.Start(r.LambdaHandler())
			return
		}
		err = rerr
	}
	fmt.Fprintf(os.Stderr, "kmsguard %s: cold start failed: %v\n", e.Spec.ID, err)
	os.Exit(1)
}

// Sweep serves the scheduled sweep over every guardrail in entries.
func Sweep(entries []hub.Entry) {
	o := hub.FromEnv()
	o.Guardrails = entries
	h, err := hub.Load(context.Background(), o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kmsguard sweep: cold start failed: %v\n", err)
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context) (sweep.Summary, error) { return sweep.Scheduled(ctx, h) })
}
