package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/kmsguard/kmsguard/functions/guardrail"
)

// command is one kmsguard command: its help, its flags and what it runs. A
// group (mode) has subcommands instead. Adding a command is one file that
// declares one of these, and one line in commands().
type command struct {
	name string
	// args names the positional arguments in the synopsis ("EVENT.json").
	args string
	// summary is the line `kmsguard help` shows.
	summary string
	// help says what the command does, after the synopsis.
	help string
	// minArgs and maxArgs bound the positional arguments (maxArgs -1: any).
	minArgs, maxArgs int
	// argWords, when set, are the only values the positional arguments may
	// take (and what completion offers); argFiles completes file names.
	argWords []string
	argFiles bool
	// setup defines the command's flags on f and returns what runs it; it
	// must do nothing else (completion and help call it too).
	setup func(f *flags) runFunc
	subs  []*command
	// footer follows a group's command list.
	footer string
}

type runFunc func(ctx context.Context, c *call) int

// call is one run of a command: its arguments, its streams, and the ways
// it ends.
type call struct {
	cmd    *command
	path   string // "kmsguard mode set"
	args   []string
	flags  *flags
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// usageError ends a call whose arguments are wrong: one line with the
// reason, then the usage, on stderr; exit 2.
func (c *call) usageError(format string, a ...any) int {
	fmt.Fprintf(c.stderr, "%s: %s\n\n", c.path, fmt.Sprintf(format, a...))
	writeUsage(c.stderr, c.path, c.cmd, c.flags, false)
	return exitBadInput
}

// badInput ends a call whose input (a configuration file, an event) is
// wrong: the message, without the usage; exit 2.
func (c *call) badInput(err error) int {
	fmt.Fprintf(c.stderr, "%s: %v\n", c.path, err)
	return exitBadInput
}

// failed ends a call that could not do its work: the AWS environment in
// one sentence with its fix when that is the cause; exit 1. With --debug
// the SDK's own error follows.
func (c *call) failed(err error) int {
	c.report(err)
	return exitFailed
}

// report prints err (explained when it is about the AWS environment).
func (c *call) report(err error) {
	err = explainAWS(err, c.flags.profile)
	fmt.Fprintf(c.stderr, "%s: %v\n", c.path, err)
	var ee *envError
	var ae awsError
	switch {
	case !c.flags.debug:
	case errors.As(err, &ee) && ee.err != nil:
		fmt.Fprintf(c.stderr, "%s: (debug) %v\n", c.path, ee.err)
	case errors.As(err, &ae):
		fmt.Fprintf(c.stderr, "%s: (debug) %v\n", c.path, ae.err)
	}
}

// dispatch runs the command args select under cmd (named path).
func dispatch(ctx context.Context, cmd *command, path string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(cmd.subs) > 0 {
		if len(args) == 0 {
			return groupUsageError(stderr, path, cmd, "give a command")
		}
		hasHelp := slices.ContainsFunc(cmd.subs, func(s *command) bool { return s.name == "help" })
		switch a := args[0]; {
		case a == "help" && !hasHelp && len(args) > 1: // kmsguard mode help set
			return dispatch(ctx, cmd, path, slices.Concat(args[1:], []string{"--help"}), stdin, stdout, stderr)
		case a == "-h" || a == "--help" || a == "-help" || a == "help" && !hasHelp:
			writeGroupUsage(stdout, path, cmd, true)
			return exitOK
		case strings.HasPrefix(a, "-"):
			return groupUsageError(stderr, path, cmd, fmt.Sprintf("flags go after the command: %s COMMAND [flags]", path))
		}
		for _, s := range cmd.subs {
			if s.name == args[0] {
				return dispatch(ctx, s, path+" "+s.name, args[1:], stdin, stdout, stderr)
			}
		}
		return groupUsageError(stderr, path, cmd, fmt.Sprintf("unknown command %q", args[0]))
	}
	f := newFlags(path)
	runner := cmd.setup(f)
	c := &call{cmd: cmd, path: path, flags: f, stdin: stdin, stdout: stdout, stderr: stderr}
	pos, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		writeUsage(stdout, path, cmd, f, true)
		return exitOK
	}
	if err != nil {
		return c.usageError("%s", flagError(err))
	}
	c.args = pos
	switch {
	case len(pos) < cmd.minArgs:
		return c.usageError("missing %s", cmd.args)
	case cmd.maxArgs >= 0 && len(pos) > cmd.maxArgs:
		return c.usageError("unexpected argument %q", pos[cmd.maxArgs])
	}
	if cmd.argWords != nil {
		for _, a := range pos {
			if !slices.Contains(cmd.argWords, a) {
				return c.usageError("%q is not one of %s", a, strings.Join(cmd.argWords, ", "))
			}
		}
	}
	return runner(ctx, c)
}

func groupUsageError(w io.Writer, path string, cmd *command, reason string) int {
	fmt.Fprintf(w, "%s: %s\n\n", path, reason)
	writeGroupUsage(w, path, cmd, false)
	return exitBadInput
}

