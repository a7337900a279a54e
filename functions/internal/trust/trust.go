// Package trust is kmsguard's one model of who is inside: the account that
// owns a resource, the accounts of its organization, and the accounts the
// configuration trusts. The key-policy analyzer and the key-grants
// guardrail both decide "external" with it, so a principal is never
// trusted by one and reported by the other.
package trust

import (
	"slices"
	"strings"
)

// Model is what kmsguard knows about a resource's surroundings.
type Model struct {
	// Account owns the resource.
	Account string
	// NoOrganization says the account is known to be in no organization.
	NoOrganization bool
	// TrustedAccounts are outside the organization and trusted anyway.
	TrustedAccounts []string
	// Members are other accounts known to be in the organization (read
	// from AWS Organizations by the hub; empty when it cannot tell).
	Members []string
	// MembersAsked says the organization's membership was read for the
	// accounts involved; without it an account outside the owner and the
	// trusted accounts may still be in the organization.
	MembersAsked bool
}

// Trusted reports whether an account is inside: the owner, a trusted
// account, or a known member of the organization.
func (m Model) Trusted(account string) bool {
	return account != "" && (account == m.Account || slices.Contains(m.TrustedAccounts, account) || slices.Contains(m.Members, account))
}

// PrincipalAccount returns the account of an AWS principal: a 12-digit id,
// an IAM or STS ARN. ok is false for unique ids (AIDA..., AROA...) of
// deleted principals and malformed values; wildcard is true when the
// account part is not a fixed value.
func PrincipalAccount(p string) (account string, wildcard, ok bool) {
	if IsAccountID(p) {
		return p, false, true
	}
	parts := strings.SplitN(p, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return "", strings.ContainsAny(p, "*?"), false
	}
	acct := parts[4]
	if strings.ContainsAny(acct, "*?") || strings.Contains(acct, "${") {
		return "", true, true
	}
	return acct, false, IsAccountID(acct)
}

// IsAccountID reports whether s is a 12-digit AWS account id.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// IsAccountRoot reports whether p is the account itself (its root ARN or id).
func IsAccountRoot(p, account string) bool {
	if p == account {
		return true
	}
	parts := strings.SplitN(p, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[4] == account && parts[5] == "root"
}

// ServicePrincipal reports whether p names an AWS service
// ("ebs.amazonaws.com", "rds.eu-west-1.amazonaws.com").
func ServicePrincipal(p string) bool {
	return !strings.Contains(p, ":") && (strings.HasSuffix(p, ".amazonaws.com") || strings.HasSuffix(p, ".amazonaws.com.cn"))
}

// Strings reads a policy element that IAM's grammar lets be a string or a
// list of strings (Action, Principal's AWS, a condition's values), decoded
// by encoding/json into any; other values read as none.
func Strings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
