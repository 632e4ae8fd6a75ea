"""`etcdctl snapshot save <filename>`: stream a member's backend into a file, atomically, with etcdctl 3.5.1's
zap log lines on stderr and `Snapshot saved at <file>` on stdout. Every failure exits 5 (ExitInterrupted).

The file is written as `<file>.part` (mode 0600), fsynced, renamed over `<file>` and the directory fsynced; the
part file never survives a failure. Unlike etcdctl we also check the sha256 the server appends.

Ours, on top (defaults unchanged):
* a progress bar (bytes, rate, ETA from the server's `remaining_bytes`) when stderr is a terminal; rich is
  imported only then;
* `--keep N` / `--max-age 30d`: after a successful save, remove older *dated* snapshots next to the new one
  (see etcdctl_py/cli/snapshot_retention.py) and print what was removed;
* a member that cannot be reached within --dial-timeout ends the save (exit 5, before any file is made), as
  etcdctl ends it when its --user login cannot connect; etcdctl without a user waits forever (cron jobs hang).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import TYPE_CHECKING, Any, NoReturn

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_INTERRUPTED, ExitError, bad_args
from etcdctl_py.storage.fileutil import fsync_dir, go_errno_text, go_path_error

if TYPE_CHECKING:
    from rich.progress import TaskID

SHA_SIZE = 32
_BACKLOG = 64 << 20  # at most this much received but not yet written (then TCP holds the member back)


def command() -> Command:
    return Command(
        "save <filename>",
        short="Stores an etcd node backend snapshot to a given file",
        run=run,
        flags=[
            Flag.int(
                "keep",
                0,
                "After saving, keep only the N newest dated snapshots in the target directory (0: keep all)",
                hidden=True,
            ),
            Flag.string(
                "max-age", "", "After saving, remove dated snapshots older than this (e.g. 30d, 12h, 1w)", hidden=True
            ),
        ],
    )


def zap_line(level: str, caller: str, msg: str, logger: str | None = None, **fields: Any) -> str:
    """A zap production JSON line with an epoch `ts`, as etcdctl 3.5.1's snapshot logger writes it."""
    parts = [f'"level":"{level}"', f'"ts":{time.time()!r}']
    if logger:
        parts.append(f'"logger":"{logger}"')
    parts += [f'"caller":"{caller}"', f'"msg":{_json_str(msg)}']
    parts += [f'"{k}":{_json_str(v)}' for k, v in fields.items()]
    return "{" + ",".join(parts) + "}\n"


def _json_str(v: Any) -> str:
    """json.dumps(v, ensure_ascii=False), with strings that need no escaping done without importing json."""
    if isinstance(v, str) and v.isprintable() and '"' not in v and "\\" not in v:
        return f'"{v}"'
    import json

    return json.dumps(v, ensure_ascii=False)


def _log(line: str) -> None:
    sys.stderr.write(line)
    sys.stderr.flush()


