// Package alert renders and publishes kmsguard's alerts: one SNS message per
// outcome, readable in an email client, filterable by message attributes, and
// with a JSON form for non-email subscribers.
package alert

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Message is one alert. Every string that came from an event or from AWS is
// cleaned and bounded when the message is rendered.
type Message struct {
	Severity  string `json:"severity"`
	Guardrail string `json:"guardrail"`
	Account   string `json:"account"`
	Region    string `json:"region"`
	// Resource is what a person recognises: an alias, else the key id.
	Resource string `json:"resource"`
	// Action is the machine-readable action ("none", "cancel-deletion", ...).
	Action string `json:"action"`
	// Verdict is the short human outcome for the subject ("cancelled").
	Verdict  string   `json:"verdict"`
	EventID  string   `json:"event_id"`
	Findings []string `json:"findings,omitempty"`
	// Body is the plain-text email body.
	Body string `json:"text"`
	// Summary, when set, replaces "resource account region — verdict" in
	// the subject (a sweep digest is about many resources).
	Summary string `json:"summary,omitempty"`
}

// MaxSubject is SNS's limit: fewer than 100 characters.
const MaxSubject = 99

// Subject renders "[kmsguard] SEVERITY guardrail: resource account region — verdict",
// shortening the resource first so the rest always fits.
func (m Message) Subject() string {
	head := fmt.Sprintf("[kmsguard] %s %s: ", Clean(m.Severity, 10), Clean(m.Guardrail, 24))
	if m.Summary != "" {
		return head + Clean(m.Summary, MaxSubject-utf8.RuneCountInString(head))
	}
	tail := fmt.Sprintf(" %s %s — %s", Clean(m.Account, 12), Clean(m.Region, 20), Clean(m.Verdict, 30))
	room := MaxSubject - utf8.RuneCountInString(head) - utf8.RuneCountInString(tail)
	return head + Clean(m.Resource, room) + tail
}

// Attributes are the SNS message attributes subscription filter policies use.
func (m Message) Attributes() map[string]string {
	return map[string]string{
		"severity":  Clean(m.Severity, 16),
		"guardrail": Clean(m.Guardrail, 64),
		"account":   Clean(m.Account, 12),
		"region":    Clean(m.Region, 32),
		"action":    Clean(m.Action, 64),
	}
}

// MaxBody bounds the text body well under SNS's 256 KB message limit, leaving
// room for the JSON form that carries it too.
const MaxBody = 64 * 1024

// Text is the email body, bounded.
func (m Message) Text() string {
	return CleanText(m.Body, MaxBody)
}

// JSON is the form non-email subscribers receive.
func (m Message) JSON() string {
	c := m
	c.Body = m.Text()
	c.Resource = Clean(m.Resource, 256)
	b, _ := json.Marshal(struct {
		Subject string `json:"subject"`
		Message
	}{m.Subject(), c})
	return string(b)
}

// Structure is the SNS MessageStructure=json payload: the text for email,
// the JSON form for every other protocol.
func (m Message) Structure() string {
	b, _ := json.Marshal(map[string]string{
		"default": m.JSON(),
		"email":   m.Text(),
	})
	return string(b)
}

// Clean makes an untrusted string safe for one line: control and format
// characters (newlines, tabs, bidi overrides, zero-width) become spaces,
// runs of spaces collapse, and the result is cut to max runes with "…".
func Clean(s string, max int) string {
	if max <= 0 {
		return ""
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return truncate(strings.TrimSpace(b.String()), max)
}

// CleanText is Clean for multi-line text: newlines and the spacing of each
// line stay, other control and format characters become spaces.
func CleanText(s string, max int) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune(r)
		case r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return truncate(b.String(), max)
}

func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	if max == 1 {
		return "…"
	}
	return string(r[:max-1]) + "…"
}
