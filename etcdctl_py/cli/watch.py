"""`etcdctl watch`: print events as they happen (optionally running a command per event), or read
watch/progress requests from stdin with `-i`.

Runs until interrupted: on SIGINT/SIGTERM the process dies by that signal (a shell shows 130/143),
like etcdctl, which installs no handler. A watch canceled by the server ends with
`Error: watch is canceled by the server`, exit 5.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import (
    EXIT_BAD_ARGS,
    EXIT_INTERRUPTED,
    EXIT_INVALID_INPUT,
    ExitError,
    bad_args,
    die_by_signal,
)

if TYPE_CHECKING:
    from etcdctl_py.cli.globals import Session

BAD_NUM = "bad number of arguments"
BAD_NUM_ENV = "bad number of arguments (found conflicting environment key)"
BAD_NUM_SEP = "bad number of arguments (found separator --, but no commands)"
EXCLUSIVE = "`range_end` and `--prefix` are mutually exclusive"


def _flags() -> list[Flag]:
    return [
        Flag.bool("interactive", False, "Interactive mode", "i"),
        Flag.bool("prefix", False, "Watch on a prefix if prefix is set"),
        Flag.int("rev", 0, "Revision to start watching", kind="int64"),
        Flag.bool("prev-kv", False, "get the previous key-value pair before the event happens"),
        Flag.bool("progress-notify", False, "get periodic watch progress notification from server"),
    ]


def command() -> Command:
    return Command(
        "watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]",
        short="Watches events stream on keys or prefixes",
        run=run,
        flags=_flags(),
    )


@dataclass
class WatchSpec:
    args: list[str]
    exec_args: list[str] = field(default_factory=list)
    prefix: bool = False
    rev: int = 0
    prev_kv: bool = False
    progress_notify: bool = False


def _raw_args() -> list[str]:
    """The process arguments after the first literal `watch` (etcdctl looks for `--` there)."""
    raw = list(sys.argv)
    if "watch" in raw:
        raw = raw[raw.index("watch") + 1 :]
    return raw


def parse_command_line(ctx: Context, env_key: str, env_range: str) -> WatchSpec:
    """etcdctl's parseWatchArgs for the command-line form."""
    raw = _raw_args()
    watch_args = list(ctx.args)
    sep = raw.index("--") if "--" in raw else -1
    if sep >= 0 and sep == len(raw) - 1:
        raise bad_args(BAD_NUM_SEP)
    if sep < 0 and len(raw) < 1 and not env_key:
        raise bad_args(BAD_NUM)
    if sep >= 0 and env_key:
        widx, ridx = len(watch_args) - 1, len(raw) - 1
        while widx >= 0:
            if watch_args[widx] == raw[ridx]:
                ridx -= 1
            elif ridx == sep:
                raise bad_args(BAD_NUM_ENV)
            widx -= 1
    if sep < 0 and watch_args and env_key:
        raise bad_args(BAD_NUM_ENV)
    exec_args = raw[sep + 1 :] if sep >= 0 else []
    if env_key:
        watch_args = [env_key] + ([env_range] if env_range else []) + watch_args
    if exec_args:
        end = len(watch_args) - 1
        while end >= 0 and watch_args[end] != exec_args[0]:
            end -= 1
        watch_args = watch_args[:end] if end >= 0 else watch_args[:-1]
    return WatchSpec(
        watch_args, exec_args, ctx.get("prefix"), ctx.get("rev"), ctx.get("prev-kv"), ctx.get("progress-notify")
    )


def parse_interactive(words: list[str], env_key: str, env_range: str) -> WatchSpec:
    """etcdctl's parseWatchArgs for one `watch ...` line of interactive mode (options reset per line)."""
    from etcdctl_py.cli.cobra import FlagError, parse_flags

    watch_args = words[1:]
    sep = watch_args.index("--") if "--" in watch_args else -1
    if sep >= 0 and sep == len(watch_args) - 1:
        raise bad_args(BAD_NUM_SEP)
    cmd = command()
    try:
        fctx = parse_flags(cmd, watch_args)
    except FlagError as e:
        raise ExitError(EXIT_BAD_ARGS, str(e)) from None
    pargs = fctx.args
    if sep < 0 and not env_key and not pargs:
        raise bad_args(BAD_NUM)
    if sep < 0 and pargs and env_key:
        raise bad_args(BAD_NUM_ENV)
    exec_args = watch_args[sep + 1 :] if sep >= 0 else []
    args = list(pargs)
    if env_key:
        args = [env_key] + ([env_range] if env_range else []) + args
    if exec_args:
        end = len(args) - 1
        while end >= 0 and args[end] != exec_args[0]:
            end -= 1
        args = args[:end] if end >= 0 else args[:-1]
    return WatchSpec(
        args, exec_args, fctx.get("prefix"), fctx.get("rev"), fctx.get("prev-kv"), fctx.get("progress-notify")
    )


