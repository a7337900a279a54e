// Command log-encryption is the Lambda of the log-encryption guardrail: wiring only, the
// logic lives in the guardrail's package and the runtime in functions/hub.
package main

import "github.com/kmsguard/kmsguard/functions/hub"

func main() { hub.Main("log-encryption") }
