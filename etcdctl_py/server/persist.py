"""Persistence in etcd's own data-dir format: member/wal/*.wal and member/snap/db.

* Every log entry (an InternalRaftRequest, like etcd writes) is appended to the WAL together
  with a HardState; callers wait for a group fsync before acknowledging (kill -9 safe).
* Backend changes are committed to the bbolt db in batches (every 100 ms) together with
  meta/consistent_index, but only for entries whose WAL record is already durable.
* Recovery: load the db, then replay WAL entries after its consistent index.
* A failed write, fsync or allocation of the WAL or the db ends the process with one fatal line (etcd's
  lg.Fatal): nothing is acknowledged that is not in the fsynced WAL, and the db's meta page never points past
  what was written, so a restart (after space is freed) recovers every acknowledged write.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass

import crc32c

from etcdctl_py.proto.etcdserverpb import etcdserver_pb2
from etcdctl_py.proto.raftpb import raft_pb2
from etcdctl_py.server import errors
from etcdctl_py.server.mvcc import Change
from etcdctl_py.server.zaplog import fatal, os_error_text
from etcdctl_py.storage import wal as walfmt
from etcdctl_py.storage.bbolt.bucket import Bucket
from etcdctl_py.storage.bbolt.db import DB
from etcdctl_py.storage.fileutil import fsync_dir

BUCKETS = [
    b"alarm",
    b"auth",
    b"authRoles",
    b"authUsers",
    b"cluster",
    b"key",
    b"lease",
    b"members",
    b"members_removed",
    b"meta",
]
BATCH_INTERVAL = 0.1
BATCH_LIMIT = 10000


class Backend:
    """The db content in memory (bucket -> key -> value): the source for hashes and snapshots."""

    def __init__(self) -> None:
        self.buckets: dict[bytes, dict[bytes, bytes]] = {b: {} for b in BUCKETS}

    def apply(self, changes: list[Change]) -> None:
        for c in changes:
            b = self.buckets.setdefault(c.bucket, {})
            if c.value is None:
                b.pop(c.key, None)
            else:
                b[c.key] = c.value

    def hash(self) -> int:
        """etcd's backend.Hash with DefaultIgnores (meta consistent_index/term excluded)."""
        h = 0
        for name in sorted(self.buckets):
            h = crc32c.crc32c(name, h)
            b = self.buckets[name]
            for k in sorted(b):
                if name == b"meta" and k in (b"term", b"consistent_index"):
                    continue
                h = crc32c.crc32c(k, h)
                h = crc32c.crc32c(b[k], h)
        return h

    def image(self, tmp_dir: str | None = None) -> bytes:
        """A bbolt image of every bucket (what etcd streams for Maintenance.Snapshot), built in a temporary file."""
        fd, path = tempfile.mkstemp(prefix="snapshot-", dir=tmp_dir)
        os.close(fd)
        os.unlink(path)
        try:
            self.write_db(path)
            with open(path, "rb") as f:
                data = f.read()
            db = DB(path)
            try:
                size = db.size
            finally:
                db.close()
            return data[:size]
        finally:
            _remove(path)

    def write_db(self, path: str) -> None:
        """A fresh bbolt file holding every bucket (used for snapshots and defragment)."""
        db = DB(path, writable=True)
        try:
            with db.update() as tx:
                for name in sorted(self.buckets):
                    b = tx.create_bucket_if_not_exists(name)
                    items = self.buckets[name]
                    for k in sorted(items):
                        b.put(k, items[k])
        finally:
            db.close()


def _v2_request(rid: int, path: str, val: str) -> bytes:
    """A v2 PUT as etcd's publish/cluster-version entries (gogo non-nullable fields all present)."""
    r = etcdserver_pb2.Request(
        ID=rid,
        Method="PUT",
        Path=path,
        Val=val,
        Dir=False,
        PrevValue="",
        PrevIndex=0,
        Expiration=0,
        Wait=False,
        Since=0,
        Recursive=False,
        Sorted=False,
        Quorum=False,
        Time=0,
        Stream=False,
    )
    return r.SerializeToString()


@dataclass
class Recovered:
    """What an existing data dir holds at start (etcd's bootstrap of db, WAL and .snap). The db's content is loaded
    into the persister's backend (`buckets`); the rest tells the core what to restore and which entries to replay."""

    member_id: int  # from the WAL metadata
    cluster_id: int  # from the WAL metadata (0 when it has none): member changes never change it
    consistent_index: int  # the last entry the db has applied
    last_index: int  # the WAL's last entry (the raft log goes on after it)
    entries: list[raft_pb2.Entry]  # WAL entries after the consistent index: replayed, then committed to the db
    snap_index: int  # the newest .snap's index, 0 without one
    applied_conf_changes: list[bytes]  # ConfChanges after the .snap that the db has applied (Membership.rebuild)
    buckets: dict[bytes, dict[bytes, bytes]]


