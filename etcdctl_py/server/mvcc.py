"""etcd's MVCC key-value store: revisions, versions, tombstones, compaction and HashKV.

The store keeps the `key` bucket exactly as etcd's backend holds it (17/18-byte revision keys
-> marshaled mvccpb.KeyValue), plus the key index. Every change is also reported to a
listener (persistence and watchers) as a list of (bucket, key, value|None) puts/deletes.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass, field

import crc32c

from etcdctl_py.proto.mvccpb import kv_pb2
from etcdctl_py.server import errors
from etcdctl_py.server.key_index import Rev, TreeIndex
from etcdctl_py.server.lessor import Lessor

KeyValue = kv_pb2.KeyValue
Event = kv_pb2.Event

_REV = struct.Struct(">Q")


def rev_to_bytes(rev: Rev, tombstone: bool = False) -> bytes:
    b = _REV.pack(rev[0]) + b"_" + _REV.pack(rev[1])
    return b + b"t" if tombstone else b


def bytes_to_rev(b: bytes) -> Rev:
    return _REV.unpack_from(b, 0)[0], _REV.unpack_from(b, 9)[0]


def gte_range(range_end: bytes) -> bytes | None:
    """etcd's mkGteRange: b'' (no end) means a single key; b'\\x00' means 'to the end' (b'')."""
    if not range_end:
        return None
    if range_end == b"\x00":
        return b""
    return range_end


@dataclass
class RangeResult:
    kvs: list = field(default_factory=list)
    count: int = 0
    rev: int = 0


@dataclass
class Change:
    """One backend mutation: bucket, key and new value (None = delete)."""

    bucket: bytes
    key: bytes
    value: bytes | None


class MVCCStore:
    """Revisioned key space with etcd's semantics. All access goes through `lock`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.index = TreeIndex()
        self.kv: dict[Rev, bytes] = {}  # the `key` bucket, rev -> marshaled KeyValue
        self.tombstones: set[Rev] = set()
        self.current_rev = 1
        self.compact_main_rev = -1
        self.lessor: Lessor | None = None  # set by the core: attach/detach keys to leases

    # ---- reads -------------------------------------------------------------------------
    def range(
        self, key: bytes, end: bytes | None, rev: int, limit: int, count_only: bool, cur_rev: int | None = None
    ) -> RangeResult:
        cur = self.current_rev if cur_rev is None else cur_rev
        if rev > cur:
            raise errors.FUTURE_REV
        if rev <= 0:
            rev = cur
        if rev < self.compact_main_rev:
            raise errors.COMPACTED
        if count_only:
            return RangeResult([], self.index.count(key, end, rev), cur)
        revs, total = self.index.revisions(key, end, rev, limit)
        if limit > 0:
            revs = revs[:limit]
        kvs = [KeyValue.FromString(self.kv[r]) for r in revs]
        return RangeResult(kvs, total, cur)

    def leased_keys(self) -> list[tuple[bytes, int]]:
        """(key, lease ID) of every key alive at the current revision that is attached to a lease."""
        out = []
        for key, ki in self.index.items.items():
            r = ki.get(self.current_rev)
            if r is not None:
                lease = KeyValue.FromString(self.kv[r[0]]).lease
                if lease:
                    out.append((key, lease))
        return out

    # ---- writes ------------------------------------------------------------------------
    def write(self) -> WriteTxn:
        return WriteTxn(self)

    # ---- compaction --------------------------------------------------------------------
    def compact(self, rev: int) -> list[Change]:
        """Compact at rev (synchronously, physically); returns the backend changes."""
        if rev <= self.compact_main_rev:
            raise errors.COMPACTED
        if rev > self.current_rev:
            raise errors.FUTURE_REV
        self.compact_main_rev = rev
        rb = rev_to_bytes((rev, 0))
        changes = [Change(b"meta", b"scheduledCompactRev", rb)]
        keep = self.index.compact(rev)
        for r in [r for r in self.kv if r[0] <= rev and r not in keep]:
            tomb = r in self.tombstones
            del self.kv[r]
            self.tombstones.discard(r)
            changes.append(Change(b"key", rev_to_bytes(r, tomb), None))
        changes.append(Change(b"meta", b"finishedCompactRev", rb))
        return changes

    def hash_kv(self, rev: int) -> tuple[int, int, int]:
        """etcd's HashByRev: (hash, current revision, compact revision)."""
        compact, cur = self.compact_main_rev, self.current_rev
        if rev > 0 and rev <= compact:
            raise errors.COMPACTED
        if rev > 0 and rev > cur:
            raise errors.FUTURE_REV
        if rev == 0:
            rev = cur
        keep = self.index.keep(rev)
        h = crc32c.crc32c(b"key")
        for r in sorted(self.kv):
            if r[0] > rev:
                break
            if r[0] < compact + 1 and keep and r not in keep:
                continue
            h = crc32c.crc32c(rev_to_bytes(r, r in self.tombstones), h)
            h = crc32c.crc32c(self.kv[r], h)
        return h, cur, compact

    # ---- recovery ----------------------------------------------------------------------
    def restore(
        self, items: list[tuple[bytes, bytes]], finished_compact: int | None, scheduled_compact: int | None
    ) -> None:
        """Rebuild from the backend `key` bucket (sorted (revkey, value) pairs), like etcd's restore."""
        for k, v in items:
            r = bytes_to_rev(k)
            tomb = len(k) == 18 and k[17:18] == b"t"
            self.kv[r] = v
            kv = KeyValue.FromString(v)
            if tomb:
                self.tombstones.add(r)
                self.index.tombstone(kv.key, r)
            else:
                self.index.restore_put(kv.key, (kv.create_revision, 0), r, kv.version)
            self.current_rev = max(self.current_rev, r[0])
        if finished_compact is not None:
            self.compact_main_rev = finished_compact
        if scheduled_compact is not None and scheduled_compact > self.compact_main_rev:
            self.compact(scheduled_compact)
        if self.compact_main_rev > self.current_rev:
            self.current_rev = self.compact_main_rev


