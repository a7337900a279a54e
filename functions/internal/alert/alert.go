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
	// AccountName is the account's name in the organization, "" when it
	// could not be read (the subject then shows the id).
	AccountName string `json:"account_name,omitempty"`
	Region      string `json:"region"`
	// Resource is what a person recognises: an alias, else the key id.
	Resource string `json:"resource"`
	// Actor is who made the call, in a few words ("jane.doe@example.com",
	// "ROOT"); "" for a sweep.
	Actor string `json:"actor,omitempty"`
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

// minPart is how short the subject cuts the resource, the account or the
// actor before it leaves one out: "alias/…" still tells a person where to
// look.
const minPart = 8

// Subject renders
//
//	[kmsguard] SEVERITY guardrail: RESOURCE ACCOUNT REGION by ACTOR — VERDICT
//
// within SNS's limit. The severity, the guardrail, the account id, the
// Region and the verdict always show in full; the resource, the account's
// name and the actor share the rest: the actor is cut first, then the
// name, then the resource, none below minPart; when even that does not
// fit, the actor and then the account are left out (the body and the
// message attributes carry both). A call by root keeps its actor ("by
// ROOT") whatever else is cut.
func (m Message) Subject() string {
	head := fmt.Sprintf("[kmsguard] %s %s: ", Clean(m.Severity, 10), Clean(m.Guardrail, 24))
	if m.Summary != "" {
		return head + Clean(m.Summary, MaxSubject-utf8.RuneCountInString(head))
	}
	// The account's name may be cut; its id never is (a cut id names
	// no account).
	account := subjectPart{glue: " ", text: Clean(m.AccountName, 50), cut: 1}
	if account.text == "" {
		account = subjectPart{glue: " ", text: Clean(m.Account, 12), fixed: true}
	}
	verdict := " — " + Clean(m.Verdict, 30)
	room := MaxSubject - utf8.RuneCountInString(head+verdict)
	parts := []subjectPart{
		{text: Clean(m.Resource, 256)},
		account,
		{glue: " ", text: Clean(m.Region, 20), fixed: true},
		{glue: " by ", text: Clean(m.Actor, 128), cut: 2},
	}
	// What is left out first when the parts do not fit at their floors:
	// the actor, then the account; for root, the account only.
	tries := [][]int{{0, 1, 2, 3}, {0, 1, 2}, {0, 2}}
	if m.Actor == "ROOT" {
		tries = [][]int{{0, 1, 2, 3}, {0, 2, 3}}
	}
	var keep []subjectPart
	for _, t := range tries {
		keep = keep[:0]
		for _, i := range t {
			if parts[i].text != "" {
				keep = append(keep, parts[i])
			}
		}
		if floor(keep) <= room {
			break
		}
	}
	return head + fit(keep, room) + verdict
}

// subjectPart is a part of the subject and the glue before it; a fixed
// part is never cut.
type subjectPart struct {
	glue, text string
	fixed      bool
	cut        int // the higher, the sooner it is cut
}

func width(p subjectPart, first bool) (glue, text int) {
	g := p.glue
	if first {
		g = strings.TrimPrefix(g, " ")
	}
	return utf8.RuneCountInString(g), utf8.RuneCountInString(p.text)
}

func (p subjectPart) floor(t int) int {
	if p.fixed {
		return t
	}
	return min(t, minPart)
}

// floor is the parts' width with each cut to minPart.
func floor(parts []subjectPart) int {
	n := 0
	for i, p := range parts {
		g, t := width(p, i == 0)
		n += g + p.floor(t)
	}
	return n
}

// fit renders the parts within room: while they do not fit, the part cut
// first (the highest cut rank: the actor, then the account's name, then
// the resource) loses runes down to minPart; when that is not enough, the
// first part (the resource) is cut further.
func fit(parts []subjectPart, room int) string {
	w := make([]int, len(parts))
	total := 0
	for i, p := range parts {
		g, t := width(p, i == 0)
		w[i] = t
		total += g + t
	}
	for rank := 2; rank >= 0 && total > room; rank-- {
		for i, p := range parts {
			if p.fixed || p.cut != rank {
				continue
			}
			if over, spare := total-room, w[i]-minPart; over > 0 && spare > 0 {
				n := min(over, spare)
				w[i] -= n
				total -= n
			}
		}
	}
	if total > room && len(parts) > 0 {
		w[0] = max(0, w[0]-(total-room))
	}
	var b strings.Builder
	for i, p := range parts {
		if i == 0 {
			b.WriteString(strings.TrimPrefix(p.glue, " "))
		} else {
			b.WriteString(p.glue)
		}
		b.WriteString(truncate(p.text, w[i]))
	}
	return b.String()
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
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	if max == 1 {
		return "…"
	}
	return string(r[:max-1]) + "…"
}
