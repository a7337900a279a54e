// Command key-rotation is the Lambda of the key-rotation guardrail: wiring only, the
// logic lives in functions/keyrotation and the runtime in functions/hub and functions/lambdamain. It links
// no other guardrail, so it initialises only the AWS clients it uses.
package main

import (
	"github.com/kmsguard/kmsguard/functions/keyrotation"
	"github.com/kmsguard/kmsguard/functions/lambdamain"
)

func main() { lambdamain.Guardrail(keyrotation.Entry()) }
