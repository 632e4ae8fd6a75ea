"""Large RangeResponses printed straight from their wire bytes, in batches.

`get /registry --prefix` can return hundreds of MB. Decoding the whole message into one protobuf
object and walking it key by key costs a second copy of the response and several Python calls per
KeyValue. Instead, `split_range` walks only the top level of the serialized RangeResponse (one tag
and one length per KeyValue), keeps the `kvs` records in place as byte spans of about `CHUNK_BYTES`,
and decodes the few other top-level fields (header, more, count, unknown fields) on their own.
`RangeParts.columns` then decodes one span at a time, in C, into one list per KeyValue field (see
etcdctl_py/proto/fastkvpb/kvcolumns.proto), and the printers format whole columns with C-level
helpers (binascii, bytes %, join), one large write per span: the process holds the response plus
one span's worth of output, never two copies of the response.

Protobuf parsing is compositional (parsing `a + b` merges the parses of `a` and `b`, repeated fields
append), so the parts decode to exactly what a whole-message parse gives. Anything the walk does not
expect (groups, field number 0, truncated or oversized lengths, undecodable top-level fields) makes
`split_range` return None, and the printer decodes the whole message as before; a span whose columns
do not line up with its records is read KeyValue by KeyValue.

The one malformation the column check cannot see is a KeyValue that repeats a field while another
KeyValue of the same span omits it (the column still has one entry per record, paired with the wrong
record). No protobuf encoder writes a field twice; etcd's and etcd-py's never do.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from typing import Any

from etcdctl_py.proto.etcdserverpb import rpc_pb2

CHUNK_BYTES = 1 << 20  # wire bytes of KeyValues decoded and printed per batch
KV_TAG = 0x12  # RangeResponse.kvs: field 2, length-delimited
FIELDS = ("key", "create_revision", "mod_revision", "version", "value", "lease")
_ZERO = {"key": b"", "value": b""}  # the other fields are integers


class RangeParts:
    """A serialized RangeResponse split into its non-kv fields (decoded) and spans of kv records."""

    __slots__ = ("count", "head", "raw", "spans")

    def __init__(self, raw: bytes, head: Any, spans: list[tuple[int, int, int]], count: int):
        self.raw = raw
        self.head = head  # rpc_pb2.RangeResponse holding header, more, count and unknown fields
        self.spans = spans  # (start, end, records): byte ranges of raw, each a run of whole `kvs` records
        self.count = count  # number of kvs

    def columns(
        self, fields: Sequence[str] = FIELDS, spans: Sequence[tuple[int, int, int]] | None = None
    ) -> Iterator[tuple[list, ...]]:
        """Per span (of `spans`, default all), one list per asked KeyValue field (in `fields` order), one entry
        per kv."""
        from etcdctl_py.proto.fastkvpb.kvcolumns_pb2 import RangeColumns

        mv = memoryview(self.raw)
        for start, end, n in self.spans if spans is None else spans:
            kvs = RangeColumns.FromString(mv[start:end]).kvs
            cols = [getattr(kvs, f) for f in fields]
            if all(len(c) == n for c in cols):
                yield tuple(map(list, cols))
            elif all(len(c) in (0, n) for c in cols):
                yield tuple(list(c) if c else [_ZERO.get(f, 0)] * n for f, c in zip(fields, cols, strict=True))
            else:  # a field set in some kvs only: read it kv by kv
                kv_list = list(rpc_pb2.RangeResponse.FromString(mv[start:end]).kvs)
                yield tuple(list(map(operator.attrgetter(f), kv_list)) for f in fields)

    def span_messages(self) -> Iterator[Any]:
        """Each span decoded as a RangeResponse holding only kvs (for re-serialization)."""
        mv = memoryview(self.raw)
        parse = rpc_pb2.RangeResponse.FromString
        for start, end, _ in self.spans:
            yield parse(mv[start:end])


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the base-128 varint at `pos`; ValueError if longer than 10 bytes."""
    result = shift = 0
    for i in range(pos, min(pos + 10, len(buf))):
        b = buf[i]
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, i + 1
        shift += 7
    raise ValueError("bad varint")


def _skip_field(buf: bytes, pos: int) -> int:
    """The end of the top-level field whose tag starts at `pos`; ValueError for groups or truncation."""
    tag, p = read_varint(buf, pos)
    wire = tag & 7
    if tag >> 3 == 0:
        raise ValueError("field number 0")
    if wire == 0:
        return read_varint(buf, p)[1]
    if wire == 1:
        end = p + 8
    elif wire == 5:
        end = p + 4
    elif wire == 2:
        n, p = read_varint(buf, p)
        end = p + n
    else:
        raise ValueError("group or bad wire type")
    if end > len(buf):
        raise ValueError("truncated field")
    return end


def split_range(raw: bytes, chunk_bytes: int | None = None) -> RangeParts | None:
    """Walk the top level of a serialized RangeResponse; None if it is not what etcd sends."""
    try:
        return _split(raw, chunk_bytes or CHUNK_BYTES)
    except (ValueError, IndexError):
        return None


def _split(raw: bytes, chunk_bytes: int) -> RangeParts | None:
    n = len(raw)
    head: list[bytes] = []
    spans: list[tuple[int, int, int]] = []
    total = pos = 0
    while pos < n:
        if raw[pos] != KV_TAG:
            end = _skip_field(raw, pos)
            head.append(raw[pos:end])
            pos = end
            continue
        # a run of kv records, closed after the record that crosses `limit`
        start, limit, count = pos, min(pos + chunk_bytes, n), 0
        while pos < limit and raw[pos] == KV_TAG:
            b = raw[pos + 1]  # the record's length: one or two bytes below 16 KiB
            if b < 0x80:
                pos += 2 + b
            else:
                b2 = raw[pos + 2]
                if b2 < 0x80:
                    pos += 3 + ((b & 0x7F) | (b2 << 7))
                else:
                    length, p = read_varint(raw, pos + 1)
                    pos = p + length
            count += 1
        spans.append((start, pos, count))
        total += count
    if pos > n:
        return None  # the last record runs past the end
    try:
        msg = rpc_pb2.RangeResponse.FromString(b"".join(head))
    except Exception:  # noqa: BLE001 - DecodeError: let the whole-message parse report it
        return None
    return RangeParts(raw, msg, spans, total)
