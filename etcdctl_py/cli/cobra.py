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

`run(ctx)` receives a `Context` (ctx.args, ctx.get("flag-name"), ctx.changed("flag-name"),
ctx.cmd). It returns an exit code (None = 0) or raises `ExitError(code, message)`, which prints
`Error: <message>` on stderr like etcdctl's ExitWithError.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Iterable

from etcdctl_py import gofmt

# Exit codes shared by every etcdctl verb (etcdctl's cobrautl).
EXIT_SUCCESS = 0
EXIT_ERROR = 1
EXIT_BAD_CONNECTION = 2
EXIT_INVALID_INPUT = 3
EXIT_BAD_FEATURE = 4
EXIT_INTERRUPTED = 5
EXIT_IO = 6
EXIT_BAD_ARGS = 128


class ExitError(Exception):
    """Ends the command: `Error: <message>` on stderr (unless message is None) and exit `code`."""

    def __init__(self, code: int, message: str | None):
        super().__init__(message)
        self.code = code
        self.message = message


class FlagError(Exception):
    """A pflag parsing error; its text is what cobra prints after `Error: `."""


# ---------------------------------------------------------------- flags

class Flag:
    """One pflag flag. `kind` is the pflag value type: bool, string, int, int64, uint, uint64,
    duration, stringSlice, stringArray."""

    __slots__ = ("name", "kind", "default", "usage", "shorthand", "hidden", "deprecated", "no_opt_default")

    def __init__(self, name: str, kind: str, default: Any, usage: str, shorthand: str = "", hidden: bool = False,
                 deprecated: str = "", no_opt_default: str | None = None):
        self.name, self.kind, self.default, self.usage = name, kind, default, usage
        self.shorthand, self.hidden, self.deprecated = shorthand, hidden, deprecated
        # pflag NoOptDefVal: the value a flag given without `=value` takes ("true" for bools)
        self.no_opt_default = "true" if kind == "bool" and no_opt_default is None else no_opt_default

    # constructors that read like pflag's
    @classmethod
    def bool(cls, name: str, default: bool, usage: str, shorthand: str = "", **kw: Any) -> "Flag":
        return cls(name, "bool", default, usage, shorthand, **kw)

    @classmethod
    def string(cls, name: str, default: str, usage: str, shorthand: str = "", **kw: Any) -> "Flag":
        return cls(name, "string", default, usage, shorthand, **kw)

    @classmethod
    def int(cls, name: str, default: int, usage: str, shorthand: str = "", kind: str = "int", **kw: Any) -> "Flag":
        return cls(name, kind, default, usage, shorthand, **kw)

    @classmethod
    def duration(cls, name: str, default_ns: int, usage: str, shorthand: str = "", **kw: Any) -> "Flag":
        return cls(name, "duration", default_ns, usage, shorthand, **kw)

    @classmethod
    def string_slice(cls, name: str, default: list[str], usage: str, shorthand: str = "", **kw: Any) -> "Flag":
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

    def convert(self, text: str, current: Any, changed: bool) -> Any:
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
    fields, i, n = [], 0, len(text)
    while True:
        if i < n and text[i] == '"':
            buf, i = [], i + 1
            while True:
                j = text.find('"', i)
                if j < 0:
                    raise ValueError('parse error on line 1, column %d: extraneous or missing " in quoted-field' % (n + 1))
                buf.append(text[i:j])
                if j + 1 < n and text[j + 1] == '"':
                    buf.append('"')
                    i = j + 2
                    continue
                i = j + 1
                break
            if i < n and text[i] != ",":
                raise ValueError('parse error on line 1, column %d: extraneous or missing " in quoted-field' % (i + 1))
            fields.append("".join(buf))
        else:
            j = text.find(",", i)
            j = n if j < 0 else j
            field = text[i:j]
            if '"' in field:
                raise ValueError('parse error on line 1, column %d: bare " in non-quoted-field' % (i + field.index('"') + 1))
            fields.append(field)
            i = j
        if i >= n:
            return fields
        i += 1  # skip the comma


