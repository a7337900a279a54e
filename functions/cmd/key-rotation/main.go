// Command key-rotation is the Lambda of the key-rotation guardrail: wiring only, the
// logic lives in the guardrail's package and the runtime in functions/hub.
package main

import "github.com/kmsguard/kmsguard/functions/hub"

func main() { hub.Main("key-rotation") }
