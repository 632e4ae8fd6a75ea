"""`etcdctl make-mirror [options] <destination>`: copy the source cluster (global --endpoints) to a destination
endpoint, then follow its changes; every 30 s print the running count of mirrored operations. Runs until killed
(SIGINT -> 130) or an error (`Error: ...`, exit 1). The loop itself is etcdctl_py/cli/mirror_engine.py.

Ours, on top (defaults unchanged):
* `--max-txn-ops N` (etcdctl 3.6's flag, default 128): split a revision's events into Txns of at most N ops;
* `--until-synced`: exit 0 once the initial copy is done and the watch has caught up with the source;
* a progress bar for the initial copy when stderr is a terminal (rich imported only then);
* `--checkpoint FILE`: remember the last fully mirrored source revision; on restart resume the watch from there
  instead of copying everything again, falling back to a full sync if the source compacted that revision.
* a destination or source that does not answer within --dial-timeout at start is an error (exit 2, `Error: context
  deadline exceeded` after the client's warn line), as etcdctl already reports it with --dest-user / --user;
  without those flags etcdctl waits for it forever, saying nothing (and prints `0` every 30 s);
* with --until-synced, a --command-timeout given on the command line (or ETCDCTL_COMMAND_TIMEOUT) bounds the
  whole run: `Error: context deadline exceeded`, exit 1, if it is not in sync by then.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_BAD_ARGS, EXIT_BAD_CONNECTION, EXIT_ERROR, ExitError, bad_args, die_by_signal
from etcdctl_py.cli.verbkit import arg_bytes, verb

REPORT_INTERVAL = 30.0
CHECKPOINT_EVERY = 1.0  # seconds between checkpoint writes while events flow


def command() -> Command:
    return verb(
        "make-mirror [options] <destination>",
        "Makes a mirror at the destination etcd cluster",
        run,
        Flag.string("prefix", "", "Key-value prefix to mirror"),
        Flag.string(
            "dest-prefix", "", "destination prefix to mirror a prefix to a different prefix in the destination cluster"
        ),
        Flag.bool("no-dest-prefix", False, "mirror key-values to the root of the destination cluster"),
        Flag.string(
            "dest-cert", "", "Identify secure client using this TLS certificate file for the destination cluster"
        ),
        Flag.string("dest-key", "", "Identify secure client using this TLS key file"),
        Flag.string("dest-cacert", "", "Verify certificates of TLS enabled secure servers using this CA bundle"),
        Flag.bool("dest-insecure-transport", True, "Disable transport security for client connections"),
        Flag.string(
            "dest-user", "", "Destination username[:password] for authentication (prompt if password is not supplied)"
        ),
        Flag.string(
            "dest-password",
            "",
            "Destination password for authentication (if this option is used, "
            "--user option shouldn't include password)",
        ),
        Flag.int(
            "max-txn-ops",
            128,
            "Maximum number of operations permitted in a transaction during syncing updates.",
            kind="uint",
            hidden=True,
        ),
        Flag.bool(
            "until-synced",
            False,
            "Exit 0 once the initial copy is done and the watch has caught up with the source",
            hidden=True,
        ),
        Flag.string(
            "checkpoint",
            "",
            "File that records the last mirrored revision; resume from it on "
            "restart (full sync if that revision was compacted)",
            hidden=True,
        ),
    )


def _dest_client(ctx: Context, endpoint: str) -> Any:
    """etcdctl's clientConfig for the destination: global dial/keepalive settings, --dest-* TLS and auth."""
    from etcdctl_py.cli import globals as g
    from etcdctl_py.client import AuthenticationFailed, Client, ConfigError, DeadlineExceeded, TLSConfig

    user = ctx.get("dest-user")
    password = None
    if user:
        password = ctx.get("dest-password")
        if password == "":
            name, sep, pw = user.partition(":")
            if not sep:
                pw = g.ask_password("Destination Password: ")
            user, password = name, pw
    tls = None
    cert, key = ctx.get("dest-cert"), ctx.get("dest-key")
    if bool(cert) != bool(key):  # Go's TLSInfo wants both halves before it reads either file
        raise ExitError(EXIT_BAD_ARGS, f"KeyFile and CertFile must both be present[key: {key}, cert: {cert}]")
    if (
        ctx.get("dest-cert")
        or ctx.get("dest-key")
        or ctx.get("dest-cacert")
        or not ctx.get("dest-insecure-transport")
        or endpoint.strip().startswith(("https://", "unixs://"))
    ):
        tls = TLSConfig(ca_file=ctx.get("dest-cacert"), cert_file=ctx.get("dest-cert"), key_file=ctx.get("dest-key"))
    dial_timeout = ctx.get("dial-timeout") / g.SECOND
    try:
        dst = Client(
            [endpoint],
            dial_timeout=dial_timeout,
            command_timeout=None,
            keepalive_time=ctx.get("keepalive-time") / g.SECOND,
            keepalive_timeout=ctx.get("keepalive-timeout") / g.SECOND,
            tls=tls,
            user=user or None,
            password=password,
            warn_logger=g.client_warn_line,
        )
        if not (user and password):
            _reach(dst, dial_timeout)
        return dst
    except ConfigError as e:
        raise ExitError(EXIT_BAD_ARGS, str(e)) from None
    except (AuthenticationFailed, DeadlineExceeded) as e:
        raise ExitError(EXIT_BAD_CONNECTION, str(e)) from None


