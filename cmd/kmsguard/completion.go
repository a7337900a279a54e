package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

func completionCommand() *command {
	return &command{
		name:     "completion",
		args:     "bash|zsh",
		minArgs:  1,
		maxArgs:  1,
		argWords: []string{"bash", "zsh"},
		summary:  "Print the shell completion script for bash or zsh",
		help: `Prints a completion script for commands, subcommands, flags and their
values. bash: add  source <(kmsguard completion bash)  to ~/.bashrc.
zsh: kmsguard completion zsh > "${fpath[1]}/_kmsguard", then start a new
shell (compinit must be loaded).`,
		setup: func(f *flags) runFunc {
			return func(_ context.Context, c *call) int {
				specs := completionSpecs(rootCommand(), "")
				if c.args[0] == "bash" {
					writeBash(c.stdout, specs)
				} else {
					writeZsh(c.stdout, specs)
				}
				return exitOK
			}
		},
	}
}

// compSpec is what completion knows about one command path.
type compSpec struct {
	path      string   // "" for kmsguard itself, "mode set"
	subs      []string // a group's commands
	flags     []string // --name, aliases included
	values    map[string][]string
	fileFlags []string
	argWords  []string
	argFiles  bool
}

func completionSpecs(cmd *command, path string) []compSpec {
	s := compSpec{path: path, values: map[string][]string{}}
	if len(cmd.subs) > 0 {
		for _, sub := range cmd.subs {
			s.subs = append(s.subs, sub.name)
		}
		s.flags = []string{"--help"}
		out := []compSpec{s}
		for _, sub := range cmd.subs {
			out = append(out, completionSpecs(sub, strings.TrimSpace(path+" "+sub.name))...)
		}
		return out
	}
	f := newFlags(path)
	cmd.setup(f)
	f.fs.VisitAll(func(fl *flag.Flag) {
		name := "--" + fl.Name
		s.flags = append(s.flags, name)
		if f.files[fl.Name] {
			s.fileFlags = append(s.fileFlags, name)
		}
		if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			return
		}
		s.values[name] = f.words[fl.Name] // nil: a free value
	})
	s.flags = append(s.flags, "--help")
	s.argWords, s.argFiles = cmd.argWords, cmd.argFiles
	return []compSpec{s}
}

func words(ws []string) string { return strings.Join(ws, " ") }

// shellCase is a case pattern for value v, quoted for bash and zsh.
func shellCase(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }

func writeBash(w io.Writer, specs []compSpec) {
	fmt.Fprint(w, `# bash completion for kmsguard. Load it with: source <(kmsguard completion bash)
_kmsguard() {
    local cur prev cmdpath="" w i
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev=""
    if [[ $COMP_CWORD -gt 1 ]]; then
        prev="${COMP_WORDS[COMP_CWORD-1]}"
        # --flag=value: bash splits at the =.
        if [[ "$prev" == "=" && $COMP_CWORD -gt 2 ]]; then
            prev="${COMP_WORDS[COMP_CWORD-2]}"
        elif [[ "$cur" == "=" ]]; then
            prev="${COMP_WORDS[COMP_CWORD-1]}"
            cur=""
        fi
    fi
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        case "$cmdpath/$w" in
`)
	for _, s := range specs {
		for _, sub := range s.subs {
			fmt.Fprintf(w, "            %s) cmdpath=%s ;;\n", shellCase(s.path+"/"+sub), shellCase(strings.TrimSpace(s.path+" "+sub)))
		}
	}
	fmt.Fprint(w, `        esac
    done
    COMPREPLY=()
    case "$cmdpath" in
`)
	for _, s := range specs {
		if s.subs != nil {
			fmt.Fprintf(w, "        %s) COMPREPLY=($(compgen -W %s -- \"$cur\")); return ;;\n", shellCase(s.path), shellCase(words(append(slices.Clone(s.subs), s.flags...))))
		}
	}
	fmt.Fprint(w, `    esac
    case "$cmdpath/$prev" in
`)
	for _, s := range specs {
		for _, fl := range s.fileFlags {
			fmt.Fprintf(w, "        %s) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", shellCase(s.path+"/"+fl))
		}
		for _, fl := range sortedKeys(s.values) {
			if slices.Contains(s.fileFlags, fl) {
				continue
			}
			if vs := s.values[fl]; vs != nil {
				fmt.Fprintf(w, "        %s) COMPREPLY=($(compgen -W %s -- \"$cur\")); return ;;\n", shellCase(s.path+"/"+fl), shellCase(words(vs)))
			} else {
				fmt.Fprintf(w, "        %s) return ;;\n", shellCase(s.path+"/"+fl))
			}
		}
	}
	fmt.Fprint(w, `    esac
    if [[ "$cur" == -* ]]; then
        case "$cmdpath" in
`)
	for _, s := range specs {
		if s.subs == nil {
			fmt.Fprintf(w, "            %s) COMPREPLY=($(compgen -W %s -- \"$cur\")) ;;\n", shellCase(s.path), shellCase(words(s.flags)))
		}
	}
	fmt.Fprint(w, `        esac
        return
    fi
    case "$cmdpath" in
`)
	for _, s := range specs {
		switch {
		case s.argWords != nil:
			fmt.Fprintf(w, "        %s) COMPREPLY=($(compgen -W %s -- \"$cur\")) ;;\n", shellCase(s.path), shellCase(words(s.argWords)))
		case s.argFiles:
			fmt.Fprintf(w, "        %s) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n", shellCase(s.path))
		}
	}
	fmt.Fprint(w, `    esac
}
complete -F _kmsguard kmsguard
`)
}

