// Command key-deletion is the Lambda of the key-deletion guardrail: wiring only, the
// logic lives in functions/keydeletion and the runtime in functions/hub and functions/lambdamain. It links
// no other guardrail, so it initialises only the AWS clients it uses.
package main

import (
	"github.com/kmsguard/kmsguard/functions/keydeletion"
	"github.com/kmsguard/kmsguard/functions/lambdamain"
)

func main() { lambdamain.Guardrail(keydeletion.Entry()) }
