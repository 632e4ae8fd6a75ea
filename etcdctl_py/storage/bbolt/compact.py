"""A fresh, compact bbolt file written in one pass (for defrag, restore of raw dumps and tests).

Layout: pages 0/1 metas, then per bucket (name order) its leaf pages and branch levels, then the
root bucket's tree; no freelist page (etcd's NoFreelistSync style) unless asked. Leaves are
streamed to disk, only (first key, page id) per leaf is kept in memory, so a GiB-sized input
needs little RAM. Small buckets are written inline, as bbolt does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from ..fileutil import pwrite_all
from .page import (
    BUCKET_HEADER,
    BUCKET_LEAF_FLAG,
    LEAF_ELEMENT_SIZE,
    MAX_KEY_SIZE,
    MAX_VALUE_SIZE,
    PAGE_HEADER_SIZE,
    PGID_NO_FREELIST,
    Meta,
    encode_freelist,
    encode_page,
    inline_bucket_value,
)

_FLUSH_BYTES = 8 << 20


class _PageSink:
    """Hands out sequential page ids and writes the pages in big sequential chunks."""

    def __init__(self, fd: int, page_size: int, first_pgid: int) -> None:
        self.fd = fd
        self.page_size = page_size
        self.next_pgid = first_pgid
        self._buf: list[bytes] = []
        self._buffered = 0
        self._offset = first_pgid * page_size

    def add(self, make_page) -> int:
        """make_page(pgid) -> page bytes (whole pages). Returns the page id used."""
        pgid = self.next_pgid
        data = make_page(pgid)
        self.next_pgid += len(data) // self.page_size
        self._buf.append(data)
        self._buffered += len(data)
        if self._buffered >= _FLUSH_BYTES:
            self.flush()
        return pgid

    def flush(self) -> None:
        if self._buf:
            data = b"".join(self._buf)
            pwrite_all(self.fd, data, self._offset)
            self._offset += len(data)
            self._buf = []
            self._buffered = 0


class _TreeWriter:
    """Builds one bucket's B+tree bottom-up from sorted items."""

    def __init__(self, sink: _PageSink, fill: float) -> None:
        self.sink = sink
        self.threshold = max(int(sink.page_size * fill), PAGE_HEADER_SIZE + LEAF_ELEMENT_SIZE)
        self.keys: list[bytes] = []
        self.vals: list[bytes] = []
        self.flags: list[int] = []
        self.size = PAGE_HEADER_SIZE
        self.level: list[tuple[bytes, int]] = []  # (first key, pgid) of written leaves
        self.count = 0

    def add(self, key: bytes, value: bytes, flags: int = 0) -> None:
        el = LEAF_ELEMENT_SIZE + len(key) + len(value)
        if self.keys and (self.size + el > self.threshold or len(self.keys) >= 0xFFFE):
            self._flush_leaf()
        self.keys.append(key)
        self.vals.append(value)
        self.flags.append(flags)
        self.size += el
        self.count += 1

    def _flush_leaf(self) -> None:
        keys, vals, flags = self.keys, self.vals, self.flags
        ps = self.sink.page_size
        pgid = self.sink.add(lambda p: encode_page(p, True, keys, vals, flags, ps))
        self.level.append((keys[0] if keys else b"", pgid))
        self.keys, self.vals, self.flags = [], [], []
        self.size = PAGE_HEADER_SIZE

    def finish(self) -> int:
        """Write what is left and the branch levels; returns the root page id."""
        if self.keys or not self.level:
            self._flush_leaf()
        level = self.level
        ps = self.sink.page_size
        while len(level) > 1:
            nxt: list[tuple[bytes, int]] = []
            keys: list[bytes] = []
            kids: list[int] = []
            size = PAGE_HEADER_SIZE
            for k, pg in level:
                el = 16 + len(k)
                if keys and (size + el > self.threshold or len(keys) >= 0xFFFE):
                    ks, cs = keys, kids
                    nxt.append((ks[0], self.sink.add(lambda p, ks=ks, cs=cs: encode_page(p, False, ks, cs, None, ps))))
                    keys, kids, size = [], [], PAGE_HEADER_SIZE
                keys.append(k)
                kids.append(pg)
                size += el
            ks, cs = keys, kids
            nxt.append((ks[0], self.sink.add(lambda p, ks=ks, cs=cs: encode_page(p, False, ks, cs, None, ps))))
            level = nxt
        return level[0][1]