def _reach(dst: Any, timeout: float) -> None:
    """Ours: the destination must answer within --dial-timeout. etcdctl checks this only when it logs in
    (--dest-user); without it a destination it cannot reach (down, wrong CA, no client certificate, plain client
    against TLS) makes it wait forever, silently. Any answer from the server counts, an error included: the copy
    reports those as etcdctl does. A miss raises DeadlineExceeded, after the client's warn line, as the login does.
    --dial-timeout 0 means no bound (as in Go): nothing is checked then."""
    from etcdctl_py.client import DeadlineExceeded, EtcdError

    if timeout <= 0:
        return
    try:
        dst.maintenance.status(timeout=timeout)
    except DeadlineExceeded:
        raise
    except EtcdError:
        pass  # an answer all the same: the member is there


def _source_client(ctx: Context, s: Any) -> Any:
    """The source (global flags). As with the destination, ours: it must answer within --dial-timeout. etcdctl
    checks that only when --user makes it log in (exit 2 when it cannot connect, as here); otherwise it waits for
    a source it cannot reach forever."""
    from etcdctl_py.cli import globals as g
    from etcdctl_py.client import DeadlineExceeded

    src = s.client()
    auth = ctx.values.get("_auth")
    if not (auth and auth[0] and auth[1]):  # a login has already reached it (within --dial-timeout)
        try:
            _reach(src, ctx.get("dial-timeout") / g.SECOND)
        except DeadlineExceeded as e:
            raise ExitError(EXIT_BAD_CONNECTION, str(e)) from None
    return src


def run(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g
    from etcdctl_py.cli.mirror_engine import Mirror, MirrorError

    if len(ctx.args) != 1:
        raise bad_args("make-mirror takes one destination argument")
    if ctx.get("max-txn-ops") < 1:
        raise bad_args("--max-txn-ops must be at least 1")
    dst = _dest_client(ctx, ctx.args[0])
    s = g.setup(ctx)
    src = _source_client(ctx, s)
    bound = s.command_timeout if ctx.get("until-synced") and ctx.changed("command-timeout") else None
    prefix = arg_bytes(ctx.get("prefix"))
    m = Mirror(src, dst, prefix=prefix, dest_prefix=b"", max_txn_ops=ctx.get("max-txn-ops"))
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(REPORT_INTERVAL):
            sys.stdout.write(f"{m.total}\n")
            sys.stdout.flush()

    threading.Thread(target=report, daemon=True).start()
    ckpt_path = ctx.get("checkpoint")
    saver = _CheckpointSaver(ckpt_path, m) if ckpt_path else None
    killed_by = 0
    try:
        return _in_worker(lambda: _mirror(ctx, m, saver), bound)
    except MirrorError as e:
        raise ExitError(EXIT_ERROR, str(e)) from None
    except KeyboardInterrupt:
        killed_by = signal.SIGINT
        raise
    except _Terminated:
        killed_by = signal.SIGTERM
        raise SystemExit(143) from None
    finally:
        stop.set()
        if saver is not None:
            saver.flush()
        m.close()
        if killed_by:
            die_by_signal(killed_by)


class _Terminated(BaseException):
    """SIGTERM while a checkpoint is kept: unwind (saving it), then die by the signal."""


def _in_worker(fn: Any, timeout: float | None = None) -> int:
    """Run fn in a thread so that SIGINT/SIGTERM reach the main thread at once (a blocked gRPC stream read
    would hold them off), then return its result or raise its exception here. After `timeout` seconds (if
    given), give up on it: `context deadline exceeded` (the thread is left to the process's exit)."""
    import time

    result: list[Any] = []
    done = threading.Event()
    deadline = None if timeout is None else time.monotonic() + timeout

    def body() -> None:
        try:
            result.append(("ok", fn()))
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            result.append(("err", e))
        finally:
            done.set()

    threading.Thread(target=body, daemon=True, name="make-mirror").start()
    while not done.wait(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))):
        if deadline is not None and time.monotonic() >= deadline:
            raise ExitError(EXIT_ERROR, "context deadline exceeded")
    kind, value = result[0]
    if kind == "err":
        raise value
    return value


