// Command kmsguard-cdk is the CDK app (cdk.json runs it). It reads the
// deployment settings from CDK context and builds the stacks; the stacks
// themselves live in infra/hub.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/hub"
	infrahub "github.com/kmsguard/kmsguard/infra/hub"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)

	emails := contextList(app, "kmsguard:alertEmails")
	cfgJSON := contextString(app, "kmsguard:runtimeConfig")
	if _, err := guardrail.ParseRuntimeConfig([]byte(cfgJSON), hub.IDs()); err != nil {
		fmt.Fprintln(os.Stderr, "context kmsguard:runtimeConfig:", err)
		os.Exit(2)
	}
	assetDir := contextString(app, "kmsguard:assetDir")
	if assetDir == "" {
		assetDir = "dist"
	}
	infrahub.NewStack(app, "kmsguard-hub", &infrahub.Props{
		StackProps:        awscdk.StackProps{Env: env()},
		Specs:             hub.Specs(),
		AssetDir:          assetDir,
		AlertEmails:       emails,
		OrganizationID:    contextString(app, "kmsguard:organizationId"),
		RuntimeConfigJSON: cfgJSON,
	})
	app.Synth(nil)
}

func contextString(app awscdk.App, key string) string {
	v := app.Node().TryGetContext(jsii.String(key))
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s)
	}
	return fmt.Sprint(v)
}

// contextList accepts a JSON list in cdk.json or a comma-separated string
// from `-c key=a,b`.
func contextList(app awscdk.App, key string) []string {
	v := app.Node().TryGetContext(jsii.String(key))
	var out []string
	switch t := v.(type) {
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok && strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
	case string:
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// env pins the stack to the CLI's account and Region when credentials are
// available; without them the template stays environment-agnostic.
func env() *awscdk.Environment {
	account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION")
	if account == "" || region == "" {
		return nil
	}
	return &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
}
