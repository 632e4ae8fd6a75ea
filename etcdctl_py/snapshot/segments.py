"""Delta segment files of `snapshot follow`: watch events, whole revisions per record, CRC32C per record.

A segment is `delta-<first revision, 16 digits>.seg`: a 28-byte header (magic `EPYDELT` plus the format
version digit, first revision, creation time in ns, all big endian, then the CRC32C of those 24 bytes), then
records. A record is its payload length (u32), the payload's CRC32C (u32) and the payload. A crash can only
tear the last record, which the CRC (or a length running past the end) shows; `follow` truncates such a tail
when it resumes. See docs/formats.md.

Payload kinds:
* 1, events: first and last revision, receive time (ns), event count, then per event: type (0 put, 1 delete),
  revision (u64), sub-revision (u32), and the bytes etcd's `key` bucket holds for it (an mvccpb.KeyValue: the
  watched kv for a put, only the key for a delete's tombstone); from version 2 on each event also carries
  the key's previous KeyValue (watch prev_kv; empty when the key did not exist), kept for inspection and
  tools: restore ignores it, and version 1 segments (without it) stay readable;
* 2, lease: lease ID and granted TTL of a lease first seen on a put after the full snapshot (restore puts it
  into the lease bucket, see pitr.py).
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import crc32c

from etcdctl_py.storage.fileutil import fsync_dir

MAGIC_PREFIX = b"EPYDELT"
VERSION = 2  # what SegmentWriter writes; 1: events without prev_kv (written before follow asked for it)
VERSIONS = (1, 2)
MAGIC = MAGIC_PREFIX + str(VERSION).encode()
_HEADER = struct.Struct(">8sQQ")
HEADER_SIZE = _HEADER.size + 4
_FRAME = struct.Struct(">II")
_EVENTS = struct.Struct(">BQQQI")
_EVENT = struct.Struct(">BQII")
_LEASE = struct.Struct(">BqqQ")
_U32 = struct.Struct(">I")
KIND_EVENTS = 1
KIND_LEASE = 2
PUT, DELETE = 0, 1
MAX_RECORD = 1 << 30  # a length above this is damage, not a record
PREFIX, SUFFIX = "delta-", ".seg"


def segment_name(first_rev: int) -> str:
    return f"{PREFIX}{first_rev:016d}{SUFFIX}"


def parse_segment_name(name: str) -> int | None:
    """The first revision a segment's name gives, or None for any other name."""
    if not (name.startswith(PREFIX) and name.endswith(SUFFIX)):
        return None
    digits = name[len(PREFIX) : -len(SUFFIX)]
    return int(digits) if digits.isdigit() and len(digits) == 16 else None


def encode_header(first_rev: int, created_ns: int, version: int = VERSION) -> bytes:
    head = _HEADER.pack(MAGIC_PREFIX + str(version).encode(), first_rev, created_ns)
    return head + crc32c.crc32c(head).to_bytes(4, "big")


def frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), crc32c.crc32c(payload)) + payload


def encode_events(events: list[tuple[int, int, int, bytes, bytes]], time_ns: int, version: int = VERSION) -> bytes:
    """One events record (framed) from (type, revision, sub, bucket value, prev_kv), revisions ascending;
    version 1 (tests: old segments) leaves prev_kv out."""
    parts = [_EVENTS.pack(KIND_EVENTS, events[0][1], events[-1][1], time_ns, len(events))]
    for typ, rev, sub, value, prev in events:
        parts.append(_EVENT.pack(typ, rev, sub, len(value)))
        parts.append(value)
        if version >= 2:
            parts.append(_U32.pack(len(prev)))
            parts.append(prev)
    return frame(b"".join(parts))


def encode_lease(lease_id: int, ttl: int, time_ns: int) -> bytes:
    return frame(_LEASE.pack(KIND_LEASE, lease_id, ttl, time_ns))


@dataclass
class Record:
    offset: int
    kind: int
    first_rev: int
    last_rev: int
    time_ns: int


