"""A small command framework that behaves like cobra 1.1 + pflag 1.0 as etcdctl/etcdutl use them.

Why not Typer/click: etcdctl users rely on pflag/cobra details that click cannot express
(`--prefix=false`, unique-prefix command names, `Error:` printed twice around the usage text,
group commands printing help with exit 0, byte-identical help laid out by Go's tabwriter), and
importing Typer alone costs as much as importing grpc, which would double `etcdctl-py get`'s
start-up. This module is pure standard library and imports nothing heavy.

Use:
    root = Command("etcdctl", short="...", persistent_flags=[Flag.string(...), ...])
    get = Command("get [options] <key> [range_end]", short="Gets ...", flags=[...], run=run_get)
    root.add(get)
    sys.exit(execute(root, sys.argv[1:], version="3.5.1", api_version="3.5"))

The help is laid out by etcd's cobrautl template (etcdctl, `CtlTemplate`, the default) or by cobra's own default
template (`template=DefaultTemplate`: etcdutl). Commands may be `deprecated` and flags `required`, as in cobra.
`run(ctx)` receives a `Context` (ctx.args, ctx.get("flag-name"), ctx.changed("flag-name"),
ctx.cmd). It returns an exit code (None = 0) or raises `ExitError(code, message)`, which prints
`Error: <message>` on stderr like etcdctl's ExitWithError.
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from etcdctl_py import gofmt
from etcdctl_py.cli.errors import EXIT_ERROR, EXIT_SUCCESS, ExitError
from etcdctl_py.tabwriter import tabwrite


class FlagError(Exception):
    """A pflag parsing error; its text is what cobra prints after `Error: `."""


# ---------------------------------------------------------------- flags


class Flag:
    """One pflag flag. `kind` is the pflag value type: bool, string, int, int64, uint, uint64,
    duration, stringSlice, stringArray.

    `required` is cobra's MarkFlagRequired (checked before the command runs); `required_unless` names a flag of
    ours that may stand in for a required one (etcdutl `snapshot restore --output-dir` needs no --data-dir)."""

    __slots__ = (
        "name",
        "kind",
        "default",
        "usage",
        "shorthand",
        "hidden",
        "deprecated",
        "no_opt_default",
        "required",
        "required_unless",
    )

    def __init__(
        self,
        name: str,
        kind: str,
        default: Any,
        usage: str,
        shorthand: str = "",
        hidden: bool = False,
        deprecated: str = "",
        no_opt_default: str | None = None,
        required: bool = False,
        required_unless: str = "",
    ):
        self.name, self.kind, self.default, self.usage = name, kind, default, usage
        self.shorthand, self.hidden, self.deprecated = shorthand, hidden, deprecated
        # pflag NoOptDefVal: the value a flag given without `=value` takes ("true" for bools)
        self.no_opt_default = "true" if kind == "bool" and no_opt_default is None else no_opt_default
        self.required, self.required_unless = required, required_unless

    # constructors that read like pflag's
    @classmethod
    def bool(cls, name: str, default: bool, usage: str, shorthand: str = "", **kw: Any) -> Flag:
        return cls(name, "bool", default, usage, shorthand, **kw)

    @classmethod
    def string(cls, name: str, default: str, usage: str, shorthand: str = "", **kw: Any) -> Flag:
        return cls(name, "string", default, usage, shorthand, **kw)

    @classmethod
    def int(cls, name: str, default: int, usage: str, shorthand: str = "", kind: str = "int", **kw: Any) -> Flag:
        return cls(name, kind, default, usage, shorthand, **kw)

    @classmethod
    def duration(cls, name: str, default_ns: builtins.int, usage: str, shorthand: str = "", **kw: Any) -> Flag:
        return cls(name, "duration", default_ns, usage, shorthand, **kw)

    @classmethod
    def string_slice(cls, name: str, default: list[str], usage: str, shorthand: str = "", **kw: Any) -> Flag:
        return cls(name, "stringSlice", list(default), usage, shorthand, **kw)

    def render(self, value: Any) -> str:
        """pflag Value.String(): how the value is shown in help and `--debug` output."""
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "duration":
            return gofmt.format_duration(value)
        if self.kind in ("stringSlice", "stringArray"):
            return "[" + ",".join(value) + "]"
        return str(value)

    @property
    def def_value(self) -> str:
        return self.render(self.default)

    def initial(self) -> Any:
        """The value before any parsing: the default (a fresh copy of a list default)."""
        return list(self.default) if isinstance(self.default, list) else self.default

    def convert(self, text: str, current: Any, changed: builtins.bool) -> Any:
        """Parse a textual value the way pflag's Value.Set does; raises ValueError(go message)."""
        k = self.kind
        if k == "bool":
            return gofmt.parse_bool(text)
        if k == "string":
            return text
        if k in ("int", "int64"):
            return gofmt.parse_int(text, 0, 64)
        if k == "int32":
            return gofmt.parse_int(text, 0, 32)
        if k in ("uint", "uint64"):
            return gofmt.parse_int(text, 0, 64, signed=False)
        if k == "duration":
            return gofmt.parse_duration(text)
        if k == "stringSlice":
            vals = _read_csv(text)
            return (current + vals) if changed else vals
        if k == "stringArray":
            return (current + [text]) if changed else [text]
        raise ValueError(f"unknown flag kind {k}")