// flags is a command's flag set. Flags may come before and after the
// positional arguments (the standard library's parser stops at the first
// argument); each flag also records what completion offers for its value.
type flags struct {
	fs          *flag.FlagSet
	placeholder map[string]string   // --name PLACEHOLDER in the usage
	words       map[string][]string // the values a flag takes, for completion
	files       map[string]bool     // the flag names a file
	aliases     map[string]string   // alias -> flag
	debug       bool
	profile     string
}

func newFlags(name string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flags{fs: fs, placeholder: map[string]string{}, words: map[string][]string{}, files: map[string]bool{}, aliases: map[string]string{}}
}

func (f *flags) String(name, placeholder, def, usage string) *string {
	f.placeholder[name] = placeholder
	return f.fs.String(name, def, usage)
}

func (f *flags) Bool(name, usage string) *bool { return f.fs.Bool(name, false, usage) }

func (f *flags) Int(name, placeholder string, def int, usage string) *int {
	f.placeholder[name] = placeholder
	return f.fs.Int(name, def, usage)
}

// File is a flag naming a file.
func (f *flags) File(name, usage string) *string {
	f.files[name] = true
	return f.String(name, "FILE", "", usage)
}

// Enum is a flag whose value must be one of values (checked when it is
// parsed, so before anything runs); synonyms are accepted as their value.
func (f *flags) Enum(name, def, usage string, values []string, synonyms map[string]string) *string {
	v := &enumValue{value: def, values: values, synonyms: synonyms}
	f.placeholder[name] = strings.Join(values, "|")
	if len(values) > 3 {
		f.placeholder[name] = "ID"
		usage += ": " + strings.Join(values, ", ")
	}
	f.words[name] = values
	f.fs.Var(v, name, usage)
	return &v.value
}

// Alias makes --alias another name of --name.
func (f *flags) Alias(alias, name string) {
	fl := f.fs.Lookup(name)
	f.fs.Var(fl.Value, alias, fl.Usage)
	f.aliases[alias] = name
	f.words[alias], f.files[alias] = f.words[name], f.files[name]
}

// The flags shared by the commands: the same name, the same meaning.

// Config is --config kmsguard.yaml.
func (f *flags) Config(usage string) *string { return f.File("config", usage) }

// Format is --format text|json (audit: also csv, ocsf, html) for commands
// whose output is data.
func (f *flags) Format(def string, values ...string) *string {
	usage := "output format: " + strings.Join(values, " or ")
	if n := len(values); n > 2 {
		usage = "output format: " + strings.Join(values[:n-1], ", ") + " or " + values[n-1]
	}
	v := f.Enum("format", def, usage, values, map[string]string{"table": "text"})
	f.placeholder["format"] = "FORMAT"
	if len(values) <= 3 {
		f.placeholder["format"] = strings.Join(values, "|")
	}
	f.fs.Lookup("format").Usage = usage // Enum lists more than three values again
	return v
}

// Regions is --region (also --regions): one or more Regions, repeated or
// comma-separated.
func (f *flags) Regions(usage string) *[]string {
	v := &listValue{check: checkRegion}
	f.placeholder["region"] = "REGION[,REGION]"
	f.fs.Var(v, "region", usage)
	f.Alias("regions", "region")
	return &v.items
}

// Region is --region for commands that work in one Region.
func (f *flags) Region(usage string) *string {
	v := &listValue{check: checkRegion, one: true}
	f.placeholder["region"] = "REGION"
	f.fs.Var(v, "region", usage)
	return &v.value
}

// Accounts is --account (also --accounts): account ids, repeated or
// comma-separated, each checked before anything runs.
func (f *flags) Accounts(usage string) *[]string {
	v := &listValue{check: checkAccount}
	f.placeholder["account"] = "ID[,ID]"
	f.fs.Var(v, "account", usage)
	f.Alias("accounts", "account")
	return &v.items
}

// Account is --account for commands about one account.
func (f *flags) Account(usage string) *string {
	v := &listValue{check: checkAccount, one: true}
	f.placeholder["account"] = "ID"
	f.fs.Var(v, "account", usage)
	return &v.value
}

// awsFlags are --profile and --debug, read when the command runs.
type awsFlags struct{ f *flags }

// options are the AWS options the flags set; stderr gets the SDK's log with
// --debug.
func (a *awsFlags) options(stderr io.Writer) awsOptions {
	return awsOptions{profile: a.f.profile, debug: a.f.debug, log: stderr}
}

// AWS adds --profile and --debug, the flags of every command that calls AWS.
func (f *flags) AWS() *awsFlags {
	f.placeholder["profile"] = "NAME"
	f.fs.StringVar(&f.profile, "profile", "", "AWS profile (default: the access keys in the environment, else AWS_PROFILE, else default)")
	f.fs.BoolVar(&f.debug, "debug", false, "show the AWS SDK's log (retries, instance metadata) and its errors in full")
	return &awsFlags{f: f}
}

var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

func checkRegion(s string) error {
	if !regionRE.MatchString(s) {
		return fmt.Errorf("%q is not a Region name such as eu-west-1", s)
	}
	return nil
}

