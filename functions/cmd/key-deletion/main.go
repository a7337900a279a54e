// Command key-deletion is the Lambda of the key-deletion guardrail: wiring only, the
// logic lives in the guardrail's package and the runtime in functions/hub.
package main

import "github.com/kmsguard/kmsguard/functions/hub"

func main() { hub.Main("key-deletion") }
