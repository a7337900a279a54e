package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	// One trust model: key-grants trusts the accounts key-policy trusts.
	var kg map[string]any
	_ = json.Unmarshal(rc.Guardrails["key-grants"], &kg)
	if fmt.Sprint(kg["trusted_accounts"]) != "[444455556666]" || kg["organization_id"] != nil {
		t.Errorf("key-grants settings %v", kg)
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
	if _, err := runconfig.ParseRuntimeConfig([]byte(js), catalog.IDs()); err != nil {
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
		schema0, _ := guardrail.SettingsSchema(s.Settings)
		if len(schema0) == 0 {
			continue // nothing to show
		}
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

// Problems the decoder finds are reported in words, by field path and line,
// all at once and together with Validate's, never as the decoder's message.
func TestParse_DecodingProblems(t *testing.T) {
	doc := strings.Join([]string{
		`hub_account: [1, 2]`,                        // 1: wrong type
		`home_region: eu-west-1`,                     // 2
		`regions: eu-west-1`,                         // 3: a string for a list
		`hub_acount: "123456789012"`,                 // 4: typo
		`alerts: {emails: [security], email: x}`,     // 5: typo inside, and a bad address (Validate)
		`organization:`,                              // 6
		`  id: o-a1b2c3d4e5`,                         // 7
		`  management_account: 011111111111`,         // 8: lost its zero
		`  organizational_units: [r-ab12]`,           // 9
		`  failure_tolerance_percentage: "10"`,       // 10: quoted number
		`modes: {kill_switch: maybe}`,                // 11
		`guardrails:`,                                // 12
		`  key-rotaton: {}`,                          // 13: unknown guardrail
		`  log-encryption: {delay: 3}`,               // 14: unknown setting
		`sweep: {schedule: daily, schedule: hourly}`, // 15: duplicate key, bad schedule (Validate)
	}, "\n")
	_, err := config.Parse([]byte(doc))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("not a *config.Error: %v", err)
	}
	want := []string{
		`line 1: hub_account: found a list; expected a string`,
		`line 3: regions: found the string "eu-west-1"; expected a list of strings, for example [eu-west-1]`,
		`line 4: hub_acount: unknown field; did you mean hub_account?`,
		`line 5: alerts.email: unknown field; did you mean emails?`,
		`line 5: alerts.emails[0]: "security" is not valid; use an email address`,
		`line 8: organization.management_account: 011111111111 is read as a number, which loses its leading zero; quote it: "011111111111"`,
		`line 10: organization.failure_tolerance_percentage: found the string "10"; expected a whole number (write it without quotes)`,
		`line 11: modes.kill_switch: found the string "maybe"; expected true or false`,
		`line 13: guardrails.key-rotaton: unknown guardrail (did you mean key-rotation?); known: ` + strings.Join(catalog.IDs(), ", "),
		`line 14: guardrails.log-encryption.delay: unknown field; did you mean delay_seconds?`,
		`line 15: sweep.schedule: given twice (first at line 15); keep one`,
		`line 15: sweep.schedule: "daily" is not valid; use rate(N minutes|hours|days) or cron(...), for example rate(1 day)`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), "\n  "+w+"\n") && !strings.HasSuffix(err.Error(), "\n  "+w) {
			t.Errorf("missing line %q", w)
		}
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d (a field the decoder reported is not reported again as missing):\n%v", len(ce.Problems), len(want), err)
	}
	if strings.Contains(err.Error(), "json:") || strings.Contains(err.Error(), "unmarshal") {
		t.Errorf("the decoder's words leak:\n%v", err)
	}
	// Load names the file on every line, as compilers do.
	path := filepath.Join(t.TempDir(), "kmsguard.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = config.Load(path)
	if !strings.HasPrefix(err.Error(), path+" has 12 problems:\n  "+path+":1: hub_account: found a list") {
		t.Errorf("Load: %v", err)
	}
}

