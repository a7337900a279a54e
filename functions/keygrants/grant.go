package keygrants

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/kmsguard/kmsguard/functions/internal/trust"
)

// Finding codes.
const (
	// CodeExternalGrantee: the grant gives the key's use to a principal
	// outside the account, the organization and the trusted accounts.
	CodeExternalGrantee = "EXTERNAL-GRANTEE"
	// CodeExternalRetiree: a principal outside may retire the grant (and
	// so cut the grantee's access); the grantee itself is inside.
	CodeExternalRetiree = "EXTERNAL-RETIREE"
	// CodeUnattributed: a principal kmsguard cannot tie to an account.
	CodeUnattributed = "UNATTRIBUTED"
)

// sensitive are the grant operations that hand out the key's secrets, its
// identity or its delegation: with them and no encryption context
// constraint an outside principal can decrypt anything the key protects,
// re-encrypt it away, grant itself more, or sign, MAC and agree keys as
// the key's owner (asymmetric and HMAC keys).
var (
	sensitive = []string{"Decrypt", "ReEncryptFrom", "ReEncryptTo", "CreateGrant"}
	ownerOnly = []string{"Sign", "GenerateMac", "DeriveSharedSecret"}
)

// Grant is one KMS grant, from a CreateGrant event or ListGrants.
type Grant struct {
	ID   string
	Name string
	// Grantee and Retiring are the grantee and retiring principals.
	Grantee, Retiring string
	Operations        []string
	// Constraints are the encryption context constraints in words, "" for
	// none.
	Constraints string
	// ViaService names the AWS service that created the grant on a
	// principal's behalf (the record's userIdentity.invokedBy, which
	// kms:GrantIsForAWSResource rests on), "" when a principal called
	// CreateGrant itself.
	ViaService string
	// Created is when KMS made the grant, when known (ListGrants).
	Created string
}

// Finding is one problem with a grant.
type Finding struct {
	Code string
	// Principal is the principal it is about, Account its account ("" if
	// not known).
	Principal, Account string
	// Removable: remediate mode may revoke the grant for it.
	Removable bool
	Message   string
}

// Verdict is what Analyze makes of a grant.
type Verdict struct {
	Findings []Finding
	// Service says an AWS service made or holds the grant: left alone.
	Service string
	// Critical: an outside grantee may decrypt, re-encrypt or grant
	// without an encryption context constraint.
	Critical bool
}

// Removable reports whether remediate mode revokes the grant.
func (v Verdict) Removable() bool {
	return slices.ContainsFunc(v.Findings, func(f Finding) bool { return f.Removable })
}

// Codes lists the findings' codes, each once, in order.
func (v Verdict) Codes() []string {
	var out []string
	for _, f := range v.Findings {
		if !slices.Contains(out, f.Code) {
			out = append(out, f.Code)
		}
	}
	return out
}

// Unsure are accounts whose membership in the organization kmsguard asked
// about and could not learn: a finding about one is reported, never acted
// on.
type Unsure []string

