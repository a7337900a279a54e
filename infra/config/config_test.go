package config_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kmsguard/kmsguard/functions/catalog"
	"github.com/kmsguard/kmsguard/functions/guardrail"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/infra/config"
)

// The documented example is a valid configuration.
func TestLoad_DocumentedExample(t *testing.T) {
	c, err := config.Load("../../docs/kmsguard.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.SingleAccount() || c.HubAccount != "123456789012" || len(c.Regions) != 2 || !c.LogsKey.Create() {
		t.Errorf("%+v", c)
	}
	rc, err := c.RuntimeConfig()
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.Modes.Resolve("333333333333", "log-encryption", guardrail.ModeAlert); got.Mode != guardrail.ModeRemediate {
		t.Errorf("modes: %+v", got)
	}
	var kp map[string]any
	_ = json.Unmarshal(rc.Guardrails["key-policy"], &kp)
	if kp["organization_id"] != "o-a1b2c3d4e5" {
		t.Errorf("key-policy settings %v", kp)
	}
	var le map[string]any
	_ = json.Unmarshal(rc.Guardrails["log-encryption"], &le)
	if le["key_alias"] != config.DefaultLogsKeyAlias {
		t.Errorf("log-encryption settings %v", le)
	}
	js, err := c.RuntimeConfigJSON()
	if err != nil || len(js) > 4096 {
		t.Errorf("runtime config is %d bytes (SSM standard parameters hold 4 KB): %v", len(js), err)
	}
	if _, err := runconfig.ParseRuntimeConfig([]byte(js), []string{"key-deletion", "key-rotation", "key-policy", "log-encryption"}); err != nil {
		t.Errorf("the Lambdas would refuse it: %v", err)
	}
}

const minimal = `
hub_account: "123456789012"
home_region: eu-west-1
regions: [eu-west-1]
alerts: {emails: [sec@example.com]}
`

func TestParse_SingleAccount(t *testing.T) {
	c, err := config.Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if !c.SingleAccount() {
		t.Error("no organization block means single-account mode")
	}
}

func TestParse_Errors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", minimal + "hub_acount: x\n", []string{"hub_acount"}},
		{"wrong type", strings.Replace(minimal, "regions: [eu-west-1]", "regions: eu-west-1", 1), []string{"regions"}},
		{"bad home region", strings.Replace(minimal, "home_region: eu-west-1", "home_region: europe", 1), []string{`home_region: "europe" is not valid`}},
		{"home region not guarded", strings.Replace(minimal, "regions: [eu-west-1]", "regions: [us-east-1]", 1), []string{"add the home Region eu-west-1"}},
		{"duplicate region", strings.Replace(minimal, "regions: [eu-west-1]", "regions: [eu-west-1, eu-west-1]", 1), []string{"regions[1]", "duplicate"}},
		{"unquoted account lost its zeros", strings.Replace(minimal, `hub_account: "123456789012"`, "hub_account: 012345678901", 1), []string{"hub_account"}},
		{"no emails", strings.Replace(minimal, "alerts: {emails: [sec@example.com]}", "alerts: {emails: []}", 1), []string{"alerts.emails: missing"}},
		{"bad email", strings.Replace(minimal, "sec@example.com", "security", 1), []string{`alerts.emails[0]: "security"`}},
		{"bad mode", minimal + "modes: {default: enforce}\n", []string{"modes.default"}},
		{"mode for unknown guardrail", minimal + "modes: {guardrails: {key-deletio: alert}}\n", []string{"modes.guardrails.key-deletio: unknown guardrail"}},
		{"bad account override", minimal + "modes: {accounts: {\"12\": {mode: alert}}}\n", []string{"modes.accounts.12"}},
		{"unknown guardrail settings", minimal + "guardrails: {nope: {}}\n", []string{"guardrails.nope: unknown guardrail"}},
		{"bad guardrail setting", minimal + "guardrails: {key-rotation: {rotation_period_days: 30}}\n", []string{"guardrails.key-rotation.rotation_period_days"}},
		{"unknown guardrail setting", minimal + "guardrails: {log-encryption: {delay: 3}}\n", []string{"guardrails.log-encryption", "delay"}},
		{"organization fields", minimal + "organization: {id: org-1, management_account: \"1\", organizational_units: [finance], call_as: ADMIN, max_concurrent_percentage: 0}\n",
			[]string{"organization.id", "organization.management_account", "organization.organizational_units[0]", "organization.call_as", "organization.max_concurrent_percentage"}},
		{"organization without OUs", minimal + "organization: {id: o-a1b2c3d4e5, management_account: \"111111111111\"}\n", []string{"organization.organizational_units: missing"}},
		{"AWS managed logs key", minimal + "logs_key: {existing_alias: alias/aws/logs}\n", []string{"logs_key.existing_alias"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// All problems are reported at once, one per line.
func TestParse_ReportsEveryProblem(t *testing.T) {
	_, err := config.Parse([]byte(`{"hub_account":"x","home_region":"y","regions":[],"alerts":{"emails":[]}}`))
	if err == nil || strings.Count(err.Error(), "\n") < 3 {
		t.Errorf("%v", err)
	}
}

// The example configuration shows every setting of every guardrail of the
// catalog (set, or in a comment that says its default), so it follows the
// specs.
func TestExample_ShowsEverySetting(t *testing.T) {
	raw, err := os.ReadFile("../../docs/kmsguard.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	_, guardrails, ok := strings.Cut(text, "\nguardrails:\n")
	if !ok {
		t.Fatal("the example has no guardrails block")
	}
	for _, s := range catalog.Specs() {
		_, section, ok := strings.Cut(guardrails, "\n  "+s.ID+":\n")
		if !ok && strings.HasPrefix(guardrails, "  "+s.ID+":\n") {
			section, ok = strings.TrimPrefix(guardrails, "  "+s.ID+":\n"), true
		}
		if !ok {
			t.Errorf("the example has no guardrails.%s", s.ID)
			continue
		}
		// The section ends at the next guardrail or top-level key.
		for i, line := range strings.Split(section, "\n") {
			if i > 0 && (strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") && !strings.HasPrefix(line, "  #") || line != "" && line[0] != ' ' && line[0] != '#') {
				section = strings.Join(strings.Split(section, "\n")[:i], "\n")
				break
			}
		}
		schema, err := guardrail.SettingsSchema(s.Settings)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range schema {
			if !strings.Contains(section, st.Name) {
				t.Errorf("guardrails.%s.%s is not in the example", s.ID, st.Name)
			}
		}
	}
}

// The management account gets roles only for the guardrails it opts in;
// the runtime learns the others are unmanaged there.
func TestManagementAccountGuardrails(t *testing.T) {
	c, err := config.Load("../../docs/kmsguard.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.RuntimeConfig()
	if err != nil {
		t.Fatal(err)
	}
	got := rc.Unmanaged[c.Organization.ManagementAccount]
	if slices.Contains(got, "key-deletion") || !slices.Contains(got, "key-policy") {
		t.Errorf("unmanaged in the management account: %v", got)
	}
	raw, _ := os.ReadFile("../../docs/kmsguard.example.yaml")
	bad := strings.Replace(string(raw), "management_account_guardrails: [key-deletion]", "management_account_guardrails: [key-deletoin]", 1)
	if _, err := config.Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "organization.management_account_guardrails[0]") {
		t.Errorf("an unknown guardrail was accepted: %v", err)
	}
}
