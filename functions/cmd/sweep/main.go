// Command sweep is the scheduled sweep Lambda: wiring only; the sweep lives
// in functions/hub.
package main

import "github.com/kmsguard/kmsguard/functions/hub"

func main() { hub.MainSweep() }
