"""The urfave/cli v1.22 application model of `ETCDCTL_API=2 etcdctl`: commands, help templates, dispatch, and the
exit/print plumbing the command functions use.

Why not cobra.py's Command: urfave dispatches differently, and the bytes show it. Commands match by exact name or
alias only (cobra also takes a unique prefix); a command with sub-commands runs as an app of its own with its own
`help, h` command; an unknown command is `No help topic for 'x'`, exit 3 (cobra: `unknown command`, exit 1); a bad
flag prints `Incorrect Usage` and the help on stdout; the help templates are urfave's NAME/USAGE/COMMANDS/OPTIONS
with three-space indents. The flags are cobra's (see flags.py), and Go's tabwriter lays out both tools' help.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from etcdctl_py.tabwriter import tabwrite

from .flags import HELP_FLAG, VERSION_FLAG, Flag, FlagError, Parsed, parse, reorder

VERSION = "3.5.1"


class Exit(Exception):
    """os.Exit(code) from inside a command."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Out:
    """Byte-exact writes to stdout/stderr (Go strings are bytes; argv arrives surrogate-escaped)."""

    @staticmethod
    def _w(stream: Any, s: str) -> None:
        data = s.encode("utf-8", "surrogateescape")
        buf = getattr(stream, "buffer", None)
        if buf is not None:
            stream.flush()
            buf.write(data)
            buf.flush()
        else:
            stream.write(data.decode("utf-8", "replace"))

    @classmethod
    def out(cls, s: str) -> None:
        cls._w(sys.stdout, s)

    @classmethod
    def err(cls, s: str) -> None:
        cls._w(sys.stderr, s)


@dataclass
class Command:
    """A urfave cli.Command; `action` runs a leaf, `subcommands` make it an app of its own."""

    name: str
    usage: str = ""
    args_usage: str = ""
    description: str = ""
    usage_text: str = ""
    flags: list[Flag] = field(default_factory=list)
    action: Callable[[Context], None] | None = None
    subcommands: list[Command] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    help_name: str = ""

    def names(self) -> list[str]:
        return [self.name, *self.aliases]


@dataclass
class Context:
    """What a command sees: its flags, its args, and the global flags (GlobalString & co.)."""

    globals: Parsed
    local: Parsed
    command: Command

    @property
    def args(self) -> list[str]:
        return self.local.args

    def g(self, name: str) -> Any:
        return self.globals.values.get(name)

    def f(self, name: str) -> Any:
        """A flag of the command by any of its names (c.String("o") reads --output)."""
        for fl in self.command.flags:
            if name in fl.names:
                return self.local.values.get(fl.name)
        return self.local.values.get(name)


def _layout(text: str) -> str:
    """urfave's help writer: tabwriter.NewWriter(out, 1, 8, 2, ' ', 0)."""
    return tabwrite(text, minwidth=1, tabwidth=8, padding=2, padchar=" ")


def _command_rows(commands: list[Command]) -> str:
    return "".join("\n   " + ", ".join(c.names()) + "\t" + c.usage for c in commands)


def command_help(c: Command) -> str:
    """CommandHelpTemplate."""
    s = f"NAME:\n   {c.help_name} - {c.usage}\n\nUSAGE:\n   "
    if c.usage_text:
        s += c.usage_text
    else:
        s += c.help_name + (" [command options]" if c.flags else "") + " " + (c.args_usage or "[arguments...]")
    if c.description:
        s += "\n\nDESCRIPTION:\n   " + c.description
    if c.flags:
        s += "\n\nOPTIONS:\n   " + "".join(f.help_line() + "\n   " for f in c.flags)
    return _layout(s + "\n")


def subcommand_help(c: Command) -> str:
    """SubcommandHelpTemplate (a command with subcommands, run without one)."""
    s = f"NAME:\n   {c.help_name} - {c.description or c.usage}\n\nUSAGE:\n   "
    s += c.help_name + " command [command options] " + (c.args_usage or "[arguments...]")
    s += "\n\nCOMMANDS:" + _command_rows(c.subcommands)
    s += "\n\nOPTIONS:\n   " + HELP_FLAG.help_line() + "\n   "
    return _layout(s + "\n")


def app_help(name: str, usage: str, commands: list[Command], flags: list[Flag], with_help_cmd: bool) -> str:
    """AppHelpTemplate."""
    s = f"NAME:\n   {name} - {usage}\n\nUSAGE:\n   {name} [global options] command [command options] [arguments...]"
    s += f"\n\nVERSION:\n   {VERSION}\n\nCOMMANDS:" + _command_rows(commands)
    if with_help_cmd:
        s += "\n   help, h\tShows a list of commands or help for one command"
    s += "\n\nGLOBAL OPTIONS:\n   " + "\n   ".join(f.help_line() for f in flags)
    return _layout(s + "\n")