def _help_flag(cmd_name: str) -> Flag:
    return Flag.bool("help", False, f"help for {cmd_name}", "h")


# ---------------------------------------------------------------- commands

class Command:
    """A cobra command: `use` is its usage line (first word = name), `run` its action."""

    def __init__(self, use: str, short: str = "", long: str = "", run: Callable[["Context"], int | None] | None = None,
                 flags: Iterable[Flag] = (), persistent_flags: Iterable[Flag] = (), hidden: bool = False,
                 aliases: Iterable[str] = (), suggest_for: Iterable[str] = (), disable_flag_parsing: bool = False,
                 is_help_command: bool = False, exact_name_only: bool = False):
        self.use, self.short, self.long, self.run = use, short, long, run
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

    def add(self, *cmds: "Command") -> "Command":
        for c in cmds:
            c.parent = self
            self.commands.append(c)
        return self

    @property
    def runnable(self) -> bool:
        return self.run is not None

    def root(self) -> "Command":
        c = self
        while c.parent is not None:
            c = c.parent
        return c

    def command_path(self) -> str:
        return self.name if self.parent is None else self.parent.command_path() + " " + self.name

    def available(self) -> bool:
        return not self.hidden and not self.is_help_command

    def sorted_commands(self) -> list["Command"]:
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
        if "[flags]" not in line and self.all_flags():
            line += " [flags]"
        return line

    def find_next(self, name: str) -> "Command | None":
        matches = []
        for i, c in enumerate(self.commands):
            if c.name == name or name in c.aliases:
                return self._loaded(i)
            if name and not c.exact_name_only and (c.name.startswith(name) or any(a.startswith(name) for a in c.aliases)):
                matches.append(i)
        return self._loaded(matches[0]) if len(matches) == 1 else None

    def _loaded(self, i: int) -> "Command":
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

