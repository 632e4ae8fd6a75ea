"""The bash completion script (bash 4+, no bash-completion package needed)."""

from __future__ import annotations

from collections.abc import Sequence

from etcdctl_py.docgen import comptable as ct


def _head(pattern: str) -> str:
    return f"        {pattern})"


def _echo(words: Sequence[str]) -> str:
    return f"echo {ct.sh_quote(' '.join(words))}"


def render(t: ct.Table) -> str:
    fn = "_" + t.ident
    out = [
        f"# bash completion for {t.prog}: {ct.HEADER}.",
        f"# Load with: source <(etcdctl-py completion bash --program {t.prog})  (or copy to",
        "# /etc/bash_completion.d/)",
        "",
    ]
    subs = [f"{_head(ct.sh_quote(e.path))} {_echo([n for n, _ in e.subs])} ;;" for e in t.entries if e.subs]
    out += ct.case_function(f"{fn}_subs", subs)
    flags = [f"{_head(ct.sh_quote(e.path))} {_echo(t.entry_flag_words(e))} ;;" for e in t.entries]
    out += ct.case_function(f"{fn}_flags", flags)
    out.append("# succeeds when the flag $1 takes a value (so the next word is that value)")
    out += ct.takes_value_function(t, fn, _head)
    out.append("# the values of flag $1 on stdout; status 10 = file names, 11 = directories, 12 = free text")
    out += ct.case_function(f"{fn}_values", [*ct.value_arms(t, _head, _echo), _head("*") + " return 12 ;;"])
    out.append("# positional words of path $1; status 10 = file names")
    out += ct.case_function(f"{fn}_args", ct.args_arms(t, _head, _echo), after=["    return 1"])
    out.append(_BODY.replace("FN", fn))
    out.append(f"complete -F {fn} {t.prog}")
    return "\n".join(out) + "\n"


_BODY = r"""FN_reply() {
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
"""
