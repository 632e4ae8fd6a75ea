"""The mirroring loop behind `etcdctl make-mirror` (etcd's mirror.Syncer + etcdctl's makeMirror), usable alone.

Phase 1 (full sync): learn the source revision R (a Get of "foo", as etcd's syncer does), page through the keys at
R, 1000 at a time, and Put each one on the destination, in key order -- one Put per key like etcdctl, so the
destination's revisions come out the same. Each Put waits for the one before: etcd handles the requests of one
connection concurrently, so Puts in flight together commit in any order (measured: hundreds of out-of-order
revisions in 3,000 Puts 16 deep), and the destination would no longer match etcdctl's revision for revision.
Speed comes from a cheap round trip instead: only the key and value columns of a page are decoded, and the
responses of the writes not at all.
Phase 2 (updates): watch the source from R+1 and apply each revision's events as one destination Txn, split at
`max_txn_ops` operations (etcdctl 3.6's --max-txn-ops).
The watch is read ahead into memory by a thread, as clientv3 does, so a slow destination never leaves a backlog
on the source, where a compaction would cancel the lagging watcher.

Key rewriting is etcdctl's `strings.Replace(key, prefix, destPrefix, 1)`: the first occurrence, anywhere.

Ours: a checkpoint (last fully mirrored source revision, saved atomically) to resume from, with a full-sync
fallback when that revision was compacted; an "in sync" signal (a watch progress notification arriving after
every event before it was applied), used by --until-synced.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from etcdctl_py.proto.etcdserverpb import rpc_pb2
from etcdctl_py.storage.fileutil import fsync_dir

if TYPE_CHECKING:
    from etcdctl_py.client import Client
    from etcdctl_py.client.watch import WatchStream

BATCH_LIMIT = 1000
PAGES_AHEAD = 1024  # etcd's syncer buffers this many pages of the initial copy
COMPACTED = "etcdserver: mvcc: required revision has been compacted"
_END = object()  # end of a read-ahead queue


class MirrorError(Exception):
    """The mirror stopped; str() is what etcdctl prints after `Error: `."""


class CheckpointCompacted(Exception):
    def __init__(self, revision: int, compact_revision: int):
        super().__init__(revision, compact_revision)
        self.revision, self.compact_revision = revision, compact_revision


@dataclass
class Checkpoint:
    """What --checkpoint FILE holds: enough to refuse a file that belongs to another mirror."""

    cluster_id: int
    prefix: str
    dest_prefix: str
    revision: int

    @classmethod
    def load(cls, path: str) -> Checkpoint | None:
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise MirrorError(f"cannot read checkpoint {path}: {e}") from None
        try:
            return cls(int(d["source_cluster_id"]), str(d["prefix"]), str(d["dest_prefix"]), int(d["revision"]))
        except (KeyError, TypeError, ValueError):
            raise MirrorError(f"cannot read checkpoint {path}: not a make-mirror checkpoint") from None

    def save(self, path: str) -> None:
        """Atomically: write a temporary sibling, fsync, rename, fsync the directory."""
        data = (
            json.dumps(
                {
                    "version": 1,
                    "source_cluster_id": self.cluster_id,
                    "prefix": self.prefix,
                    "dest_prefix": self.dest_prefix,
                    "revision": self.revision,
                }
            )
            + "\n"
        )
        d = os.path.dirname(os.path.abspath(path))
        tmp = os.path.join(d, f".{os.path.basename(path)}.tmp{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        with contextlib.suppress(OSError):  # the rename is done; a directory some filesystems cannot fsync is no error
            fsync_dir(d)


class Mirror:
    def __init__(self, src: Client, dst: Client, *, prefix: bytes, dest_prefix: bytes, max_txn_ops: int = 128):
        self.src, self.dst = src, dst
        self.prefix, self.dest_prefix = prefix, dest_prefix
        self.max_txn_ops = max_txn_ops
        self.total = 0  # operations mirrored (etcdctl's 30-second count)
        self.revision = 0  # every source event up to this revision is on the destination
        self.cluster_id = 0
        self._watch: WatchStream | None = None

    # ------------------------------------------------------------------ helpers
    def rewrite(self, key: bytes) -> bytes:
        return key.replace(self.prefix, self.dest_prefix, 1)

    def _range(self) -> tuple[bytes, bytes]:
        from etcdctl_py.client.kv import prefix_end

        if not self.prefix:
            return b"\x00", b"\x00"
        return self.prefix, prefix_end(self.prefix)

    def _send(self, method: str, req: rpc_pb2.PutRequest | rpc_pb2.TxnRequest) -> None:
        """One destination write, waited for (the next one is sent after it: the destination's revisions come out
        in the source's order, as etcdctl's do). The response is not decoded: only its arrival matters."""
        try:
            self.dst.kv.write_unread(method, req, timeout=None)
        except Exception as e:  # noqa: BLE001 - ends the mirror with etcdctl's error line
            raise MirrorError(str(e)) from None

    def _txn(self, ops: list[rpc_pb2.RequestOp]) -> None:
        self._send("Txn", rpc_pb2.TxnRequest(success=ops))

    # ------------------------------------------------------------------ phase 1
    def base_revision(self) -> int:
        """etcd's syncer: the revision of a Get("foo") (so read access to "foo" is needed, as in etcdctl)."""
        try:
            resp = self.src.kv.range(b"foo", timeout=None)
        except Exception as e:  # noqa: BLE001 - ends the mirror with etcdctl's error line
            raise MirrorError(str(e)) from None
        self.cluster_id = resp.header.cluster_id
        return resp.header.revision

    def count_at(self, rev: int) -> int:
        key, end = self._range()
        return self.src.kv.range(key, end, revision=rev, count_only=True, timeout=None).count

    def full_sync(self, rev: int, on_key: Callable[[], None] | None = None) -> None:
        """Copy every key as of `rev`, one Put each, in key order.

        The pages are read ahead by a thread (up to PAGES_AHEAD of them), as etcd's syncer does: the reads of
        revision `rev` finish long before a slow copy does, so a compaction during the copy does not cut it short
        (the watch from `rev`+1 reports it afterwards, as in etcdctl). A failed read ends the copy after the pages
        read before it, with that read's error."""
        stop = threading.Event()
        pages: queue.Queue = queue.Queue(maxsize=PAGES_AHEAD)
        threading.Thread(target=self._read_pages, args=(rev, pages, stop), daemon=True, name="mirror-base").start()
        put, prefix, dest = rpc_pb2.PutRequest, self.prefix, self.dest_prefix
        try:
            for keys, values in _consume(pages):
                for key, value in zip(keys, values, strict=True):
                    self._send("Put", put(key=key.replace(prefix, dest, 1), value=value))
                    self.total += 1  # written by this thread only; the 30 s report just reads it
                    if on_key is not None:
                        on_key()
        finally:
            stop.set()
        self.revision = rev

    def _read_pages(self, rev: int, pages: queue.Queue, stop: threading.Event) -> None:
        def hand(item: object) -> bool:
            while not stop.is_set():
                try:
                    pages.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        key, end = self._range()
        while True:
            req = rpc_pb2.RangeRequest(key=key, range_end=end, limit=BATCH_LIMIT, revision=rev)
            try:
                keys, values, more = _page(self.src.kv.range_raw(req, timeout=None))
            except Exception as e:  # noqa: BLE001 - handed to the copying thread
                hand(MirrorError(str(e)))
                return
            if not hand((keys, values)):
                return
            if not more or not keys:
                hand(_END)
                return
            key = keys[-1] + b"\x00"

    # ------------------------------------------------------------------ phase 2
    def watch(
        self,
        start_rev: int,
        *,
        on_synced: Callable[[int], bool] | None = None,
        on_progress: Callable[[int], None] | None = None,
        from_checkpoint: bool = False,
    ) -> None:
        """Apply source events from `start_rev` on, until an error (raised) or `on_synced` returns True.

        `on_synced(rev)` is called once the watch has caught up with the source (see `_SyncDetector`);
        `on_progress(rev)` after each applied revision.
        `from_checkpoint`: a compaction past `start_rev` raises CheckpointCompacted instead of MirrorError.
        """
        from etcdctl_py.client.watch import is_progress_notify

        key, end = self._range()
        stream = self.src.watch.stream(require_leader=False)
        self._watch = stream
        detector = _SyncDetector(self, stream, on_synced) if on_synced is not None else None
        if detector is not None:
            stream.on_created = lambda _wid: detector.start()
        stream.watch(key, end, start_revision=start_rev)
        try:
            for wr in _drained(stream):
                if wr.compact_revision != 0:
                    if from_checkpoint and self.revision < start_rev:
                        raise CheckpointCompacted(start_rev - 1, wr.compact_revision)
                    raise MirrorError(COMPACTED)
                if wr.canceled:
                    raise MirrorError(wr.cancel_reason or "watch canceled by the server")
                if is_progress_notify(wr):
                    if detector is not None and detector.progress(wr.header.revision) and detector.synced():
                        return
                    continue
                self._apply(wr.events, on_progress)
                if detector is not None and detector.applied() and detector.synced():
                    return
        except Exception as e:
            if isinstance(e, (MirrorError, CheckpointCompacted)):
                raise
            raise MirrorError(str(e)) from None
        finally:
            if detector is not None:
                detector.stop.set()
            stream.close()
        raise MirrorError("watch closed by the server")

    def _apply(self, events, on_progress: Callable[[int], None] | None) -> None:
        ops: list[rpc_pb2.RequestOp] = []
        last = 0
        for ev in events:
            rev = ev.kv.mod_revision
            if last and rev > last:
                self._txn(ops)
                ops = []
                self._done(last, on_progress)
            last = rev
            if len(ops) == self.max_txn_ops:
                self._txn(ops)
                ops = []
            if ev.type == 0:  # PUT
                ops.append(
                    rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=self.rewrite(ev.kv.key), value=ev.kv.value))
                )
            else:
                ops.append(
                    rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=self.rewrite(ev.kv.key)))
                )
            self.total += 1
        if ops:
            self._txn(ops)
        if last:
            self._done(last, on_progress)

    def _done(self, rev: int, on_progress: Callable[[int], None] | None) -> None:
        self.revision = rev
        if on_progress is not None:
            on_progress(rev)

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()


