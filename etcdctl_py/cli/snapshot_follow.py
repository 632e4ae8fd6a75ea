"""`etcdctl-py snapshot follow DIR` (ours, hidden from 3.5.1's help): a full snapshot plus watch deltas in DIR,
for point-in-time restore (`etcdutl-py snapshot restore DIR --to-revision R`).

It saves a full snapshot as `snapshot save` does (part file, sha256 check, fsync, rename), then watches every
key from the snapshot's revision + 1 (with prev_kv, kept in the records for inspection; restore does not need
it) and appends each watch response (whole revisions) as one CRC32C-framed
record to the current delta segment (snapshot/segments.py). Records are fsynced at least every
--fsync-interval and at rotation; a progress request every tick wakes the loop when no events come. A restart
resumes after the last intact record (a torn tail is cut off; the server sends what it held again). When the
server has compacted past that point, a new full snapshot is taken and the revisions in between are recorded
as a gap in `gaps.jsonl`. SIGTERM / SIGINT stop it cleanly (everything received is fsynced, exit 0).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from etcdctl_py.cli.cobra import Command, Context, Flag
from etcdctl_py.cli.errors import EXIT_ERROR, EXIT_INTERRUPTED, ExitError, bad_args
from etcdctl_py.storage.fileutil import fsync_dir

if TYPE_CHECKING:
    from etcdctl_py.snapshot import segments as seg_mod

# The chain modules (and crc32c, ~40 ms to import) are loaded when follow runs, not whenever the `snapshot`
# command tree is built (`snapshot save` must stay lean): hence the imports inside the functions below.

SECOND = 1_000_000_000
_TMP_FULL = ".full-incoming.db"


LONG = (
    "Saves a full snapshot into <directory> (as `snapshot save` does), then watches every key from its revision\n"
    "and appends the events to CRC-checked delta segments there, fsynced at least every --fsync-interval.\n"
    "Runs until SIGTERM or SIGINT; a restart resumes after the last intact record. If the server has compacted\n"
    "past that point, a new full snapshot is taken and the missing revisions are recorded as a gap.\n"
    "Restore any covered revision with `etcdutl-py snapshot restore <directory> --to-revision R` (or\n"
    "--to-time); `etcdutl-py snapshot status <directory>` shows the chain.\n"
)


def command() -> Command:
    return Command(
        "follow <directory>",
        short="Keeps a full snapshot plus watch deltas in a directory, for restore to any revision or time",
        long=LONG,
        hidden=True,
        run=run,
        flags=[
            Flag.duration("fsync-interval", SECOND, "Fsync received deltas at least this often"),
            Flag.int("segment-bytes", 64 << 20, "Start a new delta segment after this many bytes"),
            Flag.duration("segment-age", 3600 * SECOND, "Start a new delta segment after this long"),
            Flag.duration("full-every", 24 * 3600 * SECOND, "Take a new full snapshot this often (0: never)"),
            Flag.int("full-every-bytes", 1 << 30, "New full snapshot after this many bytes of deltas (0: never)"),
            Flag.int("keep", 0, "After each full snapshot, keep only the N newest fulls and the deltas they need"),
            Flag.string("max-age", "", "After each full snapshot, remove fulls older than this (e.g. 30d)"),
        ],
    )


class Options:
    def __init__(self, ctx: Context) -> None:
        self.fsync_interval = ctx.get("fsync-interval") / SECOND
        self.segment_bytes = ctx.get("segment-bytes")
        self.segment_age = ctx.get("segment-age") / SECOND
        self.full_every = ctx.get("full-every") / SECOND
        self.full_every_bytes = ctx.get("full-every-bytes")
        self.keep = ctx.get("keep")
        self.max_age: float | None = None
        if ctx.get("max-age"):
            from etcdctl_py.cli import snapshot_retention

            try:
                self.max_age = snapshot_retention.parse_age(ctx.get("max-age"))
            except ValueError as e:
                raise bad_args(str(e)) from None
        if self.keep < 0:
            raise bad_args("--keep must be zero or positive")
        if self.fsync_interval <= 0:
            raise bad_args("--fsync-interval must be positive")


def run(ctx: Context) -> int:
    from etcdctl_py.cli import globals as g

    if len(ctx.args) != 1:
        raise bad_args("snapshot follow expects one argument (the directory)")
    opts = Options(ctx)
    s = g.setup(ctx)
    directory = ctx.args[0]
    try:
        os.makedirs(directory, 0o700, exist_ok=True)
    except OSError as e:
        raise ExitError(EXIT_ERROR, f"mkdir {directory}: {e.strerror}") from None
    lock_fd = _lock(directory)
    try:
        return Follower(s, directory, opts).run()
    finally:
        os.close(lock_fd)


def _lock(directory: str) -> int:
    """One follower per directory: an flock on DIR/.follow.lock, held while running."""
    import fcntl

    from etcdctl_py.snapshot import chain as chain_mod

    fd = os.open(os.path.join(directory, chain_mod.LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ExitError(EXIT_ERROR, f"another snapshot follow is running on {directory}") from None
    return fd


class _Compacted(Exception):
    def __init__(self, rev: int) -> None:
        super().__init__(rev)
        self.rev = rev


class _Stop(BaseException):
    """Raised by the signal handler while a full snapshot is downloading (its part file is removed)."""


def say(msg: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} follow: {msg}\n")
    sys.stderr.flush()


class Follower:
    def __init__(self, s: Any, directory: str, opts: Options) -> None:
        self.s = s
        self.dir = directory
        self.opts = opts
        self.stop = False
        self.in_full = False
        self.stream: Any = None
        self.writer: seg_mod.SegmentWriter | None = None
        self.last_sync = time.monotonic()
        self.last_full_time = 0.0
        self.delta_bytes = 0  # since the newest full
        self.known_leases: set[int] = set()
        self.server_rev = 0
        self.tty = _is_tty()

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> int:
        from etcdctl_py.snapshot import chain as chain_mod

        old = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            resume = self._resume()
            if resume == 0:
                resume = self._take_full()
            while not self.stop:
                try:
                    resume = self._follow(resume)
                except _Compacted as c:
                    say(f"the server has compacted past revision {resume + 1} (compact revision {c.rev})")
                    full = self._take_full()
                    if full > resume + 1:
                        chain_mod.record_gap(
                            self.dir, resume + 1, full - 1, f"compacted on the server (at {c.rev}) before follow got it"
                        )
                        say(f"recorded gap: revisions {resume + 1}..{full - 1} cannot be restored")
                    resume = max(resume, full)
        except _Stop:
            pass
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)
            self._close_writer()
        if self.tty:
            sys.stderr.write("\n")
        say(f"stopped; revisions up to {self._durable()} are in {self.dir}")
        return 0

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stop = True
        if self.in_full:
            raise _Stop()

    def _durable(self) -> int:
        from etcdctl_py.snapshot import chain as chain_mod

        ch = chain_mod.load(self.dir)
        return ch.newest()

    def _resume(self) -> int:
        """The revision to resume after: the end of the newest segment or the newest full (0: no full yet).
        The newest segment's damaged or torn tail is cut off: the server sends those revisions again."""
        from etcdctl_py.snapshot import chain as chain_mod
        from etcdctl_py.snapshot import segments as seg_mod

        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(self.dir, _TMP_FULL))
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(self.dir, _TMP_FULL + ".part"))
        ch = chain_mod.load(self.dir)
        if ch.segments:
            last = ch.segments[-1]
            if last.good_end == 0 or (not last.records and last.damage):
                os.remove(last.path)  # created but its header never made it to disk
                fsync_dir(self.dir)
                ch = chain_mod.load(self.dir)
            elif last.damage:
                say(
                    f"cut {last.size - last.good_end} bytes off {os.path.basename(last.path)} at offset "
                    f"{last.good_end} ({last.damage}); resuming after revision {last.last_rev}"
                )
                seg_mod.truncate_tail(last)
                ch = chain_mod.load(self.dir)
        if not ch.fulls:
            return 0
        newest = ch.fulls[-1]
        self.last_full_time = newest.time
        self.known_leases = _lease_ids(newest.path)
        self.delta_bytes = sum(s.size for s in ch.segments if s.first_rev > newest.revision)
        resume = newest.revision
        if ch.segments and ch.segments[-1].last_rev > resume:
            resume = ch.segments[-1].last_rev
        say(f"resuming after revision {resume} (newest full snapshot at revision {newest.revision})")
        return resume

    # ------------------------------------------------------------------ full snapshots

    def _take_full(self) -> int:
        """Save a full snapshot into the directory; its revision."""
        from etcdctl_py.cli import snapshot_save
        from etcdctl_py.snapshot import chain as chain_mod

        tmp = os.path.join(self.dir, _TMP_FULL)
        eps = [e.strip() for e in self.s.ctx.get("endpoints")]
        self.in_full = True
        try:
            if self.stop:
                raise _Stop()
            # the client fails over between the endpoints like every verb's; the log names them all
            snapshot_save.save(self.s, tmp, ",".join(eps), timeout=None)
        except ExitError:
            raise
        except Exception as e:  # noqa: BLE001 - a failed full ends follow like a failed save (exit 5)
            raise ExitError(EXIT_INTERRUPTED, str(e) or type(e).__name__) from None
        finally:
            self.in_full = False
        try:
            rev = chain_mod.db_revision(tmp)
        except Exception as e:  # noqa: BLE001 - a snapshot we cannot read is a failed save
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise ExitError(EXIT_INTERRUPTED, f"the snapshot cannot be read: {e}") from None
        now = time.time()
        existing = [f for f in chain_mod.load(self.dir).fulls if f.revision == rev]
        if existing:
            os.remove(tmp)  # nothing written since that one: keep it
            path = existing[0].path
        else:
            path = os.path.join(self.dir, chain_mod.full_name(rev, now))
            os.rename(tmp, path)
        fsync_dir(self.dir)
        self.last_full_time = now
        self.delta_bytes = 0
        self.known_leases = _lease_ids(path)
        say(f"full snapshot {os.path.basename(path)} at revision {rev}")
        self._retention()
        return rev

    def _retention(self) -> None:
        from etcdctl_py.snapshot import chain as chain_mod

        if not self.opts.keep and self.opts.max_age is None:
            return
        ch = chain_mod.load(self.dir)
        for path in chain_mod.retention(ch, self.opts.keep, self.opts.max_age):
            os.remove(path)
            say(f"removed {os.path.basename(path)} (retention)")
        fsync_dir(self.dir)

    def _full_due(self) -> bool:
        o = self.opts
        if o.full_every > 0 and time.time() - self.last_full_time >= o.full_every:
            return True
        return o.full_every_bytes > 0 and self.delta_bytes >= o.full_every_bytes

    # ------------------------------------------------------------------ the watch

    def _follow(self, start: int) -> int:
        """Append watch events after revision `start` until stopped; returns the last revision written."""
        client = self.s.client()
        stream = client.watch.stream()
        stream.watch(b"\0", b"\0", start_revision=start + 1, prev_kv=True)
        self.stream = stream
        done = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(stream, done), daemon=True, name="follow-ticker")
        ticker.start()
        last = start
        try:
            for resp in stream:
                if resp.canceled:
                    if resp.compact_revision:
                        raise _Compacted(resp.compact_revision)
                    from etcdctl_py.client.watch import cancel_error

                    raise ExitError(EXIT_ERROR, cancel_error(resp))
                self.server_rev = max(self.server_rev, resp.header.revision)
                if resp.events:
                    last = self._append(resp.events, last)
                self._housekeeping()
                if self.stop:
                    break
                if self._full_due():
                    self._close_writer()
                    self._take_full()
        finally:
            done.set()
            stream.close()
            ticker.join()
            self._close_writer()
        return last

    def _tick(self, stream: Any, done: threading.Event) -> None:
        """Wake the loop (a progress request) every tick; close the stream once a signal asked to stop."""
        period = min(self.opts.fsync_interval / 2, 1.0)
        next_req = time.monotonic() + period
        while not done.wait(0.05):
            if self.stop:
                stream.close()
                return
            if time.monotonic() >= next_req:
                next_req = time.monotonic() + period
                with contextlib.suppress(Exception):
                    stream.request_progress()

    def _append(self, events: Any, last: int) -> int:
        from etcdctl_py.proto.mvccpb import kv_pb2
        from etcdctl_py.snapshot import segments as seg_mod

        out: list[tuple[int, int, int, bytes, bytes]] = []
        leases = []
        rev, sub = 0, 0
        for ev in events:
            kv = ev.kv
            r = kv.mod_revision
            if r <= last:
                continue  # already recorded (a resumed stream may repeat a revision)
            sub = sub + 1 if r == rev else 0
            rev = r
            prev = ev.prev_kv.SerializeToString() if ev.HasField("prev_kv") else b""
            if ev.type == 1:
                out.append((seg_mod.DELETE, r, sub, kv_pb2.KeyValue(key=kv.key).SerializeToString(), prev))
            else:
                out.append((seg_mod.PUT, r, sub, kv.SerializeToString(), prev))
                if kv.lease and kv.lease not in self.known_leases:
                    leases.append(kv.lease)
        if not out:
            return last
        w = self._writer_for(out[0][1])
        for lid in leases:
            self._record_lease(w, lid)
        rec = seg_mod.encode_events(out, time.time_ns())
        w.append(rec, out[-1][1])
        self.delta_bytes += len(rec)
        return out[-1][1]

    def _record_lease(self, w: seg_mod.SegmentWriter, lid: int) -> None:
        """Remember a lease granted after the full with its TTL, so restore can recreate it."""
        from etcdctl_py.snapshot import segments as seg_mod

        self.known_leases.add(lid)
        try:
            ttl = self.s.client().lease.time_to_live(lid).grantedTTL
        except Exception:  # noqa: BLE001 - the lease may be gone already; its keys then keep only the ID
            return
        if ttl > 0:
            w.append(seg_mod.encode_lease(lid, ttl, time.time_ns()))

    def _writer_for(self, first_rev: int) -> seg_mod.SegmentWriter:
        from etcdctl_py.snapshot import segments as seg_mod

        w = self.writer
        o = self.opts
        if w is not None and (w.size >= o.segment_bytes or time.time() - w.created >= o.segment_age):
            self._close_writer()
            w = None
        if w is None:
            w = self.writer = seg_mod.SegmentWriter(self.dir, first_rev)
        return w

    def _close_writer(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            self.last_sync = time.monotonic()

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if self.writer is not None and now - self.last_sync >= self.opts.fsync_interval:
            self.writer.sync()
            self.last_sync = now
            if self.tty:
                self._progress()

    def _progress(self) -> None:
        w = self.writer
        durable = w.durable_rev if w is not None else 0
        lag = max(self.server_rev - durable, 0)
        sys.stderr.write(f"\rfollow {self.dir}: durable revision {durable}, server {self.server_rev}, lag {lag}  ")
        sys.stderr.flush()


def _lease_ids(db_path: str) -> set[int]:
    """The lease IDs in a snapshot's lease bucket (restore keeps these leases as they are)."""
    from etcdctl_py.storage import backend, bbolt

    try:
        with bbolt.open_db(db_path) as db, db.view() as tx:
            b = tx.bucket(backend.LEASE)
            return {int.from_bytes(k, "big", signed=True) for k in b.keys()} if b is not None else set()
    except Exception:  # noqa: BLE001 - then every lease seen is looked up
        return set()


def _is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
