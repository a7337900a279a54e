package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

// ConfigParameter is the SSM parameter the hub stack writes the runtime
// configuration to, and `kmsguard mode` edits.
const ConfigParameter = "/kmsguard/config"

// RefreshEvery is how often the Lambdas re-read the modes.
const RefreshEvery = time.Minute

// ssmAPI is the SSM call the runtime makes.
type ssmAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// readParameter fetches and validates the runtime configuration.
func readParameter(ctx context.Context, api ssmAPI, name string, known []string) (runconfig.RuntimeConfig, error) {
	out, err := api.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil {
		return runconfig.RuntimeConfig{}, fmt.Errorf("read configuration parameter %s: %w", name, err)
	}
	if out.Parameter == nil {
		return runconfig.RuntimeConfig{}, fmt.Errorf("read configuration parameter %s: empty answer", name)
	}
	rc, err := runconfig.ParseRuntimeConfig([]byte(aws.ToString(out.Parameter.Value)), known)
	if err != nil {
		return rc, fmt.Errorf("parameter %s: %w", name, err)
	}
	return rc, nil
}

// paramModes resolves modes from the SSM parameter, re-reading it at most
// once per RefreshEvery. A failed refresh keeps the last good modes (and
// logs); if no good modes were ever read, everything runs in alert mode.
type paramModes struct {
	api   ssmAPI
	name  string
	known []string
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	modes   runconfig.ModeConfig
	good    bool
	fetched time.Time
}

func (p *paramModes) set(m runconfig.ModeConfig, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.modes, p.good, p.fetched = m, true, at
}

// Resolve implements guardrail.ModeLookup (kmsguard.yaml's rules only).
func (p *paramModes) Resolve(account, guardrailID string, specDefault guardrail.Mode) guardrail.ResolvedMode {
	m, ok := p.current()
	if !ok {
		return guardrail.ResolvedMode{Mode: guardrail.ModeAlert, Source: "configuration parameter unreadable (alert only until it is)"}
	}
	r := m.Resolve(account, guardrailID, specDefault)
	r.Source += " (parameter " + p.name + ")"
	return r
}

// current returns the modes, refreshed when a minute old; false when no
// good modes were ever read.
func (p *paramModes) current() (runconfig.ModeConfig, bool) {
	if p.api == nil { // fixed modes (a configuration file): nothing to re-read
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.modes, p.good
	}
	p.mu.Lock()
	stale := p.now().Sub(p.fetched) >= RefreshEvery
	p.mu.Unlock()
	if stale {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		rc, err := readParameter(ctx, p.api, p.name, p.known)
		cancel()
		if err != nil {
			p.log.Error("modes not refreshed; keeping the last good ones", "parameter", p.name, "error", err.Error())
			p.mu.Lock()
			p.fetched = p.now() // retry in a minute, not on every event
			p.mu.Unlock()
		} else {
			p.set(rc.Modes, p.now())
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.modes, p.good
}
