"""The fish completion script: one `complete` line per sub-verb and per flag, gated on the command path."""

from __future__ import annotations

from etcdctl_py.docgen.comptable import HEADER, Table
from etcdctl_py.docgen.model import FlagSpec


def _q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _desc(s: str) -> str:
    return _q(" ".join(s.split()))


def _flag_line(t: Table, f: FlagSpec, cond: str) -> str:
    parts = [f"complete -c {t.prog}"]
    if cond:
        parts.append(f"-n {_q(cond)}")
    if t.style == "goflag":
        parts.append(f"-l {f.name}")  # fish offers --name; etcd also takes -name
    else:
        parts.append(f"-l {f.name}")
        if f.shorthand:
            parts.append(f"-s {f.shorthand}")
    if f.takes_value:
        if f.values:
            parts.append(f"-x -a {_q(' '.join(f.values))}")
        elif f.complete == "file":
            parts.append("-r -F")
        elif f.complete == "dir":
            parts.append(f"-x -a {_q('(__fish_complete_directories)')}")
        else:
            parts.append("-x")
    parts.append(f"-d {_desc(f.usage)}")
    return " ".join(parts)


def render(t: Table) -> str:
    fn = "__" + t.ident
    out = [
        f"# fish completion for {t.prog}: {HEADER}.",
        f"# Install: etcdctl-py completion fish --program {t.prog} > ~/.config/fish/completions/{t.prog}.fish",
        "",
    ]
    out.append(f"set -g {fn}_value_flags {' '.join(t.all_value_flag_words())}")
    out.append("")
    out.append(f"function {fn}_subs --description 'sub-verbs of a command path'")
    out.append("    switch $argv[1]")
    for e in t.entries:
        if e.subs:
            out.append(f"        case {_q(e.path)}")
            out.append(f"            echo {' '.join(n for n, _ in e.subs)}")
    out.append("    end")
    out.append("end")
    out.append("")
    out.append(_PATH_FN.replace("FN", fn))
    out.append(f"complete -c {t.prog} -f")
    globals_ = {f.name for f in t.entries[0].flags}
    for e in t.entries:
        cond = f"{fn}_at {_q(e.path)}"
        for name, short in e.subs:
            out.append(f"complete -c {t.prog} -n {_q(cond)} -a {name} -d {_desc(short)}")
        for f in e.flags:
            if e.path and f.name in globals_:
                continue  # program-wide flags are written once, without a condition
            out.append(_flag_line(t, f, "" if not e.path else cond))
        if e.args:
            out.append(f"complete -c {t.prog} -n {_q(cond)} -a {_q(' '.join(e.args))}")
        elif e.args_complete == "file":
            out.append(f"complete -c {t.prog} -n {_q(cond)} -F")
    return "\n".join(out) + "\n"


_PATH_FN = r"""function FN_path --description 'the command path typed so far (sub-verbs only)'
    set -l path ''
    set -l skip 0
    for tok in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $tok
            case '--*=*'
            case '-*'
                if contains -- $tok $FN_value_flags
                    set skip 1
                end
            case '*'
                if contains -- $tok (string split ' ' -- (FN_subs "$path"))
                    set path (string trim -- "$path $tok")
                end
        end
    end
    echo $path
end

function FN_at --description 'is the command path exactly $argv[1]?'
    test (FN_path) = "$argv[1]"
end
"""
