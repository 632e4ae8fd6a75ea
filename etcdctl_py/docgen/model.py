"""One neutral description of the three command lines (etcdctl-py, etcdutl-py, etcd-py), read from the live trees.

Every generator (completions, man pages, reference pages) works from these specs, so a verb or flag another
module adds appears everywhere the next time `python -m etcdctl_py.docgen` runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from etcdctl_py.server.flagdefs import FLAGS, FlagDef

# Flag values completed and documented, by flag name (cobra trees).
VALUES: dict[str, tuple[str, ...]] = {
    "consistency": ("l", "s"),
    "order": ("ASCEND", "DESCEND"),
    "sort-by": ("CREATE", "KEY", "MODIFY", "VALUE", "VERSION"),
}
FILE_FLAGS = {"cert", "key", "cacert", "dest-cert", "dest-key", "dest-cacert", "checkpoint"}
DIR_FLAGS = {"data-dir", "wal-dir", "output-dir", "backup-dir", "backup-wal-dir"}
SHELLS = ("bash", "zsh", "fish", "powershell")
_LIST_IN_USAGE = re.compile(r"\(([a-z]+(?:, [a-z]+)+)\)")


@dataclass
class FlagSpec:
    name: str
    kind: str  # bool, string, int, duration, strings ...
    default: str  # as shown in help
    usage: str
    shorthand: str = ""
    takes_value: bool = True  # False: `--flag` alone is complete (cobra NoOptDefVal, Go bools)
    values: tuple[str, ...] = ()
    complete: str = ""  # "file" | "dir" | ""
    extension: bool = False  # ours, not in the 3.5.1 tool
    hidden: bool = False  # left out of --help


@dataclass
class CmdSpec:
    name: str
    path: tuple[str, ...]  # words after the program name
    use: str  # usage line, program name included
    short: str = ""
    long: str = ""
    flags: list[FlagSpec] = field(default_factory=list)  # local to this command
    inherited: list[FlagSpec] = field(default_factory=list)  # persistent flags of parents (not the program's)
    children: list[CmdSpec] = field(default_factory=list)
    runnable: bool = True
    extension: bool = False
    args: tuple[str, ...] = ()  # positional words to complete
    args_complete: str = ""  # "file" when the positional is a file name
    help_text: str = ""  # what `<command> --help` prints
    hidden: bool = False  # not listed by the parent's --help

    @property
    def help_identical(self) -> bool:
        """--help prints what the 3.5.1 tool prints (no visible flag or command of ours)."""
        return not self.extension and not any(f.extension and not f.hidden for f in self.flags)

    def walk(self) -> list[CmdSpec]:
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out

    @property
    def words(self) -> str:
        return " ".join(self.path)


@dataclass
class ProgramSpec:
    prog: str  # etcdctl-py
    upstream: str  # etcdctl
    summary: str
    root: CmdSpec
    global_flags: list[FlagSpec]
    style: str  # "cobra" or "goflag"
    env_prefix: str  # ETCDCTL_ / ETCD_
    version: str

    def commands(self) -> list[CmdSpec]:
        return self.root.walk()

    def find(self, path: tuple[str, ...]) -> CmdSpec | None:
        for c in self.commands():
            if c.path == path:
                return c
        return None


# --------------------------------------------------------------------------- cobra trees


def _cobra_flag(f, upstream_names: tuple[str, ...] | None) -> FlagSpec:  # noqa: ANN001 - cobra.Flag
    values = VALUES.get(f.name, ())
    if not values and f.name == "write-out":
        m = _LIST_IN_USAGE.search(f.usage)
        values = tuple(m.group(1).split(", ")) if m else ()
    complete = "file" if f.name in FILE_FLAGS else "dir" if f.name in DIR_FLAGS else ""
    usage = f.usage + (" (required)" if f.required else "")  # cobra's MarkFlagRequired is worth documenting
    return FlagSpec(
        name=f.name,
        kind=f.kind,
        default=f.def_value,
        usage=usage,
        shorthand=f.shorthand,
        takes_value=f.no_opt_default is None,
        values=values,
        complete=complete,
        extension=f.hidden or (upstream_names is not None and f.name not in upstream_names),
        hidden=f.hidden,
    )


def _positional(use: str, path: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    if path and path[-1] == "completion":
        return SHELLS, ""
    if "<filename>" in use:
        return (), "file"
    return (), ""


def _from_cobra(
    cmd,
    prog: str,
    path: tuple[str, ...],
    upstream: dict[str, tuple[str, ...]],  # noqa: ANN001
    root_flag_names: set[str],
    help_fn,
) -> CmdSpec:  # noqa: ANN001
    words = " ".join(path)
    known = upstream.get(words)
    local = [f for f in cmd.local_flags(with_help=False) if f.name != "help"]
    if cmd.parent is None:
        local = []  # the program's own flags are ProgramSpec.global_flags
    inherited = [f for f in cmd.inherited_flags() if f.name not in root_flag_names]
    use_words = cmd.use.split(" ", 1)
    use = " ".join([prog, *path, *(use_words[1:] if len(use_words) > 1 else [])]) if path else prog
    spec = CmdSpec(
        name=cmd.name,
        path=path,
        use=use,
        short=cmd.short,
        long=cmd.long.strip("\n"),
        flags=[_cobra_flag(f, known if known is not None else ()) for f in local],
        inherited=[_cobra_flag(f, None) for f in inherited],
        runnable=cmd.runnable,
        extension=bool(path) and words not in upstream,
        help_text=help_fn(cmd),
        hidden=cmd.hidden,
    )
    spec.args, spec.args_complete = _positional(cmd.use, path)
    for child in cmd.sorted_commands():
        if child.is_help_command or child.deprecated:
            continue
        spec.children.append(_from_cobra(child, prog, path + (child.name,), upstream, root_flag_names, help_fn))
    return spec


def etcdctl() -> ProgramSpec:
    from etcdctl_py import API_VERSION, ETCD_VERSION
    from etcdctl_py.cli import cobra
    from etcdctl_py.cli.root import build_root
    from etcdctl_py.docgen.upstream import ETCDCTL_351

    root = build_root()
    template = cobra.CtlTemplate(ETCD_VERSION, API_VERSION)
    cobra.add_help_command(root, template)  # as execute() does: root help lists `help`
    names = {f.name for f in root.persistent_flags}
    spec = _from_cobra(root, "etcdctl-py", (), ETCDCTL_351, names, template.text)
    spec.short = root.short
    gflags = [_cobra_flag(f, ETCDCTL_351[""]) for f in sorted(root.persistent_flags, key=lambda f: f.name)]
    return ProgramSpec("etcdctl-py", "etcdctl", root.short, spec, gflags, "cobra", "ETCDCTL_", ETCD_VERSION)


def etcdutl() -> ProgramSpec:
    from etcdctl_py.cli import cobra
    from etcdctl_py.cli import etcdutl as mod
    from etcdctl_py.docgen.upstream import ETCDUTL_351

    root = mod.build_root()
    template = cobra.DefaultTemplate(mod.VERSION, mod.API_VERSION)
    cobra.add_help_command(root, template)  # as execute() does
    names = {f.name for f in root.persistent_flags}
    spec = _from_cobra(root, "etcdutl-py", (), ETCDUTL_351, names, template.text)
    gflags = [_cobra_flag(f, ETCDUTL_351[""]) for f in sorted(root.persistent_flags, key=lambda f: f.name)]
    return ProgramSpec("etcdutl-py", "etcdutl", root.short, spec, gflags, "cobra", "", mod.VERSION)


# --------------------------------------------------------------------------- etcd-py (Go flag package)


def etcd() -> ProgramSpec:
    """etcd-py's flags from its one table (etcdctl_py/server/flagdefs.py), the words `--help` prints."""
    flags = [_goflag(f) for f in sorted(FLAGS, key=lambda f: f.name)]
    root = CmdSpec(
        name="etcd-py",
        path=(),
        use="etcd-py [flags]",
        short="An etcd-compatible single-member server (etcd 3.5 gRPC API, v2 HTTP API, etcd's on-disk formats)",
    )
    return ProgramSpec("etcd-py", "etcd", root.short, root, flags, "goflag", "ETCD_", "3.5.1")


def _goflag(f: FlagDef) -> FlagSpec:
    complete = "file" if f.name.endswith("-file") else "dir" if f.name.endswith("-dir") else ""
    return FlagSpec(
        name=f.name,
        kind="bool" if f.is_bool else "string",
        default=f.listed_default,
        usage=f.help,
        takes_value=not f.is_bool,
        values=f.known_values,
        complete=complete,
    )


def programs() -> list[ProgramSpec]:
    return [etcdctl(), etcdutl(), etcd()]
