"""`etcdctl txn [-i]`: a transaction read from stdin (compares, success ops, failure ops; each section
ends with an empty line).

Deliberate differences from etcdctl 3.5.1, where it crashes or mangles input:
* a compare operator other than `=`, `!=`, `>`, `<` (etcdctl: Go panic "Unknown result op", exit 2)
  -> `Error: malformed comparison: <line> (unknown operator <op>; use =, !=, > or <)`, exit 3;
* a `lease(...)` compare (etcdctl: Go panic "bad value", exit 2; the key is dropped as well)
  -> `Error: lease comparisons are not supported in txn: <line>`, exit 3;
* single-quoted op tokens: etcdctl <= 3.5.27 cuts `'abc'` to the wrong slice (and panics when the
  slice is out of range); we strip the quotes, as etcdctl >= 3.5.28 does;
* `-h/--help` inside an op line (etcdctl deadlocks: Go "all goroutines are asleep", exit 2)
  -> `Error: invalid txn request: <line>`, exit 3.
"""

from __future__ import annotations

import re
import sys
from typing import Any, BinaryIO

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_INVALID_INPUT, ExitError, bad_args
from etcdctl_py.cli.verbkit import arg_bytes

OPS = {"=": "EQUAL", ">": "GREATER", "<": "LESS", "!=": "NOT_EQUAL"}  # etcdserverpb.Compare.CompareResult
TARGETS = {
    "ver": "VERSION",
    "version": "VERSION",
    "c": "CREATE",
    "create": "CREATE",
    "m": "MOD",
    "mod": "MOD",
    "val": "VALUE",
    "value": "VALUE",
    "lease": "LEASE",
}  # etcdserverpb.Compare.CompareTarget


def command() -> Command:
    return Command(
        "txn [options]",
        short="Txn processes all the requests in one transaction",
        run=run,
        flags=[Flag.bool("interactive", False, "Input transaction in interactive mode", "i")],
    )


def _invalid(msg: str) -> ExitError:
    return ExitError(EXIT_INVALID_INPUT, msg)


# ---------------------------------------------------------------- Go's Sscanf("%q) %s %q")


