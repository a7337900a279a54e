package keygrants

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/internal/alert"
	"github.com/kmsguard/kmsguard/functions/internal/kmskey"
)

// A is what the key-grants alert is written from.
type A = guardrail.Alert[State]

// outside lists the outside accounts of the grants: those that may use
// the key (grantees) and those that may only retire a grant. revoked
// keeps only the grants kmsguard revoked.
func (s State) outside(revoked bool) (users, retirers []string) {
	for _, g := range s.Grants {
		if revoked && !slices.Contains(s.Revoked, g.ID) {
			continue
		}
		for _, f := range Analyze(g, s.Model, s.Unsure).Findings {
			switch {
			case f.Account == "":
			case f.Code == CodeExternalRetiree && !slices.Contains(retirers, f.Account):
				retirers = append(retirers, f.Account)
			case f.Code != CodeExternalRetiree && !slices.Contains(users, f.Account):
				users = append(users, f.Account)
			}
		}
	}
	return users, retirers
}

func accounts(a []string) string {
	if len(a) == 1 {
		return "account " + a[0]
	}
	return "accounts " + strings.Join(a, ", ")
}

func grantsWord(n int) string {
	if n == 1 {
		return "a grant"
	}
	return fmt.Sprintf("%d grants", n)
}

func (l *logic) Headline(a *A) string {
	name, s := a.Outcome.Resource, a.State
	if a.Acted && !a.Failed() {
		users, _ := s.outside(true)
		who := "a principal outside"
		if len(users) > 0 {
			who = accounts(users)
		}
		return fmt.Sprintf("kmsguard revoked %s on KMS key %s that let %s use the key.", grantsWord(len(s.Revoked)), name, who)
	}
	users, retirers := s.outside(false)
	what := "lets a principal kmsguard cannot attribute use the key"
	switch {
	case len(users) > 0:
		what = "lets " + accounts(users) + " use the key"
	case len(retirers) > 0:
		what = "can be retired by " + accounts(retirers)
	}
	switch {
	case a.Acted:
		return fmt.Sprintf("kmsguard tried to revoke %s on KMS key %s that %s, and FAILED.", grantsWord(len(s.Grants)), name, what)
	case a.Failed():
		return fmt.Sprintf("kmsguard could not check the grants of KMS key %s after %s.", name, a.Outcome.EventName)
	case s.Gone:
		return fmt.Sprintf("Someone made a grant on KMS key %s that %s; it is gone again.", name, what)
	}
	return fmt.Sprintf("KMS key %s has %s that %s: %s.", name, grantsWord(len(s.Grants)), what, a.Decision.Verdict)
}

func (l *logic) Happened(b *alert.Body, a *A) {
	for _, g := range a.State.Grants {
		if len(a.State.Grants) > 1 {
			b.Section("Grant " + g.ID)
		} else {
			b.Field("Grant id", g.ID)
		}
		if g.Name != "" {
			b.Field("Grant name", g.Name)
		}
		b.Field("Grantee", g.Grantee)
		if g.Retiring != "" {
			b.Field("Retiring by", g.Retiring)
		}
		b.Field("Operations", g.opsText())
		c := g.Constraints
		if c == "" {
			c = "none (any encryption context)"
		}
		b.Field("Constraints", c)
		if g.Created != "" {
			b.Field("Created", g.Created)
		}
		for _, f := range Analyze(g, a.State.Model, a.State.Unsure).Findings {
			b.Line("%s: %s.", f.Code, f.Message)
		}
	}
}

func (l *logic) Did(b *alert.Body, a *A) {
	s := a.State
	if !a.Acted {
		return
	}
	for _, id := range s.Revoked {
		b.Line("Called RevokeGrant for grant %s; KMS accepted it (a revoked grant can take up to five minutes to stop working everywhere).", id)
	}
	if a.Failed() {
		for _, g := range s.Grants {
			if !slices.Contains(s.Revoked, g.ID) && Analyze(g, s.Model, s.Unsure).Removable() {
				b.Line("Grant %s is NOT revoked.", g.ID)
			}
		}
	}
}

func (l *logic) Details(b *alert.Body, a *A) {
	s, region := a.State, a.Outcome.Region
	if s.Key.Found {
		b.Section("Key")
		s.Key.Describe(b, "State")
		if s.Key.ID() != "" {
			b.Field("Console", kmskey.ConsoleURL(region, s.Key.ID()))
		}
	}
	b.Section("What you can do")
	arn := s.Key.ARN()
	if !s.Key.Found || !alert.ShellSafe(arn) || !alert.ShellSafe(region) {
		b.Line("Check that the key named in the event still exists in account %s, Region %s, and list its grants (aws kms list-grants).", a.Outcome.Account, region)
		return
	}
	k := fmt.Sprintf("--key-id %s --region %s", arn, region)
	var open []Grant
	for _, g := range s.Grants {
		if !slices.Contains(s.Revoked, g.ID) && alert.ShellSafe(g.ID) {
			open = append(open, g)
		}
	}
	switch {
	case s.Key.TagsRead && s.Key.Exempt(a.ExemptionTag):
		b.Line("The key is exempt, so kmsguard leaves its grants alone. If the grant is not meant to be there, revoke it, and remove the exemption so that kmsguard guards the key's grants again:")
		for _, g := range open {
			b.Command(fmt.Sprintf("aws kms revoke-grant %s --grant-id %s", k, g.ID))
		}
		b.Command(fmt.Sprintf("aws kms untag-resource %s --tag-keys %s", k, a.ExemptionTag))
	case s.Gone:
		b.Line("Nothing is left to revoke. Find out what the grantee did with the key while the grant existed: look up its Decrypt, ReEncrypt and GenerateDataKey calls in CloudTrail, in account %s, Region %s, and ask the person who created the grant why.", a.Outcome.Account, region)
	case a.Acted && !a.Failed():
		b.Line("If the grantee needs the key, give it a grant limited by an encryption context constraint and add its account to guardrails.key-grants.trusted_accounts, or exempt the key:")
		b.Command(fmt.Sprintf("aws kms tag-resource %s --tags TagKey=%s,TagValue=true", k, a.ExemptionTag))
		b.Line("Then check what the grantee did with the key while the grant existed (its Decrypt calls in CloudTrail).")
	case len(open) > 0:
		b.Line("If the grant is not meant to be there, revoke it:")
		for _, g := range open {
			b.Command(fmt.Sprintf("aws kms revoke-grant %s --grant-id %s", k, g.ID))
		}
		b.Line("If it is meant to be there, add the grantee's account to guardrails.key-grants.trusted_accounts, or exempt the key:")
		b.Command(fmt.Sprintf("aws kms tag-resource %s --tags TagKey=%s,TagValue=true", k, a.ExemptionTag))
	default:
		b.Line("List the key's grants and revoke any you do not recognise:")
		b.Command("aws kms list-grants " + k)
	}
}
