// Command kmsguard-cdk is the CDK app (cdk.json runs it). It loads the
// configuration file named by the context value kmsguard:config (default
// kmsguard.yaml), validates it, and builds the stacks (infra/app).
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/infra/app"
	"github.com/kmsguard/kmsguard/infra/config"
)

func main() {
	defer jsii.Close()
	a := awscdk.NewApp(nil)
	path := contextString(a, "kmsguard:config", "kmsguard.yaml")
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintln(os.Stderr, "(copy docs/kmsguard.example.yaml to kmsguard.yaml, or pass -c kmsguard:config=FILE)")
		os.Exit(2)
	}
	if err := app.Build(a, cfg, contextString(a, "kmsguard:assetDir", "dist")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	app.CheckCompliance(a)
	a.Synth(nil)
}

func contextString(a awscdk.App, key, def string) string {
	if v, ok := a.Node().TryGetContext(jsii.String(key)).(string); ok && v != "" {
		return v
	}
	return def
}
