"""v2 key commands: set, mk, mkdir, setdir, update, updatedir, rm, rmdir, get, ls, watch, exec-watch."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

from ...v2client import KeysAPI, SetOptions, V2Error
from ...v2client.keys import Node
from .app import Command, Context, Exit, Out
from .flags import Flag
from .util import (EXIT_BAD_ARGS, EXIT_SERVER_ERROR, arg_or_stdin, handle_error, must_new_client,
                   print_response_key, total_deadline)

TTL = Flag("ttl", "int", "key time-to-live in seconds", 0)


def _keys(c: Context) -> KeysAPI:
    return KeysAPI(must_new_client(c))


def _key(c: Context) -> str:
    if not c.args:
        handle_error(c, EXIT_BAD_ARGS, ValueError("key required"))
    return c.args[0]


def _value(c: Context) -> str:
    v = arg_or_stdin(c.args, 1)
    if v is None:
        handle_error(c, EXIT_BAD_ARGS, ValueError("value required"))
    assert v is not None
    return v


def _set_like(c: Context, opts: SetOptions, with_value: bool = True) -> None:
    ki = _keys(c)
    key = _key(c)
    value = _value(c) if with_value else ""
    try:
        resp = ki.set(key, value, total_deadline(c), opts)
    except V2Error as e:
        handle_error(c, EXIT_SERVER_ERROR, e)
    print_response_key(resp, c.g("output"))


def set_cmd(c: Context) -> None:
    ki = _keys(c)
    key = _key(c)
    value = _value(c)
    opts = SetOptions(prev_value=c.f("swap-with-value"), prev_index=max(c.f("swap-with-index"), 0) & (2**64 - 1),
                      ttl=c.f("ttl"))
    if c.f("swap-with-index") < 0:
        opts.prev_index = c.f("swap-with-index") & (2**64 - 1)
    try:
        resp = ki.set(key, value, total_deadline(c), opts)
    except V2Error as e:
        handle_error(c, EXIT_SERVER_ERROR, e)
    print_response_key(resp, c.g("output"))


def mk_cmd(c: Context) -> None:
    ki = _keys(c)
    key = _key(c)
    value = _value(c)
    try:
        if c.f("in-order"):
            resp = ki.create_in_order(key, value, total_deadline(c), ttl=c.f("ttl"))
        else:
            resp = ki.set(key, value, total_deadline(c), SetOptions(prev_exist="false", ttl=c.f("ttl")))
    except V2Error as e:
        handle_error(c, EXIT_SERVER_ERROR, e)
    print_response_key(resp, c.g("output"))


def update_cmd(c: Context) -> None:
    _set_like(c, SetOptions(prev_exist="true", ttl=c.f("ttl")))


def _dir_cmd(c: Context, prev_exist: str) -> None:
    ki = _keys(c)
    key = _key(c)
    try:
        resp = ki.set(key, "", total_deadline(c), SetOptions(dir=True, prev_exist=prev_exist, ttl=c.f("ttl")))
    except V2Error as e:
        handle_error(c, EXIT_SERVER_ERROR, e)
    if c.g("output") != "simple":
        print_response_key(resp, c.g("output"))


def mkdir_cmd(c: Context) -> None:
    _dir_cmd(c, "false")


def setdir_cmd(c: Context) -> None:
    _dir_cmd(c, "")


def updatedir_cmd(c: Context) -> None:
    _dir_cmd(c, "true")


def _rm(c: Context, **kw: object) -> None:
    ki = _keys(c)
    key = _key(c)
    try:
        resp = ki.delete(key, total_deadline(c), **kw)  # type: ignore[arg-type]
    except V2Error as e:
        handle_error(c, EXIT_SERVER_ERROR, e)
    if not (resp.node and resp.node.dir) or c.g("output") != "simple":
        print_response_key(resp, c.g("output"))


def rm_cmd(c: Context) -> None:
    idx = c.f("with-index")
    _rm(c, prev_value=c.f("with-value"), prev_index=idx & (2**64 - 1), dir=c.f("dir"), recursive=c.f("recursive"))


def rmdir_cmd(c: Context) -> None:
    _rm(c, dir=True)


def get_cmd(c: Context) -> None:
    ki = _keys(c)
    key = _key(c)
    try:
        resp = ki.get(key, total_deadline(c), sort=c.f("sort"), quorum=c.f("quorum"))
    except V2Error as e:
        handle_error(c, EXIT_SERVER_ERROR, e)
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
    try:
        resp = ki.get(key, total_deadline(c), recursive=c.f("recursive"), sort=c.f("sort"), quorum=c.f("quorum"))
    except V2Error as e:
        handle_error(c, EXIT_SERVER_ERROR, e)
    if c.g("output") == "simple":
        node = resp.node or Node()
        if not node.dir:
            Out.out(f"{node.key}\n")
        for n in node.nodes or []:
            _rprint(c, n)
    else:
        print_response_key(resp, c.g("output"))


def _exit_on_sigint() -> None:
    def handler(signum: int, frame: object) -> None:
        os._exit(0)

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (in-process use): leave the default
        pass


def watch_cmd(c: Context) -> None:
    ki = _keys(c)
    key = _key(c)
    recursive, forever = c.f("recursive"), c.f("forever")
    w = ki.watcher(key, after_index=c.f("after-index") & (2**64 - 1), recursive=recursive)
    _exit_on_sigint()
    while True:
        try:
            resp = w.next()
        except V2Error as e:
            handle_error(c, EXIT_SERVER_ERROR, e)
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
    w = ki.watcher(key, after_index=c.f("after-index") & (2**64 - 1), recursive=c.f("recursive"))
    _exit_on_sigint()
    while True:
        try:
            resp = w.next()
        except V2Error as e:
            handle_error(c, EXIT_SERVER_ERROR, e)
        node = resp.node or Node()
        if node.dir:
            Out.err(f"Ignored dir {node.key} change\n")
            continue
        env = dict(os.environ)
        env.update({"ETCD_WATCH_ACTION": resp.action, "ETCD_WATCH_MODIFIED_INDEX": str(node.modified_index),
                    "ETCD_WATCH_KEY": node.key, "ETCD_WATCH_VALUE": node.value})
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
        Command("mk", "make a new key with a given value", "<key> <value>",
                flags=[Flag("in-order", "bool", "create in-order key under directory <key>"), TTL], action=mk_cmd),
        Command("mkdir", "make a new directory", "<key>", flags=[TTL], action=mkdir_cmd),
        Command("rm", "remove a key or a directory", "<key>", flags=[
            Flag("dir", "bool", "removes the key if it is an empty directory or a key-value pair"),
            Flag("recursive, r", "bool", "removes the key and all child keys(if it is a directory)"),
            Flag("with-value", "string", "previous value", ""),
            Flag("with-index", "int", "previous index", 0)], action=rm_cmd),
        Command("rmdir", "removes the key if it is an empty directory or a key-value pair", "<key>", action=rmdir_cmd),
        Command("get", "retrieve the value of a key", "<key>", flags=[
            Flag("sort", "bool", "returns result in sorted order"),
            Flag("quorum, q", "bool", "require quorum for get request")], action=get_cmd),
        Command("ls", "retrieve a directory", "[key]", flags=[
            Flag("sort", "bool", "returns result in sorted order"),
            Flag("recursive, r", "bool", "returns all key names recursively for the given path"),
            Flag("p", "bool", "append slash (/) to directories"),
            Flag("quorum, q", "bool", "require quorum for get request")], action=ls_cmd),
        Command("set", "set the value of a key", "<key> <value>", description=(
            "Set sets the value of a key.\n\n   When <value> begins with '-', <value> is interpreted as a flag.\n"
            "   Insert '--' for workaround:\n\n   $ set -- <key> <value>"), flags=[
            TTL, Flag("swap-with-value", "string", "previous value", ""),
            Flag("swap-with-index", "int", "previous index", 0)], action=set_cmd),
        Command("setdir", "create a new directory or update an existing directory TTL", "<key>", flags=[TTL],
                action=setdir_cmd),
        Command("update", "update an existing key with a given value", "<key> <value>", flags=[TTL], action=update_cmd),
        Command("updatedir", "update an existing directory", "<key> <value>", flags=[TTL], action=updatedir_cmd),
        Command("watch", "watch a key for changes", "<key>", flags=[
            Flag("forever, f", "bool", "forever watch a key until CTRL+C"),
            Flag("after-index", "int", "watch after the given index", 0),
            Flag("recursive, r", "bool", "returns all values for key and child keys")], action=watch_cmd),
        Command("exec-watch", "watch a key for changes and exec an executable", "<key> <command> [args...]", flags=[
            Flag("after-index", "int", "watch after the given index", 0),
            Flag("recursive, r", "bool", "watch all values for key and child keys")], action=exec_watch_cmd),
    ]
