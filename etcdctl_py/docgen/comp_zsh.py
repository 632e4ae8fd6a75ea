"""The zsh completion script (native compsys: sub-verbs and flags with their descriptions)."""

from __future__ import annotations

from collections.abc import Sequence

from etcdctl_py.docgen import comptable as ct


def _head(pattern: str) -> str:
    return f"        ({pattern})"


def _item(word: str, desc: str) -> str:
    return ct.sh_quote(word.replace(":", "\\:") + ":" + " ".join(desc.split()))


def _described(path: str, items: list[str]) -> str:
    """The arm of a path whose words carry descriptions (`word:description`, for _describe)."""
    return f"{_head(ct.sh_quote(path))} reply=({' '.join(items)}) ;;"


def _reply(words: Sequence[str]) -> str:
    return f"reply=({' '.join(ct.sh_quote(w) for w in words)})"


def render(t: ct.Table) -> str:
    fn = "_" + t.ident
    out = [
        f"#compdef {t.prog}",
        f"# zsh completion for {t.prog}: {ct.HEADER}.",
        f'# Install: etcdctl-py completion zsh --program {t.prog} > "${{fpath[1]}}/_{t.prog}"',
        "",
    ]
    clear = ["    reply=()"]
    subs = [_described(e.path, [_item(n, d) for n, d in e.subs]) for e in t.entries if e.subs]
    out += ct.case_function(f"{fn}_subs", subs, before=clear)
    flags = [_described(e.path, [_item(w, f.usage) for f in e.flags for w in t.flag_words(f)]) for e in t.entries]
    out += ct.case_function(f"{fn}_flags", flags, before=clear)
    out += ct.takes_value_function(t, fn, _head)
    out.append("# values of flag $1 in reply; status 10 = file names, 11 = directories, 12 = free text")
    values = ct.value_arms(t, _head, lambda v: _reply(v) + "; return 0")
    out += ct.case_function(f"{fn}_values", values, before=clear, after=["    return 12"])
    out += ct.case_function(f"{fn}_args", ct.args_arms(t, _head, _reply), before=clear, after=["    return 1"])
    out.append(_BODY.replace("FN", fn))
    out.append(f'if [[ "$funcstack[1]" == "_{t.prog}" ]]; then')
    out.append(f'    {fn} "$@"')
    out.append("else")
    out.append(f"    compdef {fn} {t.prog}")
    out.append("fi")
    return "\n".join(out) + "\n"


_BODY = r"""FN_value() {
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
"""
