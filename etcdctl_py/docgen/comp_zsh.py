"""The zsh completion script (native compsys: sub-verbs and flags with their descriptions)."""

from __future__ import annotations

from etcdctl_py.docgen.completions import HEADER, Table


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def _item(word: str, desc: str) -> str:
    return _q(word.replace(":", "\\:") + ":" + " ".join(desc.split()))


def render(t: Table) -> str:
    fn = "_" + t.ident
    out = [f"#compdef {t.prog}", f"# zsh completion for {t.prog}: {HEADER}.",
           f'# Install: etcdctl-py completion zsh --program {t.prog} > "${{fpath[1]}}/_{t.prog}"', ""]

    out.append(f"{fn}_subs() {{")
    out.append("    reply=()")
    out.append('    case "$1" in')
    for e in t.entries:
        if e.subs:
            out.append(f"        ({_q(e.path)}) reply=({' '.join(_item(n, d) for n, d in e.subs)}) ;;")
    out.append("    esac")
    out.append("}")
    out.append("")

    out.append(f"{fn}_flags() {{")
    out.append("    reply=()")
    out.append('    case "$1" in')
    for e in t.entries:
        items = [_item(w, f.usage) for f in e.flags for w in t.flag_words(f)]
        out.append(f"        ({_q(e.path)}) reply=({' '.join(items)}) ;;")
    out.append("    esac")
    out.append("}")
    out.append("")

    words = [w for f in t.value_flags for w in t.flag_words(f)]
    if t.style == "goflag":
        words += ["-" + f.name for f in t.value_flags]
    out.append(f"{fn}_takes_value() {{")
    out.append('    case "$1" in')
    if words:
        out.append("        (" + "|".join(words) + ") return 0 ;;")
    out.append("    esac")
    out.append("    return 1")
    out.append("}")
    out.append("")

    out.append("# values of flag $1 in reply; status 10 = file names, 11 = directories, 12 = free text")
    out.append(f"{fn}_values() {{")
    out.append("    reply=()")
    out.append('    case "$1" in')
    for f in t.value_flags:
        pats = "|".join(t.flag_words(f) + (["-" + f.name] if t.style == "goflag" else []))
        if f.values:
            out.append(f"        ({pats}) reply=({' '.join(_q(v) for v in f.values)}); return 0 ;;")
        elif f.complete == "file":
            out.append(f"        ({pats}) return 10 ;;")
        elif f.complete == "dir":
            out.append(f"        ({pats}) return 11 ;;")
    out.append("    esac")
    out.append("    return 12")
    out.append("}")
    out.append("")

    out.append(f"{fn}_args() {{")
    out.append("    reply=()")
    out.append('    case "$1" in')
    for e in t.entries:
        if e.args:
            out.append(f"        ({_q(e.path)}) reply=({' '.join(_q(a) for a in e.args)}); return 0 ;;")
        elif e.args_complete == "file":
            out.append(f"        ({_q(e.path)}) return 10 ;;")
    out.append("    esac")
    out.append("    return 1")
    out.append("}")
    out.append("")
    out.append(_BODY.replace("FN", fn))
    out.append(f'if [[ "$funcstack[1]" == "_{t.prog}" ]]; then')
    out.append(f'    {fn} "$@"')
    out.append("else")
    out.append(f"    compdef {fn} {t.prog}")
    out.append("fi")
    return "\n".join(out) + "\n"


_BODY = r'''FN_value() {
    local -a reply
    FN_values "$1"
    case $? in
        0) compadd -a reply ;;
        10) _files ;;
        11) _files -/ ;;
        *) _message 'value' ;;
    esac
}

FN() {
    local cpath="" w cur="${words[CURRENT]}" i=2
    local -a reply names
    while (( i < CURRENT )); do
        w="${words[i]}"
        if [[ "$w" == -* ]]; then
            if [[ "$w" != *=* ]] && FN_takes_value "$w"; then (( i++ )); fi
        else
            FN_subs "$cpath"
            names=(${reply%%:*})
            if (( ${names[(Ie)$w]} )); then cpath="${cpath:+$cpath }$w"; fi
        fi
        (( i++ ))
    done
    if [[ "$cur" == -*=* ]]; then
        local flag="${cur%%=*}"
        compset -P '*='
        FN_value "$flag"
        return
    fi
    if (( CURRENT > 2 )) && FN_takes_value "${words[CURRENT-1]}"; then
        FN_value "${words[CURRENT-1]}"
        return
    fi
    if [[ "$cur" == -* ]]; then
        FN_flags "$cpath"
        _describe -t options 'option' reply
        return
    fi
    FN_subs "$cpath"
    if (( ${#reply} )); then
        _describe -t commands 'command' reply
        return
    fi
    FN_args "$cpath"
    case $? in
        0) compadd -a reply ;;
        10) _files ;;
    esac
}
'''