def _read_csv(text: str) -> list[str]:
    """pflag's stringSlice reads its value as one encoding/csv record: comma separated, and a
    field that starts with a double quote may contain commas and doubled quotes."""
    if text == "":
        return []
    if '"' not in text:
        return text.split(",")
    fields: list[str] = []
    i, n = 0, len(text)
    while True:
        field, i = _quoted_field(text, i + 1) if i < n and text[i] == '"' else _bare_field(text, i)
        fields.append(field)
        if i >= n:
            return fields
        i += 1  # skip the comma


_CSV_QUOTE_ERROR = 'extraneous or missing " in quoted-field'


def _csv_error(column: int, what: str) -> ValueError:
    return ValueError(f"parse error on line 1, column {column}: {what}")


def _quoted_field(text: str, i: int) -> tuple[str, int]:
    """The field whose opening quote is before `i` (`""` inside is a quote), and where it ends."""
    n, buf = len(text), []
    while True:
        j = text.find('"', i)
        if j < 0:
            raise _csv_error(n + 1, _CSV_QUOTE_ERROR)
        buf.append(text[i:j])
        if j + 1 < n and text[j + 1] == '"':
            buf.append('"')
            i = j + 2
            continue
        i = j + 1
        break
    if i < n and text[i] != ",":
        raise _csv_error(i + 1, _CSV_QUOTE_ERROR)
    return "".join(buf), i


def _bare_field(text: str, i: int) -> tuple[str, int]:
    j = text.find(",", i)
    j = len(text) if j < 0 else j
    field = text[i:j]
    if '"' in field:
        raise _csv_error(i + field.index('"') + 1, 'bare " in non-quoted-field')
    return field, j


def _help_flag(cmd_name: str) -> Flag:
    return Flag.bool("help", False, f"help for {cmd_name}", "h")


# ---------------------------------------------------------------- commands


