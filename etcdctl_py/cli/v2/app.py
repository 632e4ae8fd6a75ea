"""The urfave/cli v1.22 application model of `ETCDCTL_API=2 etcdctl`: commands, help
templates, dispatch, and the exit/print plumbing the command functions use."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from .flags import HELP_FLAG, VERSION_FLAG, Flag, FlagError, Parsed, parse, reorder, tabwrite

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
    name: str
    usage: str = ""
    args_usage: str = ""
    description: str = ""
    usage_text: str = ""
    flags: list[Flag] = field(default_factory=list)
    action: Callable[["Context"], None] | None = None
    subcommands: list["Command"] = field(default_factory=list)
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
        for key, v in self.local.values.items():
            if key == name:
                return v
        for fl in self.command.flags:
            if name in fl.names:
                return self.local.values.get(fl.names[0])
        return None


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
    return tabwrite(s + "\n")


def subcommand_help(c: Command) -> str:
    """SubcommandHelpTemplate (a command with subcommands, run without one)."""
    s = f"NAME:\n   {c.help_name} - {c.description or c.usage}\n\nUSAGE:\n   "
    s += c.help_name + " command [command options] " + (c.args_usage or "[arguments...]")
    s += "\n\nCOMMANDS:"
    for sc in c.subcommands:
        s += "\n   " + ", ".join(sc.names()) + "\t" + sc.usage
    s += "\n\nOPTIONS:\n   " + HELP_FLAG.help_line() + "\n   "
    return tabwrite(s + "\n")


def app_help(name: str, usage: str, commands: list[Command], flags: list[Flag], with_help_cmd: bool) -> str:
    """AppHelpTemplate."""
    s = f"NAME:\n   {name} - {usage}\n\nUSAGE:\n   {name} [global options] command [command options] [arguments...]"
    s += f"\n\nVERSION:\n   {VERSION}\n\nCOMMANDS:"
    for c in commands:
        s += "\n   " + ", ".join(c.names()) + "\t" + c.usage
    if with_help_cmd:
        s += "\n   help, h\tShows a list of commands or help for one command"
    s += "\n\nGLOBAL OPTIONS:\n   " + "\n   ".join(f.help_line() for f in flags)
    return tabwrite(s + "\n")


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

    def find(self, cmds: list[Command], name: str) -> Command | None:
        for c in cmds:
            if name in c.names():
                return c
        return None

    def run(self, argv: list[str]) -> int:
        try:
            return self._run(argv)
        except Exit as e:
            return e.code

    def _no_topic(self, name: str) -> int:
        Out.err(f"No help topic for '{name}'\n")
        return 3

    def _run(self, argv: list[str]) -> int:
        gflags = self.flags + [HELP_FLAG, VERSION_FLAG]
        try:
            g = parse(gflags, argv)
        except FlagError as e:
            Out.out(f"Incorrect Usage. {e}\n\n" + self.help_text())
            Out.err(f"{e}\n")
            return 1
        if g.values.get("help"):
            Out.out(self.help_text())
            return 0
        if g.values.get("version"):
            Out.out(f"etcdctl version: {VERSION}\nAPI version: 2\n")
            return 0
        if not g.args:
            Out.out(self.help_text())
            return 0
        name, rest = g.args[0], g.args[1:]
        if name in ("help", "h"):
            return self._help_cmd(self.commands, rest, lambda: Out.out(self.help_text()), "")
        c = self.find(self.commands, name)
        if c is None:
            return self._no_topic(name)
        if c.subcommands:
            return self._run_sub(g, c, rest)
        return self._run_leaf(g, c, rest)

    def _help_cmd(self, cmds: list[Command], rest: list[str], no_args: Callable[[], None], parent: str) -> int:
        # `help` is itself a leaf command (urfave's helpCommand) with its own --help.
        hc = Command("help", "Shows a list of commands or help for one command", "[command]", aliases=["h"],
                     help_name=f"{parent} help" if parent else "")  # urfave leaves it empty at top level
        try:
            p = parse([HELP_FLAG], reorder([HELP_FLAG], rest))
        except FlagError as e:
            Out.out(f"Incorrect Usage: {e}\n\n" + command_help(hc))
            Out.err(f"{e}\n")
            return 1
        if p.values.get("help"):
            Out.out(command_help(hc))
            return 0
        if p.args:
            if p.args[0] in ("help", "h"):
                Out.out(command_help(hc))
                return 0
            c = self.find(cmds, p.args[0])
            if c is None:
                return self._no_topic(p.args[0])
            Out.out(command_help(c))
            return 0
        no_args()
        return 0

    def _run_leaf(self, g: Parsed, c: Command, rest: list[str]) -> int:
        flags = c.flags + [HELP_FLAG]
        try:
            p = parse(flags, reorder(flags, rest))
        except FlagError as e:
            Out.out(f"Incorrect Usage: {e}\n\n" + command_help(c))
            Out.err(f"{e}\n")
            return 1
        if p.values.get("help"):
            Out.out(command_help(c))
            return 0
        assert c.action is not None
        c.action(Context(g, p, c))
        return 0

    def _run_sub(self, g: Parsed, c: Command, rest: list[str]) -> int:
        try:
            p = parse([HELP_FLAG], rest)
        except FlagError as e:
            Out.out(f"Incorrect Usage. {e}\n\n" + subcommand_help(c))
            Out.err(f"{e}\n")
            return 1
        if p.values.get("help"):
            Out.out(subcommand_help(c))
            return 0
        if not p.args:
            Out.out(subcommand_help(c))
            return 0
        name, sub_rest = p.args[0], p.args[1:]
        if name in ("help", "h"):
            sub_app = app_help(c.help_name, c.usage, c.subcommands, [HELP_FLAG], False)
            return self._help_cmd(c.subcommands, sub_rest, lambda: Out.out(sub_app), c.help_name)
        sc = self.find(c.subcommands, name)
        if sc is None:
            return self._no_topic(name)
        return self._run_leaf(g, sc, sub_rest)