def _page(raw: bytes) -> tuple[list[bytes], list[bytes], bool]:
    """(keys, values, more) of a serialized RangeResponse page: only the two columns the copy needs are decoded
    (etcdctl_py/output/fastkv.py), not a message object per key; the whole message if it cannot be split."""
    from etcdctl_py.output.fastkv import split_range

    parts = split_range(raw)
    if parts is None:
        resp = rpc_pb2.RangeResponse.FromString(raw)
        return [kv.key for kv in resp.kvs], [kv.value for kv in resp.kvs], resp.more
    keys: list[bytes] = []
    values: list[bytes] = []
    for k, v in parts.columns(("key", "value")):
        keys += k
        values += v
    return keys, values, parts.head.more


def _drained(stream: Iterable[rpc_pb2.WatchResponse]) -> Iterator[rpc_pb2.WatchResponse]:
    """Yield the stream's responses, read ahead by a thread into an unbounded queue, as clientv3's watcher buffers
    them: while a destination write is slow, the source keeps sending, so a backlog is not left on the server, where
    etcd would drop the lagging watcher once it compacts past it (etcdctl keeps mirroring then)."""
    q: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        try:
            for wr in stream:
                q.put(wr)
        except BaseException as e:  # noqa: BLE001 - re-raised by the consumer, in order
            q.put(e)
        q.put(_END)

    threading.Thread(target=read, daemon=True, name="mirror-watch").start()
    yield from _consume(q)