class Command:
    """A cobra command: `use` is its usage line (first word = name), `run` its action.

    `deprecated` is cobra's Command.Deprecated: the command still runs, after printing `Command "x" is deprecated,
    <text>`, and help and suggestions leave it out (etcdutl's `snapshot save`)."""

    def __init__(
        self,
        use: str,
        short: str = "",
        long: str = "",
        run: Callable[[Context], int | None] | None = None,
        flags: Iterable[Flag] = (),
        persistent_flags: Iterable[Flag] = (),
        hidden: bool = False,
        aliases: Iterable[str] = (),
        suggest_for: Iterable[str] = (),
        disable_flag_parsing: bool = False,
        is_help_command: bool = False,
        exact_name_only: bool = False,
        deprecated: str = "",
        disable_flags_in_use_line: bool = False,
    ):
        self.use, self.short, self.long, self.run = use, short, long, run
        self.deprecated, self.disable_flags_in_use_line = deprecated, disable_flags_in_use_line
        # exact_name_only: never matched by a unique prefix (a hidden extra verb such as `completion`
        # must not take `etcdctl comp` away from compaction, as real 3.5.1 resolves it)
        self.exact_name_only = exact_name_only
        self.flags, self.persistent_flags = list(flags), list(persistent_flags)
        self.hidden, self.aliases, self.suggest_for = hidden, list(aliases), list(suggest_for)
        self.disable_flag_parsing, self.is_help_command = disable_flag_parsing, is_help_command
        self.parent: Command | None = None
        self.commands: list[Command] = []

    @property
    def name(self) -> str:
        return self.use.split(" ", 1)[0]

    def add(self, *cmds: Command) -> Command:
        for c in cmds:
            c.parent = self
            self.commands.append(c)
        return self

    @property
    def runnable(self) -> bool:
        return self.run is not None

    def root(self) -> Command:
        c = self
        while c.parent is not None:
            c = c.parent
        return c

    def command_path(self) -> str:
        return self.name if self.parent is None else self.parent.command_path() + " " + self.name

    def available(self) -> bool:
        """cobra's IsAvailableCommand: listed in help and suggestions."""
        if self.hidden or self.deprecated or self.is_help_command:
            return False
        return self.runnable or any(c.available() for c in self.commands)

    def sorted_commands(self) -> list[Command]:
        self.load_children()
        return sorted(self.commands, key=lambda c: c.name)

    def load_children(self) -> None:
        """Replace lazily registered children by the real commands (needed to list them)."""
        for i, c in enumerate(self.commands):
            if isinstance(c, LazyCommand):
                self.commands[i] = c.load()

    # flag sets -------------------------------------------------------------
    def inherited_flags(self) -> list[Flag]:
        """Persistent flags of the ancestors (nearest ancestor wins on a name clash)."""
        out: dict[str, Flag] = {}
        c = self.parent
        while c is not None:
            for f in c.persistent_flags:
                out.setdefault(f.name, f)
            c = c.parent
        return list(out.values())

    def local_flags(self, with_help: bool = True) -> list[Flag]:
        """Flags defined on this command (incl. its own persistent ones) plus -h/--help.

        cobra adds the help flag only to the command being executed, so a usage printed for
        another command (`help nosuch` prints the root's) lacks it: `with_help=False`.
        """
        out = {f.name: f for f in self.flags}
        for f in self.persistent_flags:
            out.setdefault(f.name, f)
        if with_help:
            out.setdefault("help", _help_flag(self.name))
        return list(out.values())

    def all_flags(self) -> list[Flag]:
        local = self.local_flags()
        names = {f.name for f in local}
        return local + [f for f in self.inherited_flags() if f.name not in names]

    def use_line(self) -> str:
        line = self.use if self.parent is None else self.parent.command_path() + " " + self.use
        if "[flags]" not in line and self.all_flags() and not self.disable_flags_in_use_line:
            line += " [flags]"
        return line

    def find_next(self, name: str) -> Command | None:
        matches = []
        for i, c in enumerate(self.commands):
            if c.name == name or name in c.aliases:
                return self._loaded(i)
            prefix_of = c.name.startswith(name) or any(a.startswith(name) for a in c.aliases)
            if name and not c.exact_name_only and prefix_of:
                matches.append(i)
        return self._loaded(matches[0]) if len(matches) == 1 else None

    def _loaded(self, i: int) -> Command:
        c = self.commands[i]
        if isinstance(c, LazyCommand):
            c = self.commands[i] = c.load()
        return c

    def suggestions_for(self, typed: str) -> list[str]:
        out = []
        for c in self.commands:
            if not c.available():
                continue
            if levenshtein(typed.lower(), c.name.lower()) <= 2 or c.name.lower().startswith(typed.lower()):
                out.append(c.name)
            for s in c.suggest_for:
                if s.lower() == typed.lower():
                    out.append(c.name)
        return out


class LazyCommand(Command):
    """A child registered by name only; its module is imported when the command is used or listed.

    Keeps start-up lean: `etcdctl-py get` imports the get module, not every verb's module.
    `loader()` must return the real Command, whose name must equal `name`.
    """

    def __init__(self, name: str, loader: Callable[[], Command]):
        super().__init__(name)
        self._loader = loader

    def available(self) -> bool:
        """A verb registered lazily is a real, runnable (or group) verb: available unless hidden."""
        return not self.hidden

    def load(self) -> Command:
        cmd = self._loader()
        cmd.parent = self.parent
        return cmd


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


# ---------------------------------------------------------------- help text


def flag_usages(flags: Iterable[Flag], hidden: bool = False) -> str:
    """Flag lines as etcd's usage template prints them (alphabetical, deprecated left out); the visible flags, or
    with `hidden` only the hidden ones (our extras)."""
    lines = []
    for f in sorted(flags, key=lambda f: f.name):
        if f.deprecated or f.hidden != hidden:
            continue
        s = f"  -{f.shorthand}, --{f.name}" if f.shorthand else f"      --{f.name}"
        opt = f.no_opt_default is not None
        if opt:
            s += "["
        s += "=" + (gofmt.quote(f.def_value) if f.kind == "string" else f.def_value)
        if opt:
            s += "]"
        lines.append(s + "\t" + f.usage + "\n")
    return "".join(lines)


