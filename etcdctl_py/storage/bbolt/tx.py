"""Transactions (bbolt tx.go): a read view pinned to one meta, or the single writer that edits nodes
in memory and at commit spills them copy-on-write to new pages, then writes a new meta.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .bucket import Bucket
from .errors import CorruptError, DatabaseNotOpenError, TxClosedError, TxNotWritableError
from .node import PageView, decode_view
from .page import (
    BRANCH_PAGE,
    LEAF_PAGE,
    PAGE_HEADER,
    PAGE_HEADER_SIZE,
    PGID_NO_FREELIST,
    Meta,
    Page,
    ReadBuffer,
    decode_freelist,
    encode_freelist,
    freelist_size,
)

if TYPE_CHECKING:
    from .db import DB


class Tx:
    """One transaction. Use through DB.view()/DB.update() context managers."""

    def __init__(self, db: DB, writable: bool) -> None:
        self.db = db
        self.writable = writable
        self.meta: Meta = db.meta
        if db._mm is None:
            raise DatabaseNotOpenError()
        self._mm: mmap.mmap = db._mm
        self._limit = db._mapped_size
        if writable:
            self.meta = Meta(**{**self.meta.__dict__, "txid": self.meta.txid + 1})
        self.root = Bucket(self, self.meta.root, self.meta.sequence)
        self._pages: dict[int, bytes] = {}
        self._branch_cache: dict[int, PageView] = {}
        self._closed = False
        self.freed: list[int] = []

    # --- context manager -------------------------------------------------------------------
    def __enter__(self) -> Tx:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._closed:
            return
        if self.writable and exc_type is None:
            self.commit()
        else:
            self.rollback()

    def _check_open(self) -> None:
        if self._closed:
            raise TxClosedError()

    @property
    def id(self) -> int:
        return self.meta.txid

    def size(self) -> int:
        """Tx.Size(): bytes of the pages in use (pgid * page size) — what snapshot status reports."""
        return self.meta.pgid * self.db.page_size

    # --- page access -----------------------------------------------------------------------
    @property
    def data(self) -> mmap.mmap:
        """The file's read-only mapping as this transaction sees it (bbolt's db.data); pages are read in place."""
        return self._mm

    def page(self, pgid: int) -> Page:
        """Tx.page(): the page stored at position pgid; CorruptError when its header lies beyond the file."""
        if pgid * self.db.page_size + PAGE_HEADER_SIZE > self._limit:
            raise CorruptError(f"page {pgid}: beyond end of file (meta pgid {self.meta.pgid})")
        return Page.read(self._mm, pgid, self.db.page_size)

    def page_header(self, pgid: int) -> tuple[int, int, int, int]:
        """(id, flags, count, overflow) of the page stored at position pgid."""
        p = self.page(pgid)
        return p.id, p.flags, p.element_count, p.overflow

    def freelist_ids(self) -> list[int] | None:
        """The page ids the persisted freelist page lists (as stored); None when the file has none (etcd's files:
        their free pages are the ones the tree does not reach). CorruptError when that page cannot be read."""
        fl = self.meta.freelist
        if fl == PGID_NO_FREELIST:
            return None
        try:
            return decode_freelist(self._mm, fl * self.db.page_size, self._limit)
        except (ValueError, struct.error) as e:
            raise CorruptError(f"freelist page {fl}: {e}") from None

    def page_view(self, pgid: int) -> PageView:
        v = self._branch_cache.get(pgid)
        if v is not None:
            return v
        ps = self.db.page_size
        off = pgid * ps
        if off + 16 > self._limit:
            raise CorruptError(f"page {pgid}: beyond end of file (meta pgid {self.meta.pgid})")
        # Like bbolt, only what the elements point at must be readable (checked by decode_page);
        # a damaged overflow count alone is Check's business, not a read error.
        v = decode_view(self._mm, off, self._limit)
        v.pgid = pgid
        if not v.is_leaf:
            self._branch_cache[pgid] = v
        return v

    def leaf_pages(self, root: int) -> Iterator[tuple[ReadBuffer, int, int]]:
        """(mmap, offset, end) of every leaf page under root, in key order (no decoding of leaves).

        `end` is where the page's overflow run ends (clipped to the file); element data may point
        further, as bbolt would read it, up to the end of the file.
        """
        ps = self.db.page_size
        mm = self._mm
        limit = self._limit
        stack = [(root, 0)]
        while stack:
            pgid, depth = stack.pop()
            if depth > 64:
                raise CorruptError(f"page {pgid}: tree deeper than 64 levels (cycle?)")
            off = pgid * ps
            if off + 16 > limit:
                raise CorruptError(f"page {pgid}: beyond end of file (meta pgid {self.meta.pgid})")
            _id, flags, _count, overflow = PAGE_HEADER.unpack_from(mm, off)
            end = min(off + (overflow + 1) * ps, limit)
            if flags & LEAF_PAGE:
                yield mm, off, end
            elif flags & BRANCH_PAGE:
                stack.extend((k, depth + 1) for k in reversed(self.page_view(pgid).vals))
            else:
                raise CorruptError(f"page {pgid}: invalid page type: {flags:#x}")

    # --- buckets ---------------------------------------------------------------------------
    def bucket(self, name: bytes) -> Bucket | None:
        return self.root.bucket(bytes(name))

    def create_bucket(self, name: bytes) -> Bucket:
        return self.root.create_bucket(name)

    def create_bucket_if_not_exists(self, name: bytes) -> Bucket:
        return self.root.create_bucket_if_not_exists(name)

    def delete_bucket(self, name: bytes) -> None:
        self.root.delete_bucket(name)

    def bucket_names(self) -> list[bytes]:
        self._check_open()
        return self.root.bucket_names()

    def buckets(self) -> Iterator[tuple[bytes, Bucket | None]]:
        """Top-level (name, bucket) in cursor order; bucket is None for a plain key at top level."""
        self._check_open()
        for k, _v, f in self.root._iter():
            yield k, (self.root.bucket(k) if f & 1 else None)

    # --- write path ------------------------------------------------------------------------
    def allocate(self, count: int) -> int:
        """Contiguous pages for a new node: from the freelist, else past the high-water mark."""
        pgid = self.db._freelist_allocate(self.meta.txid, count) if self.db.reuse_free_pages else 0
        if pgid == 0:
            pgid = self.meta.pgid
            self.meta = Meta(**{**self.meta.__dict__, "pgid": pgid + count})
        return pgid

    def free_page(self, pgid: int) -> None:
        """Mark an old page (and its overflow run) free once this tx commits."""
        _id, _flags, _count, overflow = self.page_header(pgid)
        self.freed.extend(range(pgid, pgid + overflow + 1))

    def write_page(self, pgid: int, data: bytes) -> None:
        self._pages[pgid] = data

    def commit(self) -> None:
        self._check_open()
        if not self.writable:
            raise TxNotWritableError()
        try:
            self.root.rebalance()
            self.root.spill()
            meta = self.meta
            root = self.root.root
            old_freelist = meta.freelist
            if old_freelist != PGID_NO_FREELIST:
                self.free_page(old_freelist)
            if self.db.freelist_sync:
                ids = self.db._freelist_ids_after(self.meta.txid, self.freed)
                npages = freelist_size(len(ids)) // self.db.page_size + 1
                fpg = self.allocate(npages)
                # the freelist page itself must not be listed as free
                ids = [i for i in ids if not fpg <= i < fpg + npages]
                self.write_page(fpg, encode_freelist(fpg, ids, self.db.page_size))
                freelist = fpg
            else:
                freelist = PGID_NO_FREELIST
            self.meta = Meta(
                **{
                    **self.meta.__dict__,
                    "root": root,
                    "sequence": self.root.sequence,
                    "freelist": freelist,
                    "checksum": 0,
                }
            )
            self.db._commit(self, self._pages, self.meta, self.freed)
        except BaseException:
            self._close()
            self.db._rollback(self)
            raise
        self._close()

    def rollback(self) -> None:
        if self._closed:
            return
        self._close()
        self.db._rollback(self)

    def _close(self) -> None:
        self._closed = True
        self._pages = {}
        self._branch_cache = {}
        if not self.writable:
            self.db._reader_done(self)
