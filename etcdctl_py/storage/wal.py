"""etcd's write-ahead log: framed walpb.Records with a CRC-32C chained across records and files.

Frame = u64 little-endian length (top byte: 0x80 | padding when padded) + record + zero padding to 8 bytes.
The record CRC is the running CRC-32C of every record's data so far; a `crc` record carries it into the next
segment. Segments are 64,000,000 bytes, preallocated, named `%016x-%016x.wal` % (sequence, first index).
The writer reproduces etcdutl's files byte for byte; the reader checks every CRC and names the file and offset
of any damage instead of guessing.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import crc32c
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # protobuf ships no stubs

from etcdctl_py.proto.raftpb import raft_pb2
from etcdctl_py.proto.walpb import record_pb2
from etcdctl_py.storage.fileutil import fsync_dir, preallocate, pwrite_all

METADATA_TYPE = 1
ENTRY_TYPE = 2
STATE_TYPE = 3
CRC_TYPE = 4
SNAPSHOT_TYPE = 5

SEGMENT_SIZE_BYTES = 64 * 1000 * 1000
MAX_RECORD_SIZE = 10 * 1024 * 1024  # etcd 3.5.1's decoder limit
WAL_SUFFIX = ".wal"


class WALError(ValueError):
    """A WAL that etcd would refuse to read; the message starts with etcd's own words where it has some."""


# --------------------------------------------------------------------------- small protobuf helpers


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_metadata(node_id: int, cluster_id: int) -> bytes:
    """etcdserverpb.Metadata{NodeID=1, ClusterID=2}, both always written (gogo non-nullable)."""
    return b"\x08" + _varint(node_id) + b"\x10" + _varint(cluster_id)


def decode_metadata(data: bytes) -> tuple[int, int]:
    """(NodeID, ClusterID) of an etcdserverpb.Metadata."""
    fields = parse_fields(data)
    node = next((v for f, w, v in fields if f == 1 and w == 0), 0)
    cluster = next((v for f, w, v in fields if f == 2 and w == 0), 0)
    return int(node), int(cluster)


def parse_fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """Top-level (field number, wire type, value) triples of a protobuf message; raises ValueError on bad wire data."""
    out: list[tuple[int, int, int | bytes]] = []
    i, n = 0, len(data)

    def varint() -> int:
        nonlocal i
        shift = result = 0
        while True:
            if i >= n or shift > 63:
                raise ValueError("bad varint")
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while i < n:
        key = varint()
        fnum, wt = key >> 3, key & 7
        if fnum == 0:
            raise ValueError("illegal field number 0")
        if wt == 0:
            out.append((fnum, wt, varint()))
        elif wt in (1, 2, 5):  # fixed64, length-delimited, fixed32
            ln = 8 if wt == 1 else 4 if wt == 5 else varint()
            if i + ln > n:
                raise ValueError("truncated " + ("bytes" if wt == 2 else f"fixed{8 * ln}"))
            out.append((fnum, wt, data[i : i + ln]))
            i += ln
        else:
            raise ValueError(f"unsupported wire type {wt}")
    return out


# --------------------------------------------------------------------------- framing


def encode_frame(rec: bytes) -> bytes:
    """Length field + record + padding to an 8-byte boundary."""
    pad = (8 - len(rec) % 8) % 8
    length = len(rec) | ((0x80 | pad) << 56) if pad else len(rec)
    return struct.pack("<Q", length) + rec + b"\0" * pad


def encode_record(rtype: int, crc: int, data: bytes | None) -> bytes:
    """walpb.Record bytes: type and crc always, data only when present (nil in Go)."""
    rec = record_pb2.Record(type=rtype, crc=crc)
    if data is not None:
        rec.data = data
    return rec.SerializeToString()


def wal_name(seq: int, index: int) -> str:
    return f"{seq:016x}-{index:016x}{WAL_SUFFIX}"


