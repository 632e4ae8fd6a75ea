"""The bash completion script (bash 4+, no bash-completion package needed)."""

from __future__ import annotations

from etcdctl_py.docgen.completions import HEADER, Table


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def render(t: Table) -> str:
    fn = "_" + t.ident
    out = [f"# bash completion for {t.prog}: {HEADER}.",
           f"# Load with: source <(etcdctl-py completion bash --program {t.prog})  (or copy to",
           "# /etc/bash_completion.d/)", ""]

    out.append(f"{fn}_subs() {{")
    out.append('    case "$1" in')
    for e in t.entries:
        if e.subs:
            out.append(f"        {_q(e.path)}) echo {_q(' '.join(n for n, _ in e.subs))} ;;")
    out.append("    esac")
    out.append("}")
    out.append("")

    out.append(f"{fn}_flags() {{")
    out.append('    case "$1" in')
    for e in t.entries:
        words = [w for f in e.flags for w in t.flag_words(f)]
        out.append(f"        {_q(e.path)}) echo {_q(' '.join(words))} ;;")
    out.append("    esac")
    out.append("}")
    out.append("")

    out.append(f"# succeeds when the flag $1 takes a value (so the next word is that value)")
    out.append(f"{fn}_takes_value() {{")
    words = [w for f in t.value_flags for w in t.flag_words(f)]
    if t.style == "goflag":
        words += ["-" + f.name for f in t.value_flags]
    out.append('    case "$1" in')
    if words:
        out.append("        " + "|".join(words) + ") return 0 ;;")
    out.append("    esac")
    out.append("    return 1")
    out.append("}")
    out.append("")

    out.append("# the values of flag $1 on stdout; status 10 = file names, 11 = directories, 12 = free text")
    out.append(f"{fn}_values() {{")
    out.append('    case "$1" in')
    for f in t.value_flags:
        pats = t.flag_words(f) + (["-" + f.name] if t.style == "goflag" else [])
        if f.values:
            out.append(f"        {'|'.join(pats)}) echo {_q(' '.join(f.values))} ;;")
        elif f.complete == "file":
            out.append(f"        {'|'.join(pats)}) return 10 ;;")
        elif f.complete == "dir":
            out.append(f"        {'|'.join(pats)}) return 11 ;;")
    out.append("        *) return 12 ;;")
    out.append("    esac")
    out.append("}")
    out.append("")

    out.append("# positional words of path $1; status 10 = file names")
    out.append(f"{fn}_args() {{")
    out.append('    case "$1" in')
    for e in t.entries:
        if e.args:
            out.append(f"        {_q(e.path)}) echo {_q(' '.join(e.args))}; return 0 ;;")
        elif e.args_complete == "file":
            out.append(f"        {_q(e.path)}) return 10 ;;")
    out.append("    esac")
    out.append("    return 1")
    out.append("}")
    out.append("")

    out.append(_BODY.replace("FN", fn))
    out.append(f"complete -F {fn} {t.prog}")
    return "\n".join(out) + "\n"


_BODY = r'''FN_reply() {
    # $1: status of a _values/_args call, $2: its words, $3: the word being completed
    case "$1" in
        0) COMPREPLY=($(compgen -W "$2" -- "$3")) ;;
        10) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$3")) ;;
        11) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$3")) ;;
        *) COMPREPLY=() ;;
    esac
}

FN() {
    local cword=$COMP_CWORD cur="${COMP_WORDS[COMP_CWORD]}" path="" w i=1 subs words rc
    # bash splits `--flag=value` at `=` (COMP_WORDBREAKS): complete the value of that flag
    if [[ "$cur" == "=" && $cword -ge 2 ]]; then
        words=$(FN_values "${COMP_WORDS[cword-1]}"); rc=$?
        FN_reply "$rc" "$words" ""; return 0
    fi
    if [[ $cword -ge 3 && "${COMP_WORDS[cword-1]}" == "=" ]]; then
        words=$(FN_values "${COMP_WORDS[cword-2]}"); rc=$?
        FN_reply "$rc" "$words" "$cur"; return 0
    fi
    while [[ $i -lt $cword ]]; do
        w="${COMP_WORDS[i]}"
        if [[ "$w" == -* ]]; then
            if [[ "${COMP_WORDS[i+1]}" == "=" ]]; then
                i=$((i + 2))
            elif FN_takes_value "$w"; then
                i=$((i + 1))
            fi
        else
            subs=" $(FN_subs "$path") "
            if [[ "$subs" == *" $w "* ]]; then path="${path:+$path }$w"; fi
        fi
        i=$((i + 1))
    done
    if [[ $cword -ge 2 ]] && FN_takes_value "${COMP_WORDS[cword-1]}"; then
        words=$(FN_values "${COMP_WORDS[cword-1]}"); rc=$?
        FN_reply "$rc" "$words" "$cur"; return 0
    fi
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$(FN_flags "$path")" -- "$cur")); return 0
    fi
    subs=$(FN_subs "$path")
    if [[ -n "$subs" ]]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur")); return 0
    fi
    words=$(FN_args "$path"); rc=$?
    FN_reply "$rc" "$words" "$cur"
    return 0
}
'''
