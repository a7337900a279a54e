// Command key-rotation is the Lambda of the key-rotation guardrail: wiring only, the
// logic lives in functions/keyrotation and the runtime in functions/hub. It links
// no other guardrail, so it initialises only the AWS clients it uses.
package main

import (
	"github.com/kmsguard/kmsguard/functions/hub"
	"github.com/kmsguard/kmsguard/functions/keyrotation"
)

func main() { hub.Main(keyrotation.Entry()) }
