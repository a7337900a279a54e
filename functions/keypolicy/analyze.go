package keypolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kmsguard/kmsguard/functions/internal/glob"
	"github.com/kmsguard/kmsguard/functions/internal/trust"
)

// Finding codes.
const (
	// CodePublic: anyone (Principal "*" or an Allow with NotPrincipal) without
	// a condition that restricts the caller's account.
	CodePublic = "PUBLIC"
	// CodeExternal: an account outside this account, the organization and the
	// trusted accounts.
	CodeExternal = "EXTERNAL"
	// CodeLockout: nobody in the account can change the policy any more, or
	// the caller bypassed KMS's lockout safety check.
	CodeLockout = "LOCKOUT"
	// CodeBroadAdmin: kms:*, deletion or policy rights for a principal that is
	// neither the account nor an allow-listed administrator.
	CodeBroadAdmin = "BROAD-ADMIN"
	// CodeUnparseable: the policy could not be read, so nothing about it is
	// known. Never treated as "no findings".
	CodeUnparseable = "UNPARSEABLE"
)

// MaxPolicyBytes bounds what Analyze reads: KMS caps key policies at 32 KB,
// so anything far larger is not a key policy.
const MaxPolicyBytes = 64 * 1024

// Context is what the analyzer knows about the key's surroundings.
type Context struct {
	// Account owns the key.
	Account string
	// OrganizationID is the account's organization ("o-..."), if known.
	OrganizationID string
	// NoOrganization says the account is known to be in no organization
	// (so a statement naming one is external for sure).
	NoOrganization bool
	// TrustedAccounts may hold rights on the key without a finding.
	TrustedAccounts []string
	// Members are other accounts known to be in the organization; Unsure
	// are accounts whose membership could not be learned: a finding about
	// one is reported, never removed.
	Members, Unsure []string
	// AdminPrincipals are ARN patterns (* and ?) of principals allowed to
	// hold administrative rights (kms:*, deletion, policy changes).
	AdminPrincipals []string
	// BypassLockoutCheck is bypassPolicyLockoutSafetyCheck from the event.
	BypassLockoutCheck bool
}

// Finding is one problem, tied to a statement.
type Finding struct {
	Code string `json:"code"`
	// Statement names the statement: its Sid, else "#<index>" (0-based).
	Statement string `json:"statement"`
	Index     int    `json:"index"`
	// Removable: an Allow statement the guardrail may delete (never one that
	// grants the account itself).
	Removable bool   `json:"removable"`
	Message   string `json:"message"`
}

// Analysis is the result of Analyze.
type Analysis struct {
	Findings []Finding
	// Err is set when the policy, or part of it, could not be parsed;
	// Findings then holds an UNPARSEABLE finding.
	Err error
	// NeedsOrganization: a statement names an organization and the context
	// did not say the account's own; knowing it would settle the findings.
	NeedsOrganization bool
	// Outside are the accounts of named principals found external: whether
	// each is in the organization (Context.Members) would settle them.
	Outside []string
	// LockedOut: nobody in the account can change the policy any more
	// (no statement allows kms:PutKeyPolicy, or one denies it to everyone).
	LockedOut bool
}

// Codes returns the distinct finding codes, sorted.
func (a Analysis) Codes() []string {
	var codes []string
	for _, f := range a.Findings {
		if !slices.Contains(codes, f.Code) {
			codes = append(codes, f.Code)
		}
	}
	sort.Strings(codes)
	return codes
}

// Removable returns the indexes of statements to remove, sorted. Nothing is
// removable from a policy kmsguard could not read in full.
func (a Analysis) Removable() []int {
	if a.Err != nil {
		return nil
	}
	var idx []int
	for _, f := range a.Findings {
		if f.Removable && (f.Code == CodePublic || f.Code == CodeExternal) && !slices.Contains(idx, f.Index) {
			idx = append(idx, f.Index)
		}
	}
	sort.Ints(idx)
	return idx
}

// policyDoc keeps statements raw so a rewritten policy preserves the
// statements it keeps byte for byte.
type policyDoc struct {
	Version   string          `json:"Version,omitempty"`
	ID        string          `json:"Id,omitempty"`
	Statement json.RawMessage `json:"Statement"`
}

