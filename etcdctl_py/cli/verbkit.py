"""Small helpers shared by the verb modules: declare a verb, check its arguments, run a request and map its failure
to etcdctl's error line and exit code, print with the session's printer, parse hex IDs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_BAD_ARGS, EXIT_ERROR, ExitError, bad_args, from_exception

if TYPE_CHECKING:
    from etcdctl_py.cli.globals import Session
    from etcdctl_py.output.printer import Printer

T = TypeVar("T")
Run = Callable[[Context], int]


def verb(use: str, short: str, run: Run, *flags: Flag, long: str = "") -> Command:
    """A runnable command with its own flags, as most of etcdctl's verbs are declared."""
    return Command(use, short=short, long=long, run=run, flags=flags)


def exact_args(ctx: Context, n: int, usage: str) -> list[str]:
    """The verb's arguments when there are exactly `n`; otherwise the verb ends with `usage` (exit 128)."""
    if len(ctx.args) != n:
        raise bad_args(usage)
    return ctx.args


def arg_bytes(text: str) -> bytes:
    """A command-line argument's bytes as given: Go passes any bytes through, and Python holds those that are not
    UTF-8 as surrogates."""
    return text.encode("utf-8", "surrogateescape")


def prefix_or_from_key(ctx: Context) -> tuple[bool, bool]:
    """get's and del's --prefix and --from-key, which exclude each other."""
    prefix, from_key = ctx.get("prefix"), ctx.get("from-key")
    if prefix and from_key:
        raise bad_args("`--prefix` and `--from-key` cannot be set at the same time, choose one")
    return prefix, from_key


def key_and_end(args: list[str], prefix: bool, from_key: bool) -> tuple[bytes, bytes]:
    """The key and range end get and del send for `<key> [range_end]` with --prefix or --from-key (etcdctl's
    getGetOp and getDelOp)."""
    from etcdctl_py.keyrange import key_range

    end = b""
    if len(args) > 1:
        if prefix or from_key:
            raise bad_args("too many arguments, only accept one argument when `--prefix` or `--from-key` is set")
        end = arg_bytes(args[1])
    return key_range(arg_bytes(args[0]), end, prefix=prefix, from_key=from_key)


def failure(e: Exception, code: int = EXIT_ERROR, wrap: str = "{}") -> ExitError:
    """How a failed request ends the verb: etcdctl's error line (an etcd error's text inside `wrap`) and `code`."""
    from etcdctl_py.client.errors import EtcdError

    if isinstance(e, ExitError):
        return e
    err = from_exception(e, code)
    if isinstance(e, EtcdError):
        return ExitError(err.code, wrap.format(err.message))
    return err


def request(fn: Callable[[], T], code: int = EXIT_ERROR, wrap: str = "{}") -> T:
    """Run one client call; a failure ends the command with `wrap.format(err)` and `code`."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - mapped to etcdctl's error line
        raise failure(e, code, wrap) from None


def show(fn: Callable[..., Any], *args: Any) -> None:
    """Call a printer method; an unsupported format ends the command with its own code (4)."""
    try:
        fn(*args)
    except ExitError:
        raise
    except Exception as e:  # noqa: BLE001 - mapped to etcdctl's error line
        raise from_exception(e) from None


def print_reply(ctx: Context, call: Callable[[Session], T], out: Callable[[Printer, T], None]) -> int:
    """The body of most verbs: one request with the session's client, its response through the session's printer."""
    s = session(ctx)
    resp = request(lambda: call(s))
    show(out, s.printer, resp)
    return 0


def auth_verb(rpc: str, nargs: int, usage: str) -> Run:
    """A user or role verb that is one Auth request and its printout, both named `rpc` (etcdctl names its printer
    methods after the RPCs): `role add r` sends client.auth.role_add("r") and prints printer.role_add("r", resp).
    No timeout: etcdctl's user and role verbs wait as long as it takes."""

    def run(ctx: Context) -> int:
        args = exact_args(ctx, nargs, usage)
        return print_reply(
            ctx,
            lambda s: getattr(s.client().auth, rpc)(*args, timeout=None),
            lambda p, resp: getattr(p, rpc)(*args, resp),
        )

    return run


def parse_hex_u64(text: str, what: str) -> int:
    """A member ID in hex (strconv.ParseUint base 16)."""
    from etcdctl_py.gofmt import parse_int

    try:
        return parse_int(text, 16, 64, signed=False)
    except ValueError as e:
        raise ExitError(EXIT_BAD_ARGS, what.format(e)) from None


def parse_lease_id(text: str) -> int:
    """A lease ID in hex (strconv.ParseInt base 16)."""
    from etcdctl_py.gofmt import parse_int

    try:
        return parse_int(text, 16, 64)
    except ValueError as e:
        raise ExitError(EXIT_BAD_ARGS, f"bad lease ID arg ({e}), expecting ID in Hex") from None


def session(ctx: Context, *, extra_env: tuple[str, ...] = ()) -> Session:
    """Global flags settled (environment, TLS, auth, output format) and a client on demand: globals.setup."""
    from etcdctl_py.cli import globals as g

    return g.setup(ctx, extra_env=extra_env)
