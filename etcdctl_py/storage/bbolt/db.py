"""A bbolt database file (bbolt db.go): open/validate (metas, page size, flock), mmap for reads,
the write path of a commit (pages, fdatasync, meta at page txid%2, fdatasync), the free-page list.

Reads go through one read-only mmap of the file; writes go through pwrite, and the map is
renewed when the file grows. Trailing bytes after pgid*pageSize (a snapshot's sha256) are ignored.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import time
from bisect import insort
from collections.abc import Callable

from ..fileutil import preallocate, pwrite_all
from .errors import (
    BoltError,
    ChecksumError,
    DatabaseNotOpenError,
    DatabaseReadOnlyError,
    FileTooSmallError,
    InvalidDatabaseError,
    LockTimeoutError,
    VersionMismatchError,
)
from .page import FREELIST_PAGE, LEAF_PAGE, Meta, PageHeader
from .tx import Tx
from .walk import reachable_pages


def _meta_error(msg: str) -> BoltError:
    cls = {
        "invalid database": InvalidDatabaseError,
        "version mismatch": VersionMismatchError,
        "checksum error": ChecksumError,
    }.get(msg, BoltError)
    return cls(msg)


class DB:
    """An open bbolt file. Not thread-safe; one writer at a time (like bbolt, plus flock)."""

    def __init__(
        self,
        path: str,
        *,
        writable: bool = False,
        lock_timeout: float | None = None,
        freelist_sync: bool = False,
        reuse_free_pages: bool = True,
        on_lock_wait: Callable[[], None] | None = None,
        page_size: int | None = None,
    ) -> None:
        self.path = path
        self.writable = writable
        # etcd opens bbolt with NoFreelistSync: no freelist page, free pages derived on open.
        self.freelist_sync = freelist_sync
        self.reuse_free_pages = reuse_free_pages
        self._fd = -1
        self._mm: mmap.mmap | None = None
        self._mapped_size = 0
        self._readers: set[Tx] = set()
        self._writer: Tx | None = None
        self._free: list[int] | None = None
        self._pending: dict[int, list[int]] = {}
        flags = os.O_RDWR | os.O_CREAT if writable else os.O_RDONLY
        self._fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
        try:
            _flock(self._fd, exclusive=writable, timeout=lock_timeout, on_wait=on_lock_wait)
            size = os.fstat(self._fd).st_size
            if size == 0:
                if not writable:
                    raise BoltError(f"write {path}: bad file descriptor")
                self._init_file(page_size or mmap.PAGESIZE)
            self._load()
        except BaseException:
            self.close()
            raise

    # --- opening -------------------------------------------------------------------------
    def _init_file(self, page_size: int) -> None:
        """A brand-new file exactly like bbolt's db.init(): 2 metas, empty freelist, empty root leaf."""
        buf = bytearray(page_size * 4)
        for i in range(2):
            m = Meta(page_size=page_size, root=3, freelist=2, pgid=4, txid=i)
            buf[i * page_size : (i + 1) * page_size] = m.page_bytes(i, page_size)
        buf[2 * page_size : 2 * page_size + 16] = PageHeader(2, FREELIST_PAGE, 0, 0).pack()
        buf[3 * page_size : 3 * page_size + 16] = PageHeader(3, LEAF_PAGE, 0, 0).pack()
        pwrite_all(self._fd, buf, 0)
        os.fdatasync(self._fd)

    def _load(self) -> None:
        first = os.pread(self._fd, 0x1000, 0)
        if len(first) < 0x1000:
            raise InvalidDatabaseError()
        page_size = mmap.PAGESIZE
        try:
            m0 = Meta.unpack_from(first, 16)
            if m0.error() is None:
                page_size = m0.page_size
        except Exception:  # noqa: BLE001 - garbage meta: keep the OS page size, like bbolt
            pass
        if page_size < 1024 or page_size & (page_size - 1):
            raise InvalidDatabaseError()
        self.page_size = page_size
        self._remap()
        mm = self._mm
        m0 = Meta.unpack_from(mm, 16)
        m1 = Meta.unpack_from(mm, page_size + 16)
        e0, e1 = m0.error(), m1.error()
        if e0 and e1:
            raise _meta_error(e0)
        self._meta0, self._meta1 = m0, m1

    def _remap(self) -> None:
        size = os.fstat(self._fd).st_size
        if size < self.page_size * 2:
            raise FileTooSmallError()
        self._mm = mmap.mmap(self._fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        try:
            self._mm.madvise(mmap.MADV_RANDOM)
        except (AttributeError, OSError):
            pass  # only a read-ahead hint: a platform without it reads the same bytes
        self._mapped_size = size

    @property
    def meta(self) -> Meta:
        """The valid meta with the highest txid (falling back to the other one)."""
        a, b = self._meta0, self._meta1
        if b.txid > a.txid:
            a, b = b, a
        if a.error() is None:
            return a
        if b.error() is None:
            return b
        raise InvalidDatabaseError("invalid meta pages")

    @property
    def size(self) -> int:
        """Tx.Size(): meta.pgid * page size (what `snapshot status` reports), not the file size."""
        return self.meta.pgid * self.page_size

    @property
    def file_size(self) -> int:
        return os.fstat(self._fd).st_size

    # --- transactions --------------------------------------------------------------------
    def view(self) -> Tx:
        """A read transaction (context manager)."""
        if self._mm is None:
            raise DatabaseNotOpenError()
        tx = Tx(self, False)
        self._readers.add(tx)
        return tx

    def update(self) -> Tx:
        """The write transaction (context manager): commits on clean exit, rolls back on error."""
        if self._mm is None:
            raise DatabaseNotOpenError()
        if not self.writable:
            raise DatabaseReadOnlyError()
        if self._writer is not None:
            raise BoltError("a write transaction is already open")
        tx = Tx(self, True)
        self._writer = tx
        self._release_pending()
        return tx

    def _reader_done(self, tx: Tx) -> None:
        self._readers.discard(tx)

    def _rollback(self, tx: Tx) -> None:
        if tx is self._writer:
            self._writer = None
            # pages taken from the freelist by this tx go back: rebuild the list lazily
            self._free = None

    # --- freelist ------------------------------------------------------------------------
    def _load_free(self) -> list[int]:
        if self._free is None:
            with self.view() as tx:
                ids = tx.freelist_ids()
                if ids is not None:
                    self._free = sorted(set(ids))
                else:
                    seen = reachable_pages(tx)
                    self._free = [i for i in range(2, tx.meta.pgid) if not seen[i]]
            pend = {p for ids in self._pending.values() for p in ids}
            if pend:
                self._free = [i for i in self._free if i not in pend]
        return self._free

    def _release_pending(self) -> None:
        if not self._pending or self._free is None:
            return
        minid = min((t.meta.txid for t in self._readers), default=1 << 64)
        for tid in sorted(self._pending):
            if tid < minid:
                for p in self._pending.pop(tid):
                    insort(self._free, p)

    def _freelist_allocate(self, txid: int, count: int) -> int:
        free = self._load_free()
        if not free:
            return 0
        if count == 1:
            return free.pop(0) if free[0] > 1 else 0
        run_start, prev = 0, -2
        for idx, p in enumerate(free):
            if p != prev + 1:
                run_start = idx
            if idx - run_start + 1 == count:
                start = free[run_start]
                del free[run_start : idx + 1]
                return start
            prev = p
        return 0

    def _freelist_ids_after(self, txid: int, freed: list[int]) -> list[int]:
        free = list(self._load_free())
        for ids in self._pending.values():
            free.extend(ids)
        free.extend(freed)
        return sorted(set(free))

    # --- commit --------------------------------------------------------------------------
    def _commit(self, tx: Tx, pages: dict[int, bytes], meta: Meta, freed: list[int]) -> None:
        """Pages, fdatasync, then the meta page, fdatasync (bbolt's order). Any failure raises before the meta page
        is written, so the file still opens at the previous transaction: the space the file grows into is
        allocated first (no sparse hole to fault on) and every write is checked for completeness."""
        ps = self.page_size
        need = meta.pgid * ps
        if os.fstat(self._fd).st_size < need:
            preallocate(self._fd, need)
        run_start = 0
        chunks: list[bytes] = []
        next_off = -1
        for pgid in sorted(pages):
            data = pages[pgid]
            off = pgid * ps
            if off != next_off and chunks:
                pwrite_all(self._fd, b"".join(chunks), run_start)
                chunks = []
            if not chunks:
                run_start = off
            chunks.append(data)
            next_off = off + len(data)
        if chunks:
            pwrite_all(self._fd, b"".join(chunks), run_start)
        os.fdatasync(self._fd)
        slot = meta.txid % 2
        pwrite_all(self._fd, meta.page_bytes(slot, ps), slot * ps)
        os.fdatasync(self._fd)
        meta = meta.with_checksum()
        if slot == 0:
            self._meta0 = meta
        else:
            self._meta1 = meta
        if freed:
            self._pending.setdefault(meta.txid, []).extend(freed)
        self._writer = None
        if os.fstat(self._fd).st_size != self._mapped_size:
            self._remap()

    # --- misc ----------------------------------------------------------------------------
    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:
                pass  # a caller still holds a view of a page: the map is freed with that view
            self._mm = None
        if self._fd >= 0:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            except OSError:
                pass  # closing the descriptor below releases the lock anyway
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> DB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _flock(fd: int, *, exclusive: bool, timeout: float | None, on_wait: Callable[[], None] | None) -> None:
    """flock like bbolt: shared for readers, exclusive for the writer; optional timeout (else wait)."""
    op = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    start = time.monotonic()
    warned = False
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass  # held by another process: wait below and try again
        waited = time.monotonic() - start
        if timeout is not None and waited >= timeout:
            raise LockTimeoutError()
        if on_wait is not None and not warned and waited >= 1.0:
            warned = True
            on_wait()
        time.sleep(0.05)


def open_db(path: str, *, writable: bool = False, lock_timeout: float | None = None, **options) -> DB:
    """Open a bbolt file (read-only unless writable). Raises BoltError subclasses with bbolt's texts."""
    return DB(path, writable=writable, lock_timeout=lock_timeout, **options)