type statement struct {
	Sid          string                           `json:"Sid"`
	Effect       string                           `json:"Effect"`
	Principal    json.RawMessage                  `json:"Principal"`
	NotPrincipal json.RawMessage                  `json:"NotPrincipal"`
	Action       stringList                       `json:"Action"`
	NotAction    stringList                       `json:"NotAction"`
	Resource     stringList                       `json:"Resource"`
	NotResource  stringList                       `json:"NotResource"`
	Condition    map[string]map[string]stringList `json:"Condition"`
}

// stringList accepts a string or a list of strings (IAM allows both
// everywhere). Non-string scalars in conditions (true, 42) are kept as text.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		out := make([]string, 0, len(raw))
		for _, r := range raw {
			v, err := scalar(r)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		*s = out
		return nil
	}
	v, err := scalar(b)
	if err != nil {
		return err
	}
	*s = []string{v}
	return nil
}

func scalar(b json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", err
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case bool, float64:
		return fmt.Sprint(t), nil
	}
	return "", fmt.Errorf("expected a string, got %s", bytes.TrimSpace(b))
}

// parse reads a policy into its document and typed statements.
func parse(policy string) (policyDoc, []json.RawMessage, []statement, error) {
	var doc policyDoc
	if len(policy) > MaxPolicyBytes {
		return doc, nil, nil, fmt.Errorf("policy is %d bytes, over the %d-byte limit", len(policy), MaxPolicyBytes)
	}
	dec := json.NewDecoder(strings.NewReader(policy))
	if err := dec.Decode(&doc); err != nil {
		return doc, nil, nil, fmt.Errorf("policy is not a JSON object: %v", err)
	}
	raw := bytes.TrimSpace(doc.Statement)
	var raws []json.RawMessage
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return doc, nil, nil, fmt.Errorf("policy has no Statement")
	case raw[0] == '[':
		if err := json.Unmarshal(raw, &raws); err != nil {
			return doc, nil, nil, fmt.Errorf("Statement: %v", err)
		}
	default:
		raws = []json.RawMessage{raw}
	}
	stmts := make([]statement, len(raws))
	for i, r := range raws {
		if k := duplicateKey(r); k != "" {
			// JSON parsers disagree on which duplicate wins (IAM's and
			// Go's may not be the same one): kmsguard does not guess.
			return doc, nil, nil, fmt.Errorf("statement #%d: key %q appears twice", i, k)
		}
		if err := json.Unmarshal(r, &stmts[i]); err != nil {
			return doc, nil, nil, fmt.Errorf("statement #%d: %v", i, err)
		}
		switch stmts[i].Effect {
		case "Allow", "Deny":
		default:
			return doc, nil, nil, fmt.Errorf("statement #%d: Effect %q is neither Allow nor Deny", i, stmts[i].Effect)
		}
	}
	return doc, raws, stmts, nil
}

// duplicateKey returns a key that appears twice in a JSON object, at any
// depth, or "".
func duplicateKey(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var walk func() string
	walk = func() string {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return ""
				}
				k, _ := kt.(string)
				if seen[k] {
					return k
				}
				seen[k] = true
				if d := walk(); d != "" {
					return d
				}
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if d := walk(); d != "" {
					return d
				}
			}
			_, _ = dec.Token()
		}
		return ""
	}
	return walk()
}

// principals is the decoded Principal block.
type principals struct {
	any      bool // "*" or {"AWS":"*"}
	aws      []string
	service  []string
	others   []string // Federated, CanonicalUser
	notEmpty bool
}

func parsePrincipals(raw json.RawMessage) (principals, error) {
	var p principals
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return p, nil
	}
	p.notEmpty = true
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return p, err
		}
		if s != "*" {
			return p, fmt.Errorf("principal %q: a string principal must be \"*\"", s)
		}
		p.any = true
		return p, nil
	}
	var m map[string]stringList
	if err := json.Unmarshal(raw, &m); err != nil {
		return p, fmt.Errorf("principal: %v", err)
	}
	for k, vs := range m {
		switch strings.ToLower(k) {
		case "aws":
			for _, v := range vs {
				if v == "*" {
					p.any = true
				} else {
					p.aws = append(p.aws, v)
				}
			}
		case "service":
			p.service = append(p.service, vs...)
		default:
			p.others = append(p.others, vs...)
		}
	}
	return p, nil
}

