// Command key-policy is the Lambda of the key-policy guardrail: wiring only, the
// logic lives in functions/keypolicy and the runtime in functions/hub and functions/lambdamain. It links
// no other guardrail, so it initialises only the AWS clients it uses.
package main

import (
	"github.com/kmsguard/kmsguard/functions/keypolicy"
	"github.com/kmsguard/kmsguard/functions/lambdamain"
)

func main() { lambdamain.Guardrail(keypolicy.Entry()) }
