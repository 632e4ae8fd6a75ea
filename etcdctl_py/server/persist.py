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

import os
import struct
import tempfile
import threading
import time

import crc32c

from etcdctl_py.proto.etcdserverpb import etcdserver_pb2
from etcdctl_py.proto.raftpb import raft_pb2
from etcdctl_py.proto.walpb import record_pb2
from etcdctl_py.server.mvcc import Change
from etcdctl_py.server.zaplog import fatal, os_error_text
from etcdctl_py.storage import wal as walfmt
from etcdctl_py.storage.bbolt.db import DB
from etcdctl_py.storage.fileutil import fsync_dir, preallocate, pwrite_all

BUCKETS = [b"alarm", b"auth", b"authRoles", b"authUsers", b"cluster", b"key", b"lease", b"members",
           b"members_removed", b"meta"]
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
    r = etcdserver_pb2.Request(ID=rid, Method="PUT", Path=path, Val=val, Dir=False, PrevValue="",
                               PrevIndex=0, Expiration=0, Wait=False, Since=0, Recursive=False,
                               Sorted=False, Quorum=False, Time=0, Stream=False)
    return r.SerializeToString()


class WalLog:
    """An appending etcd WAL (one live segment, cut at 64 MB) with group fsync."""

    def __init__(self, wal_dir: str, metadata: bytes, crc: int, seq: int, offset: int, path: str,
                 last_index: int) -> None:
        self.wal_dir = wal_dir
        self.metadata = metadata
        self.crc = crc
        self.seq = seq
        self.path = path
        self.fd = os.open(path, os.O_WRONLY)
        self.offset = offset
        self.last_index = last_index
        self.written = 0  # seq number of appended batches
        self.synced = 0
        self.sync_lock = threading.Lock()
        self.state = b""

    @staticmethod
    def create(wal_dir: str, metadata: bytes) -> "WalLog":
        tmp = wal_dir + ".tmp"
        os.makedirs(tmp, mode=0o700, exist_ok=True)
        path = os.path.join(tmp, walfmt.wal_name(0, 0))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            preallocate(fd, walfmt.SEGMENT_SIZE_BYTES)
        finally:
            os.close(fd)
        log = WalLog(tmp, metadata, 0, 0, 0, path, 0)
        buf = bytearray(walfmt.encode_frame(walfmt.encode_record(walfmt.CRC_TYPE, 0, None)))
        buf += log._rec(walfmt.METADATA_TYPE, metadata)
        buf += log._rec(walfmt.SNAPSHOT_TYPE, walfmt.encode_wal_snapshot(0, 0, None))
        log._write(bytes(buf))
        os.fsync(log.fd)
        os.close(log.fd)
        os.rename(tmp, wal_dir)
        fsync_dir(os.path.dirname(os.path.abspath(wal_dir)))
        return WalLog(wal_dir, metadata, log.crc, 0, log.offset, os.path.join(wal_dir, walfmt.wal_name(0, 0)), 0)

    def _rec(self, rtype: int, data: bytes) -> bytes:
        self.crc = crc32c.crc32c(data, self.crc)
        return walfmt.encode_frame(walfmt.encode_record(rtype, self.crc, data))

    def _write(self, data: bytes) -> None:
        pwrite_all(self.fd, data, self.offset)
        self.offset += len(data)

    def append(self, entries: list[bytes], hard_state: bytes, last_index: int) -> int:
        buf = bytearray()
        for e in entries:
            buf += self._rec(walfmt.ENTRY_TYPE, e)
        self.state = hard_state
        buf += self._rec(walfmt.STATE_TYPE, hard_state)
        self._write(bytes(buf))
        self.last_index = last_index
        self.written += 1
        if self.offset >= walfmt.SEGMENT_SIZE_BYTES:
            self._cut()
        return self.written

    def _cut(self) -> None:
        os.fsync(self.fd)
        os.ftruncate(self.fd, self.offset)
        os.close(self.fd)
        self.seq += 1
        self.path = os.path.join(self.wal_dir, walfmt.wal_name(self.seq, self.last_index + 1))
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        preallocate(fd, walfmt.SEGMENT_SIZE_BYTES)
        self.fd = fd
        self.offset = 0
        buf = bytearray(walfmt.encode_frame(walfmt.encode_record(walfmt.CRC_TYPE, self.crc, None)))
        buf += self._rec(walfmt.METADATA_TYPE, self.metadata)
        if self.state:
            buf += self._rec(walfmt.STATE_TYPE, self.state)
        self._write(bytes(buf))
        os.fsync(self.fd)
        fsync_dir(self.wal_dir)

    def sync(self, seq: int, lock: threading.RLock) -> None:
        """Group commit: one fdatasync covers every batch appended before it started."""
        if self.synced >= seq:
            return
        with self.sync_lock:
            if self.synced >= seq:
                return
            with lock:
                target = self.written
                fd = self.fd
            os.fdatasync(fd)
            self.synced = target

    def close(self) -> None:
        try:
            os.fsync(self.fd)
            os.close(self.fd)
        except OSError:
            pass


