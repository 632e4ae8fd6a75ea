"""Structural checks of a bbolt file.

`check(db)` returns exactly what bbolt 1.3.6's Tx.Check reports (same texts, same order), which is
what `etcdutl snapshot status` prints on a damaged file. `check(db, strict=True)` adds what newer
bbolt and a careful reader want: both meta checksums, page ids equal to positions, pages inside
the file, element offsets inside their page, keys strictly sorted within and across pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .errors import CorruptError
from .node import decode_page
from .page import (
    BRANCH_PAGE,
    BUCKET_LEAF_FLAG,
    LEAF_PAGE,
    PAGE_HEADER,
    PGID_NO_FREELIST,
    Meta,
    decode_freelist,
    page_type_name,
)
from .walk import reachable_pages, walk

if TYPE_CHECKING:
    from .db import DB
    from .tx import Tx


def check(db: "DB", *, strict: bool = False, tx: "Tx | None" = None,
          progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Problems found in the file (empty list = healthy), as readable one-line strings.

    progress(pages done, pages in all) is called while strict mode reads every page (the long part).
    """
    if tx is None:
        with db.view() as t:
            return _check(db, t, strict, progress)
    return _check(db, tx, strict, progress)


def _check(db: "DB", tx: "Tx", strict: bool, progress: Callable[[int, int], None] | None = None) -> list[str]:
    errs: list[str] = []
    meta = tx.meta
    ps = db.page_size
    npg = meta.pgid
    if strict:
        errs.extend(_check_metas(db))

    # 1. the free list: persisted page, or derived from reachability (etcd's NoFreelistSync files)
    freed: dict[int, bool] = {}
    if meta.freelist != PGID_NO_FREELIST:
        try:
            ids = decode_freelist(tx._mm, meta.freelist * ps, tx._limit)
        except (ValueError, Exception) as e:  # noqa: BLE001 - report, don't crash
            errs.append(f"page {meta.freelist}: unreadable freelist: {e}")
            ids = []
        for i in ids:
            if i in freed:
                errs.append(f"page {i}: already freed")
            freed[i] = True
    else:
        seen = reachable_pages(tx)
        for i in range(2, npg):
            if not seen[i]:
                freed[i] = True

    # 2. reachable pages
    reach = bytearray(npg + 1)
    extra: dict[int, int] = {}

    def mark(i: int) -> bool:
        """True if i was already reachable."""
        if 0 <= i <= npg:
            was = reach[i]
            reach[i] = 1
            return bool(was)
        was = i in extra
        extra[i] = 1
        return was

    mark(0)
    mark(1)
    if meta.freelist != PGID_NO_FREELIST:
        try:
            _id, _f, _c, ov = tx.page_header(meta.freelist)
        except CorruptError:
            ov = 0
        for i in range(ov + 1):
            mark(meta.freelist + i)

    def on_page(pos: int, pid: int, flags: int, count: int, overflow: int) -> bool:
        if pid > npg:
            errs.append(f"page {pid}: out of bounds: {npg}")
        run = overflow + 1
        if pid + run > npg + 1 + 1024:
            # a damaged overflow count (bbolt would try to track up to 2^32 ids): clip it
            errs.append(f"page {pid}: overflow of {overflow} pages runs past the end of the database")
            run = max(0, min(run, npg + 1 - pid))
        for i in range(run):
            if mark(pid + i):
                errs.append(f"page {pid + i}: multiple references")
        if freed.get(pid):
            errs.append(f"page {pid}: reachable freed")
        elif not flags & (BRANCH_PAGE | LEAF_PAGE):
            errs.append(f"page {pid}: invalid type: {page_type_name(flags)}")
        if strict:
            if pid != pos:
                errs.append(f"page {pos}: page id mismatch: header says {pid}")
            if (pos + overflow + 1) * ps > tx._limit:
                errs.append(f"page {pos}: overflow of {overflow} pages runs beyond end of file")
        return True

    def on_missing(pos: int, why: str) -> None:
        errs.append(f"page {pos}: {why}")

    walk(tx, on_page, on_missing)

    for i in range(npg):
        if not (reach[i] if i <= npg else 0) and not freed.get(i):
            errs.append(f"page {i}: unreachable unfreed")

    if strict:
        errs.extend(_check_keys(tx, progress))
    if progress is not None:
        progress(npg, npg)
    return errs


def _check_metas(db: "DB") -> list[str]:
    out = []
    mm = db._mm
    for i in (0, 1):
        m = Meta.unpack_from(mm, i * db.page_size + 16)
        e = m.error()
        if e is None and m.checksum == 0:
            e = "checksum not set"
        if e is not None:
            out.append(f"meta page {i}: {e}")
        _id, flags, _c, _o = PAGE_HEADER.unpack_from(mm, i * db.page_size)
        if e is None and (_id != i or not flags & 0x04):
            out.append(f"meta page {i}: bad page header (id {_id}, flags {flags:#x})")
        if e is None and m.pgid * db.page_size > db.file_size:
            out.append(f"meta page {i}: pgid {m.pgid} needs {m.pgid * db.page_size} bytes, "
                       f"file has {db.file_size}")
    return out


def _check_keys(tx: "Tx", progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Keys strictly increasing inside every bucket (across pages too); branch keys bound children."""
    out: list[str] = []
    npg = tx.meta.pgid
    done = 0

    def walk_bucket(name: str, root: int, inline: bytes | None) -> None:
        nonlocal done
        prev: bytes | None = None
        subs: list[tuple[bytes, bytes]] = []
        if root == 0:
            try:
                _pid, _leaf, keys, vals, flags, _ov = decode_page(inline or b"", 0, len(inline or b""))
            except CorruptError as e:
                out.append(f"bucket {name}: inline page: {e}")
                return
            pages = [(0, keys, vals, flags)]
        else:
            pages = _leaves(tx, root, out)
        for pgid, keys, vals, flags in pages:
            if progress is not None and root:
                done += 1 + tx.page_header(pgid)[3]
                progress(min(done, npg), npg)
            for i, k in enumerate(keys):
                if not k:
                    out.append(f"page {pgid}: empty key in bucket {name}")
                if prev is not None and k <= prev:
                    out.append(f"page {pgid}: key order violation in bucket {name}: "
                               f"{k[:64]!r} after {prev[:64]!r}")
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


def _leaves(tx: "Tx", root: int, out: list[str]):
    """Decoded leaf pages of a tree in order, checking branch keys against their children."""
    stack: list[tuple[int, bytes | None, int]] = [(root, None, 0)]
    while stack:
        pgid, lower, depth = stack.pop()
        if depth > 64:
            out.append(f"page {pgid}: tree too deep (cycle?)")
            continue
        try:
            view = tx.page_view(pgid)
        except CorruptError as e:
            out.append(str(e))
            continue
        except Exception as e:  # noqa: BLE001
            out.append(f"page {pgid}: unreadable: {e}")
            continue
        if lower is not None and view.keys and view.keys[0] < lower:
            out.append(f"page {pgid}: first key {view.keys[0][:64]!r} sorts before its parent's "
                       f"branch key {lower[:64]!r}")
        if view.is_leaf:
            yield pgid, view.keys, view.vals, view.flags
        else:
            for i in range(len(view.keys) - 1, -1, -1):
                stack.append((view.vals[i], view.keys[i], depth + 1))