def parse_wal_name(name: str) -> tuple[int, int]:
    if not name.endswith(WAL_SUFFIX):
        raise WALError(f"bad wal name {name}")
    try:
        a, b = name[: -len(WAL_SUFFIX)].split("-")
        return int(a, 16), int(b, 16)
    except ValueError:
        raise WALError(f"bad wal name {name}") from None


def encode_entry(e: raft_pb2.Entry | tuple[int, int, int, bytes | None]) -> bytes:
    """raftpb.Entry bytes with Type, Term, Index always written (field-number order, as gogo does)."""
    if isinstance(e, tuple):
        etype, term, index, data = e
        msg = raft_pb2.Entry(Type=etype, Term=term, Index=index)  # type: ignore[arg-type]  # proto3 enum: any int
        if data is not None:
            msg.Data = data
        return msg.SerializeToString()
    msg = raft_pb2.Entry(Type=e.Type, Term=e.Term, Index=e.Index)
    if e.HasField("Data"):
        msg.Data = e.Data
    return msg.SerializeToString()


def encode_hard_state(term: int, vote: int, commit: int) -> bytes:
    return raft_pb2.HardState(term=term, vote=vote, commit=commit).SerializeToString()


def encode_wal_snapshot(index: int, term: int, voters: list[int] | None, learners: list[int] | None = None) -> bytes:
    """walpb.Snapshot: index and term always; conf_state (3.5+) only when given (learners only when there are)."""
    msg = record_pb2.Snapshot(index=index, term=term)
    if voters is not None:
        msg.conf_state.CopyFrom(raft_pb2.ConfState(voters=voters, learners=learners or [], auto_leave=False))
    return msg.SerializeToString()


# --------------------------------------------------------------------------- writer


def _open_segment(path: str, prealloc: bool) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if prealloc:
            preallocate(fd, SEGMENT_SIZE_BYTES)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _fresh_dir(path: str) -> None:
    """An empty private directory at `path` (a leftover from an interrupted run is removed first)."""
    if os.path.exists(path):
        import shutil

        shutil.rmtree(path)
    os.makedirs(path, mode=0o700)


def _rename_dir(tmp_dir: str, wal_dir: str) -> None:
    """wal.Create's rename dance: the finished `<dir>.tmp` synced, renamed to `<dir>`, the parent synced."""
    fsync_dir(tmp_dir)
    os.rename(tmp_dir, wal_dir)
    fsync_dir(os.path.dirname(os.path.abspath(wal_dir)))