def _dest_prefix(ctx: Context) -> bytes:
    if ctx.get("no-dest-prefix") and ctx.get("dest-prefix"):
        raise bad_args("`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one")
    if not ctx.get("no-dest-prefix") and not ctx.get("dest-prefix"):
        return arg_bytes(ctx.get("prefix"))
    return arg_bytes(ctx.get("dest-prefix"))


def _mirror(ctx: Context, m: Any, saver: _CheckpointSaver | None) -> int:
    from etcdctl_py.cli.mirror_engine import CheckpointCompacted

    until_synced = ctx.get("until-synced")
    resume = saver.load_matching(ctx) if saver is not None else None
    if resume is None:
        rev = m.base_revision()
        m.dest_prefix = _dest_prefix(ctx)  # etcdctl checks this only after the syncer's first Get
        _full_sync(m, rev)
        if saver is not None:
            saver.mark(rev, force=True)
    else:
        m.dest_prefix = _dest_prefix(ctx)
        rev = resume
        m.revision = rev
    synced_note: list[int] = []

    def on_synced(r: int) -> bool:
        synced_note.append(r)
        return True

    kw = dict(on_synced=on_synced if until_synced else None, on_progress=saver.mark if saver is not None else None)
    try:
        m.watch(rev + 1, from_checkpoint=resume is not None, **kw)
    except CheckpointCompacted as e:
        sys.stderr.write(
            f"checkpoint revision {e.revision} was compacted on the source (compacted revision "
            f"{e.compact_revision}); falling back to a full sync\n"
        )
        sys.stderr.flush()
        rev = m.base_revision()
        _full_sync(m, rev)
        if saver is not None:
            saver.mark(rev, force=True)
        m.watch(rev + 1, **kw)
    if until_synced:
        sys.stdout.write(f"in sync at source revision {synced_note[-1]}: {m.total} operations mirrored\n")
        sys.stdout.flush()
    return 0


def _full_sync(m: Any, rev: int) -> None:
    if not _stderr_is_tty():
        m.full_sync(rev)
        return
    bar = _Bar(m.count_at(rev))
    try:
        m.full_sync(rev, on_key=bar.advance)
    finally:
        bar.close()


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Bar:
    """rich progress bar for the initial copy (terminal only; rich is imported here and nowhere else)."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._p = Progress(
            TextColumn("initial sync"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("keys ETA"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=False,
        )
        self._t = self._p.add_task("sync", total=total)
        self._n = 0
        self._p.start()

    def advance(self) -> None:
        self._n += 1
        if self._n % 64 == 0:
            self._p.update(self._t, completed=self._n)

    def close(self) -> None:
        self._p.update(self._t, completed=self._n)
        self._p.stop()


class _CheckpointSaver:
    """Writes the checkpoint at most once a second while revisions advance, and on the way out (SIGINT/SIGTERM)."""

    def __init__(self, path: str, m: Any):
        self.path, self.m = path, m
        self._last_write = 0.0
        self._written = -1
        self._ctx_keys: tuple[str, str] = ("", "")
        signal.signal(signal.SIGTERM, self._on_term)

    def _on_term(self, signum: int, frame: Any) -> None:
        raise _Terminated()  # unwinds through run()'s finally, which flushes the checkpoint

    def load_matching(self, ctx: Context) -> int | None:
        from etcdctl_py.cli.mirror_engine import Checkpoint, MirrorError

        cp = Checkpoint.load(self.path)
        prefix = ctx.get("prefix")
        dest = "" if ctx.get("no-dest-prefix") else (ctx.get("dest-prefix") or prefix)
        self._ctx_keys = (prefix, dest)
        cluster = self.m.base_revision() and self.m.cluster_id
        if cp is None:
            return None
        if (cp.cluster_id, cp.prefix, cp.dest_prefix) != (cluster, prefix, dest):
            raise MirrorError(
                f"checkpoint {self.path} belongs to another mirror (source cluster "
                f"{cp.cluster_id:x}, prefix {cp.prefix!r} -> {cp.dest_prefix!r}); this one is "
                f"cluster {cluster:x}, prefix {prefix!r} -> {dest!r}"
            )
        return cp.revision

    def mark(self, rev: int, force: bool = False) -> None:
        import time

        now = time.monotonic()
        if force or now - self._last_write >= CHECKPOINT_EVERY:
            self._write(rev)
            self._last_write = now

    def flush(self) -> None:
        if self.m.revision > 0 and self.m.revision != self._written:
            self._write(self.m.revision)

    def _write(self, rev: int) -> None:
        from etcdctl_py.cli.mirror_engine import Checkpoint

        if not self.m.cluster_id:
            return
        try:
            Checkpoint(self.m.cluster_id, self._ctx_keys[0], self._ctx_keys[1], rev).save(self.path)
        except OSError as e:
            raise ExitError(EXIT_ERROR, f"cannot write checkpoint {self.path}: {e.strerror}") from None
        self._written = rev
