package runconfig_test

import (
	"strings"
	"testing"

	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
)

func TestResolve_Precedence(t *testing.T) {
	const acct, other, g = "111122223333", "444455556666", "key-deletion"
	full := runconfig.ModeConfig{
		Default:    guardrail.ModeAlert,
		Guardrails: map[string]guardrail.Mode{g: guardrail.ModeRemediate},
		Accounts: map[string]runconfig.AccountModes{
			acct:  {Mode: guardrail.ModeRemediate, Guardrails: map[string]guardrail.Mode{g: guardrail.ModeAlert}},
			other: {Mode: guardrail.ModeAlert},
		},
	}
	tests := []struct {
		name    string
		cfg     runconfig.ModeConfig
		account string
		want    guardrail.Mode
		source  string
	}{
		{"kill switch beats everything", func() runconfig.ModeConfig { c := full; c.KillSwitch = true; return c }(), acct, guardrail.ModeAlert, "kill switch"},
		{"account+guardrail", full, acct, guardrail.ModeAlert, "account 111122223333, guardrail key-deletion"},
		{"account", full, other, guardrail.ModeAlert, "account 444455556666"},
		{"guardrail default", full, "999999999999", guardrail.ModeRemediate, "guardrail key-deletion"},
		{"global default", runconfig.ModeConfig{Default: guardrail.ModeAlert}, acct, guardrail.ModeAlert, "default"},
		{"spec default", runconfig.ModeConfig{}, acct, guardrail.ModeRemediate, "built-in default for key-deletion"},
		{"account without this guardrail falls to account mode", runconfig.ModeConfig{Accounts: map[string]runconfig.AccountModes{acct: {Mode: guardrail.ModeAlert, Guardrails: map[string]guardrail.Mode{"other": guardrail.ModeRemediate}}}}, acct, guardrail.ModeAlert, "account 111122223333"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cfg.Resolve(tt.account, g, guardrail.ModeRemediate)
			if got.Mode != tt.want || got.Source != tt.source {
				t.Errorf("Resolve = %+v, want %s from %q", got, tt.want, tt.source)
			}
		})
	}
}

func TestParseModeConfig(t *testing.T) {
	ids := []string{"key-deletion"}
	good := `{"kill_switch":false,"default":"alert","guardrails":{"key-deletion":"remediate"},"accounts":{"111122223333":{"mode":"alert","guardrails":{"key-deletion":"remediate"}}}}`
	if _, err := runconfig.ParseModeConfig([]byte(good), ids); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		`{"default":"enforce"}`:                                              "modes.default",
		`{"guardrails":{"key-delet":"alert"}}`:                               "modes.guardrails.key-delet: unknown guardrail",
		`{"accounts":{"1234":{"mode":"alert"}}}`:                             "modes.accounts.1234: account id must be 12 digits",
		`{"accounts":{"111122223333":{"mode":"x"}}}`:                         "modes.accounts.111122223333.mode",
		`{"accounts":{"111122223333":{"guardrails":{"key-deletion":"on"}}}}`: "modes.accounts.111122223333.guardrails.key-deletion",
		`{"killswitch":true}`:                                                "unknown field",
	}
	for in, want := range bad {
		_, err := runconfig.ParseModeConfig([]byte(in), ids)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to mention %q", in, err, want)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, ok := range []string{"remediate", "alert", " alert "} {
		if _, err := guardrail.ParseMode(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Alert", "dry-run"} {
		if _, err := guardrail.ParseMode(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
