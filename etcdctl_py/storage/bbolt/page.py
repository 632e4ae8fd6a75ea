"""The bytes of a bbolt (v2, as in bbolt 1.3.6) file: page header, meta, leaf/branch elements, bucket
header and freelist pages, as small structs with pack/unpack.

Everything is little-endian and packed exactly as bbolt writes its Go structs, so these helpers
are the single place where offsets live; the reader, writer and checker all go through them.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple, TypeAlias

MAGIC = 0xED0CDAED
VERSION = 2

PAGE_HEADER_SIZE = 16
LEAF_ELEMENT_SIZE = 16
BRANCH_ELEMENT_SIZE = 16
BUCKET_HEADER_SIZE = 16
META_SIZE = 64

BRANCH_PAGE = 0x01
LEAF_PAGE = 0x02
META_PAGE = 0x04
FREELIST_PAGE = 0x10

BUCKET_LEAF_FLAG = 0x01

PGID_NO_FREELIST = 0xFFFFFFFFFFFFFFFF
MAX_KEY_SIZE = 32768
MAX_VALUE_SIZE = (1 << 31) - 2
MIN_KEYS_PER_PAGE = 2
MIN_FILL_PERCENT = 0.1
MAX_FILL_PERCENT = 1.0
DEFAULT_FILL_PERCENT = 0.5

PAGE_HEADER = struct.Struct("<QHHI")  # id, flags, count, overflow
META_BODY = struct.Struct("<IIIIQQQQQ")  # magic, version, pageSize, flags, root, sequence, freelist, pgid, txid
LEAF_ELEMENT = struct.Struct("<IIII")  # flags, pos, ksize, vsize
BRANCH_ELEMENT = struct.Struct("<IIQ")  # pos, ksize, pgid
BUCKET_HEADER = struct.Struct("<QQ")  # root, sequence
U64 = struct.Struct("<Q")

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = 0xFFFFFFFFFFFFFFFF


def fnv1a64(data: bytes) -> int:
    """FNV-1a 64 (Go's hash/fnv New64a), the meta checksum; only ever run over 56 bytes."""
    h = _FNV_OFFSET
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & _MASK64
    return h


def page_type_name(flags: int) -> str:
    """bbolt's page.typ() text, used in Check messages."""
    if flags & BRANCH_PAGE:
        return "branch"
    if flags & LEAF_PAGE:
        return "leaf"
    if flags & META_PAGE:
        return "meta"
    if flags & FREELIST_PAGE:
        return "freelist"
    return f"unknown<{flags:02x}>"


@dataclass(frozen=True)
class PageHeader:
    """The 16 bytes at the start of every page (inline bucket pages too)."""

    id: int
    flags: int
    count: int
    overflow: int

    @classmethod
    def unpack_from(cls, buf, offset: int = 0) -> PageHeader:
        return cls(*PAGE_HEADER.unpack_from(buf, offset))

    def pack(self) -> bytes:
        return PAGE_HEADER.pack(self.id, self.flags, self.count, self.overflow)


# what pages are read from: a transaction's mapping of the file, or an inline bucket's copied value
ReadBuffer: TypeAlias = mmap.mmap | bytes | bytearray

# maps a flags low byte to 1 when bucketLeafFlag is set: finds nested buckets without a Python loop
_ODD = bytes((b & BUCKET_LEAF_FLAG) for b in range(256))


class Page(NamedTuple):
    """A page read in place, as bbolt's page.go sees it: the header stored at position `pgid`, and where it lies.

    `id` is what the header says (a damaged file may disagree with `pgid`); element data may point anywhere in
    `data`, as bbolt's reads of its mapping do.
    """

    pgid: int
    id: int
    flags: int
    element_count: int  # the header's count (not `count`: that is a tuple method)
    overflow: int
    data: ReadBuffer
    offset: int

    @classmethod
    def read(cls, data: ReadBuffer, pgid: int, page_size: int) -> Page:
        """The page at position pgid (the caller has checked that its header lies inside data)."""
        off = pgid * page_size
        pid, flags, count, overflow = PAGE_HEADER.unpack_from(data, off)
        return cls(pgid, pid, flags, count, overflow, data, off)

    @property
    def is_leaf(self) -> bool:
        return bool(self.flags & LEAF_PAGE)

    @property
    def is_branch(self) -> bool:
        return bool(self.flags & BRANCH_PAGE)

    def children(self) -> tuple[int, ...] | None:
        """A branch's child page ids in key order; None when its elements run past the end of the data."""
        base = self.offset + PAGE_HEADER_SIZE
        if base + BRANCH_ELEMENT_SIZE * self.element_count > len(self.data):
            return None
        return branch_elements(self.data, self.offset, self.element_count)[2::3]

    def nested_buckets(self) -> list[int]:
        """Roots of the nested buckets a leaf stores as page trees (not inline), in key order."""
        data, count = self.data, self.element_count
        base = self.offset + PAGE_HEADER_SIZE
        limit = len(data)
        if count == 0 or base + LEAF_ELEMENT_SIZE * count > limit:
            return []
        if b"\x01" not in data[base : base + LEAF_ELEMENT_SIZE * count : LEAF_ELEMENT_SIZE].translate(_ODD):
            return []
        e = leaf_elements(data, self.offset, count)
        roots = []
        for i in range(count):
            flags, pos, ksize, vsize = e[4 * i : 4 * i + 4]
            vstart = base + LEAF_ELEMENT_SIZE * i + pos + ksize
            if flags & BUCKET_LEAF_FLAG and vsize >= BUCKET_HEADER_SIZE and vstart + BUCKET_HEADER_SIZE <= limit:
                root = BUCKET_HEADER.unpack_from(data, vstart)[0]
                if root != 0:
                    roots.append(root)
        return roots


@dataclass(frozen=True)
class Meta:
    """The meta struct stored after the page header of pages 0 and 1."""

    magic: int = MAGIC
    version: int = VERSION
    page_size: int = 4096
    flags: int = 0
    root: int = 0
    sequence: int = 0
    freelist: int = PGID_NO_FREELIST
    pgid: int = 0
    txid: int = 0
    checksum: int = 0

    @classmethod
    def unpack_from(cls, buf, offset: int = PAGE_HEADER_SIZE) -> Meta:
        magic, version, page_size, flags, root, sequence, freelist, pgid, txid = META_BODY.unpack_from(buf, offset)
        (checksum,) = U64.unpack_from(buf, offset + META_BODY.size)
        return cls(magic, version, page_size, flags, root, sequence, freelist, pgid, txid, checksum)

    def body(self) -> bytes:
        return META_BODY.pack(
            self.magic,
            self.version,
            self.page_size,
            self.flags,
            self.root,
            self.sequence,
            self.freelist,
            self.pgid,
            self.txid,
        )

    def sum64(self) -> int:
        return fnv1a64(self.body())

    def with_checksum(self) -> Meta:
        return replace(self, checksum=self.sum64())

    def error(self) -> str | None:
        """bbolt 1.3.6 meta.validate(): None when usable, else the error message (checksum 0 = unchecked)."""
        if self.magic != MAGIC:
            return "invalid database"
        if self.version != VERSION:
            return "version mismatch"
        if self.checksum != 0 and self.checksum != self.sum64():
            return "checksum error"
        return None

    def page_bytes(self, page_id: int, page_size: int) -> bytes:
        """A full meta page (header + meta with its checksum), zero padded to page_size."""
        m = self.with_checksum()
        raw = PageHeader(page_id, META_PAGE, 0, 0).pack() + m.body() + U64.pack(m.checksum)
        return raw + bytes(page_size - len(raw))


@dataclass(frozen=True)
class BucketHeader:
    """A bucket value's first 16 bytes; root 0 means an inline page follows."""

    root: int
    sequence: int = 0

    @classmethod
    def unpack_from(cls, buf, offset: int = 0) -> BucketHeader:
        return cls(*BUCKET_HEADER.unpack_from(buf, offset))

    def pack(self) -> bytes:
        return BUCKET_HEADER.pack(self.root, self.sequence)


def leaf_elements(buf, offset: int, count: int) -> tuple[int, ...]:
    """All leaf elements of a page at `offset` as one flat tuple (flags, pos, ksize, vsize) * count."""
    return struct.unpack_from(f"<{4 * count}I", buf, offset + PAGE_HEADER_SIZE)


def branch_elements(buf, offset: int, count: int) -> tuple[int, ...]:
    """All branch elements as one flat tuple (pos, ksize, pgid) * count."""
    return struct.unpack_from("<" + "IIQ" * count, buf, offset + PAGE_HEADER_SIZE)


def encode_page(
    page_id: int, is_leaf: bool, keys: Sequence[bytes], values: Sequence, flags: Sequence[int] | None, page_size: int
) -> bytes:
    """Serialise a leaf (values = bytes) or branch (values = child pgids) page like node.write.

    The result is padded to a whole number of pages; `overflow` counts the extra ones.
    """
    n = len(keys)
    if n >= 0xFFFF:
        raise ValueError(f"inode overflow: {n} (pgid={page_id})")
    elems = []
    data = []
    # distance from element i to the data of element i: starts at n*16 - i*16 ... plus running data
    off = PAGE_HEADER_SIZE + LEAF_ELEMENT_SIZE * n
    if is_leaf:
        fl = flags or (0,) * n
        for i in range(n):
            k = keys[i]
            v = values[i]
            elems.append(LEAF_ELEMENT.pack(fl[i], off - PAGE_HEADER_SIZE - LEAF_ELEMENT_SIZE * i, len(k), len(v)))
            data.append(k)
            data.append(v)
            off += len(k) + len(v)
    else:
        for i in range(n):
            k = keys[i]
            elems.append(BRANCH_ELEMENT.pack(off - PAGE_HEADER_SIZE - BRANCH_ELEMENT_SIZE * i, len(k), values[i]))
            data.append(k)
            off += len(k)
    size = off
    npages = max(1, -(-size // page_size))
    header = PAGE_HEADER.pack(page_id, LEAF_PAGE if is_leaf else BRANCH_PAGE, n, npages - 1)
    body = b"".join([header, *elems, *data])
    return body + bytes(npages * page_size - len(body))


def node_size(is_leaf: bool, keys: Sequence[bytes], values: Sequence) -> int:
    """Encoded size of a node (header + elements + keys (+ values))."""
    if is_leaf:
        return PAGE_HEADER_SIZE + LEAF_ELEMENT_SIZE * len(keys) + sum(map(len, keys)) + sum(map(len, values))
    return PAGE_HEADER_SIZE + BRANCH_ELEMENT_SIZE * len(keys) + sum(map(len, keys))


def inline_bucket_value(
    keys: Sequence[bytes], values: Sequence[bytes], flags: Sequence[int] | None = None, sequence: int = 0
) -> bytes:
    """Value of an inline bucket: header {root 0, sequence} + a leaf page image with id 0 (unpadded)."""
    n = len(keys)
    elems = []
    data = []
    off = PAGE_HEADER_SIZE + LEAF_ELEMENT_SIZE * n
    fl = flags or (0,) * n
    for i in range(n):
        k, v = keys[i], values[i]
        elems.append(LEAF_ELEMENT.pack(fl[i], off - PAGE_HEADER_SIZE - LEAF_ELEMENT_SIZE * i, len(k), len(v)))
        data.append(k)
        data.append(v)
        off += len(k) + len(v)
    return b"".join([BUCKET_HEADER.pack(0, sequence), PAGE_HEADER.pack(0, LEAF_PAGE, n, 0), *elems, *data])


def freelist_size(n_ids: int) -> int:
    """Bytes a freelist page with n ids needs (one extra u64 for the 0xFFFF count form)."""
    return PAGE_HEADER_SIZE + 8 * (n_ids + 1 if n_ids >= 0xFFFF else n_ids)


def encode_freelist(page_id: int, ids: Sequence[int], page_size: int) -> bytes:
    """A freelist page (both forms: count in the header, or 0xFFFF and the real count first)."""
    ids = sorted(ids)
    n = len(ids)
    if n >= 0xFFFF:
        count = 0xFFFF
        body = struct.pack(f"<{n + 1}Q", n, *ids)
    else:
        count = n
        body = struct.pack(f"<{n}Q", *ids)
    size = PAGE_HEADER_SIZE + len(body)
    npages = max(1, -(-size // page_size))
    raw = PAGE_HEADER.pack(page_id, FREELIST_PAGE, count, npages - 1) + body
    return raw + bytes(npages * page_size - len(raw))


def decode_freelist(buf, offset: int, limit: int | None = None) -> list[int]:
    """The page ids stored in a freelist page at `offset` (unsorted, duplicates kept, as stored)."""
    hdr = PageHeader.unpack_from(buf, offset)
    count = hdr.count
    start = offset + PAGE_HEADER_SIZE
    if count == 0xFFFF:
        (count,) = U64.unpack_from(buf, start)
        start += 8
    if limit is not None and start + 8 * count > limit:
        raise ValueError(f"{count} ids do not fit in the file")
    return list(struct.unpack_from(f"<{count}Q", buf, start)) if count else []
