"""A small re-implementation of the parts of Go's `flag` package and urfave/cli v1.22 that
etcdctl v2 relies on: flag definitions, parsing (single/double dash, `=value`, bool values,
`--`), urfave's argument reordering, and flag help lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class FlagError(Exception):
    """A Go flag parse error; `str()` is the exact text Go prints."""


@dataclass
class Flag:
    """One urfave flag. `name` is urfave's comma list ("output, o")."""

    name: str
    kind: str  # bool | string | int | duration | slice
    usage: str = ""
    default: Any = None

    @property
    def names(self) -> list[str]:
        return [n.strip() for n in self.name.split(",") if n.strip()]

    def initial(self) -> Any:
        if self.kind == "bool":
            return False
        if self.kind == "slice":
            return []
        if self.kind == "int":
            return self.default or 0
        if self.kind == "duration":
            return self.default or 0.0
        return self.default or ""

    def help_line(self) -> str:
        """urfave's stringifyFlag: `--name value, -n value\\tusage (default: x)`."""
        usage = self.usage
        placeholder = ""
        m = re.search(r"`([^`]*)`", usage)
        if m:
            placeholder = m.group(1)
            usage = usage[: m.start()] + placeholder + usage[m.end():]
        if self.kind != "bool" and not placeholder:
            placeholder = "value"
        parts = []
        for n in self.names:
            p = ("-" if len(n) == 1 else "--") + n
            if self.kind != "bool":
                p += " " + placeholder
            parts.append(p)
        default = ""
        if self.kind == "string" and self.default:
            default = f' (default: "{self.default}")'
        elif self.kind == "int":
            default = f" (default: {self.default or 0})"
        elif self.kind == "duration":
            default = f" (default: {format_duration(self.default or 0.0)})"
        return ", ".join(parts) + "\t" + (usage + default).strip()


HELP_FLAG = Flag("help, h", "bool", "show help")
VERSION_FLAG = Flag("version, v", "bool", "print the version")


@dataclass
class Parsed:
    values: dict[str, Any] = field(default_factory=dict)  # canonical (first) name -> value
    seen: set[str] = field(default_factory=set)  # canonical names given on the command line
    args: list[str] = field(default_factory=list)


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(s: str) -> float:
    """time.ParseDuration, in seconds; ValueError on bad input."""
    orig = s
    if s in ("0", "+0", "-0"):
        return 0.0
    if not s:
        raise ValueError(orig)
    neg = s[0] == "-"
    if s[0] in "+-":
        s = s[1:]
    total = 0.0
    if not s:
        raise ValueError(orig)
    while s:
        m = re.match(r"(\d*)(\.\d*)?", s)
        if not m or (not m.group(1) and (not m.group(2) or m.group(2) == ".")):
            raise ValueError(orig)
        num = float((m.group(1) or "0") + (m.group(2) or ""))
        s = s[m.end():]
        u = re.match(r"[^\d.]+", s)
        if not u or u.group(0) not in _UNITS:
            raise ValueError(orig)
        total += num * _UNITS[u.group(0)]
        s = s[u.end():]
    return -total if neg else total


def format_duration(sec: float) -> str:
    """time.Duration.String for the whole-second defaults etcdctl shows."""
    if sec == int(sec):
        s = int(sec)
        if s == 0:
            return "0s"
        h, rem = divmod(s, 3600)
        m, sx = divmod(rem, 60)
        out = ""
        if h:
            out += f"{h}h"
        if h or m:
            out += f"{m}m"
        return out + f"{sx}s"
    return f"{sec}s"


def _parse_bool(v: str) -> bool:
    if v in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if v in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(v)


def _parse_int(v: str) -> int:
    s = v.replace("_", "") if "_" in v and not v.startswith("_") else v
    neg = s.startswith("-")
    body = s.lstrip("+-")
    if re.fullmatch(r"0[0-7]+", body):
        n = int(body, 8)
    else:
        n = int(body, 0)
    n = -n if neg else n
    if not -(2**63) <= n < 2**63:
        raise OverflowError(v)
    return n


def parse(flags: list[Flag], args: list[str]) -> Parsed:
    """Go flag.FlagSet.Parse: flags until the first non-flag argument or `--`."""
    by_name: dict[str, Flag] = {}
    for f in flags:
        for n in f.names:
            by_name[n] = f
    p = Parsed(values={f.names[0]: f.initial() for f in flags})
    i = 0
    while i < len(args):
        a = args[i]
        if len(a) < 2 or a[0] != "-":
            break
        num_minuses = 1
        if a[1] == "-":
            num_minuses = 2
            if len(a) == 2:  # "--" terminates the flags
                i += 1
                break
        name = a[num_minuses:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {a}")
        i += 1
        has_value = "=" in name
        value = ""
        if has_value:
            name, value = name.split("=", 1)
        f = by_name.get(name)
        if f is None:
            raise FlagError(f"flag provided but not defined: -{name}")
        key = f.names[0]
        if f.kind == "bool":
            if has_value:
                try:
                    p.values[key] = _parse_bool(value)
                except ValueError:
                    raise FlagError(f'invalid boolean value "{value}" for -{name}: parse error') from None
            else:
                p.values[key] = True
        else:
            if not has_value:
                if i < len(args):
                    value = args[i]
                    i += 1
                else:
                    raise FlagError(f"flag needs an argument: -{name}")
            try:
                if f.kind == "int":
                    p.values[key] = _parse_int(value)
                elif f.kind == "duration":
                    p.values[key] = parse_duration(value)
                elif f.kind == "slice":
                    p.values[key] = list(p.values[key]) + [value]
                else:
                    p.values[key] = value
            except OverflowError:
                raise FlagError(f'invalid value "{value}" for flag -{name}: value out of range') from None
            except ValueError:
                raise FlagError(f'invalid value "{value}" for flag -{name}: parse error') from None
        p.seen.add(key)
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


def tabwrite(text: str) -> str:
    """text/tabwriter(minwidth 1, padding 2): align the single tab column of each run of lines."""
    lines = text.split("\n")
    out: list[str] = []
    block: list[str] = []

    def flush() -> None:
        if block:
            w = max(len(b.split("\t", 1)[0]) for b in block) + 2
            for b in block:
                c0, rest = b.split("\t", 1)
                out.append(c0.ljust(w) + rest)
            block.clear()

    for ln in lines:
        if "\t" in ln:
            block.append(ln)
        else:
            flush()
            out.append(ln)
    flush()
    return "\n".join(out)
