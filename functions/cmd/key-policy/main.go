// Command key-policy is the Lambda of the key-policy guardrail: wiring only, the
// logic lives in functions/keypolicy and the runtime in functions/hub. It links
// no other guardrail, so it initialises only the AWS clients it uses.
package main

import (
	"github.com/kmsguard/kmsguard/functions/hub"
	"github.com/kmsguard/kmsguard/functions/keypolicy"
)

func main() { hub.Main(keypolicy.Entry()) }
