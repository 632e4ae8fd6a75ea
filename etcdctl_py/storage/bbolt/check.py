"""Structural checks of a bbolt file.

`check(db)` returns exactly what bbolt 1.3.6's Tx.Check reports (same texts, same order), which is
what `etcdutl snapshot status` prints on a damaged file. `check(db, strict=True)` adds what newer
bbolt and a careful reader want: both meta checksums, page ids equal to positions, pages inside
the file, element offsets inside their page, keys strictly sorted within and across pages.

`Checker` is Check's bookkeeping fed one walked page at a time, so that `snapshot status` can hash the
file in the same walk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from .errors import CorruptError
from .node import decode_page
from .page import BUCKET_LEAF_FLAG, META_PAGE, PAGE_HEADER, Meta, Page, page_type_name
from .walk import PageWalk, Unreadable

if TYPE_CHECKING:
    from .db import DB
    from .node import PageView
    from .tx import Tx

Progress = Callable[[int, int], None]

# a damaged overflow count is clipped this far past the end of the database (bbolt would track up to 2^32 ids)
_OVERFLOW_SLACK = 1024


class Checker:
    """bbolt 1.3.6 Tx.check's bookkeeping: freed pages, reachable pages, then what is neither.

    Feed it every item of the walk (`visit`), then `finish()` for the error list. Without a persisted freelist
    (etcd's files) the free pages are by definition those the walk does not reach, so only the walk's own
    problems are reported. CorruptError (from the constructor) when the freelist page cannot be read.
    """

    def __init__(self, tx: Tx, strict: bool = False) -> None:
        self.errors: list[str] = []
        self._npg = npg = tx.meta.pgid
        self._strict = strict
        self._file_size = len(tx.data)
        self._page_size = tx.db.page_size
        self._reach = bytearray(npg + 1)
        self._reach_extra: set[int] = set()
        ids = tx.freelist_ids()
        self._freed: bytearray | None = None if ids is None else bytearray(npg + 1)
        self._freed_extra: set[int] = set()
        for i in ids or ():
            if self._is_freed(i):
                self.errors.append(f"page {i}: already freed")
            self._mark(i, self._freed, self._freed_extra)
        self._mark(0, self._reach, self._reach_extra)
        self._mark(1, self._reach, self._reach_extra)
        if ids is not None:  # the freelist page's own run
            fl = tx.meta.freelist
            try:
                overflow = tx.page(fl).overflow
            except CorruptError:
                overflow = 0
            for i in range(fl, fl + min(overflow, npg + _OVERFLOW_SLACK) + 1):
                self._mark(i, self._reach, self._reach_extra)

    def _mark(self, i: int, dense: bytearray | None, extra: set[int]) -> bool:
        """Set page i in a map (ids up to pgid in `dense`, the rest in `extra`); True if it was set already."""
        if dense is not None and i <= self._npg:
            was = dense[i]
            dense[i] = 1
            return bool(was)
        was_extra = i in extra
        extra.add(i)
        return was_extra

    def _is_freed(self, i: int) -> bool:
        if self._freed is None:
            return False
        return bool(self._freed[i]) if i <= self._npg else i in self._freed_extra

    def visit(self, item: Page | Unreadable) -> None:
        """checkBucket's forEachPage callback for one walked page (or the walk's own report of a bad reference)."""
        if isinstance(item, Unreadable):
            self.errors.append(f"page {item.pgid}: {item.why}")
            return
        pid, npg, errs, reach = item.id, self._npg, self.errors, self._reach
        if pid > npg:
            errs.append(f"page {pid}: out of bounds: {npg}")
        if item.overflow == 0 and pid <= npg:  # the common case, kept cheap: status walks every page through here
            if reach[pid]:
                errs.append(f"page {pid}: multiple references")
            reach[pid] = 1
        else:
            self._mark_run(pid, item.overflow)
        if self._freed is not None and self._is_freed(pid):
            errs.append(f"page {pid}: reachable freed")
        elif not item.flags & 3:  # neither branch nor leaf
            errs.append(f"page {pid}: invalid type: {page_type_name(item.flags)}")
        if self._strict:
            self._visit_strict(item)

    def _mark_run(self, pid: int, overflow: int) -> None:
        """Mark a page's overflow run reachable (a damaged overflow count is clipped, with an error)."""
        npg = self._npg
        run = overflow + 1
        if pid + run > npg + 1 + _OVERFLOW_SLACK:
            self.errors.append(f"page {pid}: overflow of {overflow} pages runs past the end of the database")
            run = max(0, min(run, npg + 1 - pid))
        for i in range(pid, pid + run):
            if self._mark(i, self._reach, self._reach_extra):
                self.errors.append(f"page {i}: multiple references")

    def _visit_strict(self, p: Page) -> None:
        if p.id != p.pgid:
            self.errors.append(f"page {p.pgid}: page id mismatch: header says {p.id}")
        if (p.pgid + p.overflow + 1) * self._page_size > self._file_size:
            self.errors.append(f"page {p.pgid}: overflow of {p.overflow} pages runs beyond end of file")

    def finish(self) -> list[str]:
        """All errors: with a persisted freelist, every page below pgid must be reachable or freed."""
        if self._freed is not None:
            for i in range(self._npg):
                if not self._reach[i] and not self._freed[i]:
                    self.errors.append(f"page {i}: unreachable unfreed")
        return self.errors