def _all_subcommands(cmd: Command) -> list[Command]:
    out = []
    for c in cmd.sorted_commands():
        out.append(c)
        out.extend(_all_subcommands(c))
    return out


def _relative_name(cmd: Command, start: Command) -> str:
    parts = [cmd.name]
    while cmd.parent is not None and cmd.parent.name != start.name:
        cmd = cmd.parent
        parts.insert(0, cmd.name)
    return " ".join(parts)


def usage_text(cmd: Command, version: str, api_version: str, with_help: bool = True, extras: bool = False) -> str:
    """The usage/help text (etcd's cobrautl template, laid out by tabwriter). `extras` (ETCDCTL_PY_EXTRAS=1) adds
    the command's hidden sub-commands and flags, after its options; without it the text is etcdctl 3.5.1's."""
    root = cmd.root()
    o = ["NAME:\n"]
    if cmd.parent is None:
        o.append(f"\t{cmd.name} - {cmd.short}\n")
    else:
        o.append(f"\t{_relative_name(cmd, root)} - {cmd.short}\n")
    o.append("\nUSAGE:\n")
    o.append(f"\t{cmd.use_line()}\n")
    if cmd.parent is None:
        o.append(f"\nVERSION:\n\t{version}\n")
    if cmd.commands:
        o.append(f"\nAPI VERSION:\n\t{api_version}\n")
        o.append("\n\nCOMMANDS:\n")
        for sub in _all_subcommands(cmd):
            if sub.runnable and not sub.hidden:
                o.append(f"\t{_relative_name(sub, cmd)}\t{sub.short}\n")
    if cmd.long:
        o.append("\nDESCRIPTION:\n")
        for line in cmd.long.strip("\n\t ").split("\n"):
            o.append(f"\t{line}\n")
    local = cmd.local_flags(with_help)
    if local:
        o.append("\nOPTIONS:\n")
        o.append(flag_usages(local))
    if extras:
        o.append(_extras_sections(cmd, version))
    inherited = cmd.inherited_flags()
    if inherited:
        o.append("\nGLOBAL OPTIONS:\n")
        o.append(flag_usages(inherited))
    o.append("\n")
    return tabwrite("".join(o))


# cobra's own default usage template, which etcdutl uses (and etcdctl for a bad txn op line): `Usage:`,
# `Available Commands:`, `Flags:`, `Global Flags:`, flags laid out by pflag's FlagUsages.

_PFLAG_TYPE = {
    "string": "string",
    "int": "int",
    "int64": "int",
    "uint": "uint",
    "uint64": "uint",
    "duration": "duration",
    "stringSlice": "strings",
    "stringArray": "stringArray",
    "bool": "",
}


def pflag_usages(flags: Iterable[Flag], hidden: bool = False) -> str:
    """pflag FlagSet.FlagUsages(): sorted, `  -w, --name type` column padded to the longest, then the usage. With
    `hidden`, only the hidden flags (our extras) instead of the visible ones."""
    cells = [
        (_pflag_name_cell(f), _pflag_usage_cell(f))
        for f in sorted(flags, key=lambda f: f.name)
        if f.hidden == hidden and not f.deprecated
    ]
    width = max((len(name) for name, _ in cells), default=0)
    indent = "\n" + " " * (width + 3)  # pflag's wrap() without a terminal width: later lines under the first
    return "".join(f"{name.ljust(width)}   {usage.replace(chr(10), indent)}\n" for name, usage in cells)


def _pflag_name_cell(f: Flag) -> str:
    line = f"  -{f.shorthand}, --{f.name}" if f.shorthand else f"      --{f.name}"
    varname = _PFLAG_TYPE.get(f.kind, f.kind)
    if varname:
        line += " " + varname
    if f.no_opt_default is not None and f.kind != "bool":
        line += f'[="{f.no_opt_default}"]' if f.kind == "string" else f"[={f.no_opt_default}]"
    return line


def _pflag_usage_cell(f: Flag) -> str:
    if _zero_default(f):
        return f.usage
    return f.usage + f" (default {gofmt.quote(f.def_value) if f.kind == 'string' else f.def_value})"


