"""v2 key commands: set, mk, mkdir, setdir, update, updatedir, rm, rmdir, get, ls, watch, exec-watch."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable

from etcdctl_py.cli.errors import EXIT_BAD_ARGS, EXIT_SERVER_ERROR

from ...v2client import Deadline, KeysAPI, Response, SetOptions, V2Error
from ...v2client.keys import Node, Watcher
from .app import Command, Context, Exit, Out
from .flags import Flag
from .util import arg_or_stdin, exit_on_sigint, handle_error, must_new_client, print_response_key, total_deadline

TTL = Flag("ttl", "int", "key time-to-live in seconds", 0)
SORT = Flag("sort", "bool", "returns result in sorted order")
QUORUM = Flag("quorum, q", "bool", "require quorum for get request")
AFTER_INDEX = Flag("after-index", "int", "watch after the given index", 0)
UINT64 = 2**64 - 1  # etcdctl passes its int flags on as uint64(n)

# a write of `value` at `key` (set, mk, update): the KeysAPI call, given the client, key, value and deadline
Write = Callable[[KeysAPI, str, str, Deadline], Response]


def _keys(c: Context) -> KeysAPI:
    return KeysAPI(must_new_client(c))


def _key(c: Context) -> str:
    if not c.args:
        handle_error(c, EXIT_BAD_ARGS, ValueError("key required"))
    return c.args[0]


def _keys_and_key(c: Context) -> tuple[KeysAPI, str]:
    """The client (synced first, as etcdctl's mustNewKeyAPI), then the key argument."""
    ki = _keys(c)
    return ki, _key(c)


def _value(c: Context) -> str:
    v = arg_or_stdin(c.args, 1)
    if v is None:
        handle_error(c, EXIT_BAD_ARGS, ValueError("value required"))
    return v


def _request(c: Context, call: Callable[[Deadline], Response]) -> Response:
    """One keys API request under --total-timeout; a failure is etcdctl's handleError(ExitServerError)."""
    try:
        return call(total_deadline(c))
    except V2Error as e:
        handle_error(c, EXIT_SERVER_ERROR, e)


def _write_value(c: Context, write: Write) -> None:
    """set/mk/update: key, value (argument or stdin), the write, the response printed."""
    ki, key = _keys_and_key(c)
    value = _value(c)
    resp = _request(c, lambda dl: write(ki, key, value, dl))
    print_response_key(resp, c.g("output"))


def _set(opts: SetOptions) -> Write:
    return lambda ki, key, value, dl: ki.set(key, value, dl, opts)


def set_cmd(c: Context) -> None:
    opts = SetOptions(prev_value=c.f("swap-with-value"), prev_index=c.f("swap-with-index") & UINT64, ttl=c.f("ttl"))
    _write_value(c, _set(opts))


def mk_cmd(c: Context) -> None:
    ttl = c.f("ttl")
    if c.f("in-order"):
        _write_value(c, lambda ki, key, value, dl: ki.create_in_order(key, value, dl, ttl=ttl))
    else:
        _write_value(c, _set(SetOptions(prev_exist="false", ttl=ttl)))


def update_cmd(c: Context) -> None:
    _write_value(c, _set(SetOptions(prev_exist="true", ttl=c.f("ttl"))))


def _dir_cmd(c: Context, prev_exist: str) -> None:
    ki, key = _keys_and_key(c)
    opts = SetOptions(dir=True, prev_exist=prev_exist, ttl=c.f("ttl"))
    resp = _request(c, lambda dl: ki.set(key, "", dl, opts))
    if c.g("output") != "simple":
        print_response_key(resp, c.g("output"))


def mkdir_cmd(c: Context) -> None:
    _dir_cmd(c, "false")


def setdir_cmd(c: Context) -> None:
    _dir_cmd(c, "")


def updatedir_cmd(c: Context) -> None:
    _dir_cmd(c, "true")


def _rm(c: Context, delete: Callable[[KeysAPI, str, Deadline], Response]) -> None:
    ki, key = _keys_and_key(c)
    resp = _request(c, lambda dl: delete(ki, key, dl))
    if not (resp.node and resp.node.dir) or c.g("output") != "simple":
        print_response_key(resp, c.g("output"))


def rm_cmd(c: Context) -> None:
    _rm(
        c,
        lambda ki, key, dl: ki.delete(
            key,
            dl,
            prev_value=c.f("with-value"),
            prev_index=c.f("with-index") & UINT64,
            dir=c.f("dir"),
            recursive=c.f("recursive"),
        ),
    )


def rmdir_cmd(c: Context) -> None:
    _rm(c, lambda ki, key, dl: ki.delete(key, dl, dir=True))


def get_cmd(c: Context) -> None:
    ki, key = _keys_and_key(c)
    resp = _request(c, lambda dl: ki.get(key, dl, sort=c.f("sort"), quorum=c.f("quorum")))
    if resp.node and resp.node.dir:
        Out.err(f"{resp.node.key}: is a directory\n")
        raise Exit(1)
    print_response_key(resp, c.g("output"))


def _rprint(c: Context, n: Node) -> None:
    if n.dir and c.f("p"):
        Out.out(f"{n.key}/\n")
    else:
        Out.out(f"{n.key}\n")
    for child in n.nodes or []:
        _rprint(c, child)


def ls_cmd(c: Context) -> None:
    ki = _keys(c)
    key = c.args[0] if c.args else "/"
    resp = _request(c, lambda dl: ki.get(key, dl, recursive=c.f("recursive"), sort=c.f("sort"), quorum=c.f("quorum")))
    if c.g("output") == "simple":
        node = resp.node or Node()
        if not node.dir:
            Out.out(f"{node.key}\n")
        for n in node.nodes or []:
            _rprint(c, n)
    else:
        print_response_key(resp, c.g("output"))


def _next_event(c: Context, w: Watcher) -> Response:
    try:
        return w.next()
    except V2Error as e:
        handle_error(c, EXIT_SERVER_ERROR, e)


def watch_cmd(c: Context) -> None:
    ki, key = _keys_and_key(c)
    recursive, forever = c.f("recursive"), c.f("forever")
    w = ki.watcher(key, after_index=c.f("after-index") & UINT64, recursive=recursive)
    exit_on_sigint()
    while True:
        resp = _next_event(c, w)
        if resp.node and resp.node.dir:
            continue
        if recursive:
            Out.out(f"[{resp.action}] {resp.node.key if resp.node else ''}\n")
        print_response_key(resp, c.g("output"))
        if not forever:
            return


def exec_watch_cmd(c: Context) -> None:
    args = c.args
    if len(args) < 2:
        handle_error(c, EXIT_BAD_ARGS, ValueError("key and command to exec required"))
    ki = _keys(c)
    if any(a == "--" for a in args[1:]):
        key, cmd = args[0], args[2:]
    else:
        key, cmd = args[-1], args[:-1]
    w = ki.watcher(key, after_index=c.f("after-index") & UINT64, recursive=c.f("recursive"))
    exit_on_sigint()
    while True:
        resp = _next_event(c, w)
        node = resp.node or Node()
        if node.dir:
            Out.err(f"Ignored dir {node.key} change\n")
            continue
        env = dict(os.environ)
        env.update(
            {
                "ETCD_WATCH_ACTION": resp.action,
                "ETCD_WATCH_MODIFIED_INDEX": str(node.modified_index),
                "ETCD_WATCH_KEY": node.key,
                "ETCD_WATCH_VALUE": node.value,
            }
        )
        threading.Thread(target=_run_async, args=(cmd, env), daemon=True).start()


def _run_async(cmd: list[str], env: dict[str, str]) -> None:
    if not cmd:
        Out.err("exec: no command")
        os._exit(1)
    try:
        p = subprocess.Popen(cmd, env=env)
    except OSError as e:
        if isinstance(e, FileNotFoundError):
            if "/" in cmd[0]:
                Out.err(f"fork/exec {cmd[0]}: no such file or directory")
            else:
                Out.err(f'exec: "{cmd[0]}": executable file not found in $PATH')
        elif isinstance(e, PermissionError):
            Out.err(f"fork/exec {cmd[0]}: permission denied")
        else:
            Out.err(f"fork/exec {cmd[0]}: {e.strerror}")
        os._exit(1)
    p.wait()


def commands() -> list[Command]:
    return [
        Command(
            "mk",
            "make a new key with a given value",
            "<key> <value>",
            flags=[Flag("in-order", "bool", "create in-order key under directory <key>"), TTL],
            action=mk_cmd,
        ),
        Command("mkdir", "make a new directory", "<key>", flags=[TTL], action=mkdir_cmd),
        Command(
            "rm",
            "remove a key or a directory",
            "<key>",
            flags=[
                Flag("dir", "bool", "removes the key if it is an empty directory or a key-value pair"),
                Flag("recursive, r", "bool", "removes the key and all child keys(if it is a directory)"),
                Flag("with-value", "string", "previous value", ""),
                Flag("with-index", "int", "previous index", 0),
            ],
            action=rm_cmd,
        ),
        Command("rmdir", "removes the key if it is an empty directory or a key-value pair", "<key>", action=rmdir_cmd),
        Command(
            "get",
            "retrieve the value of a key",
            "<key>",
            flags=[SORT, QUORUM],
            action=get_cmd,
        ),
        Command(
            "ls",
            "retrieve a directory",
            "[key]",
            flags=[
                SORT,
                Flag("recursive, r", "bool", "returns all key names recursively for the given path"),
                Flag("p", "bool", "append slash (/) to directories"),
                QUORUM,
            ],
            action=ls_cmd,
        ),
        Command(
            "set",
            "set the value of a key",
            "<key> <value>",
            description=(
                "Set sets the value of a key.\n\n   When <value> begins with '-', <value> is interpreted as a flag.\n"
                "   Insert '--' for workaround:\n\n   $ set -- <key> <value>"
            ),
            flags=[
                TTL,
                Flag("swap-with-value", "string", "previous value", ""),
                Flag("swap-with-index", "int", "previous index", 0),
            ],
            action=set_cmd,
        ),
        Command(
            "setdir",
            "create a new directory or update an existing directory TTL",
            "<key>",
            flags=[TTL],
            action=setdir_cmd,
        ),
        Command("update", "update an existing key with a given value", "<key> <value>", flags=[TTL], action=update_cmd),
        Command("updatedir", "update an existing directory", "<key> <value>", flags=[TTL], action=updatedir_cmd),
        Command(
            "watch",
            "watch a key for changes",
            "<key>",
            flags=[
                Flag("forever, f", "bool", "forever watch a key until CTRL+C"),
                AFTER_INDEX,
                Flag("recursive, r", "bool", "returns all values for key and child keys"),
            ],
            action=watch_cmd,
        ),
        Command(
            "exec-watch",
            "watch a key for changes and exec an executable",
            "<key> <command> [args...]",
            flags=[AFTER_INDEX, Flag("recursive, r", "bool", "watch all values for key and child keys")],
            action=exec_watch_cmd,
        ),
    ]