class WALAppender:
    """The live end of a WAL: records appended to its last segment (etcd's wal.Save, SaveSnapshot and cut).

    Every write is checked (pwrite_all) and nothing is synced until sync(); the caller serializes the calls."""

    def __init__(
        self,
        wal_dir: str,
        metadata: bytes,
        path: str,
        seq: int,
        offset: int,
        crc: int,
        *,
        state: bytes = b"",
        last_index: int = 0,
        prealloc: bool = True,
    ) -> None:
        self.wal_dir = wal_dir
        self.metadata = metadata
        self.path = path
        self.fd = os.open(path, os.O_WRONLY)
        self.seq = seq
        self.offset = offset
        self.crc = crc  # the running CRC-32C of every record's data so far
        self.state = state  # the last HardState, restated at the start of every new segment
        self.last_index = last_index
        self.prealloc = prealloc

    @classmethod
    def start(cls, wal_dir: str, metadata: bytes, prealloc: bool = True) -> WALAppender:
        """Segment 0 of a new WAL in the (empty) `wal_dir`: crc, metadata and an empty snapshot record, as
        wal.Create writes them; not yet synced."""
        path = os.path.join(wal_dir, wal_name(0, 0))
        os.close(_open_segment(path, prealloc))
        w = cls(wal_dir, metadata, path, 0, 0, 0, prealloc=prealloc)
        w._write(
            encode_frame(encode_record(CRC_TYPE, 0, None))
            + w._record(METADATA_TYPE, metadata)
            + w._record(SNAPSHOT_TYPE, encode_wal_snapshot(0, 0, None))
        )
        return w

    @classmethod
    def resume(cls, wal_dir: str, contents: WALContents, last_index: int) -> WALAppender:
        """Appends after what read_wal(..., repair=True) read: where its last good record ends. A damaged tail is
        cut off there and the segment filled with zeros again (etcd's Repair), so no byte of it is read later."""
        tail = contents.tail
        if tail is None:
            raise WALError("wal: file not found")
        w = cls(
            wal_dir,
            contents.metadata,
            tail.path,
            tail.seq,
            tail.offset,
            tail.crc,
            state=contents.hard_state.SerializeToString(),
            last_index=last_index,
        )
        if tail.damaged:
            os.ftruncate(w.fd, tail.offset)
            preallocate(w.fd, SEGMENT_SIZE_BYTES)
            os.fsync(w.fd)
        return w

    def _record(self, rtype: int, data: bytes) -> bytes:
        self.crc = crc32c.crc32c(data, self.crc)
        return encode_frame(encode_record(rtype, self.crc, data))

    def _write(self, data: bytes) -> None:
        pwrite_all(self.fd, data, self.offset)
        self.offset += len(data)

    def save(self, term: int, vote: int, commit: int, entries: list[bytes], last_index: int) -> None:
        """wal.Save: entries (encoded raftpb.Entry bytes), then the HardState; cut once the segment is full."""
        buf = bytearray()
        for e in entries:
            buf += self._record(ENTRY_TYPE, e)
        self.state = encode_hard_state(term, vote, commit)
        buf += self._record(STATE_TYPE, self.state)
        self._write(bytes(buf))
        if entries:
            self.last_index = last_index
        if self.offset >= SEGMENT_SIZE_BYTES:
            self._cut()

    def save_snapshot(self, index: int, term: int, voters: list[int] | None, learners: list[int] | None = None) -> None:
        """wal.SaveSnapshot's record (the caller syncs)."""
        self._write(self._record(SNAPSHOT_TYPE, encode_wal_snapshot(index, term, voters, learners)))
        self.last_index = max(self.last_index, index)

    def _cut(self) -> None:
        """wal.cut: this segment ends where its records end (synced); the next one restates the running CRC, the
        metadata and the last HardState."""
        os.ftruncate(self.fd, self.offset)
        os.fsync(self.fd)
        os.close(self.fd)
        self.seq += 1
        self.path = os.path.join(self.wal_dir, wal_name(self.seq, self.last_index + 1))
        self.fd = _open_segment(self.path, self.prealloc)
        self.offset = 0
        buf = encode_frame(encode_record(CRC_TYPE, self.crc, None)) + self._record(METADATA_TYPE, self.metadata)
        if self.state:
            buf += self._record(STATE_TYPE, self.state)
        self._write(buf)
        os.fsync(self.fd)
        fsync_dir(self.wal_dir)

    def sync(self) -> None:
        os.fdatasync(self.fd)

    def dup_fd(self) -> int:
        """A descriptor of the live segment that stays valid when a cut closes this one, for a sync made outside
        the caller's lock (the caller closes it)."""
        return os.dup(self.fd)

    def close(self) -> None:
        """Sync and close the live segment (it stays preallocated, as etcd leaves it)."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def abort(self) -> None:
        """Close without syncing (the WAL is being given up)."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def create(wal_dir: str, metadata: bytes) -> WALAppender:
    """wal.Create for a server that goes on appending: segment 0 synced in `<dir>.tmp`, renamed into place."""
    tmp_dir = wal_dir.rstrip(os.sep) + ".tmp"
    _fresh_dir(tmp_dir)
    w = WALAppender.start(tmp_dir, metadata)
    w.sync()
    _rename_dir(tmp_dir, wal_dir)
    w.wal_dir, w.path = wal_dir, os.path.join(wal_dir, os.path.basename(w.path))
    return w