def _zero_default(f: Flag) -> bool:
    """pflag's defaultIsZeroValue: such a default is not shown."""
    if f.kind in ("bool", "stringSlice", "stringArray"):
        return not f.default
    if f.kind == "string":
        return f.default == ""
    return f.default == 0


def _name_padding(c: Command) -> int:
    """cobra's NamePadding: the longest sibling name, at least 11."""
    if c.parent is None:
        return 11
    return max(11, max(len(s.name) for s in c.parent.commands))


def default_usage_text(cmd: Command, version: str, with_help: bool = True, extras: bool = False) -> str:
    """cobra 1.1.3's default usage template. `with_help=False`: cobra had not yet added -h/--help to the command
    (the `help <unknown>` path). `extras` (ETCDCTL_PY_EXTRAS=1): an `Extra Flags:` section with the command's
    hidden flags, after its own."""
    subs = [c for c in cmd.sorted_commands() if c.available() or c.name == "help"]
    has_subs = any(c.available() for c in cmd.commands)
    s = "Usage:"
    if cmd.runnable:
        s += "\n  " + cmd.use_line()
    if has_subs:
        s += f"\n  {cmd.command_path()} [command]"
        s += "\n\nAvailable Commands:"
        s += "".join("\n  " + c.name.ljust(_name_padding(c)) + " " + c.short for c in subs)
    local = [f for f in cmd.local_flags(with_help) if not f.hidden]
    if local:
        s += "\n\nFlags:\n" + pflag_usages(local).rstrip()
    hidden = pflag_usages(cmd.local_flags(), hidden=True) if extras else ""
    if hidden:
        tool = cmd.root().name
        s += f"\n\nExtra Flags ({tool}-py, not in {tool} {version}):\n" + hidden.rstrip()
    inherited = [f for f in cmd.inherited_flags() if not f.hidden]
    if inherited:
        s += "\n\nGlobal Flags:\n" + pflag_usages(inherited).rstrip()
    if has_subs:
        s += f'\n\nUse "{cmd.command_path()} [command] --help" for more information about a command.'
    return s + "\n"


class Template:
    """How a program prints usage: the text of a command's usage, and where cobra's Usage() writes it."""

    # True: the program's usage func writes to stdout itself (etcdctl's), bypassing cobra's output (stderr)
    usage_on_stdout = False

    def __init__(self, version: str, api_version: str) -> None:
        self.version, self.api_version = version, api_version

    def text(self, cmd: Command, with_help: bool = True, extras: bool = False) -> str:
        raise NotImplementedError

    def usage(self, cmd: Command, with_help: bool = True) -> None:
        """cobra's c.Usage()."""
        _write(sys.stdout if self.usage_on_stdout else sys.stderr, self.text(cmd, with_help))

    def usage_string(self, cmd: Command) -> str:
        """cobra's c.UsageString(): what the usage func wrote into cobra's buffer (nothing, for etcdctl's, which
        writes to stdout itself)."""
        if self.usage_on_stdout:
            self.usage(cmd)
            return ""
        return self.text(cmd)

    def help(self, cmd: Command) -> None:
        """cobra's help func: the usage on stdout, plus our hidden extras when ETCDCTL_PY_EXTRAS asks for them."""
        _write(sys.stdout, self.text(cmd, extras=extras_wanted()))


class CtlTemplate(Template):
    """etcd's cobrautl template (etcdctl)."""

    usage_on_stdout = True

    def text(self, cmd: Command, with_help: bool = True, extras: bool = False) -> str:
        return usage_text(cmd, self.version, self.api_version, with_help, extras)


class DefaultTemplate(Template):
    """cobra's default template (etcdutl, whose help template is `{{.UsageString}}`)."""

    def text(self, cmd: Command, with_help: bool = True, extras: bool = False) -> str:
        return default_usage_text(cmd, self.version, with_help, extras)


# ---------------------------------------------------------------- our extras, hidden from --help

EXTRAS_ENV = "ETCDCTL_PY_EXTRAS"


def extras_wanted() -> bool:
    """ETCDCTL_PY_EXTRAS=1 (any value but empty, 0 or false): --help also lists the command's hidden extras."""
    return os.environ.get(EXTRAS_ENV, "").lower() not in ("", "0", "false")