// scope is what a statement's conditions say about who may call.
type scope struct {
	restricted bool
	// inside: at least one restricting condition limits callers to this
	// account, the organization or trusted accounts.
	inside bool
	// outside: a restricting condition names someone else (for the message).
	outside []string
	// unknownOrg: a restricting condition names an organization and this
	// analysis does not know the account's own (single-account mode before
	// it was learned): whether it is inside cannot be told.
	unknownOrg bool
	// definite: some outside name does not depend on the organization.
	definite bool
}

// alwaysPresent condition keys are in every request, so their IfExists form
// still restricts; absent-able keys with IfExists restrict nothing.
var alwaysPresent = map[string]bool{
	"aws:principalaccount": true,
	"kms:calleraccount":    true,
	"aws:principalarn":     true,
}

// accountKeys map a condition key to how its value names an account.
var accountKeys = map[string]string{
	"aws:principalorgid":   "org",
	"aws:principalaccount": "account",
	"aws:sourceaccount":    "account",
	"aws:sourceowner":      "account",
	"kms:calleraccount":    "account",
	"aws:sourcearn":        "arn",
	"aws:principalarn":     "arn",
	// aws:PrincipalOrgPaths values are o-id/r-root/ou-.../ (wildcards after
	// the organization id are fine: it is the organization that counts).
	"aws:principalorgpaths": "orgpath",
}

// Trust is the analysis's view of kmsguard's one trust model.
func (c Context) Trust() trust.Model {
	return trust.Model{Account: c.Account, NoOrganization: c.NoOrganization,
		TrustedAccounts: c.TrustedAccounts, Members: c.Members}
}

func (c Context) trusted(account string) bool { return c.Trust().Trusted(account) }

// conditionScope reads the account-restricting conditions of a statement.
func (c Context) conditionScope(cond map[string]map[string]stringList) scope {
	var s scope
	for op, keys := range cond {
		base := strings.ToLower(op)
		setOp := ""
		if i := strings.Index(base, ":"); i >= 0 {
			setOp, base = base[:i], base[i+1:]
		}
		if setOp == "forallvalues" {
			continue // vacuously true when the key is absent
		}
		ifExists := strings.HasSuffix(base, "ifexists")
		base = strings.TrimSuffix(base, "ifexists")
		switch base {
		case "stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike":
		default:
			continue // negated and other operators do not restrict the caller
		}
		for key, values := range keys {
			k := strings.ToLower(key)
			kind, ok := accountKeys[k]
			if !ok || len(values) == 0 || (ifExists && !alwaysPresent[k]) {
				continue
			}
			allFixed, allInside, unknown, definite := true, true, false, false
			var names []string
			for _, v := range values {
				var acct string
				switch kind {
				case "org", "orgpath":
					org := v
					if kind == "orgpath" {
						org, _, _ = strings.Cut(v, "/")
					}
					if !fixed(org) || !strings.HasPrefix(org, "o-") {
						allFixed = false
						continue
					}
					names = append(names, "organization "+v)
					switch {
					case c.OrganizationID == "" && !c.NoOrganization:
						allInside, unknown = false, true
					case org != c.OrganizationID:
						allInside, definite = false, true
					}
					continue
				case "account":
					acct = v
				case "arn":
					a, wild, ok := trust.PrincipalAccount(v)
					if wild || !ok {
						allFixed = false
						continue
					}
					acct = a
				}
				if !fixed(acct) || !trust.IsAccountID(acct) {
					allFixed = false
					continue
				}
				names = append(names, "account "+acct)
				if !c.trusted(acct) {
					allInside, definite = false, true
				}
			}
			if !allFixed {
				continue
			}
			s.restricted = true
			if allInside {
				s.inside = true
			} else {
				s.outside = append(s.outside, names...)
				s.unknownOrg = s.unknownOrg || unknown
				s.definite = s.definite || definite
			}
		}
	}
	return s
}

func fixed(v string) bool {
	return v != "" && !strings.ContainsAny(v, "*?") && !strings.Contains(v, "${")
}

// dangerous actions for BROAD-ADMIN and the lockout check.
var (
	adminActions = []string{"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"}
)

// grants reports whether a statement's Action/NotAction covers action.
func (st statement) grants(action string) bool {
	if len(st.NotAction) > 0 {
		for _, a := range st.NotAction {
			if actionMatch(a, action) {
				return false
			}
		}
		return true
	}
	for _, a := range st.Action {
		if actionMatch(a, action) {
			return true
		}
	}
	return false
}

