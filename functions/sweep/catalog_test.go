package sweep_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/bootstrap"
	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/sweep"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// Every guardrail that declares a sweep kind is in the sweep: its example,
// staged by performing the call its event records, is found by a sweep of
// the member account (in alert mode, so it stays found) and reported
// under the guardrail's id.
func TestSweep_EveryGuardrailOfTheCatalog(t *testing.T) {
	ctx := context.Background()
	for _, s := range catalog.Specs() {
		if s.Sweep.Kind == "" {
			continue
		}
		t.Run(s.ID, func(t *testing.T) {
			sb, err := sandbox.NewHub(ctx, srv, "eu-west-1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sb.Enact(ctx, fixtures.Get(s.Example.Fixture).Raw); err != nil {
				t.Fatal(err)
			}
			h, err := bootstrap.Load(ctx, bootstrap.Options{Guardrails: catalog.Entries(), Log: slog.New(slog.DiscardHandler), AWS: &sb.Config,
				HubAccount: sandbox.HubAccount, Mode: guardrail.ModeAlert})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := sweep.Run(ctx, h, sweep.Options{Targets: []sweep.Target{{Account: fixtures.Account, Region: "eu-west-1"}}})
			if err != nil || len(rep.Errors) > 0 {
				t.Fatalf("%v %v", err, rep.Errors)
			}
			found := false
			for _, f := range rep.Findings {
				if f.Guardrail != s.ID {
					continue
				}
				found = true
				// The audit report's advice is the guardrail's own "What
				// you can do", with a command to run.
				if f.ARN == "" || !hasCommand(f.Remedy) {
					t.Errorf("%s's finding has no ARN or no command in its remedy: %+v", s.ID, f)
				}
			}
			if !found {
				t.Errorf("the sweep did not report %s's example; findings %+v", s.ID, rep.Findings)
			}
		})
	}
}

func hasCommand(steps []sweep.Step) bool {
	for _, st := range steps {
		for _, c := range st.Commands {
			if strings.HasPrefix(c, "aws ") {
				return true
			}
		}
	}
	return false
}