class WriteTxn:
    """One atomic write (etcd's storeTxnWrite): every change shares main revision begin+1."""

    def __init__(self, store: MVCCStore) -> None:
        self.s = store
        self.begin_rev = store.current_rev
        self.changes: list[KeyValue] = []
        self.backend: list[Change] = []
        self.events: list = []

    def read_rev(self) -> int:
        return self.begin_rev + 1 if self.changes else self.begin_rev

    def range(
        self, key: bytes, end: bytes | None, rev: int = 0, limit: int = 0, count_only: bool = False
    ) -> RangeResult:
        return self.s.range(key, end, rev, limit, count_only, cur_rev=self.read_rev())

    def put(self, key: bytes, value: bytes, lease: int) -> int:
        s = self.s
        rev = self.begin_rev + 1
        c = rev
        ver = 0
        old_lease = 0
        prev = s.index.get(key, rev)
        if prev is not None:
            c = prev[1][0]
            ver = prev[2]
            old_lease = KeyValue.FromString(s.kv[prev[0]]).lease
        idx_rev = (rev, len(self.changes))
        kv = KeyValue(key=key, value=value, create_revision=c, mod_revision=rev, version=ver + 1, lease=lease)
        data = kv.SerializeToString()
        s.kv[idx_rev] = data
        s.index.put(key, idx_rev)
        self.changes.append(kv)
        self.backend.append(Change(b"key", rev_to_bytes(idx_rev), data))
        if s.lessor is not None:
            if old_lease:
                s.lessor.detach(old_lease, key)
            if lease:
                s.lessor.attach(lease, key)
        return rev

    def delete_range(self, key: bytes, end: bytes | None) -> tuple[int, int]:
        keys = self.s.index.range_keys(key, end, self.read_rev())
        for k in keys:
            self._delete(k)
        if keys or self.changes:
            return len(keys), self.begin_rev + 1
        return 0, self.begin_rev

    def _delete(self, key: bytes) -> None:
        s = self.s
        idx_rev = (self.begin_rev + 1, len(self.changes))
        kv = KeyValue(key=key)
        data = kv.SerializeToString()
        old = s.index.get(key, idx_rev[0])
        s.kv[idx_rev] = data
        s.tombstones.add(idx_rev)
        s.index.tombstone(key, idx_rev)
        self.changes.append(kv)
        self.backend.append(Change(b"key", rev_to_bytes(idx_rev, True), data))
        if s.lessor is not None and old is not None:
            lease = KeyValue.FromString(s.kv[old[0]]).lease
            if lease:
                s.lessor.detach(lease, key)

    def end(self) -> list:
        """Finish: bump the revision if anything changed; return watch events."""
        if not self.changes:
            return []
        self.s.current_rev += 1
        rev = self.s.current_rev
        evs = []
        for kv in self.changes:
            if kv.create_revision == 0:
                kv.mod_revision = rev
                evs.append(Event(type=Event.DELETE, kv=kv))
            else:
                evs.append(Event(type=Event.PUT, kv=kv))
        return evs