def _find(cmds: list[Command], name: str) -> Command | None:
    return next((c for c in cmds if name in c.names()), None)


def _show(text: str) -> int:
    Out.out(text)
    return 0


def _no_topic(name: str) -> int:
    Out.err(f"No help topic for '{name}'\n")
    return 3


def _parse(flags: list[Flag], args: list[str], lead: str, help_text: Callable[[], str]) -> Parsed:
    """Parse; a bad flag prints urfave's `Incorrect Usage` with the help on stdout and the error on stderr, exit 1.
    `lead` is `Incorrect Usage.` for an app (the top level, a command with subcommands), `Incorrect Usage:` for a
    command."""
    try:
        return parse(flags, args)
    except FlagError as e:
        Out.out(f"{lead} {e}\n\n" + help_text())
        Out.err(f"{e}\n")
        raise Exit(1) from None


class App:
    """Top-level dispatch with urfave's exact help/usage-error behaviour."""

    def __init__(self, name: str, usage: str, flags: list[Flag], commands: list[Command]) -> None:
        self.name, self.usage, self.flags, self.commands = name, usage, flags, commands
        for c in commands:
            c.help_name = f"{name} {c.name}"
            for sc in c.subcommands:
                sc.help_name = f"{c.help_name} {sc.name}"

    def help_text(self) -> str:
        return app_help(self.name, self.usage, self.commands, self.flags + [HELP_FLAG, VERSION_FLAG], True)

    def run(self, argv: list[str]) -> int:
        try:
            return self._run(argv)
        except Exit as e:
            return e.code

    def _run(self, argv: list[str]) -> int:
        g = _parse(self.flags + [HELP_FLAG, VERSION_FLAG], argv, "Incorrect Usage.", self.help_text)
        if g.values["help"]:
            return _show(self.help_text())
        if g.values["version"]:
            return _show(f"etcdctl version: {VERSION}\nAPI version: 2\n")
        if not g.args:
            return _show(self.help_text())
        name, rest = g.args[0], g.args[1:]
        if name in ("help", "h"):
            return _help_cmd(self.commands, rest, self.help_text(), "")
        c = _find(self.commands, name)
        if c is None:
            return _no_topic(name)
        if c.subcommands:
            return _run_sub(g, c, rest)
        return _run_leaf(g, c, rest)


def _help_cmd(cmds: list[Command], rest: list[str], no_args_text: str, parent: str) -> int:
    """urfave's helpCommand: a leaf command with its own --help; `help <cmd>` prints that command's help."""
    hc = Command(
        "help",
        "Shows a list of commands or help for one command",
        "[command]",
        aliases=["h"],
        help_name=f"{parent} help" if parent else "",
    )  # urfave leaves it empty at top level
    p = _parse([HELP_FLAG], reorder([HELP_FLAG], rest), "Incorrect Usage:", lambda: command_help(hc))
    if p.values["help"] or (p.args and p.args[0] in ("help", "h")):
        return _show(command_help(hc))
    if not p.args:
        return _show(no_args_text)
    c = _find(cmds, p.args[0])
    if c is None:
        return _no_topic(p.args[0])
    return _show(command_help(c))


def _run_leaf(g: Parsed, c: Command, rest: list[str]) -> int:
    flags = c.flags + [HELP_FLAG]
    p = _parse(flags, reorder(flags, rest), "Incorrect Usage:", lambda: command_help(c))
    if p.values["help"]:
        return _show(command_help(c))
    assert c.action is not None
    c.action(Context(g, p, c))
    return 0


def _run_sub(g: Parsed, c: Command, rest: list[str]) -> int:
    """A command with subcommands runs as an app of its own (urfave's startApp)."""
    p = _parse([HELP_FLAG], rest, "Incorrect Usage.", lambda: subcommand_help(c))
    if p.values["help"] or not p.args:
        return _show(subcommand_help(c))
    name, sub_rest = p.args[0], p.args[1:]
    if name in ("help", "h"):
        sub_app = app_help(c.help_name, c.usage, c.subcommands, [HELP_FLAG], False)
        return _help_cmd(c.subcommands, sub_rest, sub_app, c.help_name)
    sc = _find(c.subcommands, name)
    if sc is None:
        return _no_topic(name)
    return _run_leaf(g, sc, sub_rest)