func checkAccount(s string) error {
	if !guardrail.ValidAccountID(s) {
		return fmt.Errorf("%q is not a 12-digit account id", s)
	}
	return nil
}

// parse parses flags wherever they are among the positional arguments;
// "--" ends the flags.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return nil, err
		}
		rest := f.fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" && !f.takesValue(args, used-2) {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// takesValue reports whether args[i] is a flag that consumed the next
// argument as its value.
func (f *flags) takesValue(args []string, i int) bool {
	if i < 0 || !strings.HasPrefix(args[i], "-") || strings.Contains(args[i], "=") {
		return false
	}
	fl := f.fs.Lookup(strings.TrimLeft(args[i], "-"))
	if fl == nil {
		return false
	}
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

var (
	flagUndefinedRE = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	flagNeedsArgRE  = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	flagInvalidRE   = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-+([^:]*): (.*)$`)
)

// flagError says the flag package's error in the CLI's words: --name.
func flagError(err error) string {
	s := err.Error()
	if m := flagUndefinedRE.FindStringSubmatch(s); m != nil {
		return fmt.Sprintf("unknown flag --%s", m[1])
	}
	if m := flagNeedsArgRE.FindStringSubmatch(s); m != nil {
		return fmt.Sprintf("--%s needs a value", m[1])
	}
	if m := flagInvalidRE.FindStringSubmatch(s); m != nil {
		if strings.HasPrefix(m[3], "parse error") || strings.Contains(m[3], "invalid syntax") {
			return fmt.Sprintf("--%s %q: not a valid value", m[2], m[1])
		}
		return fmt.Sprintf("--%s: %s", m[2], m[3])
	}
	return s
}

// enumValue is a flag value from a fixed list.
type enumValue struct {
	value    string
	values   []string
	synonyms map[string]string
}

func (e *enumValue) String() string { return e.value }
func (e *enumValue) Set(s string) error {
	if v, ok := e.synonyms[s]; ok && slices.Contains(e.values, v) {
		s = v
	}
	if !slices.Contains(e.values, s) {
		return fmt.Errorf("%q is not one of %s", s, strings.Join(e.values, ", "))
	}
	e.value = s
	return nil
}

// listValue collects comma-separated or repeated values (one: exactly one).
type listValue struct {
	items []string
	value string
	one   bool
	check func(string) error
}

func (l *listValue) String() string {
	if l == nil {
		return ""
	}
	if l.one {
		return l.value
	}
	return strings.Join(l.items, ",")
}

func (l *listValue) Set(s string) error {
	var items []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			items = append(items, p)
		}
	}
	if len(items) == 0 {
		return errors.New("is empty")
	}
	for _, p := range items {
		if err := l.check(p); err != nil {
			return err
		}
	}
	if l.one {
		if len(items) > 1 {
			return fmt.Errorf("give one value, not %q", s)
		}
		l.value = items[0]
		return nil
	}
	l.items = append(l.items, items...)
	return nil
}

// writeUsage prints a command's usage: synopsis and flags; its help (full)
// also says what it does.
func writeUsage(w io.Writer, path string, cmd *command, f *flags, full bool) {
	synopsis := path
	if hasFlags(f) {
		synopsis += " [flags]"
	}
	if cmd.args != "" {
		synopsis += " " + cmd.args
	}
	fmt.Fprintf(w, "Usage: %s\n", synopsis)
	if full && cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(cmd.help, "\n"))
	}
	if hasFlags(f) {
		if cmd.maxArgs == 0 {
			fmt.Fprintf(w, "\nFlags:\n")
		} else {
			fmt.Fprintf(w, "\nFlags (before or after the arguments):\n")
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		f.fs.VisitAll(func(fl *flag.Flag) {
			if _, alias := f.aliases[fl.Name]; alias {
				return
			}
			name := "--" + fl.Name
			if p := f.placeholder[fl.Name]; p != "" {
				name += " " + p
			}
			usage := fl.Usage
			for a, n := range f.aliases {
				if n == fl.Name {
					usage += " (also --" + a + ")"
				}
			}
			if def := fl.DefValue; def != "" && def != "false" && def != "0" && !strings.Contains(usage, "default") {
				usage += fmt.Sprintf(" (default %s)", def)
			}
			fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
		})
		_ = tw.Flush()
	}
	if full {
		fmt.Fprintf(w, "\nExit codes, and where AWS credentials come from: kmsguard help\n")
	} else {
		fmt.Fprintf(w, "\n%s --help says more.\n", path)
	}
}

func hasFlags(f *flags) bool {
	n := 0
	f.fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func writeGroupUsage(w io.Writer, path string, cmd *command, full bool) {
	fmt.Fprintf(w, "Usage: %s COMMAND [flags] [arguments]\n", path)
	if full && cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(cmd.help, "\n"))
	}
	fmt.Fprintf(w, "\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range cmd.subs {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(s.name+" "+s.args), s.summary)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\n%s COMMAND --help explains one command.\n", path)
	if full && cmd.footer != "" {
		fmt.Fprintf(w, "\n%s", cmd.footer)
	}
}
