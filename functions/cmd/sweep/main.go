// Command sweep is the scheduled sweep Lambda: wiring only; the sweep lives
// in functions/sweep and the guardrails in functions/catalog.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/sweep"
)

func main() {
	o := bootstrap.FromEnv()
	o.Guardrails, o.Known = catalog.Entries(), catalog.IDs()
	h, err := bootstrap.Load(context.Background(), o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kmsguard sweep: cold start failed: %v\n", err)
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context) (sweep.Summary, error) { return sweep.Scheduled(ctx, h) })
}