@dataclass
class SegmentScan:
    """What one pass over a segment found: its valid records and where (and why) reading stopped early."""

    path: str
    first_rev: int
    created_ns: int = 0
    version: int = 0  # the header's format version (0: header unreadable)
    records: list[Record] = field(default_factory=list)
    good_end: int = 0  # offset just after the last valid record (or the header)
    size: int = 0
    damage: str = ""  # why reading stopped before the end of the file ("" when it did not)
    damage_offset: int = -1
    torn: bool = False  # the damage is an incomplete record at the very end (a crash mid-write)

    @property
    def last_rev(self) -> int:
        """The last revision this segment holds intact (first_rev - 1 when none)."""
        revs = [r.last_rev for r in self.records if r.kind == KIND_EVENTS]
        return revs[-1] if revs else self.first_rev - 1


class SegmentError(Exception):
    """A segment cannot be read at all (str: the reason, naming the file)."""


def scan(path: str) -> SegmentScan:
    """Check every record's frame and CRC; record headers only, the events are not decoded."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise SegmentError(f"{path}: {e.strerror}") from None
    name_rev = parse_segment_name(os.path.basename(path))
    out = SegmentScan(path=path, first_rev=name_rev or 0, size=len(data))
    if len(data) < HEADER_SIZE:
        _damaged(out, 0, "header incomplete", torn=True)
        return out
    magic, first, created = _HEADER.unpack_from(data, 0)
    version = _version(magic)
    if not version or crc32c.crc32c(data[: _HEADER.size]) != int.from_bytes(data[_HEADER.size : HEADER_SIZE], "big"):
        _damaged(out, 0, "bad header (magic or CRC)")
        return out
    if name_rev is not None and first != name_rev:
        _damaged(out, 0, f"header names revision {first}, file name {name_rev}")
        return out
    out.first_rev, out.created_ns, out.version = first, created, version
    off = out.good_end = HEADER_SIZE
    expect = first
    while off < len(data):
        if off + _FRAME.size > len(data):
            _damaged(out, off, "record frame incomplete", torn=True)
            break
        n, crc = _FRAME.unpack_from(data, off)
        end = off + _FRAME.size + n
        if n > MAX_RECORD or end > len(data):
            _damaged(out, off, "record runs past the end of the file", torn=n <= MAX_RECORD)
            break
        payload = data[off + _FRAME.size : end]
        if crc32c.crc32c(payload) != crc:
            _damaged(out, off, "record CRC mismatch", torn=end == len(data))
            break
        rec = _record_head(payload, off)
        if rec is None:
            _damaged(out, off, "record payload malformed")
            break
        if rec.kind == KIND_EVENTS:
            if rec.first_rev != expect:
                _damaged(out, off, f"record starts at revision {rec.first_rev}, expected {expect}")
                break
            expect = rec.last_rev + 1
        out.records.append(rec)
        off = out.good_end = end
    return out


def _version(magic: bytes) -> int:
    """The format version a header's magic names (0: not a segment header, or a version we do not know)."""
    v = magic[len(MAGIC_PREFIX) :]
    if magic.startswith(MAGIC_PREFIX) and v.isdigit() and int(v) in VERSIONS:
        return int(v)
    return 0


def _damaged(out: SegmentScan, off: int, why: str, torn: bool = False) -> None:
    out.damage, out.damage_offset, out.torn = why, off, torn


def _record_head(payload: bytes, off: int) -> Record | None:
    if not payload:
        return None
    if payload[0] == KIND_EVENTS and len(payload) >= _EVENTS.size:
        _, first, last, t, _n = _EVENTS.unpack_from(payload, 0)
        return Record(off, KIND_EVENTS, first, last, t) if first <= last else None
    if payload[0] == KIND_LEASE and len(payload) == _LEASE.size:
        _, _lid, _ttl, t = _LEASE.unpack_from(payload, 0)
        return Record(off, KIND_LEASE, 0, 0, t)
    return None


LEASE_EVENT = 2  # an Event's type for a lease record: Event(LEASE_EVENT, lease ID, TTL, b"")


class Event(NamedTuple):
    """One event as read back: type (PUT, DELETE or LEASE_EVENT), revision, sub-revision, the `key` bucket
    value, and the key's previous KeyValue (b"" when it had none or the segment is version 1)."""

    type: int
    rev: int
    sub: int
    value: bytes
    prev_kv: bytes = b""