def _bucket_value(sink: _PageSink, items: Iterable[tuple[bytes, bytes]], fill: float, name: bytes) -> tuple[bytes, int]:
    """Write one bucket; returns (its value for the parent, number of keys)."""
    inline_limit = sink.page_size // 4
    it = iter(items)
    head_k: list[bytes] = []
    head_v: list[bytes] = []
    size = PAGE_HEADER_SIZE
    prev: bytes | None = None
    tree: _TreeWriter | None = None
    for k, v in it:
        k = bytes(k)
        v = bytes(v)
        if not k:
            raise ValueError(f"bucket {name!r}: empty key")
        if len(k) > MAX_KEY_SIZE or len(v) > MAX_VALUE_SIZE:
            raise ValueError(f"bucket {name!r}: key or value too large")
        if prev is not None and k <= prev:
            raise ValueError(f"bucket {name!r}: keys not strictly increasing at {k[:64]!r}")
        prev = k
        if tree is None:
            size += LEAF_ELEMENT_SIZE + len(k) + len(v)
            head_k.append(k)
            head_v.append(v)
            if size > inline_limit:
                tree = _TreeWriter(sink, fill)
                for hk, hv in zip(head_k, head_v, strict=True):
                    tree.add(hk, hv)
                head_k, head_v = [], []
        else:
            tree.add(k, v)
    if tree is None:
        return inline_bucket_value(head_k, head_v), len(head_k)
    root = tree.finish()
    return BUCKET_HEADER.pack(root, 0), tree.count


def write_compact(
    path: str,
    buckets: Mapping[bytes, Iterable[tuple[bytes, bytes]]],
    page_size: int = 4096,
    fill: float = 0.9,
    *,
    freelist_page: bool = False,
    txid: int = 2,
) -> int:
    """Write a new bbolt file at `path` holding `buckets` (each: sorted, unique (key, value) pairs).

    The file is created (truncated if present), fully written and fsynced. Returns the bbolt size
    (pgid * page_size; the file is that long too, except that it is padded to at least 4 KiB).
    Atomic replacement is the caller's business (temp name + rename).
    """
    if page_size < 1024 or page_size & (page_size - 1):
        raise ValueError(f"bad page size {page_size}")
    fill = min(max(fill, 0.1), 1.0)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        first = 3 if freelist_page else 2
        sink = _PageSink(fd, page_size, first)
        top = _TreeWriter(sink, fill)
        entries: list[tuple[bytes, bytes]] = []
        for name in sorted(bytes(n) for n in buckets):
            if not name:
                raise ValueError("bucket name required")
            value, _n = _bucket_value(sink, buckets[name], fill, name)
            entries.append((name, value))
        # the root bucket's tree (its leaves hold the top-level bucket headers)
        for name, value in entries:
            top.add(name, value, BUCKET_LEAF_FLAG)
        root = top.finish()
        sink.flush()
        pgid = sink.next_pgid
        freelist = PGID_NO_FREELIST
        if freelist_page:
            pwrite_all(fd, encode_freelist(2, [], page_size), 2 * page_size)
            freelist = 2
        for slot, tid in ((0, txid), (1, txid - 1)):
            m = Meta(page_size=page_size, root=root, freelist=freelist, pgid=pgid, txid=tid)
            pwrite_all(fd, m.page_bytes(slot, page_size), slot * page_size)
        # bbolt reads the first 4 KiB to find the page size: tiny files get zero padding
        os.ftruncate(fd, max(pgid * page_size, 4096))
        os.fsync(fd)
        return pgid * page_size
    finally:
        os.close(fd)