def hidden_extras(root: Command) -> list[tuple[Command, Flag | None]]:
    """Our extras, read from the command tree: every hidden command (with each of its flags, none of which --help
    shows) and every hidden flag, as (command, None) or (command, flag), in help order. Deprecated commands are
    the upstream tool's own (etcdutl's `snapshot save`), not extras: left out."""
    out: list[tuple[Command, Flag | None]] = []

    def walk(c: Command) -> None:
        flags = sorted((f for f in c.local_flags(with_help=False) if not f.deprecated), key=lambda f: f.name)
        if c.hidden:
            out.append((c, None))
        out.extend((c, f) for f in flags if c.hidden or f.hidden)
        for sub in c.sorted_commands():
            if not sub.is_help_command and not sub.deprecated:
                walk(sub)

    walk(root)
    return out


def extras_text(root: Command, prog: str, upstream: str) -> str:
    """What `<prog> help extras` prints: one line per hidden extra command and flag, with its description."""
    rows = []
    for c, f in hidden_extras(root):
        path = c.command_path().partition(" ")[2]
        rows.append((f"{path} --{f.name}".strip() if f else path, f.usage if f else c.short + " (command)"))
    width = max((len(r[0]) for r in rows), default=0)
    head = (
        f"Extras of {prog}: commands and flags that {upstream} does not have. They change no default, and\n"
        f"--help leaves them out so that its text stays {upstream}'s; {EXTRAS_ENV}=1 adds them to the\n"
        f"--help of their command (e.g. `{EXTRAS_ENV}=1 {prog} snapshot restore --help`).\n\n"
    )
    return head + "".join(f"  {name.ljust(width)}  {desc}\n" for name, desc in rows)


def _extras_sections(cmd: Command, version: str) -> str:
    """The EXTRA COMMANDS / EXTRA OPTIONS sections of `cmd`'s help (our hidden sub-commands and flags)."""
    tool = cmd.root().name
    o = ""
    subs = [c for c in _all_subcommands(cmd) if c.hidden and c.runnable]
    if subs:
        o += f"\nEXTRA COMMANDS ({tool}-py, not in {tool} {version}):\n"
        o += "".join(f"\t{_relative_name(c, cmd)}\t{c.short}\n" for c in subs)
    hidden = flag_usages(cmd.local_flags(with_help=False), hidden=True)
    if hidden:
        o += f"\nEXTRA OPTIONS ({tool}-py, not in {tool} {version}):\n" + hidden
    return o


# ---------------------------------------------------------------- parsing


class Context:
    """What a command's run() gets: parsed flag values, positional args, the command itself."""

    def __init__(
        self,
        cmd: Command,
        args: list[str],
        values: dict[str, Any],
        changed_flags: set[str],
        flags: dict[str, Flag],
        dash_index: int = -1,
    ):
        self.cmd, self.args, self.values = cmd, args, values
        self.changed_flags, self.flags = changed_flags, flags
        self.dash_index = dash_index  # where `--` stood in args (cobra's ArgsLenAtDash), -1 if none
        self.version = ""
        self.api_version = ""

    def get(self, name: str) -> Any:
        return self.values[name]

    def changed(self, name: str) -> bool:
        return name in self.changed_flags

    def set_from_text(self, name: str, text: str) -> None:
        """Set a flag as if given on the command line (used for ETCDCTL_* variables)."""
        f = self.flags[name]
        self.values[name] = f.convert(text, self.values[name], name in self.changed_flags)
        self.changed_flags.add(name)


def strip_flags(args: list[str], flags: dict[str, Flag]) -> list[str]:
    """cobra's stripFlags: the non-flag words, used to find the sub-command path."""
    shorts = {f.shorthand: f for f in flags.values() if f.shorthand}
    commands: list[str] = []
    args = list(args)
    while args:
        s = args.pop(0)
        if s == "--":
            break
        takes_value_long = s.startswith("--") and "=" not in s and not _has_noopt(flags.get(s[2:]))
        takes_value_short = s.startswith("-") and "=" not in s and len(s) == 2 and not _has_noopt(shorts.get(s[1:]))
        if takes_value_long or takes_value_short:
            if len(args) <= 1:
                break
            args.pop(0)
            continue
        if s != "" and not s.startswith("-"):
            commands.append(s)
    return commands


def _has_noopt(f: Flag | None) -> bool:
    return f is not None and f.no_opt_default is not None


