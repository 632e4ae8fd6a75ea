"""Small helpers shared by the cluster/lease/auth verb modules: run a request and map its failure
to etcdctl's error line and exit code, print with the session's printer, parse hex IDs."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from etcdctl_py.cli.cobra import Context
from etcdctl_py.cli.errors import EXIT_BAD_ARGS, EXIT_ERROR, ExitError

T = TypeVar("T")


def request(fn: Callable[[], T], code: int = EXIT_ERROR, wrap: str = "{}") -> T:
    """Run one client call; a failure ends the command with `wrap.format(err)` and `code`."""
    from etcdctl_py.cli.errors import from_exception
    from etcdctl_py.client.errors import EtcdError

    try:
        return fn()
    except EtcdError as e:
        if isinstance(e, (ExitError,)):
            raise
        err = from_exception(e, code)
        raise ExitError(err.code, wrap.format(err.message)) from None
    except ExitError:
        raise
    except Exception as e:  # noqa: BLE001 - mapped to etcdctl's error line
        raise from_exception(e, code) from None


def show(fn: Callable[..., Any], *args: Any) -> None:
    """Call a printer method; an unsupported format ends the command with its own code (4)."""
    from etcdctl_py.cli.errors import from_exception

    try:
        fn(*args)
    except ExitError:
        raise
    except Exception as e:  # noqa: BLE001
        raise from_exception(e) from None


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


def session(ctx: Context, **kw: Any) -> Any:
    from etcdctl_py.cli import globals as g

    return g.setup(ctx, **kw)