// grantsAll reports kms:* or * (every KMS action).
func (st statement) grantsAll() bool {
	if len(st.NotAction) > 0 {
		return true
	}
	for _, a := range st.Action {
		if a == "*" || strings.EqualFold(a, "kms:*") {
			return true
		}
	}
	return false
}

// actionMatch matches IAM action patterns, case-insensitively.
func actionMatch(pattern, action string) bool {
	return glob.Match(strings.ToLower(pattern), strings.ToLower(action))
}

func (st statement) name(i int) string {
	if st.Sid != "" {
		return st.Sid
	}
	return fmt.Sprintf("#%d", i)
}

func (c Context) isAdmin(p string) bool {
	if trust.IsAccountRoot(p, c.Account) {
		return true
	}
	for _, pat := range c.AdminPrincipals {
		if glob.Match(pat, p) {
			return true
		}
	}
	return false
}

// negated operators: a Deny with one applies to whoever does not match.
var negated = map[string]bool{
	"stringnotequals": true, "stringnotequalsignorecase": true, "stringnotlike": true,
	"arnnotequals": true, "arnnotlike": true,
}

// confines reports whether a Deny statement confines what it covers to
// this account, the organization or the trusted accounts: it denies every
// principal ("*") whose account or organization is not one of ours, with
// conditions that hold whenever the caller is outside. A negated operator
// holds when the key is absent (IAM user guide, "Condition operators": "If
// the policy condition requires that the key is not matched, such as
// StringNotLike or ArnNotLike, and the right key is not present, the
// condition is true"). aws:PrincipalIsAWSService "false" may exempt AWS
// service principals; servicesExempt then says so, because such a service
// could still use the key for another account. Any other condition means
// the Deny might not apply, so it confines nothing.
func (c Context) confines(st statement, p principals) (confined, servicesExempt bool) {
	if st.Effect != "Deny" || !p.any || len(st.NotAction) > 0 || len(st.NotResource) > 0 {
		return false, false
	}
	if len(st.Resource) > 0 && !slices.Contains(st.Resource, "*") {
		return false, false
	}
	found := false
	for op, keys := range st.Condition {
		base := strings.ToLower(op)
		setOp := ""
		if i := strings.Index(base, ":"); i >= 0 {
			setOp, base = base[:i], base[i+1:]
		}
		base = strings.TrimSuffix(base, "ifexists")
		for key, values := range keys {
			k := strings.ToLower(key)
			switch {
			case base == "bool" && k == "aws:principalisawsservice" && len(values) == 1 && strings.EqualFold(values[0], "false"):
				servicesExempt = true
			case negated[base] && accountKeys[k] != "" && setOp != "foranyvalue" && c.allOurs(k, values):
				found = true
			default:
				return false, false
			}
		}
	}
	return found, found && servicesExempt
}

// allOurs: every value of an account condition key names this account, a
// trusted account or the organization (when it is known).
func (c Context) allOurs(key string, values []string) bool {
	if len(values) == 0 {
		return false
	}
	for _, v := range values {
		switch accountKeys[key] {
		case "org", "orgpath":
			org, _, _ := strings.Cut(v, "/")
			if c.OrganizationID == "" || org != c.OrganizationID {
				return false
			}
		case "account":
			if !c.trusted(v) {
				return false
			}
		case "arn":
			a, wild, ok := trust.PrincipalAccount(v)
			if wild || !ok || !c.trusted(a) {
				return false
			}
		}
	}
	return true
}

// covers reports whether a Deny's actions include every action of st.
func (st statement) covers(other statement) bool {
	if len(st.NotAction) > 0 || len(other.NotAction) > 0 || len(other.Action) == 0 {
		return false
	}
	for _, a := range other.Action {
		if !st.grants(a) {
			return false
		}
	}
	return true
}

