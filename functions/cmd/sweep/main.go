// Command sweep is the scheduled sweep Lambda: wiring only; the sweep lives
// in functions/sweep and the guardrails in functions/catalog.
package main

import (
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/lambdamain"
)

func main() { lambdamain.Sweep(catalog.Entries()) }
