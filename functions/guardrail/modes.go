package guardrail

import "regexp"

// ResolvedMode is a mode and the rule that chose it, for alerts and logs.
type ResolvedMode struct {
	Mode   Mode
	Source string
}

// ModeLookup answers which mode applies. ModeConfig implements it; later
// sources (a refreshed SSM parameter) do too.
type ModeLookup interface {
	Resolve(account, guardrailID string, specDefault Mode) ResolvedMode
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// ValidAccountID reports whether s is a 12-digit AWS account id.
func ValidAccountID(s string) bool { return accountIDPattern.MatchString(s) }
