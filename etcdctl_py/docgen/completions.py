"""Shell completion scripts for the three programs (bash, zsh, fish, PowerShell), from the live command trees.

Each shell's generator (comp_*.py) renders the same table (comptable.py); `python -m etcdctl_py.docgen` writes
the scripts into completions/, and `--completion SHELL --program PROG` prints one (what `etcdctl-py completion` runs).
"""

from __future__ import annotations

from collections.abc import Callable

from etcdctl_py.docgen import comp_bash, comp_fish, comp_pwsh, comp_zsh, model
from etcdctl_py.docgen.comptable import Table, table
from etcdctl_py.docgen.model import ProgramSpec

FILES = {  # shell -> file name pattern in completions/
    "bash": "{prog}.bash",
    "zsh": "_{prog}",
    "fish": "{prog}.fish",
    "powershell": "{prog}.ps1",
}
RENDER: dict[str, Callable[[Table], str]] = {
    "bash": comp_bash.render,
    "zsh": comp_zsh.render,
    "fish": comp_fish.render,
    "powershell": comp_pwsh.render,
}
PROGRAMS: dict[str, Callable[[], ProgramSpec]] = {
    "etcdctl-py": model.etcdctl,
    "etcdutl-py": model.etcdutl,
    "etcd-py": model.etcd,
}


def script(shell: str, prog: str) -> str:
    """The completion script of `prog` (etcdctl-py, etcdutl-py, etcd-py) for `shell`."""
    return render(shell, PROGRAMS[prog]())


def render(shell: str, spec: ProgramSpec) -> str:
    return RENDER[shell](table(spec))


def outputs(programs: list[ProgramSpec]) -> dict[str, str]:
    out = {}
    for p in programs:
        for shell, pattern in FILES.items():
            out["completions/" + pattern.format(prog=p.prog)] = render(shell, p)
    return out
