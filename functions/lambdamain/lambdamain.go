// Package lambdamain is the whole body of a guardrail Lambda's main: load
// the runtime once (cold start), then serve invocations through
// aws-lambda-go.
//
// Only the Lambda mains link aws-lambda-go's lambda package (this one and
// functions/cmd/sweep), so the kmsguard CLI, which shares functions/hub and
// functions/sweep with the Lambdas, does not carry its RPC mode and
// templates (half the CLI binary, and its memory, when built without the
// lambda.norpc tag). It imports no guardrail and not the sweep: each
// guardrail Lambda links only its own guardrail.
package lambdamain

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// Guardrail serves one guardrail's events. A cold-start failure exits
// non-zero, so Lambda reports an init error instead of running half-wired.
func Guardrail(e guardrail.Entry) {
	o := bootstrap.FromEnv()
	o.Guardrails = []guardrail.Entry{e}
	h, err := bootstrap.Load(context.Background(), o)
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