def scan_wal(wal_dir: str) -> tuple[bytes, list[raft_pb2.Entry], raft_pb2.HardState, dict]:
    """Read every segment, tolerating a torn tail (stop at the first bad frame) like etcd's repair."""
    names = sorted(n for n in os.listdir(wal_dir) if n.endswith(".wal"))
    metadata = b""
    entries: dict[int, raft_pb2.Entry] = {}
    hs = raft_pb2.HardState()
    crc = 0
    tail = {"path": "", "offset": 0, "crc": 0, "seq": 0}
    for name in names:
        path = os.path.join(wal_dir, name)
        with open(path, "rb") as f:
            data = f.read()
        off = 0
        n = len(data)
        while off + 8 <= n:
            (lf,) = struct.unpack_from("<Q", data, off)
            if lf == 0:
                break
            pad = (lf >> 56) & 0x7 if lf >> 63 else 0
            ln = lf & 0x00FFFFFFFFFFFFFF
            if off + 8 + ln + pad > n or ln > walfmt.MAX_RECORD_SIZE:
                break
            rec = record_pb2.Record()
            try:
                rec.ParseFromString(data[off + 8: off + 8 + ln])
            except Exception:  # noqa: BLE001 - torn record
                break
            if rec.type == walfmt.CRC_TYPE:
                crc = rec.crc
            else:
                ncrc = crc32c.crc32c(rec.data, crc)
                if ncrc != rec.crc:
                    break
                crc = ncrc
                if rec.type == walfmt.ENTRY_TYPE:
                    e = raft_pb2.Entry.FromString(rec.data)
                    for i in [i for i in entries if i >= e.Index]:
                        del entries[i]
                    entries[e.Index] = e
                elif rec.type == walfmt.STATE_TYPE:
                    hs = raft_pb2.HardState.FromString(rec.data)
                elif rec.type == walfmt.METADATA_TYPE:
                    metadata = rec.data
            off += 8 + ln + pad
        tail = {"path": path, "offset": off, "crc": crc, "seq": walfmt.parse_wal_name(name)[0]}
    return metadata, [entries[i] for i in sorted(entries)], hs, tail