func TestParse_Syntax(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unclosed list", "hub_account: \"123456789012\"\nregions: [eu-west-1,\nalerts: {}\n", "line 2: not valid YAML or JSON: did not find expected ',' or ']'"},
		{"tab indentation", "alerts:\n\temails: [a@example.com]\n", "not valid YAML or JSON: "},
		{"a list, not a mapping", "- eu-west-1\n", "line 1: the configuration must be a mapping with the fields alerts, guardrails, home_region"},
		{"broken JSON", "{\"hub_account\": \"123456789012\",\n\"regions\": [\"eu-west-1\"]", "line 2: not valid YAML or JSON: did not find expected ',' or '}'"},
		{"bad indentation", "alerts:\n  emails: [a@example.com]\n extra: 1\n", "line 3: not valid YAML or JSON: did not find expected key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Count(err.Error(), "\n") != 1 {
				t.Errorf("%v\nwant one problem: %s", err, tt.want)
			}
		})
	}
}

// JSON is YAML, except for what YAML refuses (an escaped slash); both are
// accepted, with lines.
func TestParse_JSON(t *testing.T) {
	c, err := config.Parse([]byte("{\n\t\"hub_account\": \"123456789012\",\n\t\"home_region\": \"eu-west-1\",\n\t\"regions\": [\"eu-west-1\"],\n\t\"alerts\": {\"emails\": [\"sec\\/ops@example.com\"]}\n}\n"))
	if err != nil || c.Alerts.Emails[0] != "sec/ops@example.com" {
		t.Fatalf("%v %+v", err, c)
	}
	_, err = config.Parse([]byte("{\n\"hub_account\": \"123456789012\",\n\"home_region\": \"eu-west-1\",\n\"regions\": [\"eu-west-1\"],\n\"alerts\": {\"emails\": [\"a\\/b\"]},\n\"modes\": {\"defualt\": \"alert\"}\n}"))
	if err == nil || !strings.Contains(err.Error(), `line 5: alerts.emails[0]: "a/b" is not valid`) || !strings.Contains(err.Error(), "line 6: modes.defualt: unknown field; did you mean default?") {
		t.Errorf("%v", err)
	}
}

// YAML merge keys and anchors work; the unquoted 12-digit id without a
// leading zero is taken as written (as before).
func TestParse_AnchorsAndNumbers(t *testing.T) {
	c, err := config.Parse([]byte(minimal + "modes:\n  accounts:\n    111122223333: &sandbox {mode: alert}\n    444455556666: *sandbox\n    777788889999:\n      <<: *sandbox\n      guardrails: {key-policy: remediate}\n  kill_switch: no\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Modes.Accounts) != 3 || c.Modes.Accounts["777788889999"].Mode != "alert" || c.Modes.Accounts["777788889999"].Guardrails["key-policy"] != "remediate" || c.Modes.KillSwitch {
		t.Errorf("%+v", c.Modes)
	}
	c, err = config.Parse([]byte(strings.Replace(minimal, `"123456789012"`, "123456789012", 1)))
	if err != nil || c.HubAccount != "123456789012" {
		t.Errorf("%v %q", err, c.HubAccount)
	}
}

// Decode gives any configuration struct the same reporting: the runtime
// configuration the CLI takes as JSON, for one.
func TestDecode_RuntimeConfig(t *testing.T) {
	var rc runconfig.RuntimeConfig
	err := config.Decode([]byte("{\"modes\": {\"defualt\": \"alert\", \"kill_switch\": \"yes\"},\n \"guardrails\": {\"key-rotation\": {\"rotation_period_days\": \"x\"}}}"), &rc)
	want := `kmsguard configuration has 3 problems:
  line 1: modes.defualt: unknown field; did you mean default?
  line 1: modes.kill_switch: found the string "yes"; expected true or false
  line 2: guardrails.key-rotation.rotation_period_days: found the string "x"; expected a whole number`
	if err == nil || err.Error() != want {
		t.Errorf("%v\nwant\n%s", err, want)
	}
	if err := config.Decode([]byte(`{"modes": {"default": "alert"}}`), &rc); err != nil || rc.Modes.Default != "alert" {
		t.Errorf("%v %+v", err, rc)
	}
}

// Per-account rules in kmsguard.yaml grow the configuration parameter;
// validation stops before SSM's 8 KB limit, at synth, and names the fix.
// 5,000 accounts' rules belong in the mode store.
func TestParse_ModesOutgrowTheParameter(t *testing.T) {
	base := "home_region: eu-west-1\nregions: [eu-west-1]\nhub_account: \"111122223333\"\nalerts: {emails: [sec@example.com]}\n" +
		"organization: {id: o-abcdefghij, management_account: \"999988887777\", organizational_units: [r-ab12]}\n"
	rules := func(n int) string {
		var b strings.Builder
		b.WriteString("modes:\n  organizational_units: {ou-ab12-prod0001: {mode: remediate}}\n  accounts:\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "    \"%012d\": {mode: remediate}\n", 100000000000+i)
		}
		return b.String()
	}
	if _, err := config.Parse([]byte(base + rules(100))); err != nil {
		t.Fatalf("100 accounts' rules fit: %v", err)
	}
	_, err := config.Parse([]byte(base + rules(5000)))
	if err == nil || !strings.Contains(err.Error(), "over the 8192 an SSM parameter holds") || !strings.Contains(err.Error(), "kmsguard mode set --account") {
		t.Fatalf("5,000 accounts' rules: %v", err)
	}
	// Rules per OU need an organization.
	single := "home_region: eu-west-1\nregions: [eu-west-1]\nhub_account: \"111122223333\"\nalerts: {emails: [sec@example.com]}\nmodes: {organizational_units: {ou-ab12-prod0001: {mode: alert}}}\n"
	if _, err := config.Parse([]byte(single)); err == nil || !strings.Contains(err.Error(), "modes.organizational_units") {
		t.Errorf("OU rules without organization: %v", err)
	}
	bad := base + "modes: {organizational_units: {ou-nope: {mode: alert}}}\n"
	if _, err := config.Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "modes.organizational_units.ou-nope") {
		t.Errorf("bad OU id: %v", err)
	}
}