def find_command(root: Command, args: list[str]) -> tuple[Command, list[str]]:
    cmd, rest = root, list(args)
    while True:
        words = strip_flags(rest, {f.name: f for f in cmd.all_flags()})
        if not words:
            break
        nxt = cmd.find_next(words[0])
        if nxt is None:
            break
        if words[0] in rest:
            rest.remove(words[0])
        cmd = nxt
    return cmd, rest


def parse_flags(cmd: Command, args: list[str]) -> Context:
    """pflag's interspersed parsing of `args` against every flag visible to `cmd`."""
    p = _Pflags(cmd, args)
    positional: list[str] = []
    dash_index = -1
    while p.more():
        s = p.take()
        if len(s) < 2 or s[0] != "-":
            positional.append(s)
        elif s == "--":
            dash_index = len(positional)
            positional.extend(p.take_rest())
        elif s[1] == "-":
            p.long_flag(s)
        else:
            shorthands = s[1:]
            while shorthands:
                shorthands = p.shorthand(shorthands)
    return Context(
        cmd=cmd, args=positional, values=p.values, changed_flags=p.changed, flags=p.flags, dash_index=dash_index
    )


class _Pflags:
    """pflag's FlagSet while it parses a command line: the flags, their values, the words not yet read."""

    def __init__(self, cmd: Command, args: list[str]) -> None:
        flag_list = cmd.all_flags()
        self.flags = {f.name: f for f in flag_list}
        self.shorts = {f.shorthand: f for f in flag_list if f.shorthand}
        self.values = {f.name: f.initial() for f in flag_list}
        self.changed: set[str] = set()
        self.args, self.i = args, 0

    def more(self) -> bool:
        return self.i < len(self.args)

    def take(self) -> str:
        self.i += 1
        return self.args[self.i - 1]

    def take_rest(self) -> list[str]:
        rest, self.i = self.args[self.i :], len(self.args)
        return rest

    def set(self, f: Flag, text: str) -> None:
        try:
            self.values[f.name] = f.convert(text, self.values[f.name], f.name in self.changed)
        except ValueError as e:
            fname = f"-{f.shorthand}, --{f.name}" if f.shorthand else f"--{f.name}"
            raise FlagError(f"invalid argument {gofmt.quote(text)} for {gofmt.quote(fname)} flag: {e}") from None
        self.changed.add(f.name)

    def long_flag(self, s: str) -> None:
        """`--name`, `--name=value` or `--name value`."""
        name = s[2:]
        if name[0] in "-=":
            raise FlagError(f"bad flag syntax: {s}")
        name, eq, value = name.partition("=")
        f = self.flags.get(name)
        if f is None:
            if name == "help":
                raise HelpRequested()
            raise FlagError(f"unknown flag: --{name}")
        if eq:
            self.set(f, value)
        elif f.no_opt_default is not None:
            self.set(f, f.no_opt_default)
        elif self.more():
            self.set(f, self.take())
        else:
            raise FlagError(f"flag needs an argument: {s}")

    def shorthand(self, shorthands: str) -> str:
        """The first flag of a `-abc` cluster; returns what is left of the cluster."""
        c = shorthands[0]
        f = self.shorts.get(c)
        if f is None:
            if c == "h":
                raise HelpRequested()
            raise FlagError(f"unknown shorthand flag: '{c}' in -{shorthands}")
        if len(shorthands) > 2 and shorthands[1] == "=":
            self.set(f, shorthands[2:])
            return ""
        if f.no_opt_default is not None:
            self.set(f, f.no_opt_default)
            return shorthands[1:]
        if len(shorthands) > 1:
            self.set(f, shorthands[1:])
            return ""
        if self.more():
            self.set(f, self.take())
            return ""
        raise FlagError(f"flag needs an argument: '{c}' in -{shorthands}")


class HelpRequested(Exception):
    """pflag's ErrHelp (-h/--help not defined as a flag of the command): cobra prints the help, exit 0."""


# ---------------------------------------------------------------- execution


def _write(stream: Any, text: str) -> None:
    stream.write(text)
    stream.flush()