// servicePrincipal recognises principals that AWS services hold grants
// as: a service principal ("rds.eu-west-1.amazonaws.com"), the
// "<account>:aws:<service-role>:<session>" form EBS grants to
// (https://docs.aws.amazon.com/kms/latest/developerguide/ct-ec2two.html),
// and sessions of AWS-reserved roles, whose names start with "aws:".
func servicePrincipal(p string) bool {
	if trust.ServicePrincipal(p) {
		return true
	}
	if acct, rest, ok := strings.Cut(p, ":"); ok && trust.IsAccountID(acct) && strings.HasPrefix(rest, "aws:") {
		return true
	}
	parts := strings.SplitN(p, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && (parts[2] == "sts" || parts[2] == "iam") {
		res := parts[5]
		for _, pre := range []string{"assumed-role/aws:", "role/aws:"} {
			if strings.HasPrefix(res, pre) {
				return true
			}
		}
	}
	return false
}

// Analyze decides what is wrong with a grant on a key of m.Account. It is
// pure: the organization's membership is in m.Members (known members) and
// unsure (accounts it could not learn about).
func Analyze(g Grant, m trust.Model, unsure Unsure) Verdict {
	var v Verdict
	// A grant an AWS service made on a principal's behalf is recognised by
	// whom it is for: a service principal or an AWS-reserved principal
	// that only the service can use (the EBS shape). The record's
	// invokedBy alone proves nothing about the grantee (a service calling
	// on a user's behalf is not kms:GrantIsForAWSResource), so a grant to
	// an outside role made through a service is checked like any other.
	if servicePrincipal(g.Grantee) && (g.Retiring == "" || servicePrincipal(g.Retiring) || inside(g.Retiring, m)) {
		v.Service = g.Grantee
		return v
	}
	check := func(p, role string) (Finding, bool) {
		if p == "" || servicePrincipal(p) {
			return Finding{}, false
		}
		acct, wild, ok := trust.PrincipalAccount(p)
		switch {
		case wild || !ok:
			return Finding{Code: CodeUnattributed, Principal: p,
				Message: fmt.Sprintf("the %s %s is not an account, an IAM ARN or an STS ARN, so kmsguard cannot tell whose it is", role, p)}, true
		case m.Trusted(acct):
			return Finding{}, false
		case slices.Contains(unsure, acct):
			return Finding{Principal: p, Account: acct,
				Message: fmt.Sprintf("the %s %s is in account %s, which is not this account or a trusted account, and kmsguard could not learn whether it is in the organization (so it does not revoke the grant)", role, p, acct)}, true
		}
		where := "outside this account, the organization and the trusted accounts"
		switch {
		case m.NoOrganization:
			where = "outside this account and the trusted accounts"
		case !m.MembersAsked:
			where = "outside this account and the trusted accounts (kmsguard cannot read the organization's accounts from this hub, so it does not know whether it is in the organization)"
		}
		return Finding{Principal: p, Account: acct, Removable: g.ID != "",
			Message: fmt.Sprintf("the %s %s is in account %s, %s", role, p, acct, where)}, true
	}
	if f, ok := check(g.Grantee, "grantee"); ok {
		if f.Code == "" {
			f.Code = CodeExternalGrantee
		}
		if f.Code == CodeUnattributed {
			f.Removable = false
		}
		ops, owner := g.sensitiveOps(), g.ownerOps()
		switch {
		case len(owner) > 0:
			// Encryption context constraints do not apply to these
			// operations (they take no encryption context), so nothing
			// narrows them.
			v.Critical = true
			f.Message += fmt.Sprintf("; it may call %s, acting as this account with the key (signatures, MACs, shared secrets)", strings.Join(owner, ", "))
		case len(ops) > 0 && g.Constraints == "":
			v.Critical = true
			f.Message += fmt.Sprintf("; it may call %s with no encryption context constraint, so it can use the key on anything the key protects", strings.Join(ops, ", "))
		case len(ops) > 0:
			f.Message += fmt.Sprintf("; it may call %s where %s", strings.Join(ops, ", "), g.Constraints)
		default:
			f.Message += fmt.Sprintf("; it may call %s", g.opsText())
		}
		if g.ViaService != "" {
			f.Message += fmt.Sprintf(" (the grant was made through %s)", g.ViaService)
		}
		v.Findings = append(v.Findings, f)
	}
	if f, ok := check(g.Retiring, "retiring principal"); ok {
		if f.Code == "" {
			f.Code = CodeExternalRetiree
		}
		// Revoking the grant for its retiring principal alone would cut the
		// access of a grantee inside the account: reported, not revoked.
		f.Removable = false
		f.Message += "; it can retire the grant, cutting off the grantee"
		v.Findings = append(v.Findings, f)
	}
	return v
}

func inside(p string, m trust.Model) bool {
	acct, wild, ok := trust.PrincipalAccount(p)
	return ok && !wild && m.Trusted(acct)
}

func (g Grant) sensitiveOps() []string {
	var out []string
	for _, op := range g.Operations {
		if slices.Contains(sensitive, op) {
			out = append(out, op)
		}
	}
	return out
}

func (g Grant) ownerOps() []string {
	var out []string
	for _, op := range g.Operations {
		if slices.Contains(ownerOnly, op) {
			out = append(out, op)
		}
	}
	return out
}

func (g Grant) opsText() string {
	if len(g.Operations) == 0 {
		return "no operation"
	}
	return strings.Join(g.Operations, ", ")
}

// constraintText puts encryption context constraints in words.
func constraintText(subset, equals map[string]string) string {
	pairs := func(m map[string]string) string {
		keys := slices.Collect(maps.Keys(m))
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			out = append(out, k+"="+m[k])
		}
		return strings.Join(out, ", ")
	}
	switch {
	case len(equals) > 0:
		return "the encryption context is exactly " + pairs(equals)
	case len(subset) > 0:
		return "the encryption context includes " + pairs(subset)
	}
	return ""
}

// Accounts are the accounts of a grant's principals that are neither the
// owner nor trusted: the ones whose membership in the organization
// decides.
func (g Grant) Accounts(m trust.Model) []string {
	var out []string
	for _, p := range []string{g.Grantee, g.Retiring} {
		if p == "" || servicePrincipal(p) {
			continue
		}
		if acct, wild, ok := trust.PrincipalAccount(p); ok && !wild && !m.Trusted(acct) && !slices.Contains(out, acct) {
			out = append(out, acct)
		}
	}
	return out
}
