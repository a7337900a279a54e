package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The completion scripts are valid shell, and bash completes commands,
// flags and their values from the same table as the commands.
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	for _, sh := range []string{"bash", "zsh"} {
		code, script, stderr := runCLI(t, "completion", sh)
		if code != exitOK || stderr != "" {
			t.Fatalf("%s: exit %d %s", sh, code, stderr)
		}
		path := filepath.Join(dir, "kmsguard."+sh)
		if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		shell, err := exec.LookPath(sh)
		if err != nil {
			t.Logf("%s is not installed: its script is not checked", sh)
			continue
		}
		if out, err := exec.Command(shell, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", sh, err, out)
		}
	}
	if _, err := exec.LookPath("zsh"); err == nil {
		// zsh's compadd filters by the prefix itself: the function offers
		// every candidate. The completion builtins are stubbed to print.
		for line, want := range map[string]string{
			"kmsguard mode set ":        "remediate alert inherit",
			"kmsguard audit --format ":  "text json csv ocsf html",
			"kmsguard audit --format=j": "text json csv ocsf html",
			"kmsguard replay ":          "<files>",
			"kmsguard mode ":            "get set kill-switch --help",
		} {
			script := `compadd() { local i=${@[(i)--]}; print -r -- "${@[i+1,-1]}" }
_files() { print -r -- "<files>" }
_message() { }
compset() { }
compdef() { }
source "$2"
words=(${(s: :)1}); [[ $1 == *" " ]] && words+=("")
CURRENT=${#words}
_kmsguard`
			out, err := exec.Command("zsh", "-f", "-c", script, "zsh", line, filepath.Join(dir, "kmsguard.zsh")).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("zsh: %q completes to %q (%v), want %q", line, strings.TrimSpace(string(out)), err, want)
			}
		}
	}
	if _, err := exec.LookPath("bash"); err != nil {
		return
	}
	tests := []struct {
		line string // the words typed; the last is completed
		want string
	}{
		{"kmsguard au", "audit"},
		{"kmsguard ", "replay audit preflight mode sweep history demo completion help --help"},
		{"kmsguard mode s", "set"},
		{"kmsguard mode set ", "remediate alert inherit"},
		{"kmsguard mode kill-switch o", "on off"},
		{"kmsguard audit --for", "--format"},
		{"kmsguard preflight --al", "--all"},
		{"kmsguard audit --format ", "text json csv ocsf html"},
		{"kmsguard audit --format o", "ocsf"},
		{"kmsguard audit --format = j", "json"},
		{"kmsguard audit --guardrails key-r", "key-rotation"},
		{"kmsguard audit --regi", "--region --regions"},
		{"kmsguard mode get --guardrail log", "log-encryption"},
		{"kmsguard replay --mode ", "remediate alert"},
		{"kmsguard replay x.json --mo", "--mode"},
		{"kmsguard completion ", "bash zsh"},
		{"kmsguard audit --region ", ""},
	}
	for _, tt := range tests {
		words := strings.Split(tt.line, " ")
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, fmt.Sprintf("%q", w))
		}
		script := fmt.Sprintf(`source %q; COMP_WORDS=(%s); COMP_CWORD=%d; _kmsguard; echo "${COMPREPLY[*]}"`,
			filepath.Join(dir, "kmsguard.bash"), strings.Join(quoted, " "), len(words)-1)
		out, err := exec.Command("bash", "-c", script).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tt.want {
			t.Errorf("%q completes to %q (%v), want %q", tt.line, strings.TrimSpace(string(out)), err, tt.want)
		}
	}
}
