package app

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// CheckCompliance applies the cdk-nag AwsSolutions rules to every stack at
// synth: an unsuppressed finding fails the synth. Each suppression, with its
// reason, is in the stack that needs it (Suppress).
func CheckCompliance(a awscdk.App) {
	awscdk.Aspects_Of(a).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}