class Persister:
    """Owns the data dir: WAL appends, batched bbolt commits, snapshots, sizes."""

    def __init__(
        self,
        data_dir: str,
        snapshot_count: int = 0,
        max_snapshots: int = 5,
        max_wals: int = 5,
        wal_dir: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.member_dir = os.path.join(data_dir, "member")
        self.wal_dir = wal_dir or os.path.join(self.member_dir, "wal")  # --wal-dir puts it elsewhere, as in etcd
        self.snap_dir = os.path.join(self.member_dir, "snap")
        self.db_path = os.path.join(self.snap_dir, "db")
        self.backend = Backend()
        self.db: DB | None = None
        self.wal: walfmt.WALAppender | None = None
        self.lock = threading.RLock()  # the core's lock once it serves one (start, commit_replayed)
        # group commit: `appended` counts the WAL batches written, `synced` those an fsync covers (both change
        # under `lock`); `sync_lock` lets one fsync run at a time, and close() takes it too
        self.appended = 0
        self.synced = 0
        self.sync_lock = threading.Lock()
        self.closed = False
        self.pending: list[tuple[int, int, list[Change]]] = []  # (wal batch, index, changes)
        self.member_id = 0
        self.cluster_id = 0
        # raft term of the entries we write: 2 (etcd's first election) on a new data dir, never lower than the
        # term already in the WAL (real etcd may have run on this data dir and reached a later term)
        self.term = 2
        self.stop_ev = threading.Event()
        self.thread: threading.Thread | None = None
        self.db_lock = threading.Lock()
        # --snapshot-count: after that many entries past the last snapshot, write a .snap, record it
        # in the WAL and purge old .snap/.wal files (--max-snapshots/--max-wals), as etcd does.
        self.snapshot_count = snapshot_count
        self.max_snapshots = max_snapshots
        self.max_wals = max_wals
        self.snap_index = 0
        self.snap_source: Callable[[], tuple[bytes, list[int], list[int]]] | None = None  # v2 store JSON, raft conf
        self.snap_due = threading.Event()
        self.fatal = fatal  # ends the process: a storage fault is never survived (tests may observe it instead)

    def exists(self) -> bool:
        return os.path.isdir(self.wal_dir) and any(n.endswith(".wal") for n in os.listdir(self.wal_dir))

    def _open_wal(self) -> walfmt.WALAppender:
        """The WAL that bootstrap() or recover() opened: nothing is appended, synced or purged before that."""
        if self.wal is None:
            raise errors.STOPPED
        return self.wal

    def _open_db(self) -> DB:
        """The db that bootstrap() or recover() opened: nothing is committed to it before that."""
        if self.db is None:
            raise errors.STOPPED
        return self.db

    # ---- bootstrap / recovery ---------------------------------------------------------
    def bootstrap(self, member_id: int, cluster_id: int, members, local_client_urls: list[str], idgen) -> int:
        """Create a data dir exactly like a fresh etcd (ConfChange, election, publish, version); returns the index of
        the last entry written."""
        for d in (self.data_dir, self.member_dir, self.snap_dir):  # etcd's private dir mode at every level
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.member_id = member_id
        self.cluster_id = cluster_id
        self.wal = walfmt.create(self.wal_dir, walfmt.encode_metadata(member_id, cluster_id))
        entries = []
        for i, m in enumerate(members, start=1):
            ctx = m.json() if m.id != member_id else _member_json_no_clients(m)  # etcd: name, no client URLs yet
            cc = raft_pb2.ConfChange(id=0, type=raft_pb2.ConfChangeAddNode, node_id=m.id, context=ctx.encode())
            entries.append(walfmt.encode_entry((raft_pb2.EntryConfChange, 1, i, cc.SerializeToString())))
        n = len(members)
        self.wal.save(1, 0, n, entries, n)
        self.wal.save(2, member_id, n + 1, [walfmt.encode_entry((raft_pb2.EntryNormal, 2, n + 1, None))], n + 1)
        import json

        local = next(m for m in members if m.id == member_id)
        attrs = json.dumps({"name": local.name, "clientURLs": local_client_urls}, separators=(",", ":"))
        e3 = _v2_request(idgen.next(), f"/0/members/{member_id:x}/attributes", attrs)
        e4 = _v2_request(idgen.next(), "/0/version", "3.5.0")
        self.wal.save(
            2,
            member_id,
            n + 3,
            [
                walfmt.encode_entry((raft_pb2.EntryNormal, 2, n + 2, e3)),
                walfmt.encode_entry((raft_pb2.EntryNormal, 2, n + 3, e4)),
            ],
            n + 3,
        )
        self.wal.sync()
        boot = [
            Change(b"auth", b"authRevision", struct.pack(">Q", 1)),
            Change(b"cluster", b"clusterVersion", b"3.5.0"),
            Change(b"meta", b"confState", f'{{"voters":[{member_id}],"auto_leave":false}}'.encode()),
            Change(b"meta", b"consistent_index", struct.pack(">Q", n + 3)),
            Change(b"meta", b"term", struct.pack(">Q", 2)),
        ]
        for m in members:
            mj = m.json() if m.id != member_id else _member_json_no_clients(m)
            boot.append(Change(b"members", b"%x" % m.id, mj.encode()))
        self.backend.apply(boot)
        self.db = DB(self.db_path, writable=True)
        self._commit_all()
        return n + 3

    def recover(self) -> Recovered:
        """Read the WAL from the newest .snap on, load the db into memory and open the WAL for appending after its
        last good record (a record a crash cut short is overwritten)."""
        snap_term, self.snap_index = self._newest_snap()
        # the WAL first: a data dir without member metadata is refused before anything is written into it
        wal = walfmt.read_wal(self.wal_dir, self.snap_index, snap_term, require_snapshot=False, repair=True)
        node_id, self.cluster_id = walfmt.decode_metadata(wal.metadata)  # the cluster ID survives member changes
        if node_id == 0:  # real etcd panics here ("cannot use none as id")
            raise ValueError(
                f"cannot use none as id: the WAL in {self.wal_dir} holds no member metadata (empty or damaged data dir)"
            )
        self._load_db()
        meta = self.backend.buckets.get(b"meta", {})
        ci = struct.unpack(">Q", meta[b"consistent_index"])[0] if b"consistent_index" in meta else 0
        self.member_id = node_id
        entries = wal.entries
        last = entries[-1].Index if entries else ci
        self.wal = walfmt.WALAppender.resume(self.wal_dir, wal, last)
        self.term = max(2, wal.hard_state.term, entries[-1].Term if entries else 0)
        # ConfChanges the db already has applied (but whose updates it does not hold: see Membership.rebuild)
        applied_conf_changes = [e.Data for e in entries if e.Type == raft_pb2.EntryConfChange and e.Index <= ci]
        return Recovered(
            node_id,
            self.cluster_id,
            ci,
            last,
            [e for e in entries if e.Index > ci],
            self.snap_index,
            applied_conf_changes,
            self.backend.buckets,
        )

    def _newest_snap(self) -> tuple[int, int]:
        """(term, index) of the newest .snap file, (0, 0) without one."""
        snaps = (
            sorted(n for n in os.listdir(self.snap_dir) if n.endswith(".snap")) if os.path.isdir(self.snap_dir) else []
        )
        return (int(snaps[-1][:16], 16), int(snaps[-1][17:33], 16)) if snaps else (0, 0)

    def _load_db(self) -> None:
        self.db = DB(self.db_path, writable=True)
        with self.db.view() as tx:
            for name, b in tx.buckets():
                if b is not None:
                    self.backend.buckets[name] = {k: v for k, v in b.items() if v is not None}

    def replayed(self, index: int, changes: list[Change]) -> None:
        """A WAL entry applied again at start: its changes (with the consistent index) go to the db with the next
        commit (the WAL holds it already)."""
        changes = changes + [
            Change(b"meta", b"consistent_index", struct.pack(">Q", index)),
            Change(b"meta", b"term", struct.pack(">Q", self.term)),
        ]
        self.backend.apply(changes)
        self.pending.append((0, index, changes))

    def start(self, lock: threading.RLock, snap_source: Callable[[], tuple[bytes, list[int], list[int]]]) -> None:
        """Serve the core whose `lock` guards every append; `snap_source` gives what a .snap holds."""
        self.lock = lock
        self.snap_source = snap_source
        self.thread = threading.Thread(target=self._committer, daemon=True, name="backend-commit")
        self.thread.start()

    def commit_replayed(self, lock: threading.RLock) -> None:
        """Commit the replayed entries to the db before anything is served (a disk still full fails start-up here)."""
        self.lock = lock
        self.commit()

    # ---- the write path -------------------------------------------------------------------
    def append(self, index: int, entry: bytes, changes: list[Change], etype: int = raft_pb2.EntryNormal) -> int:
        """Called under the core lock: WAL append (not yet synced) + in-memory backend update. `etype` is
        raft_pb2.EntryConfChange for a membership change (`entry` a raftpb.ConfChange)."""
        if self.closed:
            raise errors.STOPPED
        try:
            self._open_wal().save(
                self.term, self.member_id, index, [walfmt.encode_entry((etype, self.term, index, entry))], index
            )
        except OSError as err:
            self._wal_fault(err)
        self.appended += 1
        seq = self.appended
        self.backend.apply(changes)
        self.pending.append((seq, index, changes))
        if self.snapshot_count > 0 and index - self.snap_index > self.snapshot_count:
            self.snap_due.set()
        return seq

    def wait(self, seq: int) -> None:
        """Return once the entry appended as `seq` is fsynced: only then may its request be answered."""
        try:
            self._group_sync(seq)
        except OSError as err:
            self._wal_fault(err)

    def _group_sync(self, seq: int) -> None:
        """Group commit: one fdatasync covers every batch appended before it started. It runs outside the core
        lock on a duplicate of the segment's descriptor, which a concurrent cut cannot close under it."""
        if self.synced >= seq:
            return
        with self.sync_lock:
            if self.synced >= seq:
                return
            if self.closed:  # close() synced everything appended before it: not reached
                raise errors.STOPPED
            with self.lock:
                target = self.appended
                fd = self._open_wal().dup_fd()
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
            with self.lock:
                self.synced = max(self.synced, target)

    def _wal_fault(self, err: OSError) -> None:
        """etcd's raft node: `failed to save Raft hard state and entries` is fatal (the entry may be half written)."""
        path = self.wal.path if self.wal is not None else self.wal_dir
        self.fatal("failed to save Raft hard state and entries", error=os_error_text("write", path, err))

    def _committer(self) -> None:
        while not self.stop_ev.wait(BATCH_INTERVAL):
            self.commit()
            if self.snap_due.is_set():
                self.snap_due.clear()
                try:
                    self.snapshot()
                except Exception as err:  # noqa: BLE001 - etcd: a failed snapshot save is fatal
                    self.fatal("failed to save snapshot", error=os_error_text("write", self.snap_dir, err))

    # ---- snapshots (--snapshot-count) -------------------------------------------------------
    def snapshot(self) -> int:
        """etcd's triggerSnapshot: db committed first (consistent index >= snapshot index), then
        the WAL snapshot record, then the .snap file, then purge. Returns the snapshot index."""
        from etcdctl_py.storage import snap as snapfmt

        wal, source = self._open_wal(), self.snap_source
        if source is None:  # start() names it before the committer can ask for a snapshot
            raise errors.STOPPED
        with self.lock:
            self.flush_wal()
            index = wal.last_index
            data, voters, learners = source()
        self.commit()
        with self.lock:
            wal.save_snapshot(index, self.term, voters, learners)
            wal.sync()
        if learners:  # raft's ConfState names the learners too (a member added with `member add --learner`)
            cs = raft_pb2.ConfState(voters=voters, learners=learners, auto_leave=False)
            md = raft_pb2.SnapshotMetadata(conf_state=cs, index=index, term=self.term)
            snap = raft_pb2.Snapshot(data=data, metadata=md).SerializeToString()
            snapfmt.write_and_sync(
                os.path.join(self.snap_dir, snapfmt.snap_name(self.term, index)), snapfmt.encode_snap_file(snap), 0o666
            )
        else:
            snapfmt.write_snap(self.snap_dir, data, index, self.term, voters)
        fsync_dir(self.snap_dir)
        self.snap_index = index
        self.purge(index)
        return index

    def purge(self, snap_index: int) -> None:
        """Keep the newest --max-snapshots .snap files; drop WAL segments wholly before the
        snapshot (etcd's ReleaseLockTo) while more than --max-wals remain, oldest first."""
        snaps = sorted(n for n in os.listdir(self.snap_dir) if n.endswith(".snap"))
        for n in snaps[: max(0, len(snaps) - self.max_snapshots)]:
            os.unlink(os.path.join(self.snap_dir, n))
        names = sorted(n for n in os.listdir(self.wal_dir) if n.endswith(".wal"))
        starts = [walfmt.parse_wal_name(n)[1] for n in names]
        keep_from = 0
        for i, st in enumerate(starts):
            if st <= snap_index:
                keep_from = i
        released = names[:keep_from]
        live = os.path.basename(self._open_wal().path)
        removable = max(0, len(names) - self.max_wals)
        for n in released[:removable]:
            if n != live:
                os.unlink(os.path.join(self.wal_dir, n))
        fsync_dir(self.wal_dir)

    def commit(self) -> None:
        """Write durable pending changes into bbolt in one transaction."""
        with self.db_lock:
            with self.lock:
                synced = self.synced
                take = 0
                while take < len(self.pending) and self.pending[take][0] <= synced:
                    take += 1
                batch = self.pending[:take]
                del self.pending[:take]
            if not batch:
                return
            merged: dict[tuple[bytes, bytes], bytes | None] = {}
            for _, _, changes in batch:
                for c in changes:
                    merged[(c.bucket, c.key)] = c.value
            try:
                self._write_batch(merged)
            except Exception as err:  # noqa: BLE001 - etcd's batch_tx: `failed to commit tx` is fatal
                # the batch is no longer pending: going on would let a later commit move consistent_index past it
                self.fatal("failed to commit tx", error=os_error_text("write", self.db_path, err))

    def _write_batch(self, merged: dict[tuple[bytes, bytes], bytes | None]) -> None:
        """One bbolt transaction with the merged changes of a batch (its meta/consistent_index last written wins)."""
        with self._open_db().update() as tx:
            cache: dict[bytes, Bucket] = {}
            for (bname, k), v in merged.items():
                b = cache.get(bname)
                if b is None:
                    b = tx.create_bucket_if_not_exists(bname)
                    cache[bname] = b
                if v is None:
                    if b.get(k) is not None:
                        b.delete(k)
                else:
                    b.put(k, v)

    def _commit_all(self) -> None:
        with self._open_db().update() as tx:
            for name in sorted(self.backend.buckets):
                b = tx.create_bucket_if_not_exists(name)
                for k, v in sorted(self.backend.buckets[name].items()):
                    b.put(k, v)

    # ---- maintenance ---------------------------------------------------------------------------
    def db_size(self) -> int:
        try:
            return self.db.file_size if self.db is not None else 0
        except OSError:  # closed: the server is stopping, or defragment is swapping the file in
            return 0

    def db_size_in_use(self) -> int:
        return self.db.size if self.db is not None else 0

    def backend_hash(self) -> int:
        return self.backend.hash()

    def snapshot_image(self) -> bytes:
        """A consistent bbolt image of the whole backend (what etcd streams for Maintenance.Snapshot)."""
        with self.lock:
            snap = Backend()
            snap.buckets = {n: dict(b) for n, b in self.backend.buckets.items()}
        return snap.image(self.snap_dir)

    def defragment(self) -> None:
        """Rewrite the db compactly (like etcd's defrag): fresh file with the current content."""
        with self.db_lock:
            with self.lock:
                self.flush_wal()
                snap = Backend()
                snap.buckets = {n: dict(b) for n, b in self.backend.buckets.items()}
                covered = len(self.pending)  # what the new file holds; later entries stay pending for it
            tmp = self.db_path + ".tmp.defrag"
            try:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                snap.write_db(tmp)  # committed with fdatasync
            except BaseException:
                # etcd's defrag: the old db is untouched and still current; the client gets the error
                _remove(tmp)
                raise
            try:
                self._open_db().close()
                os.rename(tmp, self.db_path)
                fsync_dir(self.snap_dir)
                self.db = DB(self.db_path, writable=True)
            except Exception as err:  # noqa: BLE001 - etcd: failing to swap in the defragmented db is fatal
                self.fatal("failed to rename tmp database", error=os_error_text("rename", tmp, err))
            with self.lock:
                del self.pending[:covered]

    def flush_wal(self) -> None:
        """Make every appended entry durable (called with the core lock held)."""
        try:
            self._open_wal().sync()
        except OSError as err:
            self._wal_fault(err)
        self.synced = self.appended

    def close(self) -> None:
        """Stop the committer; sync, commit and close the WAL, refusing appends from then on; close the db. A
        wait() running meanwhile finishes first (the WAL closes under its sync lock) or finds its entry synced."""
        self.stop_ev.set()
        if self.thread is not None:
            self.thread.join()
        if self.wal is not None:
            with self.sync_lock:
                with self.lock:
                    self.flush_wal()
                    self.closed = True
                self.commit()
                self.wal.close()
        if self.db is not None:
            with self.db_lock:
                self.db.close()


def _remove(path: str) -> None:
    """Remove a temporary file that may not have been created."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _member_json_no_clients(m) -> str:
    from etcdctl_py.server.identity import Member

    return Member(m.id, m.name, m.peer_urls).json()
