"""`etcdctl lock <lockname> [exec-command arg1 arg2 ...]`: hold a named lock until SIGINT/SIGTERM, or
while running a command (which gets ETCD_LOCK_KEY / ETCD_LOCK_REV); the child's exit status
becomes ours."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from etcdctl_py.cli import grpclog
from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_ERROR, ExitError, bad_args
from etcdctl_py.cli.verbkit import arg_bytes, failure, request, session, show

if TYPE_CHECKING:
    from etcdctl_py.cli.globals import Session as GlobalSession
    from etcdctl_py.client import Client
    from etcdctl_py.client.session import Session
    from etcdctl_py.proto.v3lockpb import v3lock_pb2

T = TypeVar("T")


def command() -> Command:
    return Command(
        "lock <lockname> [exec-command arg1 arg2 ...]",
        short="Acquires a named lock",
        run=run,
        flags=[Flag.int("ttl", 10, "timeout for session")],
    )


def wait_for_signal() -> threading.Event:
    """An event set on SIGINT/SIGTERM (etcdctl's signal.Notify for lock and elect)."""
    ev = threading.Event()

    def handler(*_: object) -> None:
        ev.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return ev


def until_signal(call: Callable[[], T], sigs: threading.Event, sess: Session) -> T:
    """A request that blocks until it is granted (Lock, Campaign), in a thread so that SIGINT/SIGTERM can end the
    wait: then, or when the request fails, the session ends, and the verb with `context canceled` (etcdctl's
    canceled context) or the request's error line."""
    result: dict[str, Any] = {}

    def attempt() -> None:
        try:
            result["resp"] = call()
        except Exception as e:  # noqa: BLE001 - reported by the waiting thread below
            result["err"] = e

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    while t.is_alive():
        t.join(0.05)
        if sigs.is_set():
            sess.close()
            raise ExitError(EXIT_ERROR, "context canceled")
    if "err" in result:
        sess.close()
        raise failure(result["err"]) from None
    return result["resp"]


def run(ctx: Context) -> int:
    from etcdctl_py.client.session import Session

    if not ctx.args:
        raise bad_args("lock takes a lock name argument and an optional command to execute")
    name, cmd_args = ctx.args[0], ctx.args[1:]
    s = session(ctx)
    c = s.client()
    sigs = wait_for_signal()
    sess = request(lambda: Session(c, ctx.get("ttl")))
    lresp = until_signal(lambda: c.lock.lock(arg_bytes(name), sess.lease_id, timeout=None), sigs, sess)
    if cmd_args:
        return _run_holding(c, sess, lresp, cmd_args)
    return _hold_until_signal(s, c, sess, sigs, lresp.key)


def _run_holding(c: Client, sess: Session, lresp: v3lock_pb2.LockResponse, cmd_args: list[str]) -> int:
    """Run the command while holding the lock, then unlock; the command's failure is the verb's."""
    env = {"ETCD_LOCK_KEY": lresp.key.decode("utf-8", "surrogateescape"), "ETCD_LOCK_REV": str(lresp.header.revision)}
    code, err = _exec(cmd_args, grpclog.child_env({**os.environ, **env}))
    request(lambda: c.lock.unlock(lresp.key))
    sess.close()
    if err:
        raise ExitError(code if code > 0 else EXIT_ERROR, err)
    return 0


def _exec(cmd_args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run a command to its end: its exit code and Go's text for how it failed ("" if it did not)."""
    from etcdctl_py.gofmt import quote

    sys.stdout.flush()
    try:
        code = subprocess.Popen(cmd_args, env=env).wait()
    except FileNotFoundError:
        return EXIT_ERROR, (
            f"fork/exec {cmd_args[0]}: no such file or directory"
            if "/" in cmd_args[0]
            else f"exec: {quote(cmd_args[0])}: executable file not found in $PATH"
        )
    except PermissionError:
        return EXIT_ERROR, f"fork/exec {cmd_args[0]}: permission denied"
    return code, f"exit status {code}" if code > 0 else (f"signal: {-code}" if code < 0 else "")


def _hold_until_signal(s: GlobalSession, c: Client, sess: Session, sigs: threading.Event, key: bytes) -> int:
    """Print the lock's key-value, hold it until SIGINT/SIGTERM, then unlock (etcdctl's lock without a command)."""
    resp = request(lambda: c.kv.range(key, timeout=None))
    if not resp.kvs:
        sess.close()
        raise ExitError(EXIT_ERROR, "lock lost on init")
    show(s.printer.get, resp)
    sys.stdout.buffer.flush()
    return hold(sigs, sess, "session expired", lambda: c.lock.unlock(key))


def hold(sigs: threading.Event, sess: Session, lost: str, release: Callable[[], object]) -> int:
    """Keep what the session's lease holds (a lock, a leadership) until SIGINT/SIGTERM, then `release` it and end
    the session; if the lease is lost first, the verb ends with `lost`."""
    while not sigs.wait(0.1):
        if sess.done.is_set():
            raise ExitError(EXIT_ERROR, lost)
    request(release)
    sess.close()
    return 0
