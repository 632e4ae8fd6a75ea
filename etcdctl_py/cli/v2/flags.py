"""urfave/cli v1.22's flags as `ETCDCTL_API=2 etcdctl` uses them, on cobra.py's flag model: the flag types,
defaults and value parsing are cobra's (Go's strconv/time rules from etcdctl_py.gofmt); what stays here is what
urfave/cli does differently, because it parses with Go's `flag` package rather than pflag:

- Go's `flag` stops at the first non-flag word (urfave first moves a command's own flags ahead: `reorder`), reads
  `-name` and `--name` alike, has no shorthand clusters, and a bool takes a value only as `-b=v`;
- its errors read `flag provided but not defined: -x` / `invalid value "v" for flag -x: parse error`, where pflag
  says `unknown flag: --x` / `invalid argument "v" for "--x" flag: strconv.ParseInt: ...`;
- a flag has any number of names (`"output, o"`, `"readwrite, rw"`), and its help line is urfave's
  `--name value, -n value<TAB>usage (default: x)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from etcdctl_py import gofmt
from etcdctl_py.cli import cobra


class FlagError(Exception):
    """A Go flag parse error; `str()` is the exact text Go prints."""


# urfave's flag types as cobra kinds: BoolFlag, StringFlag, IntFlag, DurationFlag, StringSliceFlag (appends)
_ZERO: dict[str, Any] = {"bool": False, "string": "", "int": 0, "duration": 0, "stringArray": []}


class Flag(cobra.Flag):
    """One urfave flag: a cobra flag (kind, default, value parsing) known by every name of urfave's comma list
    ("output, o": `--output`, `-o`). Durations are nanoseconds, as in cobra."""

    __slots__ = ("aliases",)

    def __init__(self, names: str, kind: str, usage: str = "", default: Any = None) -> None:
        first, *rest = [n.strip() for n in names.split(",") if n.strip()]
        super().__init__(first, kind, _ZERO[kind] if default is None else default, usage)
        self.aliases = rest

    @property
    def names(self) -> list[str]:
        return [self.name, *self.aliases]

    def help_line(self) -> str:
        """urfave's stringifyFlag: `--name value, -n value<TAB>usage (default: x)`."""
        placeholder, usage = _unquote_usage(self.usage)
        default = ""
        if self.kind not in ("bool", "stringArray"):  # flag types with a Value field
            placeholder = placeholder or "value"
            default = f" (default: {gofmt.quote(self.default) if self.kind == 'string' else self.def_value})"
            if self.kind == "string" and not self.default:
                default = ""
        elif self.kind == "stringArray":
            placeholder = placeholder or "value"
        names = ", ".join(
            ("-" if len(n) == 1 else "--") + n + (" " + placeholder if placeholder else "") for n in self.names
        )
        return names + "\t" + (usage + default).strip()

    def set(self, values: dict[str, Any], seen: set[str], name: str, text: str) -> None:
        """Go flag's Value.Set under the name the user typed, with Go's error wording."""
        try:
            values[self.name] = self.convert(text, values[self.name], self.name in seen)
        except ValueError as e:
            reason = "value out of range" if str(e).endswith("value out of range") else "parse error"
            if self.kind == "bool":
                raise FlagError(f"invalid boolean value {gofmt.quote(text)} for -{name}: {reason}") from None
            raise FlagError(f"invalid value {gofmt.quote(text)} for flag -{name}: {reason}") from None
        seen.add(self.name)


def _unquote_usage(usage: str) -> tuple[str, str]:
    """urfave's unquoteUsage: a `back-quoted` word of the usage is the value's placeholder."""
    m = re.search(r"`([^`]*)`", usage)
    if not m:
        return "", usage
    return m.group(1), usage[: m.start()] + m.group(1) + usage[m.end() :]


HELP_FLAG = Flag("help, h", "bool", "show help")
VERSION_FLAG = Flag("version, v", "bool", "print the version")


@dataclass
class Parsed:
    values: dict[str, Any] = field(default_factory=dict)  # canonical (first) name -> value
    seen: set[str] = field(default_factory=set)  # canonical names given on the command line
    args: list[str] = field(default_factory=list)


def parse(flags: list[Flag], args: list[str]) -> Parsed:
    """Go flag.FlagSet.Parse: flags until the first non-flag argument or `--`."""
    by_name = {n: f for f in flags for n in f.names}
    p = Parsed(values={f.name: f.initial() for f in flags})
    i = 0
    while i < len(args):
        a = args[i]
        if len(a) < 2 or a[0] != "-":
            break
        i += 1
        if a == "--":  # terminates the flags
            break
        name = a[2:] if a[1] == "-" else a[1:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {a}")
        name, has_value, value = name.partition("=")
        f = by_name.get(name)
        if f is None:
            raise FlagError(f"flag provided but not defined: -{name}")
        if f.kind == "bool" and not has_value:
            value = "true"
        elif not has_value:
            if i >= len(args):
                raise FlagError(f"flag needs an argument: -{name}")
            value, i = args[i], i + 1
        f.set(p.values, p.seen, name, value)
    p.args = args[i:]
    return p


def _arg_is_flag(flags: list[Flag], arg: str) -> bool:
    if arg == "-" or not arg.startswith("-"):
        return False
    if arg.startswith("--"):
        arg = arg.replace("-", "", 2)
    if arg.startswith("-"):
        arg = arg.replace("-", "", 1)
    arg = arg.split("=")[0]
    return any(arg == n for f in flags for n in f.names)


def reorder(flags: list[Flag], args: list[str]) -> list[str]:
    """urfave v1.22 reorderArgs: move the command's own flags (and their values) first."""
    remaining: list[str] = []
    reordered: list[str] = []
    next_may_be_value = False
    for i, a in enumerate(args):
        if a == "--":
            remaining.extend(args[i:])
            break
        if next_may_be_value and not a.startswith("-"):
            next_may_be_value = False
            reordered.append(a)
        elif _arg_is_flag(flags, a):
            reordered.append(a)
            next_may_be_value = "=" not in a
        else:
            remaining.append(a)
    return reordered + remaining