class WALWriter:
    """A whole WAL (wal.Create + Save + SaveSnapshot) written in `<dir>.tmp` and renamed into place by close(), so
    an interrupted restore or backup leaves no half-written WAL under the real name."""

    def __init__(self, wal_dir: str, metadata: bytes, preallocate: bool = True) -> None:
        self.wal_dir = wal_dir
        self.tmp_dir = wal_dir.rstrip(os.sep) + ".tmp"
        _fresh_dir(self.tmp_dir)
        self._w = WALAppender.start(self.tmp_dir, metadata, preallocate)

    def save(self, term: int, vote: int, commit: int, entries: list[bytes], last_index: int) -> None:
        self._w.save(term, vote, commit, entries, last_index)

    def save_snapshot(self, index: int, term: int, voters: list[int] | None) -> None:
        self._w.save_snapshot(index, term, voters)

    def close(self) -> None:
        self._w.close()
        _rename_dir(self.tmp_dir, self.wal_dir)

    def abort(self) -> None:
        self._w.abort()


# --------------------------------------------------------------------------- reader


@dataclass
class WALTail:
    """Where the log ends: the last segment, the end of its last good record and the running CRC there."""

    path: str
    seq: int
    offset: int
    crc: int
    damaged: bool = False  # a damaged record followed (read with `repair`)


@dataclass
class WALContents:
    """What wal.ReadAll returns, plus the snapshot records (for matching a .snap) and where appends would go."""

    metadata: bytes = b""
    hard_state: raft_pb2.HardState = field(default_factory=raft_pb2.HardState)
    entries: list[raft_pb2.Entry] = field(default_factory=list)
    snapshots: list[tuple[int, int]] = field(default_factory=list)
    snapshot_found: bool = False
    records: int = 0
    tail: WALTail | None = None


class WALDamage(WALError):
    """Bytes that are not a whole, valid record at `offset`; `torn` when the record runs past the end of the file."""

    def __init__(self, message: str, offset: int, torn: bool = False) -> None:
        super().__init__(message)
        self.offset = offset
        self.torn = torn


def _frames(data: bytes, name: str) -> Iterator[tuple[int, record_pb2.Record, int]]:
    """The records of one segment with the offsets where their frames start and end, up to a zero length (the
    preallocated tail); WALDamage at the first frame that is not a whole record."""
    off, n = 0, len(data)
    while off + 8 <= n:
        (length,) = struct.unpack_from("<Q", data, off)
        if length == 0:
            return
        rec_bytes = length & ~(0xFF << 56)
        pad = (length >> 56) & 0x7 if length >> 63 else 0
        if rec_bytes >= MAX_RECORD_SIZE - pad:
            raise WALDamage(f"wal: max entry size limit exceeded (file {name}, offset {off})", off)
        end = off + 8 + rec_bytes + pad
        if end > n:
            raise WALDamage(f"unexpected EOF: torn record at the end of {name} (offset {off})", off, torn=True)
        rec = record_pb2.Record()
        try:
            rec.ParseFromString(data[off + 8 : off + 8 + rec_bytes])
        except DecodeError:
            raise WALDamage(f"wal: cannot decode record in {name} at offset {off}", off) from None
        yield off, rec, end
        off = end


def iter_records(data: bytes, name: str = "wal") -> list[tuple[int, record_pb2.Record]]:
    """Decode the frames of one segment (stopping at a zero length / the preallocated tail)."""
    return [(off, rec) for off, rec, _ in _frames(data, name)]


def wal_files(wal_dir: str) -> list[str]:
    try:
        names = sorted(n for n in os.listdir(wal_dir) if n.endswith(WAL_SUFFIX))
    except FileNotFoundError:
        raise WALError(f"open {wal_dir}: no such file or directory") from None
    for n in names:
        parse_wal_name(n)
    return names


def _segments_from(wal_dir: str, snap_index: int) -> list[str]:
    """The segments from the one holding `snap_index` on, whose sequence numbers must follow each other."""
    names = wal_files(wal_dir)
    if not names:
        raise WALError("wal: file not found")
    start = 0
    for i, n in enumerate(names):
        if parse_wal_name(n)[1] <= snap_index:
            start = i
    names = names[start:]
    seqs = [parse_wal_name(n)[0] for n in names]
    if any(b != a + 1 for a, b in zip(seqs, seqs[1:], strict=False)):
        raise WALError("wal: file sequence numbers do not increase continuously")
    return names