const orgMinimal = minimal + `organization:
  id: o-a1b2c3d4e5
  management_account: "111111111111"
  organizational_units: [ou-ab12-cd34ef56]
`

// Each rule of Validate added for deployment hygiene: the snippet, and the
// path and words the error must have.
func TestParse_HygieneRules(t *testing.T) {
	long := strings.Repeat("k", 129)
	var many strings.Builder
	many.WriteString("tags:\n")
	for i := range 50 {
		fmt.Fprintf(&many, "  T%d: v\n", i)
	}
	tests := []struct {
		name, yaml string
		path, msg  string
	}{
		{"duplicate email", strings.Replace(minimal, "[sec@example.com]", "[sec@example.com, b@example.com, sec@example.com]", 1), "alerts.emails[2]", "repeats alerts.emails[0]"},
		{"duplicate email ignoring case", strings.Replace(minimal, "[sec@example.com]", "[sec@example.com, Sec@Example.com]", 1), "alerts.emails[1]", "ignoring case"},
		{"duplicate excluded account", orgMinimal + `  excluded_accounts: ["222222222222", "222222222222"]` + "\n", "organization.excluded_accounts[1]", "repeats organization.excluded_accounts[0]"},
		{"duplicate sweep account", minimal + `sweep: {accounts: ["222222222222", "333333333333", "222222222222"]}` + "\n", "sweep.accounts[2]", "repeats sweep.accounts[0]"},
		{"swept and excluded", orgMinimal + `  excluded_accounts: ["222222222222"]` + "\n" + `sweep: {accounts: ["222222222222"]}` + "\n", "sweep.accounts[0]", "also organization.excluded_accounts[0]"},
		{"hub excluded", orgMinimal + `  excluded_accounts: ["123456789012"]` + "\n", "organization.excluded_accounts[0]", "the hub account must be guarded"},
		{"management excluded", orgMinimal + `  excluded_accounts: ["111111111111"]` + "\n", "organization.excluded_accounts[0]", "StackSets never deploy to anyway"},
		{"unknown Region", strings.Replace(minimal, "regions: [eu-west-1]", "regions: [eu-west-1, eu-west-9]", 1), "regions[1]", "use a Region code"},
		{"misspelt Region", strings.Replace(minimal, "regions: [eu-west-1]", "regions: [eu-west-1, us-esat-1]", 1), "regions[1]", "did you mean us-east-1?"},
		{"unknown home Region", strings.Replace(minimal, "home_region: eu-west-1", "home_region: eu-east-1", 1), "home_region", `"eu-east-1" is not valid`},
		{"GovCloud Region", strings.Replace(minimal, "regions: [eu-west-1]", "regions: [eu-west-1, us-gov-west-1]", 1), "regions[1]", "commercial partition"},
		{"tag key too long", minimal + "tags: {" + long + ": v}\n", "tags." + long, "1-128"},
		{"tag value too long", minimal + "tags: {Owner: " + strings.Repeat("v", 257) + "}\n", "tags.Owner", "0-256"},
		{"aws: tag", minimal + "tags: {\"AWS:Owner\": x}\n", "tags.AWS:Owner", "reserved for AWS"},
		{"our tag", minimal + "tags: {\"kmsguard:component\": x}\n", "tags.kmsguard:component", "kmsguard sets this tag itself"},
		{"bad tag key characters", minimal + "tags: {\"Owner!\": x}\n", "tags.Owner!", "letters, digits, spaces"},
		{"bad tag value characters", minimal + "tags: {\"Cost Center\": \"a;b\"}\n", "tags.Cost Center", `the value "a;b"`},
		{"too many tags", minimal + many.String(), "tags", "50 tags, over the limit of 49"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("want an *Error, got %v", err)
			}
			for _, p := range ce.Problems {
				if p.Path == tt.path && strings.Contains(p.Message, tt.msg) {
					return
				}
			}
			t.Errorf("no problem at %s saying %q:\n%v", tt.path, tt.msg, err)
		})
	}
}