// Analyze reads a key policy and reports what is wrong with it. It never
// panics, and a policy it cannot read yields an UNPARSEABLE finding, never
// an empty list.
func Analyze(policy string, c Context) Analysis {
	_, _, stmts, err := parse(policy)
	if err != nil {
		return Analysis{Err: err, Findings: []Finding{{
			Code: CodeUnparseable, Statement: "-", Index: -1,
			Message: "the policy could not be read (" + err.Error() + "), so kmsguard cannot tell who it grants access to.",
		}}}
	}
	var a Analysis
	add := func(code string, st statement, i int, removable bool, format string, args ...any) {
		a.Findings = append(a.Findings, Finding{Code: code, Statement: st.name(i), Index: i, Removable: removable, Message: fmt.Sprintf(format, args...)})
	}
	type confiner struct {
		st             statement
		servicesExempt bool
	}
	var confiners []confiner
	for _, st := range stmts {
		if p, err := parsePrincipals(st.Principal); err == nil {
			if ok, services := c.confines(st, p); ok {
				confiners = append(confiners, confiner{st, services})
			}
		}
	}
	canChangePolicy := false
	for i, st := range stmts {
		p, perr := parsePrincipals(st.Principal)
		np, nperr := parsePrincipals(st.NotPrincipal)
		if perr != nil || nperr != nil {
			a.Err = fmt.Errorf("statement %s: %w", st.name(i), errors2(perr, nperr))
			add(CodeUnparseable, st, i, false, "statement %s has a principal kmsguard cannot read (%v).", st.name(i), errors2(perr, nperr))
			continue
		}
		if st.Effect == "Deny" {
			if (p.any || !p.notEmpty) && len(st.Condition) == 0 && st.grants("kms:PutKeyPolicy") {
				add(CodeLockout, st, i, false, "statement %s denies kms:PutKeyPolicy to everyone without a condition: nobody can change this policy again.", st.name(i))
			}
			continue
		}
		grantsRoot := false
		for _, x := range p.aws {
			if trust.IsAccountRoot(x, c.Account) {
				grantsRoot = true
			}
		}
		sc := c.conditionScope(st.Condition)
		servicesOpen := false
		for _, d := range confiners {
			if d.st.covers(st) && !(sc.restricted && sc.inside) {
				// A Deny keeps everyone outside from what this grants.
				sc.restricted, sc.inside = true, true
				servicesOpen = d.servicesExempt
			}
		}
		if servicesOpen && (p.any || np.notEmpty) {
			add(CodeExternal, st, i, false, "statement %s is confined to this account and organization by a Deny that exempts AWS service principals (aws:PrincipalIsAWSService), so a service could still use the key for another account; restrict services with aws:SourceOrgID or aws:SourceAccount (reported, not removed).", st.name(i))
		}
		if sc.unknownOrg && !sc.inside {
			a.NeedsOrganization = true
		}
		// An EXTERNAL finding that rests only on an organization kmsguard
		// does not know is reported, never acted on.
		extRemovable := !grantsRoot && (!sc.unknownOrg || sc.definite)
		orgNote := ""
		if sc.unknownOrg && !sc.definite {
			orgNote = " kmsguard does not know this account's organization (guardrails.key-policy.organization_id), so it does not remove the statement."
		}
		// PUBLIC: everyone, unless a condition pins the caller's account.
		if np.notEmpty && !sc.inside {
			add(CodePublic, st, i, !grantsRoot, "statement %s allows everyone except the NotPrincipal list, which makes the key public.", st.name(i))
		} else if p.any && !sc.restricted {
			add(CodePublic, st, i, !grantsRoot, "statement %s allows any AWS principal (\"*\") with no condition that restricts the caller's account.", st.name(i))
		} else if p.any && !sc.inside {
			add(CodeExternal, st, i, extRemovable, "statement %s allows any principal of %s, outside this account, the organization and the trusted accounts.%s", st.name(i), strings.Join(sc.outside, ", "), orgNote)
		}
		// Named principals.
		for _, x := range p.aws {
			acct, wild, ok := trust.PrincipalAccount(x)
			switch {
			case wild && !sc.restricted:
				add(CodePublic, st, i, !grantsRoot, "statement %s allows %s, whose account is a wildcard, with no condition that restricts the caller's account.", st.name(i), x)
			case wild:
			case !ok:
				add(CodeExternal, st, i, !grantsRoot && !sc.inside, "statement %s allows %s, which is not an account, an IAM ARN or an STS ARN (a deleted principal's unique id?), so its account cannot be checked.", st.name(i), x)
			case !c.trusted(acct) && !sc.inside:
				if !slices.Contains(a.Outside, acct) {
					a.Outside = append(a.Outside, acct)
				}
				rm := !grantsRoot && (!sc.restricted || extRemovable)
				note := orgNote
				if slices.Contains(c.Unsure, acct) {
					rm, note = false, " kmsguard could not learn whether that account is in the organization, so it does not remove the statement."
				}
				add(CodeExternal, st, i, rm, "statement %s allows %s in account %s, outside this account and the trusted accounts.%s", st.name(i), x, acct, note)
			}
		}
		// AWS services act for whoever the source conditions name.
		if len(p.service) > 0 && !p.any && sc.restricted && !sc.inside {
			add(CodeExternal, st, i, extRemovable, "statement %s lets %s act for %s, outside this account, the organization and the trusted accounts.%s", st.name(i), strings.Join(p.service, ", "), strings.Join(sc.outside, ", "), orgNote)
		}
		// Federated principals: an identity provider's ARN names its
		// account; a web identity provider (a domain) cannot be attributed.
		for _, x := range p.others {
			acct, wild, ok := trust.PrincipalAccount(x)
			switch {
			case sc.inside:
			case !strings.HasPrefix(x, "arn:") || !ok || wild:
				add(CodeExternal, st, i, !grantsRoot && !sc.restricted, "statement %s allows the federated or canonical principal %s, which kmsguard cannot attribute to an account.", st.name(i), x)
			case !c.trusted(acct):
				add(CodeExternal, st, i, !grantsRoot && (!sc.restricted || extRemovable), "statement %s allows the identity provider %s of account %s, outside this account and the trusted accounts.", st.name(i), x, acct)
			}
		}
		// Who can still change the policy: the account root (it enables IAM
		// policies) or an own-account principal granted PutKeyPolicy.
		if st.grants("kms:PutKeyPolicy") {
			for _, x := range p.aws {
				if acct, _, ok := trust.PrincipalAccount(x); ok && acct == c.Account {
					canChangePolicy = true
				}
			}
			// "*" (unrestricted, or restricted to us) includes the account's
			// own principals.
			if (p.any || np.notEmpty) && (!sc.restricted || sc.inside) {
				canChangePolicy = true
			}
		}
		// BROAD-ADMIN: administrative rights for non-administrators.
		var broad []string
		if st.grantsAll() {
			broad = append(broad, "kms:*")
		} else {
			for _, act := range adminActions {
				if st.grants(act) {
					broad = append(broad, act)
				}
			}
		}
		if len(broad) > 0 {
			var who []string
			for _, x := range p.aws {
				if !c.isAdmin(x) {
					who = append(who, x)
				}
			}
			if p.any || np.notEmpty {
				who = append(who, "*")
			}
			if len(who) > 0 {
				add(CodeBroadAdmin, st, i, false, "statement %s gives %s to %s, which %s not the account or an allow-listed administrator.", st.name(i), strings.Join(broad, ", "), strings.Join(who, ", "), isAre(len(who)))
			}
		}
	}
	for _, f := range a.Findings {
		if f.Code == CodeLockout {
			a.LockedOut = true // a Deny of kms:PutKeyPolicy to everyone
		}
	}
	if !canChangePolicy {
		a.LockedOut = true
		a.Findings = append(a.Findings, Finding{Code: CodeLockout, Statement: "-", Index: -1,
			Message: "no statement lets the account or a principal in it call kms:PutKeyPolicy: only AWS Support can restore access to this key."})
	}
	if c.BypassLockoutCheck {
		a.Findings = append(a.Findings, Finding{Code: CodeLockout, Statement: "-", Index: -1,
			Message: "the caller set bypassPolicyLockoutSafetyCheck=true, skipping the check that stops a policy from locking everyone out."})
	}
	return a
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func errors2(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Without returns the policy with the statements at the given indexes
// removed, and the removed statements as compact JSON. Every other statement
// and the document's Version and Id are kept as they were.
func Without(policy string, remove []int) (string, []string, error) {
	doc, raws, _, err := parse(policy)
	if err != nil {
		return "", nil, err
	}
	kept := make([]json.RawMessage, 0, len(raws))
	var removed []string
	for i, r := range raws {
		if !slices.Contains(remove, i) {
			kept = append(kept, r)
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, r); err != nil {
			return "", nil, err
		}
		removed = append(removed, buf.String())
	}
	if len(kept) == 0 {
		return "", nil, fmt.Errorf("removing %d statements would leave the policy empty", len(remove))
	}
	stmts, err := json.Marshal(kept)
	if err != nil {
		return "", nil, err
	}
	doc.Statement = stmts
	out, err := json.Marshal(doc)
	if err != nil {
		return "", nil, err
	}
	return string(out), removed, nil
}