def read_records(path: str, upto: int) -> Iterator[Event]:
    """Every event up to revision `upto`, and Event(LEASE_EVENT, ID, TTL, b"") for the leases recorded before
    them; CRC-checked again on the way (the file may have changed since it was scanned). Raises SegmentError
    on damage before `upto`."""
    leases: list[Event] = []
    version, payloads = _payloads(path)
    for kind, payload in payloads:
        if kind == KIND_LEASE:
            _, lid, ttl, _t = _LEASE.unpack_from(payload, 0)
            leases.append(Event(LEASE_EVENT, lid, ttl, b""))  # belongs to the next events record
            continue
        if kind != KIND_EVENTS:
            continue
        _, first, last, _t, count = _EVENTS.unpack_from(payload, 0)
        if first > upto:
            return
        yield from leases
        leases.clear()
        for ev in _events(payload, count, version):
            if ev.rev > upto:
                return
            yield ev
        if last >= upto:
            return  # done: whatever follows (even a torn tail) is not needed


def _events(payload: bytes, count: int, version: int) -> Iterator[Event]:
    """The events of one events payload, laid out as the segment's format version says."""
    pos = _EVENTS.size
    for _ in range(count):
        typ, rev, sub, n = _EVENT.unpack_from(payload, pos)
        pos += _EVENT.size
        value = payload[pos : pos + n]
        pos += n
        prev = b""
        if version >= 2:
            (p,) = _U32.unpack_from(payload, pos)
            prev = payload[pos + 4 : pos + 4 + p]
            pos += 4 + p
        yield Event(typ, rev, sub, value, prev)


def _payloads(path: str) -> tuple[int, Iterator[tuple[int, bytes]]]:
    """The segment's format version and its records' (kind, payload)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise SegmentError(f"{path}: {e.strerror}") from None
    version = _version(data[:8])
    if not version:
        raise SegmentError(f"segment {path} is damaged at offset 0 (bad header (magic or CRC))")
    return version, _frames(path, data)


def _frames(path: str, data: bytes) -> Iterator[tuple[int, bytes]]:
    off = HEADER_SIZE
    while off < len(data):
        if off + _FRAME.size > len(data):
            break
        n, crc = _FRAME.unpack_from(data, off)
        payload = data[off + _FRAME.size : off + _FRAME.size + n]
        if len(payload) != n or crc32c.crc32c(payload) != crc:
            raise SegmentError(f"segment {path} is damaged at offset {off} (record CRC mismatch)")
        yield payload[0], payload
        off += _FRAME.size + n


class SegmentWriter:
    """Appends records to a new segment; `sync` makes everything written so far durable."""

    def __init__(self, directory: str, first_rev: int) -> None:
        self.path = os.path.join(directory, segment_name(first_rev))
        self.first_rev = first_rev
        self.created = time.time()
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.size = 0
        self._write(encode_header(first_rev, time.time_ns()))
        os.fsync(self.fd)
        fsync_dir(directory)
        self.last_rev = first_rev - 1  # written (maybe not yet durable)
        self.durable_rev = first_rev - 1
        self.dirty = False

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.size += len(data)

    def append(self, record: bytes, last_rev: int | None = None) -> None:
        """One framed record, written with one write call (a crash tears at most this record)."""
        self._write(record)
        if last_rev is not None:
            self.last_rev = last_rev
        self.dirty = True

    def sync(self) -> None:
        if self.dirty:
            os.fsync(self.fd)
            self.dirty = False
        self.durable_rev = self.last_rev

    def close(self) -> None:
        if self.fd >= 0:
            self.sync()
            os.close(self.fd)
            self.fd = -1


def truncate_tail(seg: SegmentScan) -> None:
    """Cut a segment back to its last valid record (the torn tail of a crash) and make that durable."""
    fd = os.open(seg.path, os.O_WRONLY)
    try:
        os.ftruncate(fd, seg.good_end)
        os.fsync(fd)
    finally:
        os.close(fd)
