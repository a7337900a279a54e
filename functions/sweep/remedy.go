package sweep

import "strings"

// Step is one thing a person can do about a finding: what it is for, and
// the commands to run for it (none when there is nothing to run).
type Step struct {
	Text     string   `json:"text,omitempty"`
	Commands []string `json:"commands,omitempty"`
}

// RemedySection is the title of the section of a guardrail's alert that
// says what a person can do.
const RemedySection = "What you can do"

// Remedy reads the "What you can do" section of an alert body: each
// guardrail writes it for the situation it found (the key's ARN, the
// configured rotation period, the logs key, a lockout that no command
// can fix), so the audit report gives the same advice as the alert, from
// the guardrail's own code. The body is alert.Body's plain text: a section
// title at the margin, its lines indented two spaces (wrapped), commands
// four (never wrapped); the section ends at the next line at the margin.
func Remedy(body string) []Step {
	var steps []Step
	in := false
	for _, line := range strings.Split(body, "\n") {
		if !in {
			in = line == RemedySection
			continue
		}
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "    "):
			if len(steps) == 0 {
				steps = append(steps, Step{})
			}
			last := &steps[len(steps)-1]
			last.Commands = append(last.Commands, strings.TrimSpace(line))
		case strings.HasPrefix(line, "  "):
			text := strings.TrimSpace(line)
			if n := len(steps); n > 0 && len(steps[n-1].Commands) == 0 {
				steps[n-1].Text += " " + text // a wrapped line
			} else {
				steps = append(steps, Step{Text: text})
			}
		default:
			return steps // the next section
		}
	}
	return steps
}
