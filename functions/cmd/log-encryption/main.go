// Command log-encryption is the Lambda of the log-encryption guardrail: wiring only, the
// logic lives in functions/logencryption and the runtime in functions/hub and functions/lambdamain. It links
// no other guardrail, so it initialises only the AWS clients it uses.
package main

import (
	"github.com/kmsguard/kmsguard/functions/lambdamain"
	"github.com/kmsguard/kmsguard/functions/logencryption"
)

func main() { lambdamain.Guardrail(logencryption.Entry()) }