func writeZsh(w io.Writer, specs []compSpec) {
	fmt.Fprint(w, `#compdef kmsguard
# zsh completion for kmsguard. Install it with:
#   kmsguard completion zsh > "${fpath[1]}/_kmsguard"
_kmsguard() {
    local cur prev cmdpath="" w i
    cur="${words[CURRENT]}"
    prev=""
    (( CURRENT > 2 )) && prev="${words[CURRENT-1]}"
    for (( i = 2; i < CURRENT; i++ )); do
        w="${words[i]}"
        case "$cmdpath/$w" in
`)
	for _, s := range specs {
		for _, sub := range s.subs {
			fmt.Fprintf(w, "            %s) cmdpath=%s ;;\n", shellCase(s.path+"/"+sub), shellCase(strings.TrimSpace(s.path+" "+sub)))
		}
	}
	fmt.Fprint(w, `        esac
    done
    case "$cmdpath" in
`)
	for _, s := range specs {
		if s.subs != nil {
			fmt.Fprintf(w, "        %s) compadd -- %s; return ;;\n", shellCase(s.path), words(append(slices.Clone(s.subs), s.flags...)))
		}
	}
	fmt.Fprint(w, `    esac
    if [[ "$cur" == --*=* ]]; then
        prev="${cur%%=*}"
        compset -P '*='
        cur="${cur#*=}"
    fi
    case "$cmdpath/$prev" in
`)
	for _, s := range specs {
		for _, fl := range s.fileFlags {
			fmt.Fprintf(w, "        %s) _files; return ;;\n", shellCase(s.path+"/"+fl))
		}
		for _, fl := range sortedKeys(s.values) {
			if slices.Contains(s.fileFlags, fl) {
				continue
			}
			if vs := s.values[fl]; vs != nil {
				fmt.Fprintf(w, "        %s) compadd -- %s; return ;;\n", shellCase(s.path+"/"+fl), words(vs))
			} else {
				fmt.Fprintf(w, "        %s) _message 'value'; return ;;\n", shellCase(s.path+"/"+fl))
			}
		}
	}
	fmt.Fprint(w, `    esac
    if [[ "$cur" == -* ]]; then
        case "$cmdpath" in
`)
	for _, s := range specs {
		if s.subs == nil {
			fmt.Fprintf(w, "            %s) compadd -- %s ;;\n", shellCase(s.path), words(s.flags))
		}
	}
	fmt.Fprint(w, `        esac
        return
    fi
    case "$cmdpath" in
`)
	for _, s := range specs {
		switch {
		case s.argWords != nil:
			fmt.Fprintf(w, "        %s) compadd -- %s ;;\n", shellCase(s.path), words(s.argWords))
		case s.argFiles:
			fmt.Fprintf(w, "        %s) _files ;;\n", shellCase(s.path))
		}
	}
	fmt.Fprint(w, `    esac
}
if [[ "${funcstack[1]}" == _kmsguard ]]; then
    _kmsguard "$@"
else
    compdef _kmsguard kmsguard
fi
`)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