class _Scan:
    """Just enough of Go's fmt scanning for the compare grammar (%q, %s, literal, space)."""

    def __init__(self, text: str):
        self.s, self.i = text, 0

    def _skip_spaces(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t\r":
            self.i += 1

    def quoted(self) -> str:
        from etcdctl_py.gofmt import unquote

        self._skip_spaces()
        if self.i >= len(self.s):
            raise ValueError("EOF")
        q = self.s[self.i]
        if q == "`":
            end = self.s.find("`", self.i + 1)
            if end < 0:
                raise ValueError("unexpected EOF")
            out = self.s[self.i + 1 : end]
            self.i = end + 1
            return out
        if q != '"':
            raise ValueError("expected quoted string")
        j = self.i + 1
        while True:
            if j >= len(self.s):
                raise ValueError("unexpected EOF")
            c = self.s[j]
            if c == "\\":
                j += 2
                continue
            j += 1
            if c == '"':
                break
        lit = self.s[self.i : j]
        self.i = j
        return unquote(lit).decode("utf-8", "surrogateescape")

    def word(self) -> str:
        self._skip_spaces()
        j = self.i
        while j < len(self.s) and self.s[j] not in " \t\r\n":
            j += 1
        if j == self.i:
            raise ValueError("EOF")
        out, self.i = self.s[self.i : j], j
        return out

    def literal(self, ch: str) -> None:
        if self.i < len(self.s) and self.s[self.i] == ch:
            self.i += 1
            return
        raise ValueError("input does not match format")

    def space(self) -> None:
        """A format space: one or more input spaces, or end of input."""
        if self.i >= len(self.s):
            return
        if self.s[self.i] not in " \t\r":
            raise ValueError("expected space in input to match format")
        self._skip_spaces()


def parse_compare(line: str) -> Any:
    """One compare line -> etcdserverpb.Compare (etcdctl's parseCompare)."""
    from etcdctl_py.gofmt import parse_int, quote
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    if "(" not in line:
        raise _invalid(f"malformed comparison: {line}")
    target, rest = line.split("(", 1)
    key = op = val = ""
    n = 0
    sc = _Scan(rest)
    try:
        key = sc.quoted()
        n = 1
        sc.literal(")")
        sc.space()
        op = sc.word()
        n = 2
        sc.space()
        val = sc.quoted()
        n = 3
    except ValueError:
        pass  # the scan stops at the first part that does not parse: `n` says how far it got
    if n != 3:
        if n < 2:
            op = ""
        raise _invalid(f"malformed comparison: {line}; got {target}({quote(key)}) {op} {quote(val)}")
    if target not in TARGETS:
        raise _invalid(f"malformed comparison: {line} (unknown target {target})")
    if op not in OPS:
        raise _invalid(f"malformed comparison: {line} (unknown operator {op}; use =, !=, > or <)")
    t = TARGETS[target]
    if t == "LEASE":
        raise _invalid(f"lease comparisons are not supported in txn: {line}")
    cmp = rpc_pb2.Compare(result=OPS[op], target=t, key=arg_bytes(key))
    if t == "VALUE":
        cmp.value = arg_bytes(val)
        return cmp
    try:
        v = parse_int(val, 10, 64)
    except ValueError:
        raise _invalid(f"invalid txn compare request: {line}") from None
    if t == "VERSION":
        cmp.version = v
    elif t == "CREATE":
        cmp.create_revision = v
    else:
        cmp.mod_revision = v
    return cmp


# ---------------------------------------------------------------- op lines

_TOKEN = re.compile(r"""\"(?:[^"\\]|\\.)*\"|'[^']*'|[^'"\t\n\f\r ]\S*[^'"\t\n\f\r ]?""")


def argify(line: str) -> list[str]:
    """etcdctl's argify: double-quoted (Go-unquoted), single-quoted (quotes stripped) or bare tokens."""
    from etcdctl_py.gofmt import unquote

    out = []
    for tok in _TOKEN.findall(line):
        if tok.startswith("'"):
            tok = tok[1:-1]
        elif tok.startswith('"'):
            try:
                tok = unquote(tok).decode("utf-8", "surrogateescape")
            except ValueError as e:
                raise _invalid(str(e)) from None
        out.append(tok)
    return out


def _op_usage(cmd: Command) -> str:
    """cobra's stock usage of a parent-less command (what etcdctl prints for a bad op line)."""
    from etcdctl_py.cli.etcdutl import pflag_usages

    flags = cmd.local_flags()
    return f"Usage:\n   {cmd.use} [flags]\n\nFlags:\n" + pflag_usages(flags).rstrip() + "\n\n"


def parse_op(line: str) -> Any:
    """One op line -> etcdserverpb.RequestOp, parsed by fresh put/get/del commands like etcdctl."""
    from etcdctl_py.cli import delete, get, put
    from etcdctl_py.cli.cobra import FlagError, HelpRequested, parse_flags, strip_flags
    from etcdctl_py.proto.etcdserverpb import rpc_pb2

    args = argify(line)
    if len(args) < 2:
        raise _invalid(f"invalid txn compare request: {line}")
    root = Command("")
    root.add(put.command(), get.command(), delete.command())
    words = strip_flags(args, {})
    cmd = root.find_next(words[0]) if words else None
    if cmd is None:
        raise _invalid(f"invalid txn request: {line}")
    rest = list(args)
    rest.remove(words[0])
    try:
        ctx = parse_flags(cmd, rest)
    except FlagError:
        sys.stderr.write(_op_usage(cmd))
        raise _invalid(f"invalid txn request: {line}") from None
    except HelpRequested:
        raise _invalid(f"invalid txn request: {line}") from None
    if ctx.get("help"):
        raise _invalid(f"invalid txn request: {line}")
    if cmd.name == "put":
        return rpc_pb2.RequestOp(request_put=put.put_request(ctx, ctx.args, stdin=False))
    if cmd.name == "get":
        return rpc_pb2.RequestOp(request_range=get.range_request(ctx, ctx.args))
    return rpc_pb2.RequestOp(request_delete_range=delete.delete_request(ctx, ctx.args))


# ---------------------------------------------------------------- reading


def _read_line(stream: BinaryIO) -> str:
    raw = stream.readline()
    if not raw.endswith(b"\n"):
        raise _invalid("EOF")
    return raw.decode("utf-8", "surrogateescape").strip(" \t\n\r\v\f")


def read_section(stream: BinaryIO, parse: Any) -> list[Any]:
    out: list[Any] = []
    while True:
        line = _read_line(stream)
        if not line:
            return out
        out.append(parse(line))


def run(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g
    from etcdctl_py.cli.errors import from_exception

    if ctx.args:
        raise bad_args("txn command does not accept argument")
    s = g.setup(ctx)
    client = s.client()
    interactive = ctx.get("interactive")
    stdin = sys.stdin.buffer

    def prompt(text: str) -> None:
        if interactive:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    prompt("compares:")
    compares = read_section(stdin, parse_compare)
    prompt("success requests (get, put, del):")
    success = read_section(stdin, parse_op)
    prompt("failure requests (get, put, del):")
    failure = read_section(stdin, parse_op)
    try:
        resp = client.kv.txn(compares, success, failure, timeout=None)
    except Exception as e:  # noqa: BLE001 - mapped to etcdctl's error line
        raise from_exception(e) from None
    try:
        s.printer.txn(resp)
    except Exception as e:  # noqa: BLE001
        raise from_exception(e) from None
    return 0
