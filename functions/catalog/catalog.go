// Package catalog lists every guardrail, in a stable order: an explicit list,
// no registration side effects. Infra builds from it, the CLI and the sweep
// run all of it; a guardrail's own Lambda links only its entry.
package catalog

import (
	"fmt"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/hub"
	"github.com/kmsguard/kmsguard/functions/keydeletion"
	"github.com/kmsguard/kmsguard/functions/keypolicy"
	"github.com/kmsguard/kmsguard/functions/keyrotation"
	"github.com/kmsguard/kmsguard/functions/logencryption"
)

// Entries are every guardrail.
func Entries() []hub.Entry {
	return []hub.Entry{
		keydeletion.Entry(),
		keyrotation.Entry(),
		keypolicy.Entry(),
		logencryption.Entry(),
	}
}

// Specs lists every guardrail's spec.
func Specs() []guardrail.Spec {
	var specs []guardrail.Spec
	for _, e := range Entries() {
		specs = append(specs, e.Spec)
	}
	return specs
}

// IDs lists the guardrail ids of Specs.
func IDs() []string {
	var ids []string
	for _, s := range Specs() {
		ids = append(ids, s.ID)
	}
	return ids
}

// ValidateSettings checks every guardrail's settings in a runtime
// configuration, as its Lambda will at cold start.
func ValidateSettings(rc guardrail.RuntimeConfig) error {
	var errs []string
	for _, e := range Entries() {
		if err := e.Validate(rc.Guardrails[e.Spec.ID]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}
