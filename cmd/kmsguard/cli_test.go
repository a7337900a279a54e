package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/kmsguard/kmsguard/events/fixtures"
	"github.com/kmsguard/kmsguard/functions/runconfig"
	"github.com/kmsguard/kmsguard/internal/sandbox"
)

// unsetenv removes key for the test and restores it after.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "") // registers the restore
	os.Unsetenv(key)
}

// closedEndpoint is a 127.0.0.1 URL nothing listens on.
func closedEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	return url
}

// withoutCredentials is an operator's shell without AWS credentials: no keys, no
// profile files, nothing for the SDK to find but the instance metadata
// service (which the CLI must not wait for), and no reachable endpoint.
func withoutCredentials(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_EC2_METADATA_DISABLED", "AWS_MAX_ATTEMPTS",
		runconfig.EnvHubAccount, runconfig.EnvTopicARN, runconfig.EnvConfig,
	} {
		unsetenv(t, k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ENDPOINT_URL", closedEndpoint(t))
	t.Setenv("AWS_REGION", "eu-west-1")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// A run: the arguments, the exit code and the first line of output (stdout
// for help and data, stderr for errors) it must give.
type cliRun struct {
	args     []string
	code     int
	stdout   bool
	first    string
	prefixed bool // first is a prefix of the line, not all of it
}

// Every command through its help, a usage error and a run without
// credentials, in an environment without credentials or a reachable AWS
// endpoint: help and usage never need AWS, and no run waits for the
// instance metadata service or prints the SDK's log.
func TestCLI_EveryCommand(t *testing.T) {
	withoutCredentials(t)
	event := writeEvent(t, fixtures.Get("key-deletion/disable-key").Raw)
	valid := filepath.Join(t.TempDir(), "kmsguard.yaml")
	if err := os.WriteFile(valid, []byte("hub_account: \"123456789012\"\nhome_region: eu-west-1\nregions: [eu-west-1]\nalerts: {emails: [a@example.com]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const noCreds = "no AWS credentials found: set AWS_PROFILE (or --profile) to a profile in ~/.aws/config, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; on an EC2 instance, set AWS_EC2_METADATA_DISABLED=false to use its role"
	usage := func(path, reason string, args ...string) cliRun {
		return cliRun{args: args, code: exitBadInput, first: path + ": " + reason}
	}
	help := func(synopsis string, args ...string) cliRun {
		return cliRun{args: args, code: exitOK, stdout: true, first: "Usage: " + synopsis}
	}
	creds := func(path string, args ...string) cliRun {
		return cliRun{args: args, code: exitFailed, first: path + ": " + noCreds}
	}
	table := []struct {
		path                 string // the command, as help names it
		help, usage, noCreds cliRun
		// why there is no credentials run
		noCredsCovered string
	}{
		{path: "kmsguard",
			help:           help("kmsguard COMMAND [flags] [arguments]", "--help"),
			usage:          usage("kmsguard", `unknown command "frobnicate"`, "frobnicate"),
			noCredsCovered: "a group: its commands are below"},
		{path: "kmsguard replay",
			help:    help("kmsguard replay [flags] EVENT.json", "replay", "--help"),
			usage:   usage("kmsguard replay", `--mode: "x" is not one of remediate, alert`, "replay", event, "--mode", "x"),
			noCreds: creds("kmsguard replay", "replay", event, "--mode", "alert")},
		{path: "kmsguard audit",
			help:    help("kmsguard audit [flags]", "audit", "-h"),
			usage:   usage("kmsguard audit", `unexpected argument "extra"`, "audit", "extra"),
			noCreds: creds("kmsguard audit", "audit", "--region", "eu-west-1")},
		{path: "kmsguard preflight",
			help:    help("kmsguard preflight [flags]", "preflight", "--help"),
			usage:   usage("kmsguard preflight", `--account: "12" is not a 12-digit account id`, "preflight", "--account", "12"),
			noCreds: creds("kmsguard preflight", "preflight", "--config", valid)},
		{path: "kmsguard mode",
			help:           help("kmsguard mode COMMAND [flags] [arguments]", "mode", "--help"),
			usage:          usage("kmsguard mode", "give a command", "mode"),
			noCredsCovered: "a group: its commands are below"},
		{path: "kmsguard mode get",
			help:    help("kmsguard mode get [flags]", "mode", "get", "--help"),
			usage:   usage("kmsguard mode get", "give both --account and --guardrail to resolve one mode", "mode", "get", "--account", "111122223333"),
			noCreds: creds("kmsguard mode get", "mode", "get")},
		{path: "kmsguard mode set",
			help:    help("kmsguard mode set [flags] remediate|alert|inherit", "mode", "set", "--help"),
			usage:   usage("kmsguard mode set", `"enforce" is not one of remediate, alert, inherit`, "mode", "set", "enforce"),
			noCreds: creds("kmsguard mode set", "mode", "set", "alert", "--guardrail", "key-policy")},
		{path: "kmsguard mode kill-switch",
			help:    help("kmsguard mode kill-switch [flags] on|off", "mode", "kill-switch", "--help"),
			usage:   usage("kmsguard mode kill-switch", `"maybe" is not one of on, off`, "mode", "kill-switch", "maybe"),
			noCreds: creds("kmsguard mode kill-switch", "mode", "kill-switch", "on", "--config", valid)},
		{path: "kmsguard sweep",
			help:           help("kmsguard sweep COMMAND [flags] [arguments]", "sweep", "--help"),
			usage:          usage("kmsguard sweep", "give a command", "sweep"),
			noCredsCovered: "a group: its commands are below"},
		{path: "kmsguard sweep status",
			help:    help("kmsguard sweep status [flags]", "sweep", "status", "--help"),
			usage:   usage("kmsguard sweep status", `--format: "csv" is not one of text, json`, "sweep", "status", "--format", "csv"),
			noCreds: creds("kmsguard sweep status", "sweep", "status", "--region", "eu-west-1")},
		{path: "kmsguard history",
			help:           help("kmsguard history COMMAND [flags] [arguments]", "history", "--help"),
			usage:          usage("kmsguard history", "give a command", "history"),
			noCredsCovered: "a group: its commands are below"},
		{path: "kmsguard history list",
			help:    help("kmsguard history list [flags] [RESOURCE]", "history", "list", "--help"),
			usage:   usage("kmsguard history list", "give a RESOURCE or --account", "history", "list"),
			noCreds: creds("kmsguard history list", "history", "list", "--account", "111122223333", "--region", "eu-west-1")},
		{path: "kmsguard history clear",
			help:    help("kmsguard history clear [flags] RESOURCE", "history", "clear", "--help"),
			usage:   usage("kmsguard history clear", "give --guardrail: the guardrail that stepped back", "history", "clear", "arn:aws:kms:eu-west-1:111122223333:key/k"),
			noCreds: creds("kmsguard history clear", "history", "clear", "--guardrail", "key-rotation", "arn:aws:kms:eu-west-1:111122223333:key/k", "--region", "eu-west-1")},
		{path: "kmsguard demo",
			help:           help("kmsguard demo [flags]", "demo", "--help"),
			usage:          usage("kmsguard demo", `unexpected argument "now"`, "demo", "now"),
			noCredsCovered: "TestDemo runs the whole demo without credentials"},
		{path: "kmsguard completion",
			help:    help("kmsguard completion bash|zsh", "completion", "--help"),
			usage:   usage("kmsguard completion", `"fish" is not one of bash, zsh`, "completion", "fish"),
			noCreds: cliRun{args: []string{"completion", "bash"}, code: exitOK, stdout: true, first: "# bash completion for kmsguard", prefixed: true}},
		{path: "kmsguard help",
			help:    help("kmsguard help [COMMAND [SUBCOMMAND]]", "help", "help"),
			usage:   usage("kmsguard", `unknown command "nope"`, "help", "nope"),
			noCreds: cliRun{args: []string{"help"}, code: exitOK, stdout: true, first: "Usage: kmsguard COMMAND [flags] [arguments]"}},
	}
	// The table covers every command kmsguard has: a new command needs its
	// three runs here.
	var paths []string
	for _, row := range table {
		paths = append(paths, row.path)
	}
	for _, p := range commandPaths(rootCommand(), "kmsguard") {
		if !slices.Contains(paths, p) {
			t.Errorf("%s is not in the table", p)
		}
	}
	check := func(t *testing.T, r cliRun) {
		t.Helper()
		if r.args == nil {
			return
		}
		start := time.Now()
		code, stdout, stderr := runCLI(t, r.args...)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("kmsguard %s took %v", strings.Join(r.args, " "), d)
		}
		out, other := stderr, stdout
		if r.stdout {
			out, other = stdout, stderr
		}
		got := firstLine(out)
		if code != r.code || got != r.first && !(r.prefixed && strings.HasPrefix(got, r.first)) {
			t.Errorf("kmsguard %s: exit %d, first line\n  %q\nwant exit %d,\n  %q\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), code, got, r.code, r.first, stdout, stderr)
		}
		if r.stdout && other != "" {
			t.Errorf("kmsguard %s wrote to stderr: %s", strings.Join(r.args, " "), other)
		}
		for _, noise := range []string{"IMDS", "ec2imds", "WARN", "operation error", "StatusCode"} {
			if strings.Contains(stdout+stderr, noise) {
				t.Errorf("kmsguard %s: the SDK's words (%s) reach the operator:\n%s%s", strings.Join(r.args, " "), noise, stdout, stderr)
			}
		}
		if r.code == exitFailed && strings.Count(stderr, "\n") != 1 {
			t.Errorf("kmsguard %s: not one sentence:\n%s", strings.Join(r.args, " "), stderr)
		}
	}
	for _, row := range table {
		t.Run(strings.ReplaceAll(row.path, " ", "_"), func(t *testing.T) {
			check(t, row.help)
			check(t, row.usage)
			if row.noCreds.args == nil && row.noCredsCovered == "" {
				t.Error("no credentials run, and no word on where it is")
			}
			check(t, row.noCreds)
		})
	}
}

// commandPaths lists every command and group under cmd.
func commandPaths(cmd *command, path string) []string {
	out := []string{path}
	for _, s := range cmd.subs {
		out = append(out, commandPaths(s, path+" "+s.name)...)
	}
	return out
}

// A configuration file with problems is reported before any AWS call,
// every problem at once.
func TestCLI_ConfigProblemsBeforeAWS(t *testing.T) {
	withoutCredentials(t)
	cfg := filepath.Join(t.TempDir(), "kmsguard.yaml")
	if err := os.WriteFile(cfg, []byte("hub_account: [\"123456789012\"]\nhome_region: eu-west-1\nregions: eu-west-1\nalert: {emails: [a@example.com]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	event := writeEvent(t, fixtures.Get("key-deletion/disable-key").Raw)
	for path, args := range map[string][]string{
		"audit":     {"audit", "--config", cfg},
		"preflight": {"preflight", "--config", cfg},
		"mode get":  {"mode", "get", "--config", cfg},
		"replay":    {"replay", event, "--config", cfg},
	} {
		code, stdout, stderr := runCLI(t, args...)
		want := []string{
			"kmsguard " + path + ": " + cfg + " has 4 problems:",
			"  " + cfg + ":1: hub_account: found a list; expected a string",
			"  " + cfg + ":3: regions: found the string \"eu-west-1\"; expected a list of strings, for example [eu-west-1]",
			"  " + cfg + ":4: alert: unknown field; did you mean alerts?",
			"  alerts.emails: missing; list at least one address; each confirms its subscription once",
		}
		if code != exitBadInput || stdout != "" || stderr != strings.Join(want, "\n")+"\n" {
			t.Errorf("%v: exit %d\n%s%s\nwant exit 2 and\n%s", args, code, stdout, stderr, strings.Join(want, "\n"))
		}
	}
	// replay's runtime configuration (JSON) is reported the same way.
	runtime := filepath.Join(t.TempDir(), "runtime.json")
	if err := os.WriteFile(runtime, []byte("{\"modes\": {\"defualt\": \"alert\"},\n \"guardrails\": {\"key-rotation\": []}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "replay", event, "--config", runtime)
	want := "kmsguard replay: " + runtime + " has 2 problems:\n" +
		"  " + runtime + ":1: modes.defualt: unknown field; did you mean default?\n" +
		"  " + runtime + ":2: guardrails.key-rotation: found a list; expected a mapping with the fields exemption_tag, " // the settings of the spec follow
	if code != exitBadInput || !strings.HasPrefix(stderr, want) {
		t.Errorf("exit %d\n%s\nwant\n%s", code, stderr, want)
	}
}

// Flags go before or after the positional arguments; -- ends them.
func TestFlags_Anywhere(t *testing.T) {
	tests := []struct {
		args []string
		mode string
		fix  bool
		pos  []string
	}{
		{[]string{"e.json"}, "", false, []string{"e.json"}},
		{[]string{"--mode", "alert", "e.json"}, "alert", false, []string{"e.json"}},
		{[]string{"e.json", "--mode", "alert"}, "alert", false, []string{"e.json"}},
		{[]string{"e.json", "--mode=alert", "--fix", "f.json"}, "alert", true, []string{"e.json", "f.json"}},
		{[]string{"-", "--fix"}, "", true, []string{"-"}},
		{[]string{"--fix", "--", "--mode", "x"}, "", true, []string{"--mode", "x"}},
		{[]string{"--mode", "--", "e.json"}, "--", false, []string{"e.json"}},
	}
	for _, tt := range tests {
		f := newFlags("test")
		mode := f.String("mode", "M", "", "")
		fix := f.Bool("fix", "")
		pos, err := f.parse(tt.args)
		if err != nil || *mode != tt.mode || *fix != tt.fix || !slices.Equal(pos, tt.pos) {
			t.Errorf("%q: mode %q fix %v args %q (%v)", tt.args, *mode, *fix, pos, err)
		}
	}
	f := newFlags("test")
	f.Regions("")
	f.Bool("fix", "")
	f.Int("n", "N", 0, "")
	for args, want := range map[string]string{
		"--nope":                "unknown flag --nope",
		"--region":              "--region needs a value",
		"--regions=eu-west-1,x": `--regions: "x" is not a Region name such as eu-west-1`,
		"--fix=maybe":           `--fix "maybe": not a valid value`,
		"--n=x":                 `--n "x": not a valid value`,
	} {
		if _, err := f.parse(strings.Fields(args)); err == nil || flagError(err) != want {
			t.Errorf("%s: %v, want %s", args, err, want)
		}
	}
}

// replay reads flags after the event file (the standard library's parser
// stopped at it).
func TestReplay_FlagsAfterTheFile(t *testing.T) {
	sb, err := sandbox.NewHub(context.Background(), srv, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, sb.TopicARN)
	id := pendingKey(t, sb)
	event := writeEvent(t, fixtures.WithKey(fixtures.Get("key-deletion/schedule-key-deletion-arn").Raw, id, "", ""))
	code, stdout, stderr := runCLI(t, "replay", event, "--mode", "alert", "--format", "json")
	if code != exitOK || !strings.Contains(stdout, `"mode":"alert"`) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if s, _ := sb.KeyState(context.Background(), fixtures.Account, id); s != "PendingDeletion" {
		t.Errorf("--mode alert after the file was not applied: the key is %s", s)
	}
}

// The AWS environment's problems, each in one sentence with its fix.
func TestCLI_AWSProblems(t *testing.T) {
	stsError := func(status int, code, msg string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(status)
			fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code, msg)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	keys := func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	}
	tests := []struct {
		name  string
		env   func(t *testing.T)
		args  []string
		first string
	}{
		{"unreachable endpoint", func(t *testing.T) { keys(t) }, []string{"audit"},
			"kmsguard audit: cannot reach the AWS endpoint %[1]s (connection refused): AWS_ENDPOINT_URL is set to %[1]s; start that endpoint or unset the variable"},
		{"expired credentials", func(t *testing.T) {
			keys(t)
			t.Setenv("AWS_ENDPOINT_URL", stsError(403, "ExpiredToken", "The security token included in the request is expired"))
		}, []string{"preflight"},
			"kmsguard preflight: the AWS credentials (AWS_ACCESS_KEY_ID in the environment) have expired: export fresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or unset them and set AWS_PROFILE"},
		{"rejected credentials", func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "config")
			_ = os.WriteFile(cfg, []byte("[profile ops]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n"), 0o600)
			t.Setenv("AWS_CONFIG_FILE", cfg)
			t.Setenv("AWS_ENDPOINT_URL", stsError(403, "InvalidClientTokenId", "The security token included in the request is invalid."))
		}, []string{"mode", "get", "--profile", "ops"},
			`kmsguard mode get: AWS rejected the credentials (profile "ops") with InvalidClientTokenId: refresh profile "ops" (for SSO: aws sso login --profile ops), or set AWS_PROFILE (or --profile) to another`},
		{"no such profile", func(t *testing.T) { t.Setenv("AWS_PROFILE", "nope") }, []string{"audit"},
			`kmsguard audit: the AWS profile "nope" is not defined: "aws configure list-profiles" lists the profiles; set AWS_PROFILE (or --profile) to one of them`},
		{"no Region", func(t *testing.T) { keys(t); unsetenv(t, "AWS_REGION"); unsetenv(t, "AWS_DEFAULT_REGION") }, []string{"preflight"},
			"kmsguard preflight: no AWS Region: set AWS_REGION (or --region), or a region in the profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withoutCredentials(t)
			tt.env(t)
			start := time.Now()
			code, stdout, stderr := runCLI(t, tt.args...)
			want := tt.first
			if strings.Contains(want, "%[1]s") {
				want = fmt.Sprintf(want, os.Getenv("AWS_ENDPOINT_URL"))
			}
			if code != exitFailed || stdout != "" || stderr != want+"\n" {
				t.Errorf("exit %d\n%s%s\nwant exit 1 and\n%s", code, stdout, stderr, want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			// --debug adds the SDK's log and error (there is none for a
			// Region nobody set).
			_, _, stderr = runCLI(t, append(tt.args, "--debug")...)
			if !strings.Contains(stderr, "(debug)") && tt.name != "no Region" {
				t.Errorf("--debug shows nothing more:\n%s", stderr)
			}
		})
	}
}

// Credentials of another account than the configuration's hub_account are
// named, with the account kmsguard expected.
func TestCLI_WrongAccount(t *testing.T) {
	useMoto(t, srv.URL, "")
	unsetenv(t, runconfig.EnvHubAccount)
	cfg := filepath.Join(t.TempDir(), "kmsguard.yaml")
	if err := os.WriteFile(cfg, []byte("hub_account: \"999999999999\"\nhome_region: eu-west-1\nregions: [eu-west-1]\nalerts: {emails: [a@example.com]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"mode", "kill-switch", "on", "--config", cfg},
		{"preflight", "--config", cfg, "--account", "999999999999"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		want := fmt.Sprintf("these AWS credentials (AWS_ACCESS_KEY_ID in the environment) are for account 123456789012, but hub_account in %s is 999999999999", cfg)
		if code != exitFailed || stdout != "" || !strings.Contains(firstLine(stderr), want) || !strings.HasSuffix(stderr, "set AWS_PROFILE (or --profile) to a profile of account 999999999999\n") {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
}

// --format json wherever the output is data.
func TestCLI_FormatJSON(t *testing.T) {
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	useMoto(t, srv.URL, "")
	ctx := context.Background()
	cfg, _ := srv.Config(ctx, "eu-west-1")
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/kmsguard/config"), Value: aws.String(`{"modes":{"default":"alert"}}`), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"mode", "get", "--format", "json"},
		{"mode", "get", "--account", "111122223333", "--guardrail", "key-policy", "--format", "json"},
		{"preflight", "--format", "json"},
		{"audit", "--format", "json", "--orphan-lookups", "0"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		var v map[string]any
		if err := json.Unmarshal([]byte(stdout), &v); err != nil || code == exitBadInput {
			t.Errorf("%v: exit %d, not JSON (%v):\n%s%s", args, code, err, stdout, stderr)
		}
	}
	code, stdout, _ := runCLI(t, "mode", "get", "--account", "111122223333", "--guardrail", "key-policy", "--format", "json")
	if code != exitOK || strings.TrimSpace(stdout) != `{"account":"111122223333","guardrail":"key-policy","mode":"alert","source":"default"}` {
		t.Errorf("%d %s", code, stdout)
	}
}

// The exit codes are documented once, in kmsguard help, and README.md
// carries the same text.
func TestExitCodes_Documented(t *testing.T) {
	_, stdout, _ := runCLI(t, "help")
	if !strings.Contains(stdout, exitCodes) {
		t.Error("kmsguard help does not print the exit codes")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), exitCodes) {
		t.Errorf("README.md does not carry the exit codes of kmsguard help:\n%s", exitCodes)
	}
}