def check(db: DB, *, strict: bool = False, tx: Tx | None = None, progress: Progress | None = None) -> list[str]:
    """Problems found in the file (empty list = healthy), as readable one-line strings.

    progress(pages done, pages in all) is called while strict mode reads every page (the long part).
    """
    if tx is None:
        with db.view() as t:
            return _check(t, strict, progress)
    return _check(tx, strict, progress)


def _check(tx: Tx, strict: bool, progress: Progress | None) -> list[str]:
    errs = _check_metas(tx) if strict else []
    checker = Checker(tx, strict)
    for item in PageWalk(tx).all():
        checker.visit(item)
    errs.extend(checker.finish())
    if strict:
        errs.extend(_check_keys(tx, progress))
    if progress is not None:
        progress(tx.meta.pgid, tx.meta.pgid)
    return errs


def _check_metas(tx: Tx) -> list[str]:
    out = []
    data, ps = tx.data, tx.db.page_size
    for i in (0, 1):
        m = Meta.unpack_from(data, i * ps + 16)
        e = m.error()
        if e is None and m.checksum == 0:
            e = "checksum not set"
        if e is not None:
            out.append(f"meta page {i}: {e}")
        pid, flags, _count, _overflow = PAGE_HEADER.unpack_from(data, i * ps)
        if e is None and (pid != i or not flags & META_PAGE):
            out.append(f"meta page {i}: bad page header (id {pid}, flags {flags:#x})")
        if e is None and m.pgid * ps > len(data):
            out.append(f"meta page {i}: pgid {m.pgid} needs {m.pgid * ps} bytes, file has {len(data)}")
    return out


def _check_keys(tx: Tx, progress: Progress | None = None) -> list[str]:
    """Keys strictly increasing inside every bucket (across pages too); branch keys bound children."""
    out: list[str] = []
    npg = tx.meta.pgid
    done = 0

    def walk_bucket(name: str, root: int, inline: bytes | None) -> None:
        nonlocal done
        prev: bytes | None = None
        subs: list[tuple[bytes, bytes]] = []
        pages: Iterable[tuple[int, list, list, list]]
        if root == 0:
            try:
                _pid, _leaf, keys, vals, flags, _ov = decode_page(inline or b"", 0, len(inline or b""))
            except CorruptError as e:
                out.append(f"bucket {name}: inline page: {e}")
                return
            pages = [(0, keys, vals, flags)]
        else:
            pages = _leaves(tx, root, out)  # lazily: its problems land between the pages' own, in page order
        for pgid, keys, vals, flags in pages:
            if progress is not None and root:
                done += 1 + tx.page(pgid).overflow
                progress(min(done, npg), npg)
            for i, k in enumerate(keys):
                if not k:
                    out.append(f"page {pgid}: empty key in bucket {name}")
                if prev is not None and k <= prev:
                    out.append(f"page {pgid}: key order violation in bucket {name}: {k[:64]!r} after {prev[:64]!r}")
                prev = k
                if flags[i] & BUCKET_LEAF_FLAG:
                    subs.append((k, vals[i]))
        for k, v in subs:
            if len(v) < 16:
                out.append(f"bucket {name}: nested bucket {k!r} has a {len(v)}-byte header")
                continue
            r = int.from_bytes(v[:8], "little")
            walk_bucket(f"{name}/{k.decode('utf-8', 'backslashreplace')}", r, bytes(v[16:]) if r == 0 else None)

    walk_bucket("", tx.meta.root, None)
    return out


def _leaves(tx: Tx, root: int, out: list[str]) -> Iterator[tuple[int, list, list, list]]:
    """Decoded leaf pages of a tree in order, checking branch keys against their children."""
    stack: list[tuple[int, bytes | None, int]] = [(root, None, 0)]
    while stack:
        pgid, lower, depth = stack.pop()
        if depth > 64:
            out.append(f"page {pgid}: tree too deep (cycle?)")
            continue
        try:
            view: PageView = tx.page_view(pgid)
        except CorruptError as e:
            out.append(str(e))
            continue
        except Exception as e:  # noqa: BLE001 - any decoding failure of a damaged page is a finding, not a crash
            out.append(f"page {pgid}: unreadable: {e}")
            continue
        if lower is not None and view.keys and view.keys[0] < lower:
            out.append(
                f"page {pgid}: first key {view.keys[0][:64]!r} sorts before its parent's branch key {lower[:64]!r}"
            )
        if view.is_leaf:
            yield pgid, view.keys, view.vals, view.flags or []
        else:
            for i in range(len(view.keys) - 1, -1, -1):
                stack.append((view.vals[i], view.keys[i], depth + 1))
