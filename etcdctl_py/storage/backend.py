"""etcd's backend schema on top of bbolt (etcd 3.4/3.5): bucket names, revision keys, meta keys.

The `key` bucket maps 17-byte revisions (main u64 BE, '_', sub u64 BE; an 18th byte 't' marks a
tombstone) to mvccpb.KeyValue protobufs. The `meta` bucket holds the raft position the backend
has applied (consistent_index, term), compaction progress and the raft ConfState. These helpers
are shared by restore, status and the server, so the encodings live in one place.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from .bbolt import Bucket, Tx

# --- bucket names (etcd server/mvcc/buckets) ---------------------------------------------
KEY = b"key"
META = b"meta"
LEASE = b"lease"
ALARM = b"alarm"
CLUSTER = b"cluster"
MEMBERS = b"members"
MEMBERS_REMOVED = b"members_removed"
AUTH = b"auth"
AUTH_USERS = b"authUsers"
AUTH_ROLES = b"authRoles"
TEST = b"test"

ALL_BUCKETS = (KEY, META, LEASE, ALARM, CLUSTER, MEMBERS, MEMBERS_REMOVED, AUTH, AUTH_USERS, AUTH_ROLES)

# --- meta bucket keys ----------------------------------------------------------------------
CONSISTENT_INDEX = b"consistent_index"
TERM = b"term"
CONF_STATE = b"confState"
SCHEDULED_COMPACT_REV = b"scheduledCompactRev"
FINISHED_COMPACT_REV = b"finishedCompactRev"
STORAGE_VERSION = b"storageVersion"  # 3.6 only

# --- auth / cluster bucket keys --------------------------------------------------------------
AUTH_ENABLED = b"authEnabled"
AUTH_REVISION = b"authRevision"
CLUSTER_VERSION = b"clusterVersion"
DOWNGRADE = b"downgrade"

REV_BYTES_LEN = 17
MARKED_REV_BYTES_LEN = 18
TOMBSTONE_MARK = 0x74  # 't'

_REV = struct.Struct(">QcQ")
_U64 = struct.Struct(">Q")


@dataclass(frozen=True, order=True)
class Revision:
    """An mvcc revision: `main` is the store revision, `sub` the op index inside one txn."""

    main: int
    sub: int = 0

    def to_bytes(self, tombstone: bool = False) -> bytes:
        b = _REV.pack(self.main & 0xFFFFFFFFFFFFFFFF, b"_", self.sub & 0xFFFFFFFFFFFFFFFF)
        return b + b"t" if tombstone else b


def rev_to_bytes(main: int, sub: int = 0, tombstone: bool = False) -> bytes:
    """Revision(main, sub).to_bytes(tombstone) without building the dataclass (restore calls it per event)."""
    b = _REV.pack(main & 0xFFFFFFFFFFFFFFFF, b"_", sub & 0xFFFFFFFFFFFFFFFF)
    return b + b"t" if tombstone else b


def bytes_to_rev(b: bytes) -> Revision:
    """Decode a revision key (17 or 18 bytes); main/sub are int64 like Go's conversion."""
    if len(b) < REV_BYTES_LEN:
        raise ValueError(f"revision key too short ({len(b)} bytes)")
    main, _sep, sub = _REV.unpack_from(b, 0)
    return Revision(_to_int64(main), _to_int64(sub))


def is_tombstone(key: bytes) -> bool:
    return len(key) == MARKED_REV_BYTES_LEN and key[-1] == TOMBSTONE_MARK


def _to_int64(u: int) -> int:
    return u - (1 << 64) if u >= 1 << 63 else u


def u64_be(v: int) -> bytes:
    return _U64.pack(v & 0xFFFFFFFFFFFFFFFF)


def read_u64_be(b: bytes | None) -> int | None:
    if b is None or len(b) != 8:
        return None
    return _U64.unpack(b)[0]


# --- meta helpers ----------------------------------------------------------------------------
def read_consistent_index(tx: Tx) -> tuple[int, int]:
    """(consistent_index, term) as etcd reads them (0 when absent)."""
    b = tx.bucket(META)
    if b is None:
        return 0, 0
    return read_u64_be(b.get(CONSISTENT_INDEX)) or 0, read_u64_be(b.get(TERM)) or 0


def write_consistent_index(tx: Tx, index: int, term: int | None = None) -> None:
    """Set meta/consistent_index (and meta/term for 3.5+ when given), creating the bucket."""
    b = tx.create_bucket_if_not_exists(META)
    b.put(CONSISTENT_INDEX, u64_be(index))
    if term is not None:
        b.put(TERM, u64_be(term))


def read_compact_revs(tx: Tx) -> tuple[int | None, int | None]:
    """(scheduledCompactRev.main, finishedCompactRev.main) or None where absent."""
    b = tx.bucket(META)
    if b is None:
        return None, None
    out = []
    for k in (SCHEDULED_COMPACT_REV, FINISHED_COMPACT_REV):
        v = b.get(k)
        out.append(bytes_to_rev(v).main if v is not None and len(v) >= REV_BYTES_LEN else None)
    return out[0], out[1]


def write_compact_rev(tx: Tx, main: int, *, scheduled: bool = True, finished: bool = True) -> None:
    b = tx.create_bucket_if_not_exists(META)
    if scheduled:
        b.put(SCHEDULED_COMPACT_REV, rev_to_bytes(main))
    if finished:
        b.put(FINISHED_COMPACT_REV, rev_to_bytes(main))


def read_conf_state(tx: Tx) -> dict | None:
    b = tx.bucket(META)
    v = b.get(CONF_STATE) if b is not None else None
    return json.loads(v) if v else None


def conf_state_json(voters: list[int], learners: list[int] | None = None) -> bytes:
    """raftpb.ConfState JSON as etcd 3.5 stores it (empty lists omitted, auto_leave always there)."""
    d: dict = {}
    if voters:
        d["voters"] = list(voters)
    if learners:
        d["learners"] = list(learners)
    d["auto_leave"] = False
    return json.dumps(d, separators=(",", ":")).encode()


# --- key bucket --------------------------------------------------------------------------------
def iter_revisions(tx: Tx, start: Revision | None = None) -> Iterator[tuple[Revision, bool, bytes]]:
    """(revision, tombstone?, KeyValue protobuf bytes) of the key bucket in revision order."""
    b: Bucket | None = tx.bucket(KEY)
    if b is None:
        return
    for k, v in b.items(start.to_bytes() if start else b""):
        if v is None or len(k) < REV_BYTES_LEN:
            continue
        yield bytes_to_rev(k), is_tombstone(k), v


def current_revision(tx: Tx) -> int:
    """Main revision of the last entry of the key bucket (0 if empty), what `snapshot status` shows."""
    b = tx.bucket(KEY)
    if b is None:
        return 0
    item = b.last()
    if item is None or len(item[0]) < 8:
        return 0
    return _to_int64(_U64.unpack_from(item[0], 0)[0])


# --- auth / cluster -----------------------------------------------------------------------------
def auth_enabled(tx: Tx) -> bool:
    b = tx.bucket(AUTH)
    return b is not None and b.get(AUTH_ENABLED) == b"\x01"


def cluster_version(tx: Tx) -> str | None:
    b = tx.bucket(CLUSTER)
    v = b.get(CLUSTER_VERSION) if b is not None else None
    return v.decode() if v is not None else None


def create_default_buckets(tx: Tx) -> None:
    """The buckets a 3.5 member creates at start (so a fresh db looks like etcd's)."""
    for name in ALL_BUCKETS:
        tx.create_bucket_if_not_exists(name)