def read_wal(
    wal_dir: str,
    snap_index: int = 0,
    snap_term: int = 0,
    *,
    require_snapshot: bool = True,
    tolerate_torn_tail: bool = False,
    repair: bool = False,
) -> WALContents:
    """wal.OpenForRead(snap) + ReadAll: verify CRCs across all segments from the one holding `snap_index`.

    `require_snapshot=False` returns what was read with `snapshot_found` False instead of raising
    (ErrSnapshotNotFound). Damage in the last segment can end the log instead of failing the read:
    `tolerate_torn_tail` accepts a partially written last record (etcd's read-only mode); `repair` accepts any
    damaged record there (torn, oversized, undecodable, failing its CRC: a write a crash cut short), as a server
    that goes on appending does (etcd's repair). `tail` says where the log ends.
    """
    names = _segments_from(wal_dir, snap_index)
    out = WALContents()
    crc = 0
    for pos, name in enumerate(names):
        path = os.path.join(wal_dir, name)
        with open(path, "rb") as f:
            data = f.read()
        end = 0  # where the last good record of this segment ends
        try:
            for off, rec, rec_end in _frames(data, name):
                crc = _check(out, rec, crc, snap_index, snap_term, name, off)
                end = rec_end
        except WALDamage as e:
            if pos != len(names) - 1 or not (repair or (tolerate_torn_tail and e.torn)):
                raise
            end, damaged = e.offset, True
        else:
            damaged = False
        out.tail = WALTail(path, parse_wal_name(name)[0], end, crc, damaged)
    if not out.snapshot_found and require_snapshot:
        raise WALError("wal: snapshot not found")
    return out


def _check(
    out: WALContents, rec: record_pb2.Record, crc: int, snap_index: int, snap_term: int, name: str, off: int
) -> int:
    """Verify one record against the running CRC and take it into `out`; returns the running CRC after it."""
    out.records += 1
    if rec.type == CRC_TYPE:
        if crc != 0 and rec.crc != crc:
            raise WALDamage(f"walpb: crc mismatch (file {name}, offset {off})", off)
        return rec.crc
    running = crc32c.crc32c(rec.data, crc)
    if rec.crc != running:
        raise WALDamage(f"walpb: crc mismatch (file {name}, offset {off})", off)
    try:
        _apply(out, rec, snap_index, snap_term)
    except DecodeError:  # a CRC-valid record whose data is not the message its type names
        raise WALDamage(f"wal: cannot decode record data in {name} at offset {off}", off) from None
    return running


def _apply(out: WALContents, rec: record_pb2.Record, snap_index: int, snap_term: int) -> None:
    if rec.type == ENTRY_TYPE:
        e = raft_pb2.Entry()
        e.ParseFromString(rec.data)
        if e.Index > snap_index:
            keep = e.Index - snap_index - 1
            if keep > len(out.entries):
                raise WALError("wal: slice bounds out of range (missing entries)")
            del out.entries[keep:]
            out.entries.append(e)
    elif rec.type == STATE_TYPE:
        hs = raft_pb2.HardState()
        hs.ParseFromString(rec.data)
        out.hard_state = hs
    elif rec.type == METADATA_TYPE:
        if out.metadata and out.metadata != rec.data:
            raise WALError("wal: conflicting metadata found")
        out.metadata = rec.data
    elif rec.type == SNAPSHOT_TYPE:
        s = record_pb2.Snapshot()
        s.ParseFromString(rec.data)
        out.snapshots.append((s.index, s.term))
        if s.index == snap_index:
            if s.term != snap_term:
                raise WALError("wal: snapshot mismatch")
            out.snapshot_found = True
    else:
        raise WALError(f"wal: unexpected block type {rec.type}")