// Valid tags, Regions and accounts pass.
func TestParse_HygieneAccepted(t *testing.T) {
	c, err := config.Parse([]byte(strings.Replace(orgMinimal, "regions: [eu-west-1]", "regions: [eu-west-1, af-south-1, mx-central-1]", 1) +
		"  excluded_accounts: [\"222222222222\"]\n" +
		"tags: {\"Cost Center\": \"a/b=c+d-e@f.g:h_i\", Owner: \"\", \"Équipe\": sécurité}\ntermination_protection: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.TerminationProtected() || len(c.Tags) != 3 {
		t.Errorf("%+v", c)
	}
	if c, _ := config.Parse([]byte(minimal)); !c.TerminationProtected() {
		t.Error("termination protection is on by default")
	}
}

// All of a file's problems are reported at once, the new rules included.
func TestParse_HygieneAllAtOnce(t *testing.T) {
	y := strings.Replace(orgMinimal, "[sec@example.com]", "[sec@example.com, SEC@example.com]", 1) +
		"  excluded_accounts: [\"123456789012\"]\ntags: {\"aws:x\": y}\n"
	y = strings.Replace(y, "regions: [eu-west-1]", "regions: [eu-west-1, xx-west-1]", 1)
	_, err := config.Parse([]byte(y))
	for _, w := range []string{"alerts.emails[1]", "organization.excluded_accounts[0]", "tags.aws:x", "regions[1]"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %s: %v", w, err)
		}
	}
}

func TestRegions(t *testing.T) {
	if !config.IsOptIn("af-south-1") || !config.IsOptIn("mx-central-1") || config.IsOptIn("eu-west-1") || config.IsOptIn("nowhere-1") {
		t.Error("IsOptIn")
	}
	seen := map[string]bool{}
	for _, r := range config.Regions {
		if seen[r.Code] {
			t.Errorf("%s twice", r.Code)
		}
		seen[r.Code] = true
	}
	for _, code := range []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
		"ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1", "sa-east-1"} {
		if r, ok := config.LookupRegion(code); !ok || r.OptIn {
			t.Errorf("%s: enabled by default, got %+v %v", code, r, ok)
		}
	}
}

// A file over 1 MiB is refused before it is parsed, with its name, size
// and the limit.
func TestLoad_TooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	b := []byte(minimal + "# " + strings.Repeat("x", config.MaxFileSize) + "\n")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprint(len(b))) || !strings.Contains(err.Error(), "1048576") {
		t.Errorf("%v", err)
	}
}