def execute(
    root: Command, argv: list[str], *, version: str, api_version: str, template: type[Template] = CtlTemplate
) -> int:
    """Run the command line like cobra's ExecuteC followed by the main of etcdctl/etcdutl, whose ExitWithError
    prints a failure's `Error: <err>` once more after cobra did. `template`: etcdctl's (default) or cobra's own."""
    tmpl = template(version, api_version)
    add_help_command(root, tmpl)
    cmd, rest = find_command(root, argv)
    # cobra's legacyArgs: a root with sub-commands rejects an unknown first word.
    words = strip_flags(rest, {f.name: f for f in cmd.all_flags()})
    if cmd.parent is None and cmd.commands and words:
        return _unknown_command(cmd, words[0])
    if cmd.deprecated:
        _write(sys.stderr, f"Command {gofmt.quote(cmd.name)} is deprecated, {cmd.deprecated}\n")
    try:
        ctx = _prepare(cmd, rest)
    except HelpRequested:
        tmpl.help(cmd)
        return EXIT_SUCCESS
    except FlagError as e:
        _write(sys.stderr, f"Error: {e}\n")
        _write(sys.stderr, tmpl.usage_string(cmd) + "\n")
        _write(sys.stderr, f"Error: {e}\n")
        return EXIT_ERROR
    ctx.version, ctx.api_version = version, api_version
    return run_command(cmd, ctx)


def _unknown_command(cmd: Command, word: str) -> int:
    """`Error: unknown command "x" for "etcdctl"` with cobra's suggestions, twice (cobra's, then main's)."""
    msg = f"unknown command {gofmt.quote(word)} for {gofmt.quote(cmd.command_path())}"
    sugg = cmd.suggestions_for(word)
    if sugg:
        msg += "\n\nDid you mean this?\n" + "".join(f"\t{s}\n" for s in sugg)
    _write(sys.stderr, f"Error: {msg}\nRun '{cmd.command_path()} --help' for usage.\n")
    _write(sys.stderr, f"Error: {msg}\n")
    return EXIT_ERROR


def _prepare(cmd: Command, rest: list[str]) -> Context:
    """cobra's execute() up to the run: HelpRequested when help is asked for or the command is not runnable,
    FlagError for a bad flag or a required flag not given."""
    if cmd.disable_flag_parsing:
        ctx = Context(cmd=cmd, args=rest, values={}, changed_flags=set(), flags={})
    else:
        ctx = parse_flags(cmd, rest)
        if ctx.values.get("help"):
            raise HelpRequested()
    if not cmd.runnable:
        raise HelpRequested()
    _check_required(ctx)
    return ctx


def _check_required(ctx: Context) -> None:
    """cobra's validateRequiredFlags, in flag name order."""
    missing = [
        f.name
        for f in sorted(ctx.flags.values(), key=lambda f: f.name)
        if f.required
        and not ctx.changed(f.name)
        and not (f.required_unless in ctx.flags and ctx.changed(f.required_unless))
    ]
    if missing:
        raise FlagError("required flag(s) " + ", ".join(gofmt.quote(n) for n in missing) + " not set")


def run_command(cmd: Command, ctx: Context) -> int:
    """Run a parsed command: its exit code, or `Error: <message>` on stderr for an ExitError."""
    assert cmd.run is not None, "execute() shows the help of a command that is not runnable"
    try:
        return int(cmd.run(ctx) or 0)
    except ExitError as e:
        try:
            sys.stdout.flush()
        except (BrokenPipeError, ValueError):
            pass
        if e.message is not None:
            _write(sys.stderr, f"Error: {e.message}\n")
        return e.code


def add_help_command(root: Command, template: Template) -> None:
    """cobra's default `help [command]` (once per tree), with our `help extras` topic."""
    if any(c.is_help_command for c in root.commands):
        return

    def run_help(ctx: Context) -> int:
        target, rest = find_command(root, ctx.args)
        words = strip_flags(rest, {f.name: f for f in target.all_flags()})
        if target.parent is None and words == ["extras"]:  # ours: etcdctl/etcdutl have no such topic
            _write(sys.stdout, extras_text(root, root.name + "-py", f"{root.name} {template.version}"))
        elif target.parent is None and target.commands and words:
            _write(sys.stderr, "Unknown help topic [" + " ".join(gofmt.quote_sharp(a) for a in ctx.args) + "]\n")
            template.usage(root, with_help=False)
        else:
            template.help(target)
        return EXIT_SUCCESS

    root.add(
        Command(
            "help [command]",
            short="Help about any command",
            long="Help provides help for any command in the application.\n"
            "Simply type " + root.name + " help [path to command] for full details.",
            run=run_help,
            is_help_command=True,
        )
    )
