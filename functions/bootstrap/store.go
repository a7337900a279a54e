package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

// ParentsEvery is how long an account's organizational units are
// remembered: accounts move between OUs rarely, and the OU rules
// themselves are re-read every minute.
const ParentsEvery = 15 * time.Minute

// MaxStale is how long the last good rules or OUs are used while reads
// keep failing; past it the account resolves to alert.
const MaxStale = 5 * time.Minute

// StoreAPI is what reading the mode store takes.
type StoreAPI interface {
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, opts ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

// ParentsAPI finds an account's organizational units.
type ParentsAPI interface {
	ListParents(ctx context.Context, in *organizations.ListParentsInput, opts ...func(*organizations.Options)) (*organizations.ListParentsOutput, error)
}

// ReadRules reads one scope of the mode store: one GetParametersByPath
// call per page of 10 (a scope holds at most 1 + guardrails rules).
func ReadRules(ctx context.Context, api StoreAPI, scope string) (runconfig.Rules, []string, error) {
	params := map[string]string{}
	pg := ssm.NewGetParametersByPathPaginator(api, &ssm.GetParametersByPathInput{Path: aws.String(scope), Recursive: aws.Bool(false), MaxResults: aws.Int32(10)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return runconfig.Rules{}, nil, fmt.Errorf("read the mode rules under %s: %w", scope, err)
		}
		for _, p := range out.Parameters {
			params[aws.ToString(p.Name)] = aws.ToString(p.Value)
		}
	}
	r, problems := runconfig.ParseRules(scope, params)
	return r, problems, nil
}

// AnyOURules reports whether the store holds a rule for any organizational
// unit (one call: the first result answers).
func AnyOURules(ctx context.Context, api StoreAPI) (bool, error) {
	pg := ssm.NewGetParametersByPathPaginator(api, &ssm.GetParametersByPathInput{Path: aws.String(runconfig.ModesPath + "/ous"), Recursive: aws.Bool(true), MaxResults: aws.Int32(10)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return false, fmt.Errorf("look for rules per organizational unit: %w", err)
		}
		for _, p := range out.Parameters {
			// Only a parameter at /kmsguard/modes/ous/<ou id>/<rule>
			// counts: a stray one must not make every account alert.
			rest := strings.TrimPrefix(aws.ToString(p.Name), runconfig.ModesPath+"/ous/")
			if ou, rule, ok := strings.Cut(rest, "/"); ok && runconfig.ValidOU(ou) && !strings.Contains(rule, "/") {
				return true, nil
			}
		}
	}
	return false, nil
}

// Parents lists an account's organizational units, nearest first, up to
// and including the root.
func Parents(ctx context.Context, api ParentsAPI, account string) ([]string, error) {
	var chain []string
	child := account
	for depth := 0; depth < 8; depth++ { // AWS Organizations nests OUs at most five deep under the root
		out, err := api.ListParents(ctx, &organizations.ListParentsInput{ChildId: aws.String(child)})
		if err != nil {
			return nil, fmt.Errorf("find the organizational units of account %s: %w", account, err)
		}
		if len(out.Parents) == 0 {
			return chain, nil
		}
		p := out.Parents[0] // an account or OU has exactly one parent
		chain = append(chain, aws.ToString(p.Id))
		if p.Type == orgtypes.ParentTypeRoot {
			return chain, nil
		}
		child = aws.ToString(p.Id)
	}
	return chain, nil
}

// storeModes resolves modes from kmsguard.yaml's rules (the configuration
// parameter, via file) and the mode store. Each scope is read at most once
// per RefreshEvery, only when an event needs it: the global rules, the
// event's account, and — only when rules per OU exist — the account's
// units. A failed read keeps the last good rules; a scope never read
// successfully makes that account alert only.
type storeModes struct {
	file    *paramModes
	api     StoreAPI
	parents ParentsAPI // nil: not in an organization
	log     *slog.Logger
	now     func() time.Time

	mu     sync.Mutex
	scopes map[string]*cachedRules
	chains map[string]*cachedChain
	anyOU  cachedBool
}

type cachedRules struct {
	rules  runconfig.Rules
	good   bool
	at     time.Time // last read attempt
	goodAt time.Time // last successful read
	// reading is closed when the read under way ends: callers that find
	// the scope stale meanwhile (a sweep's workers all start at once)
	// wait for it instead of reading the scope again.
	reading chan struct{}
}

type cachedChain struct {
	ous    []string
	good   bool
	at     time.Time
	goodAt time.Time
}

type cachedBool struct {
	v, good bool
	at      time.Time
}

func (s *storeModes) rules(scope string) (runconfig.Rules, bool) {
	s.mu.Lock()
	if s.scopes == nil {
		s.scopes = map[string]*cachedRules{}
	}
	c := s.scopes[scope]
	if c == nil {
		c = &cachedRules{}
		s.scopes[scope] = c
	}
	fresh := !c.at.IsZero() && s.now().Sub(c.at) < RefreshEvery
	if reading := c.reading; !fresh && reading != nil {
		s.mu.Unlock()
		<-reading // bounded by that read's timeout
		s.mu.Lock()
		defer s.mu.Unlock()
		return c.rules, c.good
	}
	if !fresh {
		c.reading = make(chan struct{})
	}
	s.mu.Unlock()
	if !fresh {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		r, problems, err := ReadRules(ctx, s.api, scope)
		cancel()
		for _, p := range problems {
			s.log.Error("mode rule ignored", "problem", p)
		}
		s.mu.Lock()
		c.at = s.now() // retry in a minute, not on every event
		switch {
		case err == nil:
			c.rules, c.good, c.goodAt = r, true, c.at
		case c.good && c.at.Sub(c.goodAt) > MaxStale:
			c.good = false
			s.log.Error("mode rules unreadable for too long; the account alerts only", "scope", scope, "error", err.Error())
		default:
			s.log.Error("mode rules not refreshed; keeping the last good ones", "scope", scope, "error", err.Error())
		}
		close(c.reading)
		c.reading = nil
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.rules, c.good
}

func (s *storeModes) hasOURules() bool {
	s.mu.Lock()
	fresh := !s.anyOU.at.IsZero() && s.now().Sub(s.anyOU.at) < RefreshEvery
	s.mu.Unlock()
	if !fresh {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		v, err := AnyOURules(ctx, s.api)
		cancel()
		s.mu.Lock()
		s.anyOU.at = s.now()
		if err != nil {
			s.log.Error("could not tell whether rules per organizational unit exist", "error", err.Error())
			if !s.anyOU.good {
				s.anyOU.v = true // assume they may: the account resolves to the safe side
			}
		} else {
			s.anyOU.v, s.anyOU.good = v, true
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.anyOU.v
}

func (s *storeModes) chain(account string) ([]string, bool) {
	if s.parents == nil {
		return nil, false
	}
	s.mu.Lock()
	if s.chains == nil {
		s.chains = map[string]*cachedChain{}
	}
	c := s.chains[account]
	if c == nil {
		c = &cachedChain{}
		s.chains[account] = c
	}
	// Good OUs are kept ParentsEvery; after a failed read, retried each
	// minute.
	fresh := !c.at.IsZero() && (c.good && s.now().Sub(c.goodAt) < ParentsEvery || s.now().Sub(c.at) < RefreshEvery)
	s.mu.Unlock()
	if !fresh {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		ous, err := Parents(ctx, s.parents, account)
		cancel()
		s.mu.Lock()
		c.at = s.now()
		switch {
		case err == nil:
			c.ous, c.good, c.goodAt = ous, true, c.at
		case c.good && c.at.Sub(c.goodAt) > MaxStale+ParentsEvery:
			c.good = false
			s.log.Error("organizational units unreadable for too long", "account", account, "error", err.Error())
		default:
			s.log.Error("organizational units not read", "account", account, "error", err.Error())
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.ous, c.good
}

// newStoreModes reads the mode store with cfg; the account's OUs only in
// an organization (AWS Organizations answers in us-east-1).
func newStoreModes(file *paramModes, cfg aws.Config, organization bool, log *slog.Logger) *storeModes {
	s := &storeModes{file: file, api: ssm.NewFromConfig(cfg), log: log, now: time.Now}
	if organization {
		orgCfg := cfg.Copy()
		orgCfg.Region = "us-east-1"
		s.parents = organizations.NewFromConfig(orgCfg)
	}
	return s
}

// Resolve implements guardrail.ModeLookup.
func (s *storeModes) Resolve(account, id string, specDefault guardrail.Mode) guardrail.ResolvedMode {
	file, ok := s.file.current()
	if !ok {
		return guardrail.ResolvedMode{Mode: guardrail.ModeAlert, Source: "configuration parameter unreadable (alert only until it is)"}
	}
	global, ok := s.rules(runconfig.ModesPath)
	if !ok {
		return guardrail.ResolvedMode{Mode: guardrail.ModeAlert, Source: "mode store " + runconfig.ModesPath + " unreadable (alert only until it is)"}
	}
	acct, ok := s.rules(runconfig.ScopePath(account, ""))
	if !ok {
		return guardrail.ResolvedMode{Mode: guardrail.ModeAlert, Source: "mode store " + runconfig.ScopePath(account, "") + " unreadable (alert only until it is)"}
	}
	l := runconfig.Layers{File: file, Global: global, Account: acct, StoreNote: "mode store " + runconfig.ModesPath}
	// Outside an organization there are no OUs: rules per OU do not apply.
	if s.parents != nil && (len(file.OrganizationalUnits) > 0 || s.hasOURules()) {
		l.StoreHasOURules = s.hasOURules()
		ous, known := s.chain(account)
		l.OUs, l.OUsUnknown = ous, !known
		l.OURules = map[string]runconfig.Rules{}
		for _, ou := range ous {
			r, ok := s.rules(runconfig.ScopePath("", ou))
			if !ok {
				return guardrail.ResolvedMode{Mode: guardrail.ModeAlert, Source: "mode store " + runconfig.ScopePath("", ou) + " unreadable (alert only until it is)"}
			}
			l.OURules[ou] = r
		}
	}
	r := l.Resolve(account, id, specDefault)
	if !strings.Contains(r.Source, "mode store") {
		r.Source += " (parameter " + s.file.name + ")"
	}
	return r
}