def tabwriter(text: str, tabwidth: int = 8, padding: int = 1) -> str:
    """Go text/tabwriter with minwidth 0, padchar TAB (the settings etcdctl's usage uses)."""
    ends_nl = text.endswith("\n")
    raw_lines = text.split("\n")
    if ends_nl:
        raw_lines = raw_lines[:-1]
    lines = [ln.split("\t") for ln in raw_lines]
    out: list[str] = []
    widths: list[int] = []

    def pad(textw: int, cellw: int) -> str:
        cellw = (cellw + tabwidth - 1) // tabwidth * tabwidth
        n = cellw - textw
        return "\t" * ((n + tabwidth - 1) // tabwidth)

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            parts = []
            for j, c in enumerate(cells):
                parts.append(c)
                if j < len(widths) and j < len(cells) - 1:
                    parts.append(pad(len(c), widths[j]))
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = 0
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    # A line without a cell (no TAB) flushes the writer: format each section independently.
    start = 0
    for i, cells in enumerate(lines):
        if len(cells) == 1:
            fmt(start, i + 1)
            start = i + 1
    fmt(start, len(lines))
    return "\n".join(out) + ("\n" if ends_nl else "")


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
    return tabwriter("".join(o))


# ---------------------------------------------------------------- our extras, hidden from --help

EXTRAS_ENV = "ETCDCTL_PY_EXTRAS"


def extras_wanted() -> bool:
    """ETCDCTL_PY_EXTRAS=1 (any value but empty, 0 or false): --help also lists the command's hidden extras."""
    return os.environ.get(EXTRAS_ENV, "").lower() not in ("", "0", "false")


def hidden_extras(root: Command, upstream_hidden: Callable[[Command], bool] = lambda c: False
                  ) -> list[tuple[Command, Flag | None]]:
    """Our extras, read from the command tree: every hidden command (with each of its flags, none of which --help
    shows) and every hidden flag, as (command, None) or (command, flag), in help order. `upstream_hidden` names
    hidden commands that are the upstream tool's own (etcdutl's deprecated `snapshot save`), left out."""
    out: list[tuple[Command, Flag | None]] = []

    def walk(c: Command) -> None:
        flags = sorted((f for f in c.local_flags(with_help=False) if not f.deprecated), key=lambda f: f.name)
        if c.hidden:
            out.append((c, None))
        out.extend((c, f) for f in flags if c.hidden or f.hidden)
        for sub in c.sorted_commands():
            if not sub.is_help_command and not upstream_hidden(sub):
                walk(sub)

    walk(root)
    return out


def extras_text(root: Command, prog: str, upstream: str,
                upstream_hidden: Callable[[Command], bool] = lambda c: False) -> str:
    """What `<prog> help extras` prints: one line per hidden extra command and flag, with its description."""
    rows = []
    for c, f in hidden_extras(root, upstream_hidden):
        path = c.command_path().partition(" ")[2]
        rows.append((f"{path} --{f.name}".strip() if f else path, f.usage if f else c.short + " (command)"))
    width = max((len(r[0]) for r in rows), default=0)
    head = (f"Extras of {prog}: commands and flags that {upstream} does not have. They change no default, and\n"
            f"--help leaves them out so that its text stays {upstream}'s; {EXTRAS_ENV}=1 adds them to the\n"
            f"--help of their command (e.g. `{EXTRAS_ENV}=1 {prog} snapshot restore --help`).\n\n")
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

    def __init__(self, cmd: Command, args: list[str], values: dict[str, Any], changed_flags: set[str],
                 flags: dict[str, Flag], dash_index: int = -1):
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
        takes_value_short = (s.startswith("-") and "=" not in s and len(s) == 2
                             and not _has_noopt(shorts.get(s[1:])))
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
    flag_list = cmd.all_flags()
    flags = {f.name: f for f in flag_list}
    shorts = {f.shorthand: f for f in flag_list if f.shorthand}
    values = {f.name: (list(f.default) if isinstance(f.default, list) else f.default) for f in flag_list}
    changed: set[str] = set()
    positional: list[str] = []
    dash_index = -1

    def set_value(f: Flag, text: str) -> None:
        try:
            values[f.name] = f.convert(text, values[f.name], f.name in changed)
        except ValueError as e:
            fname = f"-{f.shorthand}, --{f.name}" if f.shorthand else f"--{f.name}"
            raise FlagError(f"invalid argument {gofmt.quote(text)} for {gofmt.quote(fname)} flag: {e}") from None
        changed.add(f.name)

    i = 0
    while i < len(args):
        s = args[i]
        i += 1
        if len(s) == 0 or s[0] != "-" or len(s) == 1:
            positional.append(s)
            continue
        if s[1] == "-":
            if len(s) == 2:  # "--"
                dash_index = len(positional)
                positional.extend(args[i:])
                break
            name = s[2:]
            if not name or name[0] in "-=":
                raise FlagError(f"bad flag syntax: {s}")
            value = None
            if "=" in name:
                name, value = name.split("=", 1)
            f = flags.get(name)
            if f is None:
                if name == "help":
                    raise HelpRequested()
                raise FlagError(f"unknown flag: --{name}")
            if value is not None:
                set_value(f, value)
            elif f.no_opt_default is not None:
                set_value(f, f.no_opt_default)
            elif i < len(args):
                set_value(f, args[i])
                i += 1
            else:
                raise FlagError(f"flag needs an argument: {s}")
            continue
        # shorthand cluster
        shorthands = s[1:]
        while shorthands:
            c = shorthands[0]
            f = shorts.get(c)
            if f is None:
                if c == "h":
                    raise HelpRequested()
                raise FlagError(f"unknown shorthand flag: '{c}' in -{shorthands}")
            if len(shorthands) > 2 and shorthands[1] == "=":
                set_value(f, shorthands[2:])
                shorthands = ""
            elif f.no_opt_default is not None:
                set_value(f, f.no_opt_default)
                shorthands = shorthands[1:]
            elif len(shorthands) > 1:
                set_value(f, shorthands[1:])
                shorthands = ""
            elif i < len(args):
                set_value(f, args[i])
                i += 1
                shorthands = ""
            else:
                raise FlagError(f"flag needs an argument: '{c}' in -{shorthands}")
    return Context(cmd=cmd, args=positional, values=values, changed_flags=changed, flags=flags,
                   dash_index=dash_index)


class HelpRequested(Exception):
    pass


# ---------------------------------------------------------------- execution

def _write(stream: Any, text: str) -> None:
    stream.write(text)
    stream.flush()


def execute(root: Command, argv: list[str], *, version: str, api_version: str,
            final_error: bool = True) -> int:
    """Run the command line like cobra's ExecuteC followed by etcdctl's ExitWithError.

    `final_error` reproduces etcdctl's main printing `Error: <err>` once more after cobra did.
    """
    out, err = sys.stdout, sys.stderr
    _add_help_command(root, version, api_version)

    cmd, rest = find_command(root, argv)
    # cobra's legacyArgs: a root with sub-commands rejects an unknown first word.
    words = strip_flags(rest, {f.name: f for f in cmd.all_flags()})
    if cmd.parent is None and cmd.commands and words:
        sugg = cmd.suggestions_for(words[0])
        msg = f'unknown command {gofmt.quote(words[0])} for {gofmt.quote(cmd.command_path())}'
        if sugg:
            msg += "\n\nDid you mean this?\n" + "".join(f"\t{s}\n" for s in sugg)
        _write(err, f"Error: {msg}\nRun '{cmd.command_path()} --help' for usage.\n")
        if final_error:
            _write(err, f"Error: {msg}\n")
        return EXIT_ERROR

    if cmd.disable_flag_parsing:
        ctx = Context(cmd=cmd, args=rest, values={}, changed_flags=set(), flags={})
    else:
        try:
            ctx = parse_flags(cmd, rest)
        except HelpRequested:
            _write(out, usage_text(cmd, version, api_version, extras=extras_wanted()))
            return EXIT_SUCCESS
        except FlagError as e:
            _write(err, f"Error: {e}\n")
            _write(out, usage_text(cmd, version, api_version))
            _write(err, "\n")
            if final_error:
                _write(err, f"Error: {e}\n")
            return EXIT_ERROR
        if ctx.values.get("help"):
            _write(out, usage_text(cmd, version, api_version, extras=extras_wanted()))
            return EXIT_SUCCESS
    ctx.version, ctx.api_version = version, api_version
    if not cmd.runnable:
        _write(out, usage_text(cmd, version, api_version, extras=extras_wanted()))
        return EXIT_SUCCESS
    return run_command(cmd, ctx)


def run_command(cmd: Command, ctx: Context) -> int:
    """Run a parsed command: its exit code, or `Error: <message>` on stderr for an ExitError."""
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


def _add_help_command(root: Command, version: str, api_version: str) -> None:
    if any(c.is_help_command for c in root.commands):
        return

    def run_help(ctx: Context) -> int:
        target, rest = find_command(root, ctx.args)
        words = strip_flags(rest, {f.name: f for f in target.all_flags()})
        if target.parent is None and words == ["extras"]:  # ours: etcdctl has no such topic
            _write(sys.stdout, extras_text(root, root.name + "-py", f"{root.name} {version}"))
            return EXIT_SUCCESS
        if target.parent is None and target.commands and words:
            sys.stderr.write("Unknown help topic [" + " ".join(f"`{a}`" for a in ctx.args) + "]\n")
            _write(sys.stdout, usage_text(root, version, api_version, with_help=False))
            return EXIT_SUCCESS
        _write(sys.stdout, usage_text(target, version, api_version, extras=extras_wanted()))
        return EXIT_SUCCESS

    help_cmd = Command(
        "help [command]",
        short="Help about any command",
        long="Help provides help for any command in the application.\n"
             "Simply type " + root.name + " help [path to command] for full details.",
        run=run_help,
        is_help_command=True,
    )
    root.add(help_cmd)