def _consume(q: queue.Queue | queue.SimpleQueue) -> Iterator:
    """What a reader thread put on `q`, in order, up to _END; an exception it put there is raised here."""
    while True:
        item = q.get()
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


class _SyncDetector:
    """Decides when the watch has caught up with the source (for --until-synced).

    Target T: the source revision just after the watch was created. Caught up when an applied event has a revision
    >= T, or when two progress notifications in a row (requested every 0.3 s, the first one 0.3 s after creation)
    arrive with no event between them and report a revision >= T. Before etcd 3.5.8 a requested progress
    notification is answered at once, even while a new watcher's backlog is still being sent (every 100 ms by the
    server's sync loop), so one notification alone does not prove that every event before it was delivered.
    """

    PERIOD = 0.3

    def __init__(self, m: Mirror, stream: WatchStream, on_synced: Callable[[int], bool]):
        self.m, self.stream, self.on_synced = m, stream, on_synced
        self.target = 0
        self.stop = threading.Event()
        self._events = 0
        self._notifies = 0

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True, name="mirror-sync").start()

    def _run(self) -> None:
        try:
            self.target = self.m.src.kv.range(b"foo", count_only=True, timeout=None).header.revision
        except Exception:  # noqa: BLE001 - the watch loop reports source failures
            return
        while not self.stop.wait(self.PERIOD):
            self.stream.request_progress()

    def applied(self) -> bool:
        self._events += 1
        return self.target > 0 and self.m.revision >= self.target

    def progress(self, rev: int) -> bool:
        quiet = self._events == 0 and self._notifies > 0
        self._events = 0
        self._notifies += 1
        if self.target > 0 and rev >= self.target and quiet:
            self.m.revision = max(self.m.revision, rev)
            return True
        return False

    def synced(self) -> bool:
        """Caught up: tell the caller (its answer says whether the watch ends here)."""
        return self.on_synced(self.m.revision)