def watch_range(spec: WatchSpec) -> tuple[bytes, bytes]:
    """etcdctl's getWatchChan argument rules -> (key, range_end); ValueError(message) when invalid."""
    from etcdctl_py.cli.verbkit import arg_bytes
    from etcdctl_py.keyrange import key_range

    if not spec.args:
        raise ValueError(BAD_NUM)
    end = b""
    if len(spec.args) == 2:
        if spec.prefix:
            raise ValueError(EXCLUSIVE)
        end = arg_bytes(spec.args[1])
    return key_range(arg_bytes(spec.args[0]), end, prefix=spec.prefix)


# ---------------------------------------------------------------- printing


class Printer:
    """Prints responses like etcdctl's printWatchCh; one lock keeps concurrent watchers' output whole."""

    def __init__(self, printer: Any):
        self.p = printer
        self.lock = threading.Lock()

    def response(self, resp: Any, exec_args: list[str]) -> None:
        from etcdctl_py.client.watch import cancel_error, is_progress_notify
        from etcdctl_py.gofmt import quote

        with self.lock:
            if resp.canceled:
                sys.stdout.buffer.flush()
                sys.stderr.write(f"watch was canceled ({cancel_error(resp)})\n")
                sys.stderr.flush()
            if is_progress_notify(resp):
                sys.stdout.buffer.write(b"progress notify: %d\n" % resp.header.revision)
            try:
                self.p.watch(resp)
            except Exception as e:  # noqa: BLE001 - e.g. table: unsupported format
                from etcdctl_py.cli.errors import from_exception

                raise from_exception(e) from None
            sys.stdout.buffer.flush()
            for ev in resp.events if exec_args else ():
                env = dict(os.environ)
                env["ETCD_WATCH_REVISION"] = str(resp.header.revision)
                env["ETCD_WATCH_EVENT_TYPE"] = '"DELETE"' if ev.type == 1 else '"PUT"'
                env["ETCD_WATCH_KEY"] = quote(ev.kv.key)
                env["ETCD_WATCH_VALUE"] = quote(ev.kv.value)
                err = _run_child(exec_args, env)
                if err:
                    argv = "[" + " ".join(quote(a) for a in exec_args) + "]"
                    sys.stderr.write(f"command {argv} error ({err})\n")
                    sys.stderr.flush()
                    os._exit(1)


def _run_child(argv: list[str], env: dict[str, str]) -> str:
    """Run the exec command like Go's exec.Cmd.Run; '' on success, else Go's error text."""
    from etcdctl_py.cli import grpclog
    from etcdctl_py.gofmt import quote

    try:
        p = subprocess.run(argv, env=grpclog.child_env(env))
    except FileNotFoundError:
        if "/" in argv[0]:
            return f"fork/exec {argv[0]}: no such file or directory"
        return f"exec: {quote(argv[0])}: executable file not found in $PATH"
    except PermissionError:
        return f"fork/exec {argv[0]}: permission denied"
    if p.returncode < 0:
        return f"signal: {_signal_name(-p.returncode)}"
    if p.returncode:
        return f"exit status {p.returncode}"
    return ""


def _signal_name(n: int) -> str:
    names = {1: "hangup", 2: "interrupt", 9: "killed", 15: "terminated", 13: "broken pipe", 6: "aborted"}
    return names.get(n, f"signal {n}")


# ---------------------------------------------------------------- run


def run(ctx: Context) -> int:
    try:
        return _run(ctx)
    except KeyboardInterrupt:
        die_by_signal(signal.SIGINT)
        return 130


