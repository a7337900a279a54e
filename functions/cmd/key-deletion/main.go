// Command key-deletion is the Lambda of the key-deletion guardrail: wiring only, the
// logic lives in functions/keydeletion and the runtime in functions/hub. It links
// no other guardrail, so it initialises only the AWS clients it uses.
package main

import (
	"github.com/kmsguard/kmsguard/functions/hub"
	"github.com/kmsguard/kmsguard/functions/keydeletion"
)

func main() { hub.Main(keydeletion.Entry()) }
