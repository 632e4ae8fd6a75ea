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
from dataclasses import dataclass, field

import crc32c

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
            out.append((fnum, wt, data[i:i + ln]))
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
    return "%016x-%016x%s" % (seq, index, WAL_SUFFIX)


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
        msg = raft_pb2.Entry(Type=etype, Term=term, Index=index)
        if data is not None:
            msg.Data = data
        return msg.SerializeToString()
    msg = raft_pb2.Entry(Type=e.Type, Term=e.Term, Index=e.Index)
    if e.HasField("Data"):
        msg.Data = e.Data
    return msg.SerializeToString()


def encode_hard_state(term: int, vote: int, commit: int) -> bytes:
    return raft_pb2.HardState(term=term, vote=vote, commit=commit).SerializeToString()


def encode_wal_snapshot(index: int, term: int, voters: list[int] | None) -> bytes:
    """walpb.Snapshot: index and term always; conf_state (3.5+) only when given."""
    msg = record_pb2.Snapshot(index=index, term=term)
    if voters is not None:
        msg.conf_state.CopyFrom(raft_pb2.ConfState(voters=voters, auto_leave=False))
    return msg.SerializeToString()


# --------------------------------------------------------------------------- writer


class WALWriter:
    """Creates a WAL like wal.Create + Save + SaveSnapshot, in a `<dir>.tmp` renamed into place on close().

    Records are buffered in memory (a restore/backup WAL is small) and written with one write per segment.
    """

    def __init__(self, wal_dir: str, metadata: bytes, preallocate: bool = True) -> None:
        self.wal_dir = wal_dir
        self.tmp_dir = wal_dir.rstrip(os.sep) + ".tmp"
        self.metadata = metadata
        self.preallocate = preallocate
        self.crc = 0
        self.seq = 0
        self.buf = bytearray()
        self.last_index = 0
        self.state: bytes | None = None
        self.closed_files: list[str] = []
        if os.path.exists(self.tmp_dir):
            import shutil

            shutil.rmtree(self.tmp_dir)
        os.makedirs(self.tmp_dir, mode=0o700)
        self.path = os.path.join(self.tmp_dir, wal_name(0, 0))
        self._fd = self._open_segment(self.path)
        self._save_crc(0)
        self._append(METADATA_TYPE, metadata)
        self.save_snapshot(0, 0, None)

    def _open_segment(self, path: str) -> int:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        if self.preallocate:
            preallocate(fd, SEGMENT_SIZE_BYTES)
        return fd

    def _save_crc(self, prev: int) -> None:
        self.buf += encode_frame(encode_record(CRC_TYPE, prev, None))

    def _append(self, rtype: int, data: bytes) -> None:
        self.crc = crc32c.crc32c(data, self.crc)
        self.buf += encode_frame(encode_record(rtype, self.crc, data))

    def save(self, term: int, vote: int, commit: int, entries: list[bytes], last_index: int) -> None:
        """wal.Save: entries (already encoded raftpb.Entry bytes), then the HardState; cut if the segment is full."""
        for e in entries:
            self._append(ENTRY_TYPE, e)
        if entries:
            self.last_index = last_index
        self.state = encode_hard_state(term, vote, commit)
        self._append(STATE_TYPE, self.state)
        if len(self.buf) >= SEGMENT_SIZE_BYTES:
            self._cut()

    def save_snapshot(self, index: int, term: int, voters: list[int] | None) -> None:
        self._append(SNAPSHOT_TYPE, encode_wal_snapshot(index, term, voters))
        if self.last_index < index:
            self.last_index = index

    def _flush(self, truncate: bool) -> None:
        pwrite_all(self._fd, self.buf, 0)
        if truncate or len(self.buf) > SEGMENT_SIZE_BYTES:
            os.ftruncate(self._fd, len(self.buf))
        os.fsync(self._fd)

    def _cut(self) -> None:
        """wal.cut: close this segment at its end and continue in the next, re-stating crc, metadata, state."""
        self._flush(truncate=True)
        os.close(self._fd)
        self.seq += 1
        self.path = os.path.join(self.tmp_dir, wal_name(self.seq, self.last_index + 1))
        self._fd = self._open_segment(self.path)
        self.buf = bytearray()
        self._save_crc(self.crc)
        self._append(METADATA_TYPE, self.metadata)
        if self.state is not None:
            self._append(STATE_TYPE, self.state)

    def close(self) -> None:
        """Write, fsync, rename `<dir>.tmp` to `<dir>` and fsync the parent (wal.Create's rename dance)."""
        self._flush(truncate=not self.preallocate)
        os.close(self._fd)
        self._fd = -1
        fsync_dir(self.tmp_dir)
        os.rename(self.tmp_dir, self.wal_dir)
        fsync_dir(os.path.dirname(os.path.abspath(self.wal_dir)))

    def abort(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


# --------------------------------------------------------------------------- reader


@dataclass
class WALContents:
    """What wal.ReadAll returns, plus the snapshot records (for matching a .snap)."""

    metadata: bytes = b""
    hard_state: raft_pb2.HardState = field(default_factory=raft_pb2.HardState)
    entries: list[raft_pb2.Entry] = field(default_factory=list)
    snapshots: list[tuple[int, int]] = field(default_factory=list)
    snapshot_found: bool = False
    records: int = 0


def iter_records(data: bytes, name: str = "wal") -> "list[tuple[int, record_pb2.Record]]":
    """Decode the frames of one segment (stopping at a zero length / the preallocated tail)."""
    out = []
    off, n = 0, len(data)
    while off + 8 <= n:
        (length,) = struct.unpack_from("<Q", data, off)
        if length == 0:
            break
        rec_bytes = length & ~(0xFF << 56)
        pad = (length >> 56) & 0x7 if length >> 63 else 0
        if rec_bytes >= MAX_RECORD_SIZE - pad:
            raise WALError(f"wal: max entry size limit exceeded (file {name}, offset {off})")
        end = off + 8 + rec_bytes + pad
        if end > n:
            raise WALError(f"unexpected EOF: torn record at the end of {name} (offset {off})")
        rec = record_pb2.Record()
        try:
            rec.ParseFromString(data[off + 8: off + 8 + rec_bytes])
        except Exception:  # noqa: BLE001 - protobuf DecodeError on garbage
            raise WALError(f"wal: cannot decode record in {name} at offset {off}") from None
        out.append((off, rec))
        off = end
    return out


def wal_files(wal_dir: str) -> list[str]:
    try:
        names = sorted(n for n in os.listdir(wal_dir) if n.endswith(WAL_SUFFIX))
    except FileNotFoundError:
        raise WALError(f"open {wal_dir}: no such file or directory") from None
    for n in names:
        parse_wal_name(n)
    return names


def read_wal(wal_dir: str, snap_index: int = 0, snap_term: int = 0, *, require_snapshot: bool = True,
             tolerate_torn_tail: bool = False) -> WALContents:
    """wal.OpenForRead(snap) + ReadAll: verify CRCs across all segments from the one holding `snap_index`.

    `require_snapshot=False` returns what was read with `snapshot_found` False instead of raising
    (ErrSnapshotNotFound); `tolerate_torn_tail` accepts a partially written last record of the last file,
    as etcd does in read-only mode.
    """
    names = wal_files(wal_dir)
    if not names:
        raise WALError("wal: file not found")
    start = 0
    for i, n in enumerate(names):
        if parse_wal_name(n)[1] <= snap_index:
            start = i
    names = names[start:]
    seqs = [parse_wal_name(n)[0] for n in names]
    if any(b != a + 1 for a, b in zip(seqs, seqs[1:])):
        raise WALError("wal: file sequence numbers do not increase continuously")
    out = WALContents()
    crc = 0
    for pos, name in enumerate(names):
        with open(os.path.join(wal_dir, name), "rb") as f:
            data = f.read()
        try:
            records = iter_records(data, name)
        except WALError as e:
            if not (tolerate_torn_tail and pos == len(names) - 1 and "torn record" in str(e)):
                raise
            records = iter_records(data[: int(str(e).rsplit("offset ", 1)[1].rstrip(")"))], name)
        for off, rec in records:
            out.records += 1
            if rec.type == CRC_TYPE:
                if crc != 0 and rec.crc != crc:
                    raise WALError(f"walpb: crc mismatch (file {name}, offset {off})")
                crc = rec.crc
                continue
            crc = crc32c.crc32c(rec.data, crc)
            if rec.crc != crc:
                raise WALError(f"walpb: crc mismatch (file {name}, offset {off})")
            try:
                _apply(out, rec, snap_index, snap_term)
            except WALError:
                raise
            except Exception:  # noqa: BLE001 - protobuf DecodeError inside a CRC-valid record
                raise WALError(f"wal: cannot decode record data in {name} at offset {off}") from None
    if not out.snapshot_found and require_snapshot:
        raise WALError("wal: snapshot not found")
    return out


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
