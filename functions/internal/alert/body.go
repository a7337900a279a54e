package alert

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/kmsguard/kmsguard/events/cloudtrail"
)

// Body builds a plain-text email body: paragraphs, titled sections with
// aligned fields, and commands to copy. Values are cleaned and bounded.
type Body struct {
	b strings.Builder
}

// MaxField bounds any single value in a body.
const MaxField = 512

// Para adds a paragraph (already composed from cleaned parts by the caller).
func (b *Body) Para(format string, args ...any) {
	b.gap()
	b.b.WriteString(wrap(Clean(fmt.Sprintf(format, cleanArgs(args)...), 4*MaxField), 78, ""))
	b.b.WriteByte('\n')
}

// Section starts a titled block.
func (b *Body) Section(title string) {
	b.gap()
	b.b.WriteString(title)
	b.b.WriteByte('\n')
}

// Field adds "  label: value" under the current section; empty values are skipped.
func (b *Body) Field(label, value string) {
	value = Clean(value, MaxField)
	if value == "" {
		return
	}
	fmt.Fprintf(&b.b, "  %-13s %s\n", label+":", value)
}

// Line adds an indented line of text.
func (b *Body) Line(format string, args ...any) {
	b.b.WriteString(wrap(Clean(fmt.Sprintf(format, cleanArgs(args)...), 4*MaxField), 78, "  "))
	b.b.WriteByte('\n')
}

// Command adds a command to copy, on its own indented line, never wrapped.
func (b *Body) Command(cmd string) {
	fmt.Fprintf(&b.b, "    %s\n", Clean(cmd, 2*MaxField))
}

// String is the finished body.
func (b *Body) String() string { return b.b.String() }

func (b *Body) gap() {
	if b.b.Len() > 0 {
		b.b.WriteByte('\n')
	}
}

func cleanArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			out[i] = Clean(s, MaxField)
		} else {
			out[i] = a
		}
	}
	return out
}

// wrap breaks s at spaces so lines stay under width runes.
func wrap(s string, width int, indent string) string {
	words := strings.Fields(s)
	var lines []string
	line := indent
	for _, w := range words {
		if utf8.RuneCountInString(line)+utf8.RuneCountInString(w)+1 > width && strings.TrimSpace(line) != "" {
			lines = append(lines, strings.TrimRight(line, " "))
			line = indent
		}
		if strings.TrimSpace(line) != "" {
			line += " "
		}
		line += w
	}
	lines = append(lines, strings.TrimRight(line, " "))
	return strings.Join(lines, "\n")
}

// shellSafe limits what goes into a command a person will paste into a shell.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9:/_.+=@,-]+$`)

// ShellSafe reports whether s can be printed inside a command to copy.
func ShellSafe(s string) bool { return shellSafe.MatchString(s) }

// Actor adds the "Who" section for a CloudTrail record.
func (b *Body) Actor(rec *cloudtrail.Record) {
	if rec == nil {
		return
	}
	u := rec.UserIdentity
	b.Section("Who")
	if w := u.Words(); w != "" {
		b.Field("Actor", Clean(w, MaxField))
	}
	if u.Type == "Root" {
		b.Line("The root user made this call: root should not be used for day-to-day work; check who holds its credentials and MFA.")
	}
	b.Field("Principal", u.Principal())
	b.Field("Type", u.Type)
	if u.SessionContext != nil && u.SessionContext.SessionIssuer != nil {
		if arn := u.SessionContext.SessionIssuer.ARN; arn != "" && arn != u.Principal() {
			b.Field("Role", arn)
		}
	}
	b.Field("Source IP", rec.SourceIPAddress)
	b.Field("User agent", rec.UserAgent)
	if u.SessionContext != nil && u.SessionContext.Attributes.MFAAuthenticated != "" {
		b.Field("MFA", u.SessionContext.Attributes.MFAAuthenticated)
	}
}

// Where adds the "Where" section; name is the account's name in the
// organization, "" when unknown.
func (b *Body) Where(account, name, region string) {
	b.Section("Where")
	if name = Clean(name, MaxField); name != "" {
		account += " (" + name + ")"
	}
	b.Field("Account", account)
	b.Field("Region", region)
}

// Sentence capitalises a reason and ends it with a full stop.
func Sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// TagList renders tags as "k=v, ..." sorted, each part bounded.
func TagList(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, Clean(k, 128)+"="+Clean(tags[k], 256))
	}
	return strings.Join(parts, ", ")
}
