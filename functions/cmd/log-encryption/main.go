// Command log-encryption is the Lambda of the log-encryption guardrail: wiring only, the
// logic lives in functions/logencryption and the runtime in functions/hub. It links
// no other guardrail, so it initialises only the AWS clients it uses.
package main

import (
	"github.com/kmsguard/kmsguard/functions/hub"
	"github.com/kmsguard/kmsguard/functions/logencryption"
)

func main() { hub.Main(logencryption.Entry()) }