class Persister:
    """Owns the data dir: WAL appends, batched bbolt commits, snapshots, sizes."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self.member_dir = os.path.join(data_dir, "member")
        self.wal_dir = os.path.join(self.member_dir, "wal")
        self.snap_dir = os.path.join(self.member_dir, "snap")
        self.db_path = os.path.join(self.snap_dir, "db")
        self.backend = Backend()
        self.db: DB | None = None
        self.wal: WalLog | None = None
        self.lock: threading.RLock | None = None
        self.pending: list[tuple[int, int, list[Change]]] = []  # (wal seq, index, changes)
        self.member_id = 0
        self.cluster_id = 0
        # raft term of the entries we write: 2 (etcd's first election) on a new data dir, never lower than the
        # term already in the WAL (real etcd may have run on this data dir and reached a later term)
        self.term = 2
        self.applied_conf_changes: list[bytes] = []
        self.stop_ev = threading.Event()
        self.thread: threading.Thread | None = None
        self.db_lock = threading.Lock()
        # --snapshot-count: after that many entries past the last snapshot, write a .snap, record it
        # in the WAL and purge old .snap/.wal files (--max-snapshots/--max-wals), as etcd does.
        self.snapshot_count = 0
        self.max_snapshots = 5
        self.max_wals = 5
        self.snap_index = 0
        self.snap_source = None  # () -> (v2 store JSON, voters[, learners])
        self.snap_due = threading.Event()
        self.fatal = fatal  # ends the process: a storage fault is never survived (tests may observe it instead)

    def exists(self) -> bool:
        return os.path.isdir(self.wal_dir) and any(n.endswith(".wal") for n in os.listdir(self.wal_dir))

    # ---- bootstrap / recovery ---------------------------------------------------------
    def bootstrap(self, member_id: int, cluster_id: int, members, local_client_urls: list[str],
                  idgen, changes: list[Change]) -> None:
        """Create a data dir exactly like a fresh etcd (ConfChange, election, publish, version)."""
        for d in (self.data_dir, self.member_dir, self.snap_dir):  # etcd's private dir mode at every level
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.member_id = member_id
        self.cluster_id = cluster_id
        meta = walfmt.encode_metadata(member_id, cluster_id)
        self.wal = WalLog.create(self.wal_dir, meta)
        entries = []
        for i, m in enumerate(members, start=1):
            ctx = m.json() if m.id != member_id else _member_json_no_clients(m)  # etcd: name, no client URLs yet
            cc = raft_pb2.ConfChange(id=0, type=raft_pb2.ConfChangeAddNode, node_id=m.id, context=ctx.encode())
            entries.append(walfmt.encode_entry((raft_pb2.EntryConfChange, 1, i, cc.SerializeToString())))
        n = len(members)
        self.wal.append(entries, walfmt.encode_hard_state(1, 0, n), n)
        self.wal.append([walfmt.encode_entry((raft_pb2.EntryNormal, 2, n + 1, None))],
                        walfmt.encode_hard_state(2, member_id, n + 1), n + 1)
        import json

        local = next(m for m in members if m.id == member_id)
        attrs = json.dumps({"name": local.name, "clientURLs": local_client_urls}, separators=(",", ":"))
        e3 = _v2_request(idgen.next(), f"/0/members/{member_id:x}/attributes", attrs)
        e4 = _v2_request(idgen.next(), "/0/version", "3.5.0")
        self.wal.append([walfmt.encode_entry((raft_pb2.EntryNormal, 2, n + 2, e3)),
                         walfmt.encode_entry((raft_pb2.EntryNormal, 2, n + 3, e4))],
                        walfmt.encode_hard_state(2, member_id, n + 3), n + 3)
        os.fsync(self.wal.fd)
        boot = [Change(b"auth", b"authRevision", struct.pack(">Q", 1)),
                Change(b"cluster", b"clusterVersion", b"3.5.0"),
                Change(b"meta", b"confState", ('{"voters":[%d],"auto_leave":false}' % member_id).encode()),
                Change(b"meta", b"consistent_index", struct.pack(">Q", n + 3)),
                Change(b"meta", b"term", struct.pack(">Q", 2))]
        for m in members:
            mj = m.json() if m.id != member_id else _member_json_no_clients(m)
            boot.append(Change(b"members", b"%x" % m.id, mj.encode()))
        self.backend.apply(boot + changes)
        self.db = DB(self.db_path, writable=True)
        self._commit_all()

    def recover(self) -> tuple[int, list[raft_pb2.Entry], int]:
        """Load the db into memory and return (consistent index, WAL entries after it, member id)."""
        # the WAL first: a data dir without member metadata is refused before anything is written into it
        metadata, entries, hs, tail = scan_wal(self.wal_dir)
        node_id, self.cluster_id = walfmt.decode_metadata(metadata)  # the cluster ID survives member changes
        if node_id == 0:  # real etcd panics here ("cannot use none as id")
            raise ValueError(f"cannot use none as id: the WAL in {self.wal_dir} holds no member metadata "
                             "(empty or damaged data dir)")
        self.db = DB(self.db_path, writable=True)
        with self.db.view() as tx:
            for name, b in tx.buckets():
                if b is None:
                    continue
                self.backend.buckets[name] = {k: v for k, v in b.items() if v is not None}
        meta = self.backend.buckets.get(b"meta", {})
        ci = struct.unpack(">Q", meta[b"consistent_index"])[0] if b"consistent_index" in meta else 0
        snaps = sorted(n for n in os.listdir(self.snap_dir) if n.endswith(".snap")) \
            if os.path.isdir(self.snap_dir) else []
        if snaps:
            self.snap_index = int(snaps[-1][17:33], 16)
        self.member_id = node_id
        last = entries[-1].Index if entries else ci
        self.wal = WalLog(self.wal_dir, metadata, tail["crc"], tail["seq"], tail["offset"], tail["path"], last)
        self.wal.state = hs.SerializeToString()
        self.term = max(2, hs.term, entries[-1].Term if entries else 0)
        # ConfChanges the db already has applied (but whose updates it does not hold: see Membership.rebuild)
        self.applied_conf_changes = [e.Data for e in entries if e.Type == raft_pb2.EntryConfChange
                                     and self.snap_index < e.Index <= ci]
        return ci, [e for e in entries if e.Index > ci], node_id

    def start(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.thread = threading.Thread(target=self._committer, daemon=True, name="backend-commit")
        self.thread.start()

    # ---- the write path -------------------------------------------------------------------
    def append(self, index: int, entry: bytes, changes: list[Change], etype: int = raft_pb2.EntryNormal) -> int:
        """Called under the core lock: WAL append (not yet synced) + in-memory backend update. `etype` is
        raft_pb2.EntryConfChange for a membership change (`entry` a raftpb.ConfChange)."""
        e = walfmt.encode_entry((etype, self.term, index, entry))
        try:
            seq = self.wal.append([e], walfmt.encode_hard_state(self.term, self.member_id, index), index)
        except OSError as err:
            self._wal_fault(err)
        self.backend.apply(changes)
        self.pending.append((seq, index, changes))
        if self.snapshot_count > 0 and index - self.snap_index > self.snapshot_count:
            self.snap_due.set()
        return seq

    def wait(self, seq: int) -> None:
        """Return once the entry appended as `seq` is fsynced: only then may its request be answered."""
        try:
            self.wal.sync(seq, self.lock)
        except OSError as err:
            self._wal_fault(err)

    def _wal_fault(self, err: OSError) -> None:
        """etcd's raft node: `failed to save Raft hard state and entries` is fatal (the entry may be half written)."""
        self.fatal("failed to save Raft hard state and entries", error=os_error_text("write", self.wal.path, err))

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

        with self.lock:
            self.commit_locked_flush()
            index = self.wal.last_index
            data, voters, *rest = self.snap_source()
            learners = list(rest[0]) if rest else []
        self.commit()
        with self.lock:
            self.wal._write(self.wal._rec(walfmt.SNAPSHOT_TYPE, _wal_snapshot(index, voters, learners, self.term)))
            os.fdatasync(self.wal.fd)
        if learners:  # raft's ConfState names the learners too (a member added with `member add --learner`)
            md = raft_pb2.SnapshotMetadata(conf_state=_conf_state(voters, learners), index=index, term=self.term)
            snap = raft_pb2.Snapshot(data=data, metadata=md).SerializeToString()
            snapfmt.write_and_sync(os.path.join(self.snap_dir, snapfmt.snap_name(self.term, index)),
                                   snapfmt.encode_snap_file(snap), 0o666)
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
        live = os.path.basename(self.wal.path)
        removable = max(0, len(names) - self.max_wals)
        for n in released[:removable]:
            if n != live:
                os.unlink(os.path.join(self.wal_dir, n))
        fsync_dir(self.wal_dir)

    def commit(self) -> None:
        """Write durable pending changes into bbolt in one transaction."""
        with self.db_lock:
            with self.lock:
                synced = self.wal.synced
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
        with self.db.update() as tx:
            cache = {}
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
        with self.db.update() as tx:
            for name in sorted(self.backend.buckets):
                b = tx.create_bucket_if_not_exists(name)
                for k, v in sorted(self.backend.buckets[name].items()):
                    b.put(k, v)

    # ---- maintenance ---------------------------------------------------------------------------
    def db_size(self) -> int:
        try:
            return self.db.file_size if self.db is not None else 0
        except Exception:  # noqa: BLE001
            return 0

    def db_size_in_use(self) -> int:
        try:
            return self.db.size() if callable(getattr(self.db, "size", None)) else self.db.size
        except Exception:  # noqa: BLE001
            return 0

    def backend_hash(self) -> int:
        return self.backend.hash()

    def snapshot_image(self) -> bytes:
        """A consistent bbolt image of the whole backend (what etcd streams for Maintenance.Snapshot)."""
        with self.lock:
            snap = Backend()
            snap.buckets = {n: dict(b) for n, b in self.backend.buckets.items()}
        fd, path = tempfile.mkstemp(prefix="snapshot-", dir=self.snap_dir)
        os.close(fd)
        os.unlink(path)
        try:
            snap.write_db(path)
            with open(path, "rb") as f:
                data = f.read()
            db = DB(path)
            try:
                size = db.size() if callable(getattr(db, "size", None)) else db.size
            finally:
                db.close()
            return data[:size]
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass

    def defragment(self) -> None:
        """Rewrite the db compactly (like etcd's defrag): fresh file with the current content."""
        with self.db_lock:
            with self.lock:
                self.commit_locked_flush()
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
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
            try:
                self.db.close()
                os.rename(tmp, self.db_path)
                fsync_dir(self.snap_dir)
                self.db = DB(self.db_path, writable=True)
            except Exception as err:  # noqa: BLE001 - etcd: failing to swap in the defragmented db is fatal
                self.fatal("failed to rename tmp database", error=os_error_text("rename", tmp, err))
            with self.lock:
                del self.pending[:covered]

    def commit_locked_flush(self) -> None:
        """Make every appended entry durable (called with the core lock held)."""
        try:
            os.fdatasync(self.wal.fd)
        except OSError as err:
            self._wal_fault(err)
        self.wal.synced = self.wal.written

    def close(self) -> None:
        self.stop_ev.set()
        if self.thread is not None:
            self.thread.join(5)
        if self.wal is not None and self.lock is not None:
            with self.lock:
                self.commit_locked_flush()
            self.commit()
            self.wal.close()
        if self.db is not None:
            self.db.close()


def _conf_state(voters: list[int], learners: list[int]) -> raft_pb2.ConfState:
    return raft_pb2.ConfState(voters=voters, learners=learners, auto_leave=False)


def _wal_snapshot(index: int, voters: list[int], learners: list[int], term: int = 2) -> bytes:
    """walpb.Snapshot with the ConfState etcd 3.5 records (learners included when there are any)."""
    if not learners:
        return walfmt.encode_wal_snapshot(index, term, voters)
    return record_pb2.Snapshot(index=index, term=term, conf_state=_conf_state(voters, learners)).SerializeToString()


def _member_json_no_clients(m) -> str:
    from etcdctl_py.server.identity import Member

    return Member(m.id, m.name, m.peer_urls).json()
