// Command key-deletion is the Lambda of the key-deletion guardrail. It only
// wires the hub runtime to the Lambda runtime; the logic lives in
// functions/keydeletion.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kmsguard/kmsguard/functions/hub"
)

func main() {
	h, err := hub.Load(context.Background(), hub.FromEnv())
	if err != nil {
		fmt.Fprintln(os.Stderr, "kmsguard key-deletion: cold start failed:", err)
		os.Exit(1)
	}
	r, err := h.Runner("key-deletion")
	if err != nil {
		fmt.Fprintln(os.Stderr, "kmsguard key-deletion:", err)
		os.Exit(1)
	}
	lambda.Start(r.LambdaHandler())
}
