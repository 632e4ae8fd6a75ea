"""`etcdctl lock <lockname> [exec-command arg1 arg2 ...]`: hold a named lock until SIGINT/SIGTERM, or
while running a command (which gets ETCD_LOCK_KEY / ETCD_LOCK_REV); the child's exit status
becomes ours."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from etcdctl_py.cli import grpclog
from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_ERROR, ExitError, bad_args
from etcdctl_py.cli.verbkit import request, session, show


def command() -> Command:
    return Command("lock <lockname> [exec-command arg1 arg2 ...]", short="Acquires a named lock", run=run,
                   flags=[Flag.int("ttl", 10, "timeout for session")])


def wait_for_signal() -> threading.Event:
    """An event set on SIGINT/SIGTERM (etcdctl's signal.Notify for lock and elect)."""
    ev = threading.Event()

    def handler(*_: object) -> None:
        ev.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return ev


def run(ctx: Context) -> int:
    from etcdctl_py.client.session import Session
    from etcdctl_py.gofmt import quote

    if not ctx.args:
        raise bad_args("lock takes a lock name argument and an optional command to execute")
    name, cmd_args = ctx.args[0], ctx.args[1:]
    s = session(ctx)
    c = s.client()
    sigs = wait_for_signal()
    sess = request(lambda: Session(c, ctx.get("ttl")))
    result: dict = {}

    def acquire() -> None:
        try:
            result["resp"] = c.lock.lock(name.encode("utf-8", "surrogateescape"), sess.lease_id, timeout=None)
        except Exception as e:  # noqa: BLE001
            result["err"] = e

    t = threading.Thread(target=acquire, daemon=True)
    t.start()
    while t.is_alive():
        t.join(0.05)
        if sigs.is_set():
            sess.close()
            raise ExitError(EXIT_ERROR, "context canceled")
    if "err" in result:
        sess.close()
        request(lambda: (_ for _ in ()).throw(result["err"]))
    lresp = result["resp"]
    key = lresp.key
    if cmd_args:
        env = {"ETCD_LOCK_KEY": key.decode("utf-8", "surrogateescape"),
               "ETCD_LOCK_REV": str(lresp.header.revision)}
        env = grpclog.child_env({**os.environ, **env})
        sys.stdout.flush()
        try:
            p = subprocess.Popen(cmd_args, env=env)
            code = p.wait()
            err = f"exit status {code}" if code > 0 else (f"signal: {-code}" if code < 0 else "")
        except FileNotFoundError:
            code, err = EXIT_ERROR, (f"fork/exec {cmd_args[0]}: no such file or directory" if "/" in cmd_args[0]
                                     else f"exec: {quote(cmd_args[0])}: executable file not found in $PATH")
        except PermissionError:
            code, err = EXIT_ERROR, f"fork/exec {cmd_args[0]}: permission denied"
        request(lambda: c.lock.unlock(key))
        sess.close()
        if err:
            raise ExitError(code if code > 0 else EXIT_ERROR, err)
        return 0
    resp = request(lambda: c.kv.range(key, timeout=None))
    if not resp.kvs:
        sess.close()
        raise ExitError(EXIT_ERROR, "lock lost on init")
    show(s.printer.get, resp)
    sys.stdout.buffer.flush()
    while not sigs.wait(0.1):
        if sess.done.is_set():
            raise ExitError(EXIT_ERROR, "session expired")
    request(lambda: c.lock.unlock(key))
    sess.close()
    return 0