def _run(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g

    env_key = os.environ.get("ETCDCTL_WATCH_KEY", "")
    env_range = os.environ.get("ETCDCTL_WATCH_RANGE_END", "")
    if not env_key and env_range:
        from etcdctl_py.gofmt import quote

        raise bad_args(f"ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END={quote(env_range)}")
    signal.signal(signal.SIGTERM, lambda *_: die_by_signal(signal.SIGTERM))
    if ctx.get("interactive"):
        s = g.setup(ctx, extra_env=("watch-key", "watch-range-end"))
        return _interactive(s, env_key, env_range)
    spec = parse_command_line(ctx, env_key, env_range)
    s = g.setup(ctx, extra_env=("watch-key", "watch-range-end"))
    c = s.client()
    try:
        key, end = watch_range(spec)
    except ValueError as e:
        raise bad_args(str(e)) from None
    stream = c.watch.stream()
    stream.watch(key, end, start_revision=spec.rev, prev_kv=spec.prev_kv, progress_notify=spec.progress_notify)
    out = Printer(s.printer)
    from etcdctl_py.client.errors import EtcdError

    try:
        for resp in stream:
            out.response(resp, spec.exec_args)
            if resp.canceled:
                break
    except EtcdError as e:
        raise ExitError(EXIT_INTERRUPTED, f"watch is canceled by the server ({e})") from None
    finally:
        stream.close()
    raise ExitError(EXIT_INTERRUPTED, "watch is canceled by the server")


def _interactive(s: Session, env_key: str, env_range: str) -> int:
    return _Interactive(s, env_key, env_range).run()


class _Interactive:
    """`watch -i`: `watch ...` and `progress` lines read from stdin, every watch on one stream; each response is
    printed (and its command run) for the watch it belongs to."""

    def __init__(self, s: Session, env_key: str, env_range: str):
        self.stream = s.client().watch.stream()
        self.out = Printer(s.printer)
        self.env_key, self.env_range = env_key, env_range
        self.specs: dict[int, WatchSpec] = {}  # by creation order = server watch id order on this stream
        self.pending: list[WatchSpec] = []
        self.lock = threading.Lock()
        self.reader_error: list[BaseException] = []
        self.stream.on_created = self._created

    def run(self) -> int:
        threading.Thread(target=self._pump, daemon=True).start()
        stdin = sys.stdin.buffer
        while True:
            raw = stdin.readline()
            if self.reader_error:
                raise self.reader_error[0]
            if not raw.endswith(b"\n"):
                sys.stdout.flush()
                raise ExitError(EXIT_INVALID_INPUT, "error reading watch request line: EOF")
            self._command(raw[:-1].decode("utf-8", "surrogateescape"))

    def _command(self, line: str) -> None:
        from etcdctl_py.cli.txn import argify

        words = argify(line)
        if not words:
            _warn(f"Invalid command: {line} (watch and progress supported)")
        elif words[0] == "watch":
            self._watch(line, words)
        elif words[0] == "progress":
            self.stream.request_progress()
        else:
            _warn(f"Invalid command {line} (only support watch)")

    def _watch(self, line: str, words: list[str]) -> None:
        if len(words) < 2 and not self.env_key:
            _warn(f"Invalid command {line} (command type or key is not provided)")
            return
        spec = parse_interactive(words, self.env_key, self.env_range)
        try:
            key, end = watch_range(spec)
        except ValueError as e:
            _warn(f"Invalid command {line} ({e})")
            return
        with self.lock:
            self.pending.append(spec)
        self.stream.watch(key, end, start_revision=spec.rev, prev_kv=spec.prev_kv, progress_notify=spec.progress_notify)

    def _pump(self) -> None:
        try:
            for resp in self.stream:
                with self.lock:
                    targets = list(self.specs.values()) if resp.watch_id == -1 else [self.specs.get(resp.watch_id)]
                for spec in targets:
                    if spec is not None:
                        self.out.response(resp, spec.exec_args)
                if resp.canceled:
                    with self.lock:
                        self.specs.pop(resp.watch_id, None)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            self.reader_error.append(e)

    def _created(self, watch_id: int) -> None:
        with self.lock:
            if self.pending:
                self.specs[watch_id] = self.pending.pop(0)


def _warn(text: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