def go_rel_time(seconds: float) -> str:
    """go-humanize Time(then) for a moment `seconds` ago: 'now', '1 second ago', '5 seconds ago', '1 minute ago'."""
    steps = [
        (1, "now", 0),
        (2, "1 second ago", 1),
        (60, "%d seconds ago", 1),
        (120, "1 minute ago", 1),
        (3600, "%d minutes ago", 60),
        (7200, "1 hour ago", 1),
        (86400, "%d hours ago", 3600),
        (172800, "1 day ago", 1),
        (604800, "%d days ago", 86400),
    ]
    for limit, fmt, unit in steps:
        if seconds < limit:
            return fmt % (seconds // unit) if "%d" in fmt else fmt
    return f"{seconds // 604800} weeks ago"


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def run(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g

    if len(ctx.args) != 1:
        raise bad_args("snapshot save expects one argument")
    keep = ctx.get("keep")
    max_age = None
    retention: Any = None
    if keep or ctx.get("max-age"):  # the retention module (pathlib, dataclasses: ~6 ms) only when asked for
        from etcdctl_py.cli import snapshot_retention as retention
    if ctx.get("max-age"):
        try:
            max_age = retention.parse_age(ctx.get("max-age"))
        except ValueError as e:
            raise bad_args(str(e)) from None
    if keep < 0:
        raise bad_args("--keep must be zero or positive")
    path = ctx.args[0]
    policy = None
    if keep or max_age is not None:
        try:
            policy = retention.Policy.for_target(path, keep=keep, max_age=max_age, max_age_text=ctx.get("max-age"))
        except ValueError as e:
            raise bad_args(str(e)) from None
    s = g.setup(ctx)
    eps = [e.strip() for e in ctx.get("endpoints")]
    if len(eps) != 1:
        raise ExitError(
            EXIT_INTERRUPTED, f"snapshot must be requested to one selected node, not multiple {_go_list(eps)}"
        )
    timeout = s.command_timeout if ctx.changed("command-timeout") else None
    try:
        size = save(s, path, eps[0], timeout=timeout)
    except ExitError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure of save is exit 5
        raise ExitError(EXIT_INTERRUPTED, str(e) or e.__class__.__name__) from None
    del size
    sys.stdout.write(f"Snapshot saved at {path}\n")
    sys.stdout.flush()
    if policy is not None:
        try:
            retention.apply(policy, just_saved=path, out=sys.stdout)
        except OSError as e:
            raise ExitError(EXIT_INTERRUPTED, f"retention: {e}") from None
    return 0


def save(s: Any, path: str, endpoint: str, *, timeout: float | None) -> int:
    """Fetch the snapshot into `path` atomically; returns its size. Raises on any failure (part file removed).

    A plain-TCP endpoint written as a literal IP, without TLS or a user, is fetched over our own HTTP/2
    connection (etcdctl_py.snapshot_wire: no grpc/protobuf import, less CPU per chunk); everything else, and
    anything that path does not expect before the first chunk, goes through grpc as before.

    Ours: a member that cannot be reached within --dial-timeout ends the save with the client's warning and
    `Error: context deadline exceeded` before any file is made (etcdctl waits for it forever, unless its
    --command-timeout ends first: then the save fails as etcdctl's does)."""
    src = _Source(s, timeout)
    part = path + ".part"
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as e:
        src.close()
        raise ExitError(EXIT_INTERRUPTED, f"could not open {part} ({go_path_error('open', part, e)})") from None
    ok = False
    try:
        _log(zap_line("info", "snapshot/v3_snapshot.go:68", "created temporary db file", path=part))
        size = _fetch(src, fd, endpoint)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        from etcdctl_py.humanize import go_bytes

        _log(
            zap_line(
                "info",
                "snapshot/v3_snapshot.go:91",
                "fetched snapshot",
                endpoint=endpoint,
                size=go_bytes(size),
                took=go_rel_time(time.monotonic() - src.start),
            )
        )
        _rename(part, path)
        ok = True
        _log(zap_line("info", "snapshot/v3_snapshot.go:100", "saved", path=path))
        return size
    finally:
        if fd >= 0:
            os.close(fd)
        if not ok:
            with contextlib.suppress(OSError):  # a part file already gone is what we want
                os.remove(part)


class _Source:
    """Where one save's snapshot comes from: our own HTTP/2 connection (`sock` to `target`) or grpc (`client`)."""

    def __init__(self, s: Any, timeout: float | None):
        from etcdctl_py.cli.globals import SECOND

        self.s = s
        self.start = time.monotonic()
        self.deadline = None if timeout is None else self.start + timeout
        dial_timeout = s.ctx.get("dial-timeout") / SECOND
        # the dial bound is ours only if it ends first; --dial-timeout 0 means none, as in Go
        bounded = dial_timeout > 0 and (self.deadline is None or self.start + dial_timeout < self.deadline)
        self.probe_within = dial_timeout if bounded else None
        self.target = _plain_target(s)
        until = self.start + dial_timeout if self.deadline is None else min(self.start + dial_timeout, self.deadline)
        self.sock = _dial(s, until, bounded)
        if self.sock is None:
            self.target = None  # not a literal IP, or refused while --command-timeout bounds the save: grpc, as etcdctl
        elif self.target is None:
            self.sock.close()  # only checked (TLS, a user): grpc makes the call
            self.sock = None
        self.client = _grpc_client(s, self.probe_within) if self.target is None else None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()

    def open(self) -> tuple[Any, bool]:
        """The snapshot stream, and whether it is our own HTTP/2 one (else grpc's)."""
        if self.target is not None:
            stream = _open_plain(self.s, self.target, self.deadline, self.sock)
            if stream is not None:
                return _translated(stream), True
        self.client = self.client or _grpc_client(self.s, self.probe_within)
        try:
            return _open_grpc(self.client, self.deadline), False
        except Exception as e:
            if _sent_by_member(e):
                # Go's stream opens without waiting for the member; its refusal (auth, no leader, ...) comes
                # from the first Recv, logged as a failed read below
                return _raising(e), False
            go_err = getattr(e, "go_error", str(e))
            _log(
                zap_line(
                    "error",
                    "v3/retry_interceptor.go:135",
                    "streamer failed to create ClientStream",
                    logger="client",
                    error=go_err,
                )
            )
            raise

    def reopen_grpc(self) -> Any:
        """The stream again, through grpc: the server ended ours early, and only grpc learns why."""
        return _open_grpc(self.client or _client(self.s), self.deadline)


def _fetch(src: _Source, fd: int, endpoint: str) -> int:
    """Receive the snapshot into `fd` and check its sha256 trailer; the number of bytes received."""
    stream, plain = src.open()
    _log(zap_line("info", "v3/maintenance.go:211", "opened snapshot stream; downloading", logger="client"))
    _log(zap_line("info", "snapshot/v3_snapshot.go:76", "fetching snapshot", endpoint=endpoint))
    try:
        size, digest_ok = _copy(stream, fd)
        if plain and not (size % 512 == SHA_SIZE and digest_ok):
            # The server ended our HTTP/2 stream early (RST_STREAM, error trailers): its error is only known
            # through grpc, so ask again that way; a good answer replaces what we have.
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            size, digest_ok = _copy(src.reopen_grpc(), fd)
    except Exception as e:
        go_err = getattr(e, "go_error", None)
        _log(
            zap_line(
                "warn",
                "v3/maintenance.go:221",
                "failed to receive from snapshot stream; closing",
                logger="client",
                error=go_err or str(e),
            )
        )
        if go_err is None:
            raise
        # etcdctl ends with the stream's status error as it is (`Error: rpc error: code = ...`), except for
        # its own deadline, which reads `Error: context deadline exceeded`
        from etcdctl_py.client.errors import DeadlineExceeded

        raise ExitError(EXIT_INTERRUPTED, str(e) if isinstance(e, DeadlineExceeded) else go_err) from None
    _log(zap_line("info", "v3/maintenance.go:219", "completed snapshot read; closing", logger="client"))
    if size % 512 != SHA_SIZE:
        raise ExitError(EXIT_INTERRUPTED, f"sha256 checksum not found [bytes: {size}]")
    if not digest_ok:
        raise ExitError(EXIT_INTERRUPTED, f"sha256 checksum mismatch: the snapshot stream from {endpoint} is corrupt")
    return size


def _rename(part: str, path: str) -> None:
    """Move the finished part file into place, as Go's os.Rename, and make the new name durable."""
    try:
        if os.path.isdir(path):  # Go's os.Rename refuses a directory target itself, with EEXIST
            raise FileExistsError(17, "file exists")
        os.rename(part, path)
    except OSError as e:
        text = "file exists" if isinstance(e, FileExistsError) else go_errno_text(e)
        raise ExitError(EXIT_INTERRUPTED, f"could not rename {part} to {path} (rename {part} {path}: {text})") from None
    with contextlib.suppress(OSError):  # the rename is done; a directory some filesystems cannot fsync is no error
        fsync_dir(os.path.dirname(os.path.abspath(path)))


def _client(s: Any) -> Any:
    try:
        return s.client()
    except ExitError as e:
        raise ExitError(EXIT_INTERRUPTED, e.message) from None


def _plain_target(s: Any) -> tuple[int, str, int, str] | None:
    """Where our own HTTP/2 connection can fetch the snapshot: the one endpoint, a literal IP on plain TCP, no TLS
    flag, no user (the same conditions under which the grpc client would dial without TLS or a token)."""
    ctx = s.ctx
    if (
        ctx.values.get("_auth")
        or ctx.get("cert")
        or ctx.get("key")
        or ctx.get("cacert")
        or not ctx.get("insecure-transport")
    ):
        return None
    eps = ctx.get("endpoints")
    if len(eps) != 1:
        return None
    from etcdctl_py.snapshot_wire import plain_target

    return plain_target(eps[0].strip())


def _open_plain(s: Any, target: tuple[int, str, int, str], deadline: float | None, sock: Any) -> Any:
    """The snapshot stream over our own connection (`sock`, from _dial), or None when grpc should make the call."""
    from etcdctl_py.cli.globals import SECOND
    from etcdctl_py.snapshot_wire import Unsupported, open_plain

    ctx = s.ctx
    keepalive = (max(ctx.get("keepalive-time") / SECOND, 10.0), ctx.get("keepalive-timeout") / SECOND)
    try:
        return open_plain(
            target, deadline=deadline, connect_timeout=ctx.get("dial-timeout") / SECOND, keepalive=keepalive, sock=sock
        )
    except Unsupported:
        return None


def _dial(s: Any, until: float, bounded: bool) -> Any:
    """For an endpoint written as a literal IP (plain or TLS): a TCP connection to it, or None (a host name or a
    unix socket; or refused while etcdctl's own --command-timeout bounds the save). When the dial bound is ours
    (`bounded`), refused attempts go on until `until`, and then the save ends as a failed dial (no file made)."""
    from etcdctl_py.snapshot_wire import Unreachable, dial, plain_target

    eps = s.ctx.get("endpoints")
    target = plain_target(eps[0].strip(), ("http://", "https://")) if len(eps) == 1 else None
    if target is None:
        return None
    try:
        return dial(target, until, retry=bounded)
    except Unreachable as e:
        if not bounded:
            return None
        from etcdctl_py.client.errors import DeadlineExceeded
        from etcdctl_py.client.retry import deadline_desc

        _unreachable(target[3], DeadlineExceeded(deadline_desc(e.text)))


def _grpc_client(s: Any, probe_within: float | None) -> Any:
    """The session's grpc client; with `probe_within`, the member must answer it (anything, an error included)
    within that many seconds, else the save ends as a failed dial. A client with a user has already logged in,
    which the Go client bounds by --dial-timeout too."""
    client = _client(s)
    auth = s.ctx.values.get("_auth")
    if probe_within is None or (auth and auth[0] and auth[1]):
        return client
    from etcdctl_py.client.errors import DeadlineExceeded, EtcdError

    logger, client.warn_logger = client.warn_logger, None  # this check's own warning is the snapshot logger's
    try:
        client.maintenance.status(timeout=probe_within)
    except DeadlineExceeded as e:
        _unreachable(client.endpoints[0].authority, e)
    except EtcdError:
        pass  # the member answered: the Snapshot call reports its refusal as etcdctl does
    finally:
        client.warn_logger = logger
    return client


def _unreachable(authority: str, err: Any) -> NoReturn:
    """End the save as etcdctl ends it when its client cannot reach the member within --dial-timeout (as with
    --user, whose login is bounded by it): clientv3's warning, in the snapshot logger's format, then
    `Error: context deadline exceeded`, exit 5."""
    ptr = "0xc000%06x" % (os.getpid() * 0x80 & 0xFFFF80 | 0x100000)  # a Go pointer, as in every client warn line
    _log(
        zap_line(
            "warn",
            "v3/retry_interceptor.go:62",
            "retrying of unary invoker failed",
            logger="client",
            target=f"etcd-endpoints://{ptr}/{authority}",
            attempt=0,
            error=err.go_error,
        )
    )
    raise ExitError(EXIT_INTERRUPTED, str(err))


def _open_grpc(client: Any, deadline: float | None) -> Any:
    from etcdctl_py.client.maintenance import open_snapshot

    return open_snapshot(client, timeout=None if deadline is None else deadline - time.monotonic(), raw=True)


def _sent_by_member(e: Exception) -> bool:
    """A status the member answered with (not a dial failure, which ends as DeadlineExceeded)."""
    from etcdctl_py.client.errors import DeadlineExceeded, EtcdError

    return isinstance(e, EtcdError) and not isinstance(e, DeadlineExceeded)


def _raising(e: Exception) -> Any:
    raise e
    yield  # unreachable: makes this a generator


def _translated(stream: Any) -> Any:
    """Our HTTP/2 stream with its failures as the grpc path reports them (Unavailable, DeadlineExceeded)."""
    from etcdctl_py.snapshot_wire import StreamBroken, StreamTimeout

    try:
        yield from stream
    except StreamBroken as e:
        from etcdctl_py.client.errors import EtcdError

        raise EtcdError(14, e.text) from None
    except StreamTimeout:
        from etcdctl_py.client.errors import DeadlineExceeded

        raise DeadlineExceeded() from None


class _Writer:
    """Writes and hashes the chunks on a second thread. Both release the GIL (a syscall, hashlib on large
    buffers), so they overlap with receiving the next chunks instead of adding to the wall time. Even importing
    hashlib (loading OpenSSL, ~2.5 ms) happens there, while the first chunks are coming in."""

    def __init__(self, fd: int) -> None:
        import threading

        try:
            from _queue import SimpleQueue  # what queue.SimpleQueue is, without queue's own imports
        except ImportError:  # pragma: no cover - other Pythons
            from queue import SimpleQueue

        self.fd = fd
        self.chunks: Any = SimpleQueue()
        self.result: list[Any] = []
        self.written = 0  # bytes out of the queue; the receiver holds back when too far ahead (a slow disk)
        self.thread = threading.Thread(target=self._run, daemon=True, name="snapshot-writer")
        self.thread.start()

    def _run(self) -> None:
        fd, chunks = self.fd, self.chunks
        try:
            import hashlib

            h = hashlib.sha256()
            tail = b""  # the last SHA_SIZE bytes so far: the digest, if the stream ends here
            while (chunk := chunks.get()) is not None:
                blob = memoryview(chunk)
                view = blob
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                self.written += len(blob)
                if len(blob) >= SHA_SIZE:
                    h.update(tail)
                    h.update(blob[:-SHA_SIZE])
                    tail = bytes(blob[-SHA_SIZE:])
                else:
                    data = tail + bytes(blob)
                    h.update(data[:-SHA_SIZE])
                    tail = data[-SHA_SIZE:]
            self.result.append(len(tail) == SHA_SIZE and h.digest() == tail)
        except BaseException as e:  # noqa: BLE001 - re-raised by the receiving thread
            self.result.append(e)
            while chunks.get() is not None:
                pass

    def close(self) -> Any:
        """Stop the thread; its result: whether the digest matched, or the exception it failed with."""
        self.chunks.put(None)
        self.thread.join()
        return self.result[0]


def _copy(stream: Any, fd: int) -> tuple[int, bool]:
    """Write every chunk to fd; (bytes written, appended sha256 matches the data before it)."""
    # Both kinds of stream come with their first chunk received: a thread started before would have competed for
    # the GIL with connecting
    writer = _Writer(fd)
    put, failed = writer.chunks.put, writer.result
    size = 0
    progress = _progress() if _is_tty() else None
    try:
        for resp in stream:
            blob = resp.blob
            put(blob)
            size += len(blob)
            if progress is not None:
                progress.update(len(blob), resp.remaining_bytes)
            if failed:  # the writer failed: stop receiving
                break
            while size - writer.written > _BACKLOG and not failed:  # the disk is slower than the network
                time.sleep(0.002)
    finally:
        result = writer.close()
        if progress is not None:
            progress.close()
    if isinstance(result, BaseException):
        raise result
    return size, bool(result)


def _is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _progress:
    """A rich progress bar on stderr (terminal only): bytes so far, transfer rate and ETA.

    The total is known from the first chunk (its size plus `remaining_bytes`, plus the 32-byte digest)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._p = Progress(
            TextColumn("snapshot"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=False,
        )
        self._task: TaskID | None = None
        self._p.start()

    def update(self, n: int, remaining: int) -> None:
        if self._task is None:
            self._task = self._p.add_task("snapshot", total=n + remaining + SHA_SIZE)
        self._p.advance(self._task, n)

    def close(self) -> None:
        self._p.stop()
